"""The Keras and keras-tuner side of `keras_nasnet.workflow`.

The tuners a search runs, the one mapping from a strategy name to a tuner
(`_tuner_spec`), the per-trial seed, and the Keras callback that reports
epochs. `keras_nasnet.workflow` imports it when a search starts, so that
importing the workflow costs no Keras.
"""

import contextlib
import gc
import io
import os
import signal
import sys
import time

import keras
import keras_tuner
import numpy as np

import tuner_plugins
from keras_nasnet import progress, training, workflow
from keras_nasnet._validation import check_known_options, fail
from tuner_plugins import _keras_tuner
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.cost_aware import CostAwareMixin, check_latency_measurable
from tuner_plugins.failures import (
    TooManyFailedTrialsError,
    TrialFailureMixin,
    failure_reason,
)
from tuner_plugins.phases import TrialPhasesMixin


class ProcessBudgetSpent(Exception):
    """This process ran its `trials_per_process`; a fresh one goes on."""


class _ServingStopped(Exception):
    """The chief of a search run by `workflow.search(workers=...)` is told
    (by `workflow._STOP_SERVING`) that every worker has exited."""


# True while a chief serves its oracle: `workflow._STOP_SERVING` then ends
# `run_search` (keras-tuner's chief checks only every 20 s whether it may).
_serving = False


def distributed_role():
    """`"chief"` or `"worker"` in keras-tuner's chief/worker mode (its
    KERASTUNER_* environment variables), None otherwise."""
    if "KERASTUNER_ORACLE_IP" not in os.environ:
        return None
    return "chief" if "chief" in os.environ.get("KERASTUNER_TUNER_ID", "") else "worker"


def _stop_serving(signum, frame):
    if _serving:  # else: past the gRPC loop already, going to exit
        raise _ServingStopped()


def listen_for_stop_serving():
    """On a chief, `workflow._STOP_SERVING` ends `run_search`; once it has
    ended, the signal is ignored."""
    if workflow._STOP_SERVING is not None:
        signal.signal(workflow._STOP_SERVING, _stop_serving)


def seed_trial(seed, trial_id):
    """Seeds Python, NumPy and the backend for one trial's training.

    From `workflow.trial_seed(seed, trial_id)`: a re-run of the trial (after
    a kill, on resume) builds the same initial weights and draws the same
    batches, and trial k of two searches with one seed starts alike whatever
    the strategy.
    """
    keras.utils.set_random_seed(workflow.trial_seed(seed, trial_id))


def _number(value):
    try:
        value = float(np.asarray(value))
    except (TypeError, ValueError):
        return None
    return value


class EpochEvents(keras.callbacks.Callback):
    """Sends a `progress.EpochEnd` to `on_epoch_end` after each epoch.

    Args:
        on_epoch_end: a callable taking the event (e.g. a
            `SearchCallback.on_epoch_end`).
        trial_id: the trial's id, or None outside a search.
    """

    def __init__(self, on_epoch_end, trial_id=None):
        super().__init__()
        self._on_epoch_end = on_epoch_end
        self._trial_id = trial_id
        self._train_start = self._epoch_start = None

    def __deepcopy__(self, memo):
        # keras-tuner deep-copies the callbacks of each trial; the receiver
        # (which may hold a stream) is shared, not copied.
        return type(self)(self._on_epoch_end, self._trial_id)

    def on_train_begin(self, logs=None):
        self._train_start = time.monotonic()

    def on_epoch_begin(self, epoch, logs=None):
        self._epoch_start = time.monotonic()

    def on_epoch_end(self, epoch, logs=None):
        now = time.monotonic()
        values = {name: _number(value) for name, value in (logs or {}).items()}
        self._on_epoch_end(
            progress.EpochEnd(
                trial_id=self._trial_id,
                epoch=epoch + 1,
                epochs=self.params.get("epochs") or epoch + 1,
                steps=self.params.get("steps"),
                seconds=now - (self._epoch_start or now),
                elapsed=now - (self._train_start or now),
                logs={k: v for k, v in values.items() if v is not None},
            )
        )


def best_trial(tuner):
    """The best trial with a score so far, or None (none, or all failed)."""
    best = tuner.oracle.get_best_trials(1)
    return best[0] if best and best[0].score is not None else None


def ended_trials(tuner):
    """Trials of the search that ended; None on a distributed worker."""
    trials = getattr(tuner.oracle, "trials", None)
    if trials is None:
        return None
    return sum(t.status in progress.ENDED for t in trials.values())


class _WorkflowTuner:
    """What a workflow search adds to a keras-tuner Tuner.

    - each trial's training is seeded from `(seed, trial id)`;
    - `callback` (a `progress.SearchCallback`) receives each epoch and each
      trial's end, with the best so far and the count of ended trials;
    - after `trials_per_process` trials (if > 0), `search` stops with
      `ProcessBudgetSpent` so that a fresh process goes on;
    - without `weight_checkpoints`, keras-tuner's per-epoch
      `checkpoint.weights.h5` is not written (`get_best_models` and
      `load_model` then cannot load a trial's weights; the search's
      genotypes are what the workflow keeps).

    The tuner it is mixed into records each trial's phases
    (`tuner_plugins.phases.TrialPhasesMixin`); they go with `TrialEnd`.
    """

    def __init__(
        self,
        *args,
        callback,
        trial_seed,
        trials_per_process=0,
        weight_checkpoints=False,
        **kwargs,
    ):
        self._callback = callback
        self._weight_checkpoints = weight_checkpoints
        self._trial_seed = trial_seed
        self._trials_per_process = trials_per_process
        self._trial_starts = {}
        self._ended_here = 0
        super().__init__(*args, **kwargs)

    def pre_create_trial(self):
        super().pre_create_trial()
        if self._trials_per_process and self._ended_here >= self._trials_per_process:
            done = ended_trials(self)  # None on a distributed worker
            # A worker cannot tell whether trials are left: its fresh process
            # asks the chief, and exits if told to stop.
            if done is None or done < self.oracle.max_trials:
                raise ProcessBudgetSpent()

    def on_trial_begin(self, trial):
        self._trial_starts[trial.trial_id] = (time.monotonic(), time.time())
        super().on_trial_begin(trial)

    def run_trial(self, trial, *args, **kwargs):
        seed_trial(self._trial_seed, trial.trial_id)
        kwargs["callbacks"] = [
            *(kwargs.get("callbacks") or []),
            EpochEvents(self._callback.on_epoch_end, trial.trial_id),
        ]
        return super().run_trial(trial, *args, **kwargs)

    def _build_and_fit_model(self, trial, *args, **kwargs):
        # keras-tuner's hook around build and fit: no per-epoch checkpoint of
        # the weights unless asked (a resume reruns a trial from scratch and
        # the workflow keeps genotypes, not weights).
        if not self._weight_checkpoints:
            kwargs["callbacks"] = _keras_tuner.without_weight_checkpoints(
                kwargs.get("callbacks")
            )
        return super()._build_and_fit_model(trial, *args, **kwargs)

    def on_trial_end(self, trial):
        try:
            super().on_trial_end(trial)
        finally:
            # Also for the trial that stops the search.
            self._ended_here += 1
            self._callback.on_trial_end(self._trial_end(trial))

    def _trial_end(self, trial):
        started, started_at = self._trial_starts.pop(
            trial.trial_id, (time.monotonic(), time.time())
        )
        best = best_trial(self)
        failed = trial.status in ("FAILED", "INVALID")
        score = trial.score
        if score is None and not failed and distributed_role() == "worker":
            # The chief scored it (a worker's trial never sees its score).
            score = self.oracle.get_trial(trial.trial_id).score
        return progress.TrialEnd(
            trial_id=trial.trial_id,
            status=trial.status,
            score=None if score is None else float(score),
            best_trial_id=best.trial_id if best else None,
            best_score=float(best.score) if best else None,
            done=ended_trials(self),
            max_trials=self.oracle.max_trials,
            seconds=time.monotonic() - started,
            start_time=started_at,
            end_time=time.time(),
            objective=self.oracle.objective.name,
            reason=(failure_reason(trial) or None) if failed else None,
            phases=self.trial_phases(trial.trial_id),
        )


class _NAS(_WorkflowTuner, tuner_plugins.NASTuner):
    pass


# CostAwareMixin: budgets and cost metrics (keras-tuner's oracles cannot
# propose again: a child over budget is a FAILED trial there).
class _Random(
    _WorkflowTuner,
    CostAwareMixin,
    TrialFailureMixin,
    TrialPhasesMixin,
    keras_tuner.RandomSearch,
):
    pass


class _Bayesian(
    _WorkflowTuner,
    CostAwareMixin,
    TrialFailureMixin,
    TrialPhasesMixin,
    keras_tuner.BayesianOptimization,
):
    pass


def _cost_arguments(settings):
    """The tuner's objective, budgets and latency switch from `settings`."""
    objective = workflow.cost_objective(settings) or keras_tuner.Objective(
        settings.objective, settings.direction
    )
    return objective, {
        "max_params": settings.max_params,
        "max_macs": settings.max_macs,
        "max_latency_ms": settings.max_latency_ms,
        "measure_latency": workflow.latency_measured(settings),
    }


def _tuner_spec(settings):
    """THE mapping from a strategy name to a tuner.

    Returns:
        `(tuner class, its keyword arguments for the strategy, the seed to
        give it)`.

    Raises:
        ValueError: an option the strategy does not take, or an invalid one.
    """
    options = dict(settings.strategy_options)
    strategy = settings.strategy
    if strategy not in workflow.KERAS_TUNER_STRATEGIES:
        made = strategy_lib.make_strategy(strategy, **options)
        return _NAS, {"strategy": made}, settings.seed
    # keras-tuner's own oracles do `seed or random.randint(1, 10000)`: a
    # seed of 0 would be random.
    if strategy == "bayesian":
        options.setdefault("num_initial_points", max(2, settings.max_trials // 4))
        cls, owner, accepted = (
            _Bayesian,
            "BayesianOptimization",
            (
                "num_initial_points",
                "alpha",
                "beta",
            ),
        )
    else:
        cls, owner, accepted = _Random, "RandomSearch", ()
    check_known_options(owner, options, accepted)
    return cls, options, settings.seed + 1


def configure_backend():
    """The process settings a search's children train best with.

    On TensorFlow without a GPU: TensorFlow's graph optimizer (Grappler)
    off (`keras_nasnet.training.configure_tensorflow`): its passes cost a
    trial's trace more than they save in its steps on a CPU. Nothing on a
    GPU or on another backend.

    Returns:
        A dict of the settings applied.
    """
    if keras.backend.backend() != "tensorflow":
        return {}
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        return {}
    return training.configure_tensorflow(graph_optimization=False)


def check_strategy_options(settings):
    """Validates the strategy's options without building a model or writing
    a file, so that a bad option is reported before the data are loaded.

    Raises:
        ValueError: naming the option.
    """
    _tuner_spec(settings)


@contextlib.contextmanager
def _without_reload_notice():
    # keras-tuner prints "Reloading Tuner from <file>" whenever a tuner
    # resumes: in every process of a chain and every worker. The progress
    # lines say it once ("resuming the search ...").
    buffer = io.StringIO()
    try:
        with contextlib.redirect_stdout(buffer):
            yield
    finally:
        for line in buffer.getvalue().splitlines(keepends=True):
            if not line.startswith("Reloading Tuner from "):
                sys.stdout.write(line)


def make_tuner(
    settings,
    hypermodel,
    directory,
    *,
    callback,
    trials_per_process=0,
    overwrite=False,
    weight_checkpoints=False,
    **tuner_kwargs,
):
    """See `keras_nasnet.workflow.make_tuner`."""
    cls, options, seed = _tuner_spec(settings)
    objective, budgets = _cost_arguments(settings)
    if budgets["measure_latency"]:
        # Before anything is written: a child that cannot be timed here
        # would stop the search at its first trial.
        check_latency_measurable(hypermodel)
    parent, project = os.path.split(os.path.abspath(os.fspath(directory)))
    with _without_reload_notice():
        return cls(
            hypermodel=hypermodel,
            objective=objective,
            **budgets,
            max_trials=settings.max_trials,
            seed=seed,
            directory=parent,
            project_name=project,
            overwrite=overwrite,
            max_consecutive_failed_trials=settings.max_consecutive_failed_trials,
            callback=callback,
            trial_seed=settings.seed,
            trials_per_process=trials_per_process,
            weight_checkpoints=weight_checkpoints,
            **options,
            **tuner_kwargs,
        )


def make_hypermodel(settings, *, jit_compile=False, run_eagerly=False):
    """See `keras_nasnet.workflow.make_hypermodel`."""
    if settings.input_shape is None or settings.num_classes is None:
        fail(
            "settings",
            "SearchSettings with input_shape and num_classes (search() fills "
            "them in from the data)",
            settings,
        )
    return tuner_plugins.NASNetHyperModel(
        num_classes=settings.num_classes,
        input_shape=settings.input_shape,
        ops=workflow.OP_SETS[settings.ops],
        num_blocks=settings.num_blocks,
        search_combine=settings.search_combine,
        cells_per_stack=settings.cells_per_stack,
        filters=settings.filters,
        learning_rate=settings.learning_rate,
        drop_path_keep_prob=settings.drop_path_keep_prob,
        jit_compile=jit_compile,
        run_eagerly=run_eagerly,
    )


@contextlib.contextmanager
def frozen_heap():
    """Python's garbage collector leaves what exists now alone in this block.

    keras-tuner collects garbage before each trial (`gc.collect()` in its
    build), and with TensorFlow, Keras and keras-tuner imported a full
    collection walks some 440,000 objects that live as long as the process:
    2-4 s per trial on the loaded 2-core machine, 0.3-1.4 s with them frozen
    (`gc.freeze()`). They are unfrozen when the block ends, so that a
    caller's own garbage from before the search is collected again; unless
    the caller had frozen objects itself (a test session, an application
    that calls `gc.freeze()` after its imports): what it froze stays frozen,
    and so does what it made since.
    """
    caller_froze = gc.get_freeze_count() > 0
    gc.freeze()
    try:
        yield
    finally:
        if not caller_froze:
            gc.unfreeze()


def run_search(tuner, *fit_args, **fit_kwargs):
    """`tuner.search(...)`, quietly.

    Returns:
        True when the search ended, False when this process ran its
        `trials_per_process`.

    Raises:
        workflow.SearchStoppedError: too many trials failed in a row.
    """
    global _serving
    try:
        with _keras_tuner.quiet_trial_tracebacks(), frozen_heap():
            _serving = distributed_role() == "chief"
            try:
                tuner.search(*fit_args, verbose=0, **fit_kwargs)
            finally:
                if _serving and workflow._STOP_SERVING is not None:
                    # Ignored from now on, at the interpreter's exit too
                    # (which resets the signals Python handles to their
                    # default: for this one, to end the process).
                    signal.signal(workflow._STOP_SERVING, signal.SIG_IGN)
                _serving = False
    except _ServingStopped:
        return True
    except ProcessBudgetSpent:
        return False
    except TooManyFailedTrialsError as e:
        raise workflow.SearchStoppedError(str(e), e.reasons) from e
    return True


def final_recipe(final, *, run_eagerly=False):
    """The recipe of `workflow.final_training`: `SEARCH_PROXY` at the size
    and length of `final` (a `workflow.FinalSettings`)."""
    import dataclasses

    from keras_nasnet import training

    return dataclasses.replace(
        training.SEARCH_PROXY,
        cells_per_stack=final.cells_per_stack,
        filters=final.filters,
        epochs=final.epochs,
        batch_size=final.batch_size,
        learning_rate=final.learning_rate,
        run_eagerly=run_eagerly,
        source="keras-nasnet's final training after a search: SEARCH_PROXY "
        "enlarged and lengthened (workflow.FinalSettings)",
    )


def train_final(genotype, splits, recipe, *, seed, on_epoch_end=None):
    """Trains `genotype` from scratch with `recipe` and tests it.

    Every model starts from the same seed (`keras.utils.set_random_seed`),
    so two genotypes are trained identically but for their cells.

    Returns:
        `{"genotype", "params", "test_accuracy", "validation_accuracy",
        "seconds"}` (an accuracy is None where its split is absent), a
        result of `final.json` without its label.
    """
    from keras_nasnet import training

    started = time.monotonic()
    keras.utils.set_random_seed(seed)
    network = training.build_model(genotype, splits, recipe)
    callbacks = [] if on_epoch_end is None else [EpochEvents(on_epoch_end)]
    result = training.train(
        network, splits, recipe, callbacks=callbacks, verbose=0, seed=seed
    )
    validation = result.history.get("val_accuracy")
    entry = {
        "genotype": str(genotype),
        "params": int(network.count_params()),
        "test_accuracy": None
        if result.test is None
        else float(result.test["accuracy"]),
        "validation_accuracy": float(validation[-1]) if validation else None,
        "seconds": time.monotonic() - started,
    }
    del result, network
    keras.backend.clear_session()
    return entry
