"""`NASTuner` and its thin subclasses `AgingEvolution`, `RNNController` and
`LocalSearch`: keras-tuner Tuners with a `NASOracle`.

Each is a `keras_tuner.Tuner` built the way `keras_tuner.RandomSearch` is: the
constructor makes the oracle from its own arguments and hands the hypermodel
and every other keyword (`directory`, `project_name`, `overwrite`,
`executions_per_trial`, ...) to `keras_tuner.Tuner`. The keywords that are
options of the strategy (`population_size`, `batch_size`, ...) build the
strategy; they are declared once, on the strategy class. Any hypermodel
works; with `NASNetHyperModel` (or any space spelled by
`keras_nasnet.space.decisions`) the oracle searches the cells the paper's way
and `best_genotypes()` decodes the winners.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", Algorithm 1; Zoph et al. 2018, "Learning Transferable
Architectures for Scalable Image Recognition", section 3 and appendix A;
White et al. 2020, "Local Search is State of the Art for Neural Architecture
Search Benchmarks".
"""

import keras_tuner

from keras_nasnet._validation import check_int, fail, is_int
from keras_nasnet.space import decisions
from tuner_plugins import _keras_tuner as kt
from tuner_plugins import objectives as objectives_lib
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.constraints import Constraints, CostModel, InfeasibleSearchError
from tuner_plugins.cost_aware import CostAwareMixin
from tuner_plugins.failures import TrialFailureMixin
from tuner_plugins.oracle import INFEASIBLE, NASOracle, save_json
from tuner_plugins.phases import TrialPhasesMixin


def _check_tuner_kwargs(kwargs):
    """The `keras_tuner.Tuner` arguments keras-tuner takes unchecked."""
    if "executions_per_trial" in kwargs:
        check_int("executions_per_trial", kwargs["executions_per_trial"], 1)
    size = kwargs.get("max_model_size")
    if size is not None and not (is_int(size) and size >= 1):
        fail("max_model_size", "an integer >= 1 (parameters) or None", size)


class NASTuner(CostAwareMixin, TrialFailureMixin, TrialPhasesMixin, keras_tuner.Tuner):
    """A keras-tuner Tuner whose oracle is a `NASOracle` with any strategy.

    Trials whose model fails to build, runs out of memory or (with
    `NASNetHyperModel`) whose loss becomes NaN end as FAILED with a one-line
    reason in `trial.message`, and the search goes on; see
    `tuner_plugins.failures`. Each trial records its seconds per phase
    (build, trace, train, validation, save, decision, total) as metrics
    `seconds_<phase>`; see `tuner_plugins.phases`.

    Budgets (`max_params`, `max_macs`, `max_latency_ms`): the oracle never
    starts a child over `max_params` or `max_macs` (its strategy proposes
    again); a child over `max_latency_ms` is built, timed and ends FAILED
    before training (see `tuner_plugins.cost_aware.CostAwareMixin`). Every
    trial records its `"params"` and `"macs"` (and `"latency_ms"` when
    measured) as metrics. The objective may trade accuracy against them:
    `tuner_plugins.objectives.MnasReward` (any strategy) or `Pareto`
    (`"evolution"`; `best_genotypes()` is then the Pareto front).

    Args:
        hypermodel: a `keras_tuner.HyperModel` (e.g. `NASNetHyperModel`) or a
            `build(hp)` function.
        strategy: a `Strategy` instance, or a registered name
            (`"evolution"`, `"controller"`, `"local_search"`).
        objective: what to maximize or minimize, as for any keras-tuner tuner
            (e.g. `"val_accuracy"`, the papers' reward).
        max_trials: total number of trials, failed ones included.
        seed: optional integer seed of the oracle (0 is a seed).
        hyperparameters: optional `keras_tuner.HyperParameters` to pin or
            pre-declare values, as for keras-tuner's tuners.
        tune_new_entries: whether new hyperparameters join the search.
        allow_new_entries: whether the hypermodel may declare new ones.
        max_retries_per_trial: retries of a crashed (INVALID) trial. Build
            errors, NaN losses and out-of-memory errors are FAILED at once:
            they would fail again.
        max_consecutive_failed_trials: FAILED trials in a row before
            `search` stops with `TooManyFailedTrialsError` (a RuntimeError)
            listing their reasons.
        trial_timeout: seconds of silence after which a distributed
            worker's trial is given to another worker (see `NASOracle`);
            `None` waits forever.
        max_params: the most parameters a child may have (Keras's
            `count_params()`), or None.
        max_macs: the most multiply-adds of one inference on one image, or
            None.
        max_latency_ms: the most batch-1 inference latency, median ms per
            image on this device, or None.
        measure_latency: record every trial's batch-1 latency as the metric
            `"latency_ms"` (about 10 s per trial on a CPU); on whenever
            `max_latency_ms` is set or the objective reads it.
        cost_model: a `tuner_plugins.constraints.CostModel`; None: made from
            the hypermodel (`NASNetHyperModel`'s input shape and classes).
        **kwargs: the strategy's options, when `strategy` is a name (see its
            class: `EvolutionStrategy`, `ControllerStrategy`,
            `LocalSearchStrategy`), and `keras_tuner.Tuner` arguments
            (`directory`, `project_name`, `overwrite`, `executions_per_trial`,
            `max_model_size`, ...).

    Example:

    >>> from tuner_plugins import NASNetHyperModel
    >>> tuner = NASTuner(
    ...     NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1)),
    ...     strategy="local_search",
    ...     objective="val_accuracy",
    ...     max_trials=100,
    ...     max_neighbours=20,
    ...     directory="runs",
    ...     project_name="local_search",
    ... )  # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)  # doctest: +SKIP
    >>> print(tuner.best_genotypes()[0])  # doctest: +SKIP
    """

    def __init__(
        self,
        hypermodel=None,
        strategy="evolution",
        objective=None,
        max_trials=10,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        trial_timeout=None,
        max_params=None,
        max_macs=None,
        max_latency_ms=None,
        measure_latency=False,
        cost_model=None,
        **kwargs,
    ):
        options = {}
        if not isinstance(strategy, strategy_lib.Strategy):
            names = strategy_lib.strategy_class_of(strategy).option_names()
            options = {name: kwargs.pop(name) for name in names if name in kwargs}
        _check_tuner_kwargs(kwargs)
        budgets = {
            "max_params": max_params,
            "max_macs": max_macs,
            "max_latency_ms": max_latency_ms,
        }
        constraints = Constraints.make(**budgets)
        if cost_model is None and all(
            hasattr(hypermodel, a) for a in ("input_shape", "num_classes")
        ):
            cost_model = CostModel.from_hypermodel(hypermodel)
        self.seed = seed
        oracle = NASOracle(
            objective=objective,
            max_trials=max_trials,
            strategy=strategy,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
            # Without a cost model the tuner checks the budgets on the built
            # model instead.
            constraints=constraints if cost_model is not None else None,
            cost_model=cost_model,
            **options,
        )
        super().__init__(
            oracle,
            hypermodel,
            measure_latency=measure_latency,
            cost_model=cost_model,
            **budgets,
            **kwargs,
        )

    def search(self, *fit_args, **fit_kwargs):
        """Runs the search; see `keras_tuner.Tuner.search`.

        Raises:
            tuner_plugins.constraints.InfeasibleSearchError: when the oracle
                stopped because no proposal for a trial was within the
                before-build budgets (`NASOracle.max_infeasible_proposals`
                of them); the trials so far are kept.
        """
        super().search(*fit_args, **fit_kwargs)
        if getattr(self.oracle, "stop_kind", None) == INFEASIBLE:
            raise InfeasibleSearchError(self.oracle.stop_reason)

    def best_genotypes(self, num_models=None):
        """Returns the best trials' genotypes, best first.

        With a `Pareto` objective these are the genotypes of the Pareto
        front (`NASOracle.pareto_trials()`: the completed trials no other
        dominates on every objective), best score first.

        Args:
            num_models: how many to return (fewer if fewer trials completed);
                None: 1, or the whole front with a `Pareto` objective.

        Returns:
            A list of `keras_nasnet.Genotype`, decoded from the cell decisions
            of `get_best_hyperparameters(num_models)` (or of the front) with
            `keras_nasnet.space.decisions.decode`.

        Raises:
            ValueError: if the search space spells no cell.
        """
        if isinstance(self.oracle.objective, objectives_lib.Pareto):
            front = self.oracle.pareto_trials()
            if num_models is not None:
                front = front[:num_models]
            return [decisions.decode(t.hyperparameters.values) for t in front]
        return [
            decisions.decode(hp.values)
            for hp in self.get_best_hyperparameters(num_models or 1)
        ]

    def save(self):
        # keras-tuner writes `<tuner_id>.json` in place: a search killed in
        # that write could not be resumed. Replaced atomically instead.
        if not kt.tuner_is_worker(self):
            self.oracle.save()
        save_json(kt.tuner_file(self), self.get_state())


class _FixedStrategyTuner(NASTuner):
    """A `NASTuner` whose strategy is `strategy_name`'s (a name, or an
    instance of that strategy's class)."""

    strategy_name = None

    def __init__(self, hypermodel=None, objective=None, max_trials=10, **kwargs):
        strategy = kwargs.pop("strategy", self.strategy_name)
        expected = strategy_lib.get_strategy_class(self.strategy_name)
        if strategy_lib.strategy_class_of(strategy) is not expected:
            fail(
                "strategy",
                f"{self.strategy_name!r} or a {expected.__name__} for "
                f"{type(self).__name__} (NASTuner takes any strategy)",
                strategy,
            )
        super().__init__(
            hypermodel, strategy, objective=objective, max_trials=max_trials, **kwargs
        )


class AgingEvolution(_FixedStrategyTuner):
    """Regularized (aging) evolution, as a keras-tuner Tuner.

    A `NASTuner` with `strategy="evolution"`: the first `population_size`
    trials are random; every later trial mutates the best of `sample_size`
    members drawn from the population, and the oldest member dies. The
    options (`population_size`, `sample_size`, `identity_prob`) are
    `EvolutionStrategy`'s; the other arguments are `NASTuner`'s.

    Example:

    >>> from tuner_plugins import NASNetHyperModel
    >>> tuner = AgingEvolution(
    ...     NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1)),
    ...     objective="val_accuracy",
    ...     max_trials=500,
    ...     population_size=50,
    ...     sample_size=10,
    ...     directory="runs",
    ...     project_name="evolution",
    ... )  # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)  # doctest: +SKIP
    >>> print(tuner.best_genotypes()[0])  # doctest: +SKIP

    Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
    Architecture Search", arXiv 1802.01548, Algorithm 1.
    """

    strategy_name = "evolution"


class RNNController(_FixedStrategyTuner):
    """An RNN controller trained by policy gradient, as a keras-tuner Tuner.

    A `NASTuner` with `strategy="controller"`: an LSTM samples every decision
    of the space in order; each finished trial's objective is its reward, and
    the controller is updated on minibatches of `batch_size` finished trials
    (PPO as in the NASNet paper, or REINFORCE). The options (`units`,
    `learning_rate`, `batch_size`, `update`, ...) are `ControllerStrategy`'s.

    Example:

    >>> from tuner_plugins import NASNetHyperModel
    >>> tuner = RNNController(
    ...     NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1)),
    ...     objective="val_accuracy",
    ...     max_trials=200,
    ...     batch_size=10,
    ...     directory="runs",
    ...     project_name="controller",
    ... )  # doctest: +SKIP

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", arXiv 1707.07012, section 3 and appendix A.
    """

    strategy_name = "controller"


class LocalSearch(_FixedStrategyTuner):
    """Local search (hill climbing with random restarts), as a keras-tuner
    Tuner.

    A `NASTuner` with `strategy="local_search"`; the options (`num_initial`,
    `max_neighbours`) are `LocalSearchStrategy`'s.

    Reference: White, Nolen and Savani 2020, "Local Search is State of the
    Art for Neural Architecture Search Benchmarks", Algorithm 1.
    """

    strategy_name = "local_search"
