"""`CostAwareMixin`: budgets and cost metrics for any keras-tuner Tuner.

Mix it into a `keras_tuner.Tuner` (first, before `TrialFailureMixin` and the
tuner class) to search a `NASNetHyperModel` under budgets with keras-tuner's
own tuners:

```python
class BudgetRandomSearch(CostAwareMixin, TrialFailureMixin, keras_tuner.RandomSearch):
    pass


tuner = BudgetRandomSearch(
    NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1)),
    objective="val_accuracy",
    max_trials=50,
    max_params=200_000,
)
```

Each trial, before anything is built, is priced from its hyperparameter
values (`tuner_plugins.constraints.CostModel`, read from the hypermodel's
`input_shape`, `num_classes` and each trial's `cells_per_stack` and
`filters`). A child over `max_params` or `max_macs` ends FAILED at once with
a one-line reason (`InfeasibleTrialError`): it is never built nor trained.
A child over `max_latency_ms` ends FAILED after its build, before training.
Every trial records its costs as metrics: `"params"`, `"macs"` and, when
measured, `"latency_ms"` (in each epoch's logs, so an objective over them,
such as `MnasReward`, works in keras-tuner's checkpointing too).

keras-tuner's own oracles cannot propose again: an infeasible child is a
FAILED trial there, and counts toward `max_trials` and
`max_consecutive_failed_trials` (raise that limit for a tight budget).
`NASTuner` has this mixin and a `NASOracle`, which never proposes a child
over a before-build budget in the first place.
"""

import keras
import keras_tuner
import numpy as np

from keras_nasnet import _validation
from keras_nasnet.models import measure
from tuner_plugins import objectives as objectives_lib
from tuner_plugins.constraints import Constraints, CostModel
from tuner_plugins.failures import is_out_of_memory, out_of_memory_reason
from tuner_plugins.oracle import check_budgets


class InfeasibleTrialError(keras_tuner.errors.FailedTrialError):
    """A child over a budget: its trial ends FAILED, never trained."""


class _CostMetrics(keras.callbacks.Callback):
    """Adds the trial's costs to every epoch's logs, before keras-tuner's
    checkpoint callback reads them and the History records them."""

    def __init__(self, costs):
        super().__init__()
        self.costs = costs  # name -> value, shared with the tuner

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            for name, value in self.costs.items():
                logs.setdefault(name, value)

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies the callbacks of each execution; the
        # latency, measured after that copy, must reach this one.
        return self


def _uses(objective, metric):
    """Whether a keras-tuner objective reads `metric`."""
    if isinstance(objective, objectives_lib.MnasReward):
        return objective.cost == metric
    names = [o.name for o in getattr(objective, "objectives", [objective])]
    return metric in names


def _hypermodel_of(args, kwargs):
    hypermodel = kwargs.get("hypermodel")
    if hypermodel is None:
        hypermodel = next(
            (a for a in args if isinstance(a, keras_tuner.HyperModel)), None
        )
    return hypermodel


def _objective_of(args, kwargs):
    if kwargs.get("objective") is not None:
        return objectives_lib.to_objective(kwargs["objective"])
    oracle = kwargs.get("oracle") or next(
        (a for a in args if isinstance(a, keras_tuner.Oracle)), None
    )
    return getattr(oracle, "objective", None)


def _with_costs(results, costs, objective):
    """A trial's results with the costs added where `fit` did not log them."""
    if isinstance(results, list):
        return [_with_costs(r, costs, objective) for r in results]
    if isinstance(results, keras.callbacks.History):
        epochs = max((len(v) for v in results.history.values()), default=1)
        for name, value in costs.items():
            results.history.setdefault(name, [value] * epochs)
        return results
    if isinstance(results, dict):
        return {**costs, **results}
    if isinstance(results, (int, float, np.floating)) and objective is not None:
        return {**costs, objective.name: float(results)}
    return results


class CostAwareMixin:
    """Budgets on each trial's child, and its costs as metrics.

    Args (keyword arguments of the tuner it is mixed into):
        max_params: the most parameters a child may have, or None.
        max_macs: the most multiply-adds of one inference on one image, or
            None.
        max_latency_ms: the most batch-1 latency (median ms per image on
            this device, measured on the built child), or None.
        measure_latency: whether to measure every trial's batch-1 latency
            and record it as the metric `"latency_ms"` (about 10 s a trial
            on a CPU: a trace and 35 calls). On whenever `max_latency_ms`
            is set or the objective reads `"latency_ms"`.
        cost_model: a `tuner_plugins.constraints.CostModel`; None: made
            from the hypermodel's `input_shape` and `num_classes` when it
            has them (`NASNetHyperModel`). Without one, `"params"` and
            `"macs"` are counted on the built model, and `max_params` and
            `max_macs` are checked after the build.

    Raises:
        ValueError: on a budget that is not a number > 0, or a before-build
            budget that no child of the hypermodel's NASNet space can meet;
            before anything in the tuner's directory is touched.
        keras_tuner.errors.FatalValueError: from `search`, when latency is
            asked for on a model that cannot run (no single input of static
            size, or its first call fails other than for memory).
    """

    def __init__(
        self,
        *args,
        max_params=None,
        max_macs=None,
        max_latency_ms=None,
        measure_latency=False,
        cost_model=None,
        **kwargs,
    ):
        constraints = Constraints.make(
            max_params=max_params, max_macs=max_macs, max_latency_ms=max_latency_ms
        )
        if not isinstance(measure_latency, bool):
            _validation.fail("measure_latency", "a bool", measure_latency)
        hypermodel = _hypermodel_of(args, kwargs)
        objective = _objective_of(args, kwargs)
        if cost_model is None:
            if all(hasattr(hypermodel, a) for a in ("input_shape", "num_classes")):
                cost_model = CostModel.from_hypermodel(hypermodel)
        elif not isinstance(cost_model, CostModel):
            _validation.fail(
                "cost_model",
                "a tuner_plugins.constraints.CostModel or None",
                cost_model,
            )
        if constraints.before_build and cost_model is not None:
            # Before keras-tuner's constructor touches the project directory.
            space = keras_tuner.HyperParameters()
            if hasattr(hypermodel, "declare_hyperparameters"):
                hypermodel.declare_hyperparameters(space)
            check_budgets(space, constraints, cost_model)
        self.constraints = constraints
        self.cost_model = cost_model
        self.measure_latency = (
            measure_latency
            or max_latency_ms is not None
            or _uses(objective, objectives_lib.LATENCY)
        )
        self._trial_costs = None  # the running trial's costs
        super().__init__(*args, **kwargs)

    def _price(self, values):
        """`{"params", "macs"}` of the child `values` spell, or `{}`."""
        if self.cost_model is None:
            return {}
        try:
            cost = self.cost_model.cost(values)
        except ValueError:
            return {}
        return {
            objectives_lib.PARAMS: float(cost.params),
            objectives_lib.MACS: float(cost.macs),
        }

    def _check(self, costs, when):
        violations = self.constraints.violations(
            params=costs.get(objectives_lib.PARAMS),
            macs=costs.get(objectives_lib.MACS),
            latency_ms=costs.get(objectives_lib.LATENCY),
        )
        if violations:
            raise InfeasibleTrialError(
                f"Over budget: {'; '.join(violations)} ({when})."
            )

    def run_trial(self, trial, *args, **kwargs):
        costs = self._price(trial.hyperparameters.values)
        self._check(costs, "not built")
        self._trial_costs = costs
        kwargs["callbacks"] = [*(kwargs.get("callbacks") or []), _CostMetrics(costs)]
        try:
            results = super().run_trial(trial, *args, **kwargs)
        finally:
            self._trial_costs = None
        return _with_costs(results, costs, getattr(self.oracle, "objective", None))

    def _try_build(self, hp):
        model = super()._try_build(hp)
        costs = self._trial_costs
        if costs is None:  # not a trial's build (e.g. `load_model`)
            return model
        if objectives_lib.PARAMS not in costs:  # no cost model: count it
            costs[objectives_lib.PARAMS] = float(model.count_params())
            try:
                costs[objectives_lib.MACS] = float(measure.count_macs(model))
            except (ValueError, TypeError):
                pass  # unbuilt layers, or sizes known only at run time
            self._check(costs, "built, not trained")
        if self.measure_latency and objectives_lib.LATENCY not in costs:
            costs[objectives_lib.LATENCY] = self._latency(model, hp)
            self._check(costs, "built, not trained")
        return model

    def _latency(self, model, hp):
        try:
            return measure.measure_latency(model).median_ms
        except Exception as e:
            if is_out_of_memory(e):
                raise keras_tuner.errors.FailedTrialError(
                    out_of_memory_reason(e, "building", hp)
                ) from e
            # A model that cannot run cannot be timed, whatever its cells.
            raise keras_tuner.errors.FatalValueError(str(e)) from e


def check_latency_measurable(hypermodel):
    """Refuses to measure latency where the hypermodel's children cannot run.

    Builds one child (the space's default values) and times one call, so
    that a search asked for latency stops before it starts, not at its first
    trial (a trace: a few seconds on a CPU).

    Raises:
        ValueError: naming `measure_latency` and the cause.
    """
    model = None
    try:
        model = hypermodel.build(keras_tuner.HyperParameters())
        measure.measure_latency(model, warmup=1, runs=1)
    except Exception as e:
        cause = " ".join(f"{type(e).__name__}: {e}".split())
        _validation.fail(
            "measure_latency",
            "a search whose children can be built and timed on this device "
            f"(one child of the search space could not: {cause[:300]})",
            True,
        )
    finally:
        del model
        keras.backend.clear_session()
