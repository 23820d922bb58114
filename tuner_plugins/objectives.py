"""Objectives that trade accuracy against cost: MnasNet's reward and Pareto.

Both are `keras_tuner.Objective`s, so keras-tuner's semantics of a trial's
score hold: `trial.score` is one number, `get_best_trials` ranks by it.

- `MnasReward(target, cost="macs")`: the score is MnasNet's reward
  `accuracy * (cost / target) ** w`, with the paper's `w = -0.07` on both
  sides of the target (its soft constraint). Every strategy that maximizes a
  scalar score (evolution, the controller, local search, keras-tuner's own
  oracles) then searches for it unchanged.
- `Pareto(["val_accuracy", "macs"])`: several objectives at once. The score
  is the first objective (keras-tuner still ranks by it); the evolution
  strategy selects parents by non-dominated rank and crowding distance
  (NSGA-II) over all of them, and `NASTuner.best_genotypes()` returns the
  Pareto front.

The costs are trial metrics: `"params"` and `"macs"` (known from the genotype
before training, recorded by `NASOracle` with a `CostModel` and by
`CostAwareMixin`), and `"latency_ms"` (measured on the built child by
`CostAwareMixin` when asked).

Reference: Tan et al. 2019, "MnasNet: Platform-Aware Neural Architecture
Search for Mobile", section 3 (equation 2, w = alpha = beta = -0.07 soft,
alpha = 0 and beta = -1 hard); Deb et al. 2002, "A Fast and Elitist
Multiobjective Genetic Algorithm: NSGA-II".
"""

import math

import keras_tuner
from keras_tuner.engine.metrics_tracking import infer_metric_direction

from keras_nasnet import _validation

PARAMS = "params"
MACS = "macs"
LATENCY = "latency_ms"
# The cost metrics, each better when smaller.
COST_METRICS = (PARAMS, MACS, LATENCY)
# MnasNet's soft-constraint exponent (Tan et al. 2019, section 3).
MNAS_WEIGHT = -0.07
# The names `make_objective` takes besides a metric's.
OBJECTIVE_KINDS = ("pareto", "mnas")


def to_objective(objective):
    """A `keras_tuner.Objective` from one, or from a metric name.

    The cost metrics (`"params"`, `"macs"`, `"latency_ms"`) are minimized;
    another name's direction is keras-tuner's guess (`"val_accuracy"`:
    max, `"val_loss"`: min).

    Raises:
        ValueError: for a name whose direction cannot be told.

    Example:

    >>> str(to_objective("macs"))
    'Objective(name="macs", direction="min")'
    """
    if isinstance(objective, keras_tuner.Objective):
        return objective
    if not isinstance(objective, str) or not objective:
        _validation.fail(
            "objective", "a metric name or a keras_tuner.Objective", objective
        )
    if objective in COST_METRICS:
        return keras_tuner.Objective(objective, "min")
    direction = infer_metric_direction(objective)
    if direction is None:
        _validation.fail(
            "objective",
            f"a metric whose direction is known, or "
            f'keras_tuner.Objective("{objective}", "max" or "min")',
            objective,
        )
    return keras_tuner.Objective(objective, direction)


class MnasReward(keras_tuner.Objective):
    """MnasNet's reward: accuracy scaled by how far the cost is from a target.

    `reward = accuracy * (cost / target) ** w`, with `w = alpha` when
    `cost <= target` and `w = beta` above it. The paper's soft constraint is
    `alpha = beta = -0.07`: a child at twice the target's cost must be about
    5% more accurate to score the same (`2 ** -0.07 = 0.952`). `alpha = 0,
    beta = -1` is its hard version, which ignores cost below the target.

    The score is a metric of its own (`name`), computed from the trial's
    `metric` and `cost` metrics wherever they meet: in the tuner's epoch
    logs (`CostAwareMixin` adds the costs there) or in `NASOracle`, which adds
    `"params"` and `"macs"` itself when it has a `CostModel`.

    Args:
        target: the target cost, > 0 (in the cost's unit: MACs, parameters or
            milliseconds).
        cost: the cost metric: `"macs"` (default), `"params"` or
            `"latency_ms"`.
        metric: the accuracy metric, larger is better (`"val_accuracy"`).
        alpha: the exponent at or below the target (paper: -0.07).
        beta: the exponent above the target (paper: -0.07).
        name: the score's metric name.

    Raises:
        ValueError: on an invalid argument, naming it.

    Reference: Tan et al. 2019, "MnasNet: Platform-Aware Neural Architecture
    Search for Mobile", section 3, equation 2.

    Example:

    >>> objective = MnasReward(target=10e6)
    >>> round(objective.get_value({"val_accuracy": 0.9, "macs": 20e6}), 4)
    0.8574
    """

    def __init__(
        self,
        target,
        cost=MACS,
        metric="val_accuracy",
        alpha=MNAS_WEIGHT,
        beta=MNAS_WEIGHT,
        name="mnas_reward",
    ):
        self.target = _validation.check_real(
            "target", target, 0, math.inf, closed=(False, False)
        )
        self.cost = _validation.check_choice("cost", cost, COST_METRICS)
        if not isinstance(metric, str) or not metric or metric in COST_METRICS:
            _validation.fail("metric", "an accuracy metric's name", metric)
        if infer_metric_direction(metric) == "min":
            _validation.fail(
                "metric", "a metric that is better when larger (an accuracy)", metric
            )
        self.metric = metric
        self.alpha = _validation.check_real("alpha", alpha, -math.inf, 0)
        self.beta = _validation.check_real("beta", beta, -math.inf, 0)
        if not isinstance(name, str) or not name or name in (metric, *COST_METRICS):
            _validation.fail("name", "a metric name of its own", name)
        super().__init__(name, "max")

    def reward(self, accuracy, cost):
        """The reward of a child with this `accuracy` and `cost`."""
        ratio = float(cost) / self.target
        weight = self.alpha if ratio <= 1 else self.beta
        return float(accuracy) * ratio**weight

    def has_value(self, logs):
        return self.name in logs or (self.metric in logs and self.cost in logs)

    def get_value(self, logs):
        if self.name in logs:
            return logs[self.name]
        return self.reward(logs[self.metric], logs[self.cost])

    def get_config(self):
        return {
            "kind": "mnas",
            "target": self.target,
            "cost": self.cost,
            "metric": self.metric,
            "alpha": self.alpha,
            "beta": self.beta,
            "name": self.name,
        }

    def __eq__(self, other):
        return isinstance(other, MnasReward) and self.get_config() == other.get_config()

    def __str__(self):
        return (
            f'MnasReward(name="{self.name}", {self.metric} * ({self.cost} / '
            f"{self.target:g}) ** ({self.alpha:g} | {self.beta:g}))"
        )


class Pareto(keras_tuner.Objective):
    """Several objectives at once, for a Pareto front.

    To keras-tuner this is its first objective: `trial.score` is that
    metric and `get_best_trials` ranks by it. `NASOracle` records every
    objective in each trial's metrics; with the `"evolution"` strategy,
    parents win tournaments by non-dominated rank, then crowding distance
    (NSGA-II's selection, with aging kept), and `NASTuner.best_genotypes()`
    returns the non-dominated trials. Other strategies refuse it.

    Args:
        objectives: two or more metric names or `keras_tuner.Objective`s, the
            score first (e.g. `["val_accuracy", "macs"]`); the costs
            `"params"`, `"macs"` and `"latency_ms"` are minimized.

    Raises:
        ValueError: for fewer than two objectives, a repeated name, or a
            name whose direction cannot be told.

    Reference: Deb et al. 2002, "A Fast and Elitist Multiobjective Genetic
    Algorithm: NSGA-II".

    Example:

    >>> objective = Pareto(["val_accuracy", "macs"])
    >>> objective.name, [o.direction for o in objective.objectives]
    ('val_accuracy', ['max', 'min'])
    """

    def __init__(self, objectives=("val_accuracy", MACS)):
        if isinstance(objectives, (str, keras_tuner.Objective)) or not isinstance(
            objectives, (list, tuple)
        ):
            _validation.fail(
                "objectives", "a list of two or more metric names", objectives
            )
        converted = [to_objective(o) for o in objectives]
        names = [o.name for o in converted]
        if len(converted) < 2 or len(set(names)) != len(names):
            _validation.fail(
                "objectives", "two or more distinct metric names", objectives
            )
        if any(isinstance(o, (Pareto, MnasReward)) for o in converted):
            _validation.fail("objectives", "plain metric objectives", objectives)
        self.objectives = converted
        super().__init__(converted[0].name, converted[0].direction)

    def vector(self, value_of):
        """The objectives of one trial as a point where larger is better.

        Args:
            value_of: `name -> value` (a missing value: `None`).

        Returns:
            A tuple, one entry per objective: the value, negated for a
            `"min"` objective, `-inf` where missing or not finite (such a
            trial is dominated by any that has it).
        """
        point = []
        for objective in self.objectives:
            value = value_of(objective.name)
            if value is None or not math.isfinite(float(value)):
                point.append(-math.inf)
            else:
                sign = 1.0 if objective.direction == "max" else -1.0
                point.append(sign * float(value))
        return tuple(point)

    def get_config(self):
        return {
            "kind": "pareto",
            "objectives": [
                {"name": o.name, "direction": o.direction} for o in self.objectives
            ],
        }

    def __eq__(self, other):
        return isinstance(other, Pareto) and self.get_config() == other.get_config()

    def __str__(self):
        return "Pareto(" + ", ".join(str(o) for o in self.objectives) + ")"


def objective_config(objective):
    """A JSON-safe description of a keras-tuner objective (for oracle.json
    and the report): `{"kind": "metric"|"mnas"|"pareto", ...}`."""
    if isinstance(objective, (MnasReward, Pareto)):
        return objective.get_config()
    return {
        "kind": "metric",
        "name": objective.name,
        "direction": objective.direction,
    }


def make_objective(
    kind, metric="val_accuracy", costs=(MACS,), target=None, cost=None, **mnas_options
):
    """An objective from the names the CLI takes.

    Args:
        kind: `"pareto"`, `"mnas"`, or a metric name (e.g. `"val_accuracy"`:
            the plain objective).
        metric: the accuracy metric of `"pareto"` and `"mnas"`.
        costs: the costs `"pareto"` trades `metric` against.
        target: `"mnas"`'s target cost (required there).
        cost: `"mnas"`'s cost metric (`"macs"` if None).
        **mnas_options: `alpha`, `beta` of `MnasReward`.

    Raises:
        ValueError: for an unknown kind, a missing target, or bad options.

    Example:

    >>> make_objective("pareto", costs=["macs", "params"]).name
    'val_accuracy'
    >>> make_objective("mnas", target=5e6).target
    5000000.0
    """
    if kind == "pareto":
        if isinstance(costs, str) or not costs:
            _validation.fail(
                "costs", "one or more of " + ", ".join(COST_METRICS), costs
            )
        for c in costs:
            _validation.check_choice("costs", c, COST_METRICS)
        return Pareto([metric, *costs])
    if kind == "mnas":
        if target is None:
            _validation.fail("target", "a target cost > 0 for objective 'mnas'", target)
        return MnasReward(target, cost=cost or MACS, metric=metric, **mnas_options)
    if isinstance(kind, str) and kind and kind not in COST_METRICS:
        try:
            return to_objective(kind)
        except ValueError:
            pass
    _validation.fail(
        "objective",
        "'pareto', 'mnas', or an accuracy or loss metric's name (e.g. 'val_accuracy')",
        kind,
    )
