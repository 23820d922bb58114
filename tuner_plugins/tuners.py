"""`AgingEvolution` and `RNNController`: keras-tuner Tuners with a `NASOracle`.

Each is a `keras_tuner.Tuner` built the way `keras_tuner.RandomSearch` is: the
constructor makes the oracle from its own arguments and hands the hypermodel
and every other keyword (`directory`, `project_name`, `overwrite`,
`executions_per_trial`, ...) to `keras_tuner.Tuner`. Any hypermodel works; with
`NASNetHyperModel` (or any space spelled by `keras_nasnet.space.decisions`) the
oracle searches the cells the paper's way and `best_genotypes()` decodes the
winners.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", Algorithm 1; Zoph et al. 2018, "Learning Transferable
Architectures for Scalable Image Recognition", section 3 and appendix A.
"""

import keras_tuner

from keras_nasnet._validation import check_int, fail, is_int
from keras_nasnet.space import decisions
from tuner_plugins import controller as controller_lib
from tuner_plugins import evolution as evolution_lib
from tuner_plugins.failures import TrialFailureMixin
from tuner_plugins.oracle import NASOracle, save_json


def _check_tuner_kwargs(kwargs):
    """The `keras_tuner.Tuner` arguments keras-tuner takes unchecked."""
    if "executions_per_trial" in kwargs:
        check_int("executions_per_trial", kwargs["executions_per_trial"], 1)
    size = kwargs.get("max_model_size")
    if size is not None and not (is_int(size) and size >= 1):
        fail("max_model_size", "an integer >= 1 (parameters) or None", size)


class _NASTuner(TrialFailureMixin, keras_tuner.Tuner):
    """A `keras_tuner.Tuner` that can decode its best trials into genotypes.

    Trials whose model fails to build, runs out of memory or (with
    `NASNetHyperModel`) whose loss becomes NaN end as FAILED with a one-line
    reason in `trial.message`, and the search goes on; see
    `tuner_plugins.failures`.
    """

    def best_genotypes(self, num_models=1):
        """Returns the best trials' genotypes, best first.

        Args:
            num_models: how many to return (fewer if fewer trials completed).

        Returns:
            A list of `keras_nasnet.Genotype`, decoded from the cell decisions
            of `get_best_hyperparameters(num_models)` with
            `tuner_plugins.decisions.decode`.

        Raises:
            ValueError: if the search space spells no cell.
        """
        return [
            decisions.decode(hp.values)
            for hp in self.get_best_hyperparameters(num_models)
        ]

    def save(self):
        # keras-tuner writes `<tuner_id>.json` in place: a search killed in
        # that write could not be resumed. Replaced atomically instead.
        if not self._is_worker():
            self.oracle.save()
        save_json(self._get_tuner_fname(), self.get_state())


class AgingEvolution(_NASTuner):
    """Regularized (aging) evolution over a NASNet space, as a keras-tuner Tuner.

    The first `population_size` trials are random; every later trial mutates
    the best of `sample_size` members drawn from the population, and the oldest
    member dies. `max_trials` counts every trial, the random ones included.

    Args:
        hypermodel: a `keras_tuner.HyperModel` (e.g. `NASNetHyperModel`) or a
            `build(hp)` function.
        objective: what to maximize or minimize, as for any keras-tuner tuner
            (e.g. `"val_accuracy"`, the papers' reward).
        max_trials: total number of trials (the paper's C).
        population_size: the population size (P, paper: 100).
        sample_size: the tournament size (S, paper: 25), at most
            `population_size`.
        identity_prob: probability that a child is its parent unchanged
            (paper: 0.05); such a repeat is redrawn, not trained twice.
        seed: optional integer seed of the oracle.
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
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`,
            `overwrite`, `executions_per_trial`, `max_model_size`, ...).

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

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        population_size=evolution_lib.DEFAULT_POPULATION_SIZE,
        sample_size=evolution_lib.DEFAULT_SAMPLE_SIZE,
        identity_prob=evolution_lib.DEFAULT_IDENTITY_PROB,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        trial_timeout=None,
        **kwargs,
    ):
        _check_tuner_kwargs(kwargs)
        self.seed = seed
        oracle = NASOracle(
            objective=objective,
            max_trials=max_trials,
            strategy="evolution",
            population_size=population_size,
            sample_size=sample_size,
            identity_prob=identity_prob,
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
        )
        super().__init__(oracle, hypermodel, **kwargs)


class RNNController(_NASTuner):
    """An RNN controller trained by policy gradient, as a keras-tuner Tuner.

    An LSTM samples every decision of the space in order; each finished
    trial's objective is its reward, and the controller is updated on
    minibatches of `controller_batch_size` finished trials (PPO as in the
    NASNet paper, or REINFORCE). It works on any space whose hyperparameters
    take finitely many values (continuous `Float`s are discretized).

    Args:
        hypermodel: a `keras_tuner.HyperModel` (e.g. `NASNetHyperModel`) or a
            `build(hp)` function.
        objective: what to maximize or minimize (e.g. `"val_accuracy"`, the
            paper's reward).
        max_trials: total number of trials.
        seed: optional integer seed of the oracle and the controller.
        hyperparameters: optional `keras_tuner.HyperParameters` to pin or
            pre-declare values.
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
        controller_units: LSTM units per layer (paper: 100).
        controller_layers: number of LSTM layers (paper: 1).
        controller_learning_rate: the controller's Adam learning rate
            (paper: 0.00035).
        controller_batch_size: finished trials per controller update
            (paper: 20).
        controller_update: `"ppo"` (paper) or `"reinforce"`.
        controller_ppo_clip: PPO's clipping epsilon.
        controller_ppo_epochs: gradient steps per PPO minibatch.
        controller_entropy_weight: entropy bonus (paper: 1e-5).
        controller_baseline_decay: decay of the reward's moving-average
            baseline (paper: 0.95).
        controller_temperature: logits are divided by it; `None` is 1.
        controller_tanh_constant: when set, logits become
            `c * tanh(logits / temperature)` (ENAS).
        controller_failed_reward: reward of FAILED trials; `None` leaves
            them out of the update.
        controller_init_range: weights start uniform in `[-r, r]`
            (paper: 0.1).
        **kwargs: `keras_tuner.Tuner` arguments (`directory`, `project_name`,
            `overwrite`, `executions_per_trial`, `max_model_size`, ...).

    The `controller_*` options are `NASOracle`'s, forwarded unchanged; see it
    for their validation.

    Example:

    >>> from tuner_plugins import NASNetHyperModel
    >>> tuner = RNNController(
    ...     NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1)),
    ...     objective="val_accuracy",
    ...     max_trials=200,
    ...     controller_batch_size=10,
    ...     directory="runs",
    ...     project_name="controller",
    ... )  # doctest: +SKIP
    >>> tuner.search(x, y, validation_data=(x_val, y_val), epochs=5)  # doctest: +SKIP
    >>> print(tuner.best_genotypes()[0])  # doctest: +SKIP

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", arXiv 1707.07012, section 3 and appendix A.
    """

    def __init__(
        self,
        hypermodel=None,
        objective=None,
        max_trials=10,
        seed=None,
        hyperparameters=None,
        tune_new_entries=True,
        allow_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        trial_timeout=None,
        controller_units=controller_lib.DEFAULT_UNITS,
        controller_layers=controller_lib.DEFAULT_LAYERS,
        controller_learning_rate=controller_lib.DEFAULT_LEARNING_RATE,
        controller_batch_size=controller_lib.DEFAULT_BATCH_SIZE,
        controller_update=controller_lib.PPO,
        controller_ppo_clip=controller_lib.DEFAULT_PPO_CLIP,
        controller_ppo_epochs=controller_lib.DEFAULT_PPO_EPOCHS,
        controller_entropy_weight=controller_lib.DEFAULT_ENTROPY_WEIGHT,
        controller_baseline_decay=controller_lib.DEFAULT_BASELINE_DECAY,
        controller_temperature=None,
        controller_tanh_constant=None,
        controller_failed_reward=None,
        controller_init_range=controller_lib.DEFAULT_INIT_RANGE,
        **kwargs,
    ):
        _check_tuner_kwargs(kwargs)
        self.seed = seed
        oracle = NASOracle(
            objective=objective,
            max_trials=max_trials,
            strategy="controller",
            seed=seed,
            hyperparameters=hyperparameters,
            tune_new_entries=tune_new_entries,
            allow_new_entries=allow_new_entries,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
            trial_timeout=trial_timeout,
            controller_units=controller_units,
            controller_layers=controller_layers,
            controller_learning_rate=controller_learning_rate,
            controller_batch_size=controller_batch_size,
            controller_update=controller_update,
            controller_ppo_clip=controller_ppo_clip,
            controller_ppo_epochs=controller_ppo_epochs,
            controller_entropy_weight=controller_entropy_weight,
            controller_baseline_decay=controller_baseline_decay,
            controller_temperature=controller_temperature,
            controller_tanh_constant=controller_tanh_constant,
            controller_failed_reward=controller_failed_reward,
            controller_init_range=controller_init_range,
        )
        super().__init__(oracle, hypermodel, **kwargs)
