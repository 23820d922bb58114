"""Every use of keras-tuner's private API, in one place.

keras-tuner's public API (`Oracle`, `Tuner`, `HyperParameters`,
`keras_tuner.engine.trial`, `synchronized`) does not reach everything a
resumable, distributed oracle needs: its bookkeeping (which configurations
were tried, how often each trial ran, the retry queue), its file layout and
its state format. This module is the only one in the project that touches
those names; `PRIVATES` lists each with the reason, and
`missing_privates()` (run by the test suite) says which the installed
keras-tuner lacks. The supported range is pinned in `pyproject.toml`
(`keras-tuner>=1.4.7,<1.5`): a new minor version must pass that test before
the bound moves.
"""

import contextlib
import copy
import functools
import threading

import keras_tuner
from keras_tuner.src import backend as _backend
from keras_tuner.src import config as _config
from keras_tuner.src import utils as _utils
from keras_tuner.src.engine import oracle as _oracle_module
from keras_tuner.src.engine import tuner_utils as _tuner_utils

SUPPORTED_VERSIONS = ">=1.4.7,<1.5"

# (owner, name, why) of each private name this project relies on. `owner` is
# "module:<dotted path>", "Oracle" or "BaseTuner"/"Tuner" (a method, looked
# up on the class), "oracle" (an attribute of an Oracle instance) or
# "hyperparameters" (of a HyperParameters instance).
PRIVATES = (
    ("module:keras_tuner.src.backend.io", "glob", "list trial files, also gs://"),
    ("module:keras_tuner.src.backend.io", "exists", "find oracle.json, also gs://"),
    ("module:keras_tuner.src.utils", "save_json", "write state files off a local disk"),
    (
        "module:keras_tuner.src.utils",
        "load_json",
        "read oracle.json as keras-tuner wrote it",
    ),
    ("module:keras_tuner.src.config", "DEBUG", "silence per-trial tracebacks"),
    ("module:keras_tuner.src.engine.oracle", "LOCKS", "a lock released on errors"),
    ("module:keras_tuner.src.engine.oracle", "THREADS", "a lock released on errors"),
    ("oracle", "_retry_queue", "take back a silent worker's trial"),
    ("oracle", "_run_times", "count retries; compact oracle.json"),
    ("oracle", "_id_to_hash", "compact oracle.json; rebuild it on resume"),
    ("oracle", "_tried_so_far", "compact oracle.json; rebuild it on resume"),
    ("oracle", "_display", "forget start times of finished trials"),
    ("oracle", "_directory", "whether the oracle has a project directory"),
    ("Oracle", "_duplicate", "reject a proposal already tried or running"),
    ("Oracle", "_compute_values_hash", "recognize a configuration"),
    ("Oracle", "_check_objective_found", "validate metrics before the lock"),
    ("Oracle", "_set_project_dir", "tests and benchmarks drive an oracle alone"),
    ("Oracle", "_project_dir", "where the strategy's files go"),
    ("Oracle", "_get_oracle_fname", "oracle.json's path"),
    ("Oracle", "_get_trial_dir", "trial.json's folder"),
    (
        "Oracle",
        "_save_trial",
        "overridden: atomic trial.json with the strategy note; written again "
        "with a trial's phase times once its files are saved",
    ),
    (
        "Oracle",
        "_check_consecutive_failures",
        "overridden: stop without raising under the lock",
    ),
    ("BaseTuner", "_is_worker", "the tuner's save: only the chief saves the oracle"),
    ("BaseTuner", "_get_tuner_fname", "the tuner's save: <tuner_id>.json"),
    ("Tuner", "_try_build", "overridden: a model that fails to build is FAILED"),
    (
        "Tuner",
        "_build_and_fit_model",
        "overridden (keras-tuner's documented hook): a search without weight "
        "checkpoints",
    ),
    (
        "module:keras_tuner.src.engine.tuner_utils",
        "SaveBestEpoch",
        "the per-epoch weight checkpoint a search may leave out",
    ),
    ("hyperparameters", "_hps", "copy a space without deserializing it"),
    ("hyperparameters", "_space", "copy a space without deserializing it"),
)


def _lookup(owner):
    if owner.startswith("module:"):
        return __import__(owner[len("module:") :], fromlist=["_"])
    if owner == "oracle":
        oracle = keras_tuner.Oracle(objective="val_loss", max_trials=1)
        oracle._set_project_dir("directory", "project")  # sets attributes only
        return oracle
    if owner == "hyperparameters":
        return keras_tuner.HyperParameters()
    return {
        "Oracle": keras_tuner.Oracle,
        "BaseTuner": keras_tuner.engine.base_tuner.BaseTuner,
        "Tuner": keras_tuner.Tuner,
    }[owner]


def missing_privates():
    """`["owner.name (why)", ...]` for each private the installed keras-tuner
    lacks; empty when every one is there."""
    missing = []
    for owner, name, why in PRIVATES:
        try:
            present = hasattr(_lookup(owner), name)
        except ImportError:
            present = False
        if not present:
            missing.append(f"{owner}.{name} ({why})")
    return missing


# ------------------------------------------------------------------- space


class _QuickCopyHyperParameters(keras_tuner.HyperParameters):
    """`HyperParameters` whose `copy()` copies each hyperparameter directly.

    keras-tuner's `copy()` (run by `Oracle.create_trial` for every trial)
    serializes the space and deserializes it through Keras's object registry,
    which inspects each class's signature: about 7 ms a trial on a 2-core CPU
    for the 50 decisions of a NASNet space, most of an oracle's decision
    time. This copy gives the same space: the same classes and configs, in
    the same order, with their own values.
    """

    def copy(self):
        clone = type(self)()
        for hp in self.space:
            hp = copy.copy(hp)
            hp.conditions = list(hp.conditions)
            clone._hps[hp.name].append(hp)
            clone._space.append(hp)
        clone.values = dict(self.values)
        return clone


def quick_copying(space):
    """`space` (a `keras_tuner.HyperParameters` or None), made to copy itself
    without deserializing (`_QuickCopyHyperParameters`); the same object, so
    a caller's reference to it stays valid. A space of another subclass of
    `HyperParameters` (someone else's) is left as it is."""
    if type(space) is keras_tuner.HyperParameters:
        space.__class__ = _QuickCopyHyperParameters
    return space


# ------------------------------------------------------------------- files
# keras-tuner's file helpers go through tf.io.gfile when TensorFlow is there,
# so a project directory may be a bucket (gs://...).

glob = _backend.io.glob
exists = _backend.io.exists
load_json = _utils.load_json
save_json = _utils.save_json


@contextlib.contextmanager
def quiet_trial_tracebacks():
    """keras-tuner prints the traceback of every failed trial unless its
    `config.DEBUG` is off; off inside this block."""
    debug, _config.DEBUG = _config.DEBUG, False
    try:
        yield
    finally:
        _config.DEBUG = debug


# -------------------------------------------------------------------- lock


def synchronized(method):
    """`keras_tuner.synchronized`, but the lock is released when `method`
    raises (keras-tuner's is not: one exception froze every other caller,
    a distributed chief for good). Shares keras-tuner's lock table, so it
    nests with keras-tuner's own synchronized methods."""

    @functools.wraps(method)
    def wrapped(oracle, *args, **kwargs):
        thread_name = threading.current_thread().name
        need_acquire = _oracle_module.THREADS[oracle] != thread_name
        if need_acquire:
            _oracle_module.LOCKS[oracle].acquire()
            _oracle_module.THREADS[oracle] = thread_name
        try:
            return method(oracle, *args, **kwargs)
        finally:
            if need_acquire:
                _oracle_module.THREADS[oracle] = None
                _oracle_module.LOCKS[oracle].release()

    return wrapped


def lock_is_free(oracle):
    """Whether no thread holds `oracle`'s lock (for tests)."""
    return not _oracle_module.LOCKS[oracle].locked()


# ----------------------------------------------------- oracle bookkeeping


def values_hash(oracle, values):
    """keras-tuner's hash of a configuration (its active values)."""
    return oracle._compute_values_hash(values)


def is_tried(oracle, values):
    """Whether `values` were tried or are running."""
    return oracle._duplicate(values)


def trial_hashes(oracle):
    """`{trial_id: hash}` of every trial, kept by keras-tuner (read only)."""
    return oracle._id_to_hash


def tried_hashes(oracle):
    """The set of hashes keras-tuner treats as tried (read only)."""
    return oracle._tried_so_far


def retry_queue(oracle):
    """keras-tuner's queue of trial ids waiting for a retry (mutable)."""
    return oracle._retry_queue


def run_count(oracle, trial_id):
    """How many times a trial has run (ended) so far."""
    return oracle._run_times.get(trial_id, 0)


def run_counts(oracle):
    """`{trial_id: runs}` of every trial that ran (read only)."""
    return {k: v for k, v in oracle._run_times.items() if v}


def forget_start_time(oracle, trial_id):
    """keras-tuner's display keeps every trial's start time, and oracle.json
    carried them all; a finished trial's is no longer needed."""
    oracle._display.trial_start.pop(trial_id, None)


def check_objective_found(oracle, metrics):
    """keras-tuner's ValueError when `metrics` lack the objective."""
    oracle._check_objective_found(metrics)


def set_project_dir(oracle, directory, project_name):
    """Gives an oracle used without a tuner its project directory."""
    oracle._set_project_dir(directory, project_name)


def project_dir(oracle):
    """The project directory, or None for an oracle without one."""
    if getattr(oracle, "_directory", None) is None:
        return None
    return oracle._project_dir


def oracle_file(oracle):
    return oracle._get_oracle_fname()


def trial_dir(oracle, trial_id):
    return oracle._get_trial_dir(trial_id)


def save_trial(oracle, trial):
    """Writes `trial`'s trial.json as the oracle does."""
    oracle._save_trial(trial)


def without_weight_checkpoints(callbacks):
    """`callbacks` without keras-tuner's per-epoch weight checkpoint (the
    `SaveBestEpoch` that `Tuner.run_trial` adds; only `Tuner.load_model`
    and `get_best_models` read its file)."""
    return [c for c in callbacks or [] if not isinstance(c, _tuner_utils.SaveBestEpoch)]


def without_files(oracle):
    """Stops an oracle from writing trial.json and oracle.json (for tests and
    benchmarks that run thousands of trials); returns a function that undoes
    it."""
    save_trial, save = oracle._save_trial, oracle.save
    oracle._save_trial, oracle.save = (lambda trial: None), (lambda: None)

    def undo():
        oracle._save_trial, oracle.save = save_trial, save

    return undo


def tuner_is_worker(tuner):
    return tuner._is_worker()


def tuner_file(tuner):
    return tuner._get_tuner_fname()


# ----------------------------------------------------------- state format
# keras-tuner's `Oracle.get_state()` layout, version 1.4: ongoing_trials,
# hyperparameters, start_order, end_order, run_times, retry_queue, seed,
# seed_state, tried_so_far, id_to_hash, display.


def compact_state(oracle, state, finished, retried):
    """keras-tuner's state without what the trial files hold.

    keras-tuner's state grows with every trial and is rewritten after every
    trial: at 5,000 trials, 0.5 MB encoded twice per trial, most of the
    oracle's time. Left out, and rebuilt by `expand_state` (as keras-tuner's
    Bayesian oracle refits from trials): the start order (the trial ids in
    order), each finished trial's values hash, and the display's start times
    of trials that are over. What cannot be derived is kept.

    Args:
        oracle: the oracle whose `super().get_state()` is `state`.
        state: keras-tuner's state (changed in place and returned).
        finished: the set of finished trial ids (`end_order`).
        retried: trial ids that ran more than once.
    """
    # Set operations, not Python loops over all trials: this runs after
    # every trial.
    unfinished = oracle.trials.keys() - finished
    id_to_hash = oracle._id_to_hash
    state.pop("start_order")
    state["id_to_hash"] = {
        trial_id: id_to_hash[trial_id]
        for trial_id in unfinished
        if trial_id in id_to_hash
    }
    # `_tried_so_far` is the set of the trials' hashes, but for the rare hash
    # shared by two trials and then changed for one of them.
    all_hashes = set(id_to_hash.values())
    state["tried_so_far"] = sorted(oracle._tried_so_far - all_hashes)
    state["tried_so_far_missing"] = sorted(all_hashes - oracle._tried_so_far)
    # Run counts: 1 for a finished trial, 0 for a new one; others kept.
    run_times = oracle._run_times
    state["run_times"] = {
        trial_id: run_times.get(trial_id, 0)
        for trial_id in retried | unfinished
        if run_times.get(trial_id, 0) != (trial_id in finished)
    }
    running = {
        trial.trial_id
        for trial in oracle.ongoing_trials.values()
        if trial.status == keras_tuner.engine.trial.TrialStatus.RUNNING
    }
    # A trial's start time matters only while it runs.
    display = state["display"]
    display["trial_start"] = {
        trial_id: start
        for trial_id, start in display["trial_start"].items()
        if trial_id in running
    }
    # keras-tuner's `end_trial` saves before it pops the trial from
    # `ongoing_trials`, so oracle.json listed a finished trial as ongoing and
    # a reload ran it again (an INVALID one, twice: it is also in the retry
    # queue). Only RUNNING trials are ongoing.
    state["ongoing_trials"] = {
        tuner_id: trial_id
        for tuner_id, trial_id in state["ongoing_trials"].items()
        if trial_id in running
    }
    return state


def expand_state(oracle, state, start_order, ongoing_prefix):
    """keras-tuner's full state from `compact_state`'s and the trials loaded
    from their files (`oracle.trials`).

    Args:
        start_order: the trial ids in the order they started.
        ongoing_prefix: tuner-id prefix for trials found running: started
            (`create_trial` does not rewrite oracle.json) but neither finished
            nor waiting for a retry. keras-tuner's `reload` queues ongoing
            trials for a retry; these join them.
    """
    state = dict(state)
    finished = set(state["end_order"])
    state["start_order"] = start_order
    # Finished trials' hashes are those of their saved values; so are those
    # of trials started after the last oracle.json write.
    id_to_hash = dict(state["id_to_hash"])
    for trial_id in start_order:
        if trial_id not in id_to_hash:
            values = oracle.trials[trial_id].hyperparameters.values
            id_to_hash[trial_id] = oracle._compute_values_hash(values)
    state["id_to_hash"] = id_to_hash
    tried = set(id_to_hash.values()) - set(state.pop("tried_so_far_missing", []))
    state["tried_so_far"] = sorted(tried | set(state["tried_so_far"]))
    run_times = {trial_id: 1 for trial_id in finished}
    run_times.update(state["run_times"])
    state["run_times"] = run_times
    ongoing = dict(state["ongoing_trials"])
    waiting = finished | set(state["retry_queue"]) | set(ongoing.values())
    for trial_id in start_order:
        if trial_id not in waiting:
            ongoing[f"{ongoing_prefix}{trial_id}"] = trial_id
    state["ongoing_trials"] = ongoing
    return state
