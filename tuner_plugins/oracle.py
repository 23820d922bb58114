"""`NASOracle`: regularized evolution or an RNN controller as a keras-tuner Oracle.

One `keras_tuner.Oracle` subclass does the keras-tuner bookkeeping (trial ids,
retries, failures, persistence, chief/worker locking); the search itself is a
*strategy* object from `tuner_plugins.evolution` or `tuner_plugins.controller`.

A strategy is any object with this small interface (the oracle passes itself
in, so strategies import nothing from this module):

- `name`: `"evolution"` or `"controller"`.
- `propose(oracle, rng)`: the values of one new trial (a dict over the active
  hyperparameters), or `None` when it has nothing to offer. The oracle rejects
  duplicates and asks again, up to `max_attempts` times (optional; default
  keras-tuner's 20), then proposes a random sample.
- `on_trial_end(oracle)`: called under the oracle's lock after every
  `end_trial`; returns whether the strategy's files must be rewritten.
- `get_state()` / `set_state(state)`: JSON-safe progress that cannot be derived
  from the trials.
- `save_files(project_dir)` / `load_files(project_dir)`: anything that is not
  JSON (the controller's weights), written atomically beside `oracle.json`.

Everything that *can* be derived from the trials is: evolution's population
is recomputed from `end_order` at each proposal, and every random draw of a
trial comes from a generator seeded with `(seed, trial_id)`. So a search
reloaded with `overwrite=False` continues exactly as if it had never stopped.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (Algorithm 1); Zoph et al. 2018, "Learning Transferable
Architectures for Scalable Image Recognition" (section 3, appendix A).
"""

import json
import os
import threading
import time
import zlib

import keras_tuner
import numpy as np
from keras_tuner.src import backend as kt_backend
from keras_tuner.src import utils as kt_utils
from keras_tuner.src.engine import trial as trial_module

from keras_nasnet import _atomic, _validation
from tuner_plugins import controller as controller_lib
from tuner_plugins import evolution as evolution_lib
from tuner_plugins.failures import failure_reason

STRATEGIES = ("evolution", "controller")
_TrialStatus = trial_module.TrialStatus
# Version of the oracle.json written by `get_state`; 1 was keras-tuner's full
# state, which `set_state` still reads.
_STATE_FORMAT = 2
# Tuner-id prefix of trials `set_state` finds were running.
_ONGOING = "reloaded-"


def save_json(path, obj):
    """keras-tuner's `utils.save_json`, but atomic on a local disk: a search
    killed while writing keeps the previous file."""
    if _atomic.is_local(path):
        return _atomic.write_json(path, obj)
    return kt_utils.save_json(path, obj)


def _trial_order(trial_id):
    # Trial ids are zero-padded counters; the padding changes when a resumed
    # search raises `max_trials`, so compare them as numbers.
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)


class NASOracle(keras_tuner.Oracle):
    """Searches a space with regularized evolution or an RNN controller.

    On a NASNet space (one declared with `tuner_plugins.decisions.declare_cells`)
    evolution mutates the genotype the AmoebaNet way; on any other space it
    changes one hyperparameter per child. The controller works on any space
    whose hyperparameters have a finite set of values (continuous `Float`s are
    discretized).

    Args:
        objective: as for `keras_tuner.Oracle`. Its direction decides what
            "best" means for evolution and the sign of the controller's reward.
        max_trials: the number of trials, failed ones included.
        strategy: `"evolution"` (Real et al., Algorithm 1) or `"controller"`
            (Zoph et al., an LSTM policy trained with PPO or REINFORCE).
        hyperparameters: optional `keras_tuner.HyperParameters`, the space.
        seed: integer seed. The same seed and the same scores give the same
            proposals.
        population_size: evolution's P (paper: 100).
        sample_size: evolution's tournament size S, `1 <= S <= P` (paper: 25).
        identity_prob: probability of the identity mutation (paper: 0.05).
        controller_units: LSTM units per layer (paper: 100).
        controller_layers: number of LSTM layers (paper: 1).
        controller_learning_rate: Adam's learning rate (paper: 0.00035).
        controller_batch_size: finished trials per controller update
            (paper: 20).
        controller_update: `"ppo"` (paper) or `"reinforce"` (Zoph & Le 2017).
        controller_ppo_clip: PPO's clipping epsilon (not in the paper; 0.2,
            Schulman et al. 2017).
        controller_ppo_epochs: gradient steps per PPO minibatch.
        controller_entropy_weight: entropy bonus (paper: 1e-5).
        controller_baseline_decay: decay of the reward's moving-average
            baseline (paper: 0.95).
        controller_temperature: logits are divided by it (ENAS); `None` is 1.
        controller_tanh_constant: when set, logits become
            `c * tanh(logits / temperature)` (ENAS uses 1.1 for inputs, 2.5 for
            ops: one constant here).
        controller_failed_reward: reward given to FAILED trials in the
            controller's update; `None` leaves them out. In reward units: the
            objective, negated for a `"min"` objective.
        controller_init_range: weights start uniform in `[-r, r]` (paper: 0.1).
        allow_new_entries, tune_new_entries, max_retries_per_trial,
        max_consecutive_failed_trials: as for `keras_tuner.Oracle`.
        trial_timeout: seconds after which a running trial whose tuner sent
            nothing (no `update_trial`, `end_trial` or `create_trial`) is
            taken back: in distributed tuning, a worker that was killed or
            preempted. The trial is queued for another worker (once; a
            second time it ends FAILED, since it may be what kills its
            workers), and the silent tuner no longer keeps the chief from
            exiting. `None` (default) waits forever, as keras-tuner does. Set
            it well above the longest trial: a late report of a trial taken
            back is kept only if no other worker has started it again.

    Raises:
        ValueError: on an unknown strategy or an out-of-range option.

    Example:

    >>> import keras_tuner
    >>> from keras_nasnet.space import decisions
    >>> hp = keras_tuner.HyperParameters()
    >>> _ = decisions.declare_cells(hp)
    >>> oracle = NASOracle("val_accuracy", max_trials=5, hyperparameters=hp,
    ...                    seed=1, population_size=2, sample_size=1)
    >>> oracle.strategy.name
    'evolution'
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        strategy="evolution",
        hyperparameters=None,
        seed=None,
        population_size=evolution_lib.DEFAULT_POPULATION_SIZE,
        sample_size=evolution_lib.DEFAULT_SAMPLE_SIZE,
        identity_prob=evolution_lib.DEFAULT_IDENTITY_PROB,
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
        allow_new_entries=True,
        tune_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        trial_timeout=None,
    ):
        if strategy not in STRATEGIES:
            raise ValueError(
                "Invalid value received for argument `strategy`. Expected one "
                f"of {', '.join(repr(s) for s in STRATEGIES)}. "
                f"Received: strategy={strategy!r}"
            )
        # keras-tuner takes these unchecked and fails trials later.
        if max_trials is not None:  # None: no limit, as in keras-tuner
            max_trials = _validation.check_int("max_trials", max_trials, 1)
        max_retries_per_trial = _validation.check_int(
            "max_retries_per_trial", max_retries_per_trial, 0
        )
        if max_consecutive_failed_trials is not None:
            max_consecutive_failed_trials = _validation.check_int(
                "max_consecutive_failed_trials", max_consecutive_failed_trials, 1
            )
        if trial_timeout is not None and not (
            _validation.is_real(trial_timeout) and 0 < trial_timeout < float("inf")
        ):
            _validation.fail(
                "trial_timeout", "a positive number of seconds or None", trial_timeout
            )
        if seed is not None:
            seed = _validation.check_int("seed", seed, 0)
        super().__init__(
            objective=objective,
            max_trials=max_trials,
            hyperparameters=hyperparameters,
            allow_new_entries=allow_new_entries,
            tune_new_entries=tune_new_entries,
            seed=seed,
            max_retries_per_trial=max_retries_per_trial,
            max_consecutive_failed_trials=max_consecutive_failed_trials,
        )
        # Both strategies are validated only when chosen: options of the other
        # one are ignored, so a tuner can forward one set of kwargs.
        if strategy == "evolution":
            self.strategy = evolution_lib.EvolutionStrategy(
                population_size=population_size,
                sample_size=sample_size,
                identity_prob=identity_prob,
            )
        else:
            self.strategy = controller_lib.ControllerStrategy(
                seed=self.seed,
                units=controller_units,
                num_layers=controller_layers,
                learning_rate=controller_learning_rate,
                batch_size=controller_batch_size,
                update=controller_update,
                ppo_clip=controller_ppo_clip,
                ppo_epochs=controller_ppo_epochs,
                entropy_weight=controller_entropy_weight,
                baseline_decay=controller_baseline_decay,
                temperature=controller_temperature,
                tanh_constant=controller_tanh_constant,
                failed_reward=controller_failed_reward,
                init_range=controller_init_range,
            )
        # Set (never persisted) when too many trials failed in a row: later
        # proposals answer STOPPED so every worker, and the chief, can exit.
        self._stop_message = None
        # True while `create_trial` runs: it would rewrite oracle.json, which
        # `reload` does not need (see `_ONGOING` below).
        self._defer_save = False
        self.trial_timeout = trial_timeout
        self._last_heard = {}  # tuner_id -> time.monotonic() of its last call
        self._taken_back = {}  # trial_id -> times its tuner went silent
        self._watchdog = None
        self._finished_cache = None  # see `_finished_ids`
        self._retried = set()  # trial ids that ran more than once

    # ------------------------------------------------------------------ helpers
    # Public to the strategies; all of them read state, none writes it.

    def trial_rng(self, trial_id):
        """The random stream of one trial: seeded by `(seed, trial_id)`.

        Deriving it instead of carrying one stream forward is what makes a
        reloaded search propose exactly what an uninterrupted one would.
        """
        key = (
            int(trial_id)
            if str(trial_id).isdigit()
            else zlib.crc32(str(trial_id).encode("utf-8"))
        )
        return np.random.default_rng([int(self.seed), key])

    def reward(self, trial):
        """A trial's score, oriented so that larger is better."""
        score = float(trial.score)
        return score if self.objective.direction == "max" else -score

    def finished_trials(self, include_failed=False):
        """Trials in the order they ended: COMPLETED ones, and FAILED ones too
        when `include_failed`. Trials waiting for a retry are not finished."""
        statuses = {_TrialStatus.COMPLETED}
        if include_failed:
            statuses.add(_TrialStatus.FAILED)
        return [
            self.trials[trial_id]
            for trial_id in self.end_order
            if self.trials[trial_id].status in statuses
        ]

    def random_values(self, rng):
        """Samples every active hyperparameter uniformly, in space order."""
        return self.complete_values({}, rng)

    def complete_values(self, values, rng):
        """Returns `values` restricted to the active hyperparameters, with any
        active one that is missing or not a legal value sampled from `rng`.

        The space is walked in definition order so that a parent's value
        decides whether its conditional children are active.
        """
        out = {}
        for hp in self.hyperparameters.space:
            if not all(cond.is_active(out) for cond in hp.conditions):
                continue
            if hp.name in values and _is_legal(hp, values[hp.name]):
                out[hp.name] = values[hp.name]
            else:
                out[hp.name] = sample_value(hp, rng)
        return out

    @staticmethod
    def candidate_values(hp):
        """See the module-level `candidate_values`."""
        return candidate_values(hp)

    @staticmethod
    def sample_value(hp, rng):
        """See the module-level `sample_value`."""
        return sample_value(hp, rng)

    def is_duplicate(self, values):
        """Whether `values` were tried or are being tried (ongoing trials are
        recorded in keras-tuner's `_tried_so_far` when they start)."""
        return self._duplicate(values)

    # ----------------------------------------------------------- Oracle methods

    @keras_tuner.synchronized
    def create_trial(self, tuner_id):
        # keras-tuner writes trial.json and then oracle.json for every new
        # trial. oracle.json is left out: `set_state` finds a started trial
        # from its trial.json (a trial that is neither finished nor waiting
        # for a retry was running), so one oracle.json write per trial, in
        # `end_trial`, is enough -- and at thousands of trials that write is
        # most of the oracle's time.
        self._heard_from(tuner_id)
        self._take_back_abandoned_trials()
        self._defer_save = True
        try:
            return super().create_trial(tuner_id)
        finally:
            self._defer_save = False

    # ------------------------------------------------------ abandoned trials

    def _heard_from(self, tuner_id):
        if self.trial_timeout is None or tuner_id is None:
            return
        self._last_heard[tuner_id] = time.monotonic()
        if self._watchdog is None:
            # The chief's gRPC loop only checks, every 20 s, that no trial is
            # ongoing and no tuner id is left; nothing else would call the
            # oracle once every live worker is done.
            self._watchdog = threading.Thread(
                target=self._watch, name="NASOracle-trial-timeout", daemon=True
            )
            self._watchdog.start()

    def _watch(self):
        period = max(0.5, min(self.trial_timeout / 4.0, 30.0))
        while True:
            time.sleep(period)
            self._take_back_abandoned_trials_locked()

    @keras_tuner.synchronized
    def _take_back_abandoned_trials_locked(self):
        self._take_back_abandoned_trials()

    def _take_back_abandoned_trials(self):
        """Queues again the trials of tuners silent for `trial_timeout`."""
        if self.trial_timeout is None:
            return
        now = time.monotonic()
        silent = {
            tuner_id
            for tuner_id in self.tuner_ids
            if now - self._last_heard.get(tuner_id, now) > self.trial_timeout
        }
        for tuner_id in silent:
            self.tuner_ids.discard(tuner_id)
            self._last_heard.pop(tuner_id, None)
            trial = self.ongoing_trials.pop(tuner_id, None)
            if trial is None:
                continue
            count = self._taken_back.get(trial.trial_id, 0) + 1
            self._taken_back[trial.trial_id] = count
            trial.message = (
                f"Its tuner {tuner_id!r} sent nothing for more than "
                f"{self.trial_timeout:g} s (trial_timeout): killed, "
                "preempted or out of memory?"
            )
            if count > 1:
                trial.message += f" Taken back {count} times: FAILED."
                trial.status = _TrialStatus.FAILED
                self._end_and_learn(trial)
                continue
            trial.status = _TrialStatus.INVALID
            self._retry_queue.append(trial.trial_id)
            self._save_trial(trial)
            self.save()

    def populate_space(self, trial_id):
        # Called by `create_trial`, under the lock: nothing here may raise for
        # a condition a search can recover from.
        if self._stop_message is not None:
            return {"status": _TrialStatus.STOPPED, "values": None}
        rng = self.trial_rng(trial_id)
        # A proposal that repeats a tried or in-flight trial is redrawn (the
        # identity mutation always is), a bounded number of times ...
        attempts = getattr(self.strategy, "max_attempts", self._max_collisions)
        for _ in range(attempts):
            values = self.strategy.propose(self, rng)
            if values is not None and not self._duplicate(values):
                return {"status": _TrialStatus.RUNNING, "values": values}
        # ... then a fresh random sample, as keras-tuner's RandomSearch does.
        for _ in range(self._max_collisions):
            values = self.random_values(rng)
            if not self._duplicate(values):
                return {"status": _TrialStatus.RUNNING, "values": values}
        # The space looks exhausted.
        return {"status": _TrialStatus.STOPPED, "values": None}

    def update_trial(self, trial_id, metrics, step=0):
        """Reports a trial's metrics; see `keras_tuner.Oracle.update_trial`.

        Raises:
            ValueError: for an unknown trial id or metrics without the
                objective.
        """
        # Validated before taking the lock: `keras_tuner.synchronized` does not
        # release it when the wrapped method raises.
        if trial_id not in self.trials:
            raise ValueError(
                f"Unknown trial id {trial_id!r}: `update_trial` expects the id "
                "of a trial that `create_trial` returned."
            )
        self._check_objective_found(metrics)
        return self._update_trial_locked(trial_id, metrics, step)

    @keras_tuner.synchronized
    def _update_trial_locked(self, trial_id, metrics, step):
        self._heard_from(self._tuner_of(trial_id))
        return super().update_trial(trial_id, metrics, step=step)

    def _finished_ids(self):
        """`set(self.end_order)`, kept up to date as the list grows."""
        order, cache = self.end_order, self._finished_cache
        if cache is None or cache[0] is not order or cache[1] > len(order):
            cache = self._finished_cache = [order, 0, set()]
        if cache[1] < len(order):
            cache[2].update(order[cache[1] :])
            cache[1] = len(order)
        return cache[2]

    def _end_and_learn(self, trial):
        """keras-tuner's `end_trial`, our bookkeeping, then the strategy's
        update (under the lock)."""
        super().end_trial(trial)
        if self._run_times.get(trial.trial_id, 0) > 1:
            self._retried.add(trial.trial_id)
        # keras-tuner's display keeps every trial's start time and oracle.json
        # carried them all; it needs them only until the trial ends.
        self._display.trial_start.pop(trial.trial_id, None)
        if self.strategy.on_trial_end(self):
            self._save_strategy_files()

    def _tuner_of(self, trial_id):
        """The tuner id running `trial_id`, or None."""
        return next(
            (tid for tid, t in self.ongoing_trials.items() if t.trial_id == trial_id),
            None,
        )

    def end_trial(self, trial, status=None):
        """Ends a trial; see `keras_tuner.Oracle.end_trial`.

        Raises:
            RuntimeError: after `max_consecutive_failed_trials` FAILED trials
                in a row, as keras-tuner does; but the trial is saved and the
                lock released first, and later `create_trial` calls answer
                STOPPED so that every worker and the chief can exit.
        """
        if isinstance(trial, str):
            # keras-tuner's old signature, `end_trial(trial_id, status)`.
            trial = trial_module.Trial(
                self.get_space(), trial, status or _TrialStatus.COMPLETED
            )
        if trial.trial_id not in self.trials:
            raise ValueError(
                f"Unknown trial id {trial.trial_id!r}: `end_trial` expects a "
                "trial that `create_trial` returned."
            )
        message = self._end_trial_locked(trial)
        if message is not None:
            raise RuntimeError(message)

    @keras_tuner.synchronized
    def _end_trial_locked(self, trial):
        tuner_id = self._tuner_of(trial.trial_id)
        if tuner_id is None and trial.trial_id in self._taken_back:
            # A late report of a trial taken back from a silent tuner: kept
            # while the trial waits for a retry; ignored once another tuner
            # runs it again or it has ended.
            if trial.trial_id not in self._retry_queue:
                return None
            self._retry_queue.remove(trial.trial_id)
        self._heard_from(tuner_id)
        stopped_before = self._stop_message is not None
        self._end_and_learn(trial)
        if self._stop_message is not None and not stopped_before:
            # This tuner will stop on the error and never ask again: forget it
            # so that the chief's exit check (no tuner ids left) can pass.
            self.tuner_ids.discard(tuner_id)
            return self._stop_message
        return None

    def _check_consecutive_failures(self):
        # keras-tuner raises here, inside `end_trial`'s lock, before saving the
        # trial. Record the error instead; `end_trial` raises it unlocked.
        # Only the trailing run counts: keras-tuner scans the whole history,
        # so once any run reached the limit every later end_trial raised.
        limit = self.max_consecutive_failed_trials
        if not limit or self._stop_message is not None:
            return
        run = 0
        for trial_id in reversed(self.end_order):
            if self.trials[trial_id].status != _TrialStatus.FAILED:
                break
            run += 1
        if run >= limit:
            failed = [self.trials[t] for t in self.end_order[-limit:]]
            self._stop_message = (
                f"Number of consecutive failures exceeded the limit of {limit}.\n"
                + "\n".join(
                    f"- trial {t.trial_id}: {failure_reason(t) or 'no reason recorded'}"
                    for t in failed
                )
            )

    # -------------------------------------------------------------- persistence

    def get_state(self):
        state = super().get_state()
        # keras-tuner's state grows with every trial and is rewritten after
        # every trial: at 5,000 trials, 0.5 MB encoded twice per trial, most
        # of the oracle's time. What the trial files already hold is left out
        # and rebuilt by `set_state` (as keras-tuner's Bayesian oracle refits
        # from trials): the start order (the trial ids in order), each
        # finished trial's values hash, and the display's start times of
        # trials that are over. What cannot be derived is kept.
        # Set operations, not Python loops over all trials: this runs after
        # every trial.
        finished = self._finished_ids()
        unfinished = self.trials.keys() - finished
        state.pop("start_order")
        state["id_to_hash"] = {
            trial_id: self._id_to_hash[trial_id]
            for trial_id in unfinished
            if trial_id in self._id_to_hash
        }
        # `_tried_so_far` is the set of the trials' hashes, but for the rare
        # hash shared by two trials and then changed for one of them.
        all_hashes = set(self._id_to_hash.values())
        state["tried_so_far"] = sorted(self._tried_so_far - all_hashes)
        state["tried_so_far_missing"] = sorted(all_hashes - self._tried_so_far)
        # Run counts: 1 for a finished trial, 0 for a new one; others kept.
        state["run_times"] = {
            trial_id: self._run_times.get(trial_id, 0)
            for trial_id in self._retried | unfinished
            if self._run_times.get(trial_id, 0) != (trial_id in finished)
        }
        running = {
            trial.trial_id
            for trial in self.ongoing_trials.values()
            if trial.status == _TrialStatus.RUNNING
        }
        # Kept small by `_end_trial_locked`; a trial's start time matters
        # only while it runs.
        display = state["display"]
        display["trial_start"] = {
            trial_id: start
            for trial_id, start in display["trial_start"].items()
            if trial_id in running
        }
        # keras-tuner's `end_trial` saves before it pops the trial from
        # `ongoing_trials`, so oracle.json listed a finished trial as ongoing
        # and a reload ran it again (an INVALID one, twice: it is also in the
        # retry queue). Only RUNNING trials are ongoing.
        state["ongoing_trials"] = {
            tuner_id: trial_id
            for tuner_id, trial_id in state["ongoing_trials"].items()
            if trial_id in running
        }
        state["nas_oracle"] = {
            "format": _STATE_FORMAT,
            "strategy": self.strategy.name,
            "strategy_state": self.strategy.get_state(),
            "taken_back": dict(self._taken_back),
        }
        return state

    def set_state(self, state):
        nas_state = state.get("nas_oracle")
        if nas_state is not None and nas_state.get("format", 1) >= 2:
            state = self._expand_state(state)
        super().set_state(state)
        self._retried = {t for t, count in self._run_times.items() if count > 1}
        if nas_state is None:
            return
        if nas_state["strategy"] != self.strategy.name:
            raise ValueError(
                f"This project was searched with strategy="
                f"{nas_state['strategy']!r}, but the oracle was created with "
                f"strategy={self.strategy.name!r}. Pass the same strategy to "
                "continue it, or `overwrite=True` to start a new search."
            )
        self.strategy.set_state(nas_state["strategy_state"])
        self._taken_back = dict(nas_state.get("taken_back", {}))
        project_dir = self._maybe_project_dir()
        if project_dir is not None:
            self.strategy.load_files(project_dir)
        # A kill between oracle.json and the strategy's own files leaves the
        # latter one update behind: catch up now, so the next proposal comes
        # from the same policy an uninterrupted search would use.
        if self.strategy.on_trial_end(self):
            self._save_strategy_files()

    def _expand_state(self, state):
        """keras-tuner's full state from the compact one `get_state` wrote
        and the trials loaded from their files."""
        state = dict(state)
        missing = [t for t in state["end_order"] if t not in self.trials]
        missing += [t for t in state["retry_queue"] if t not in self.trials]
        if missing:
            raise ValueError(
                f"{self._get_oracle_fname()} lists trials whose trial.json is "
                f"missing from {self._project_dir}: {', '.join(missing[:10])}. "
                "Restore those trial folders, or pass `overwrite=True` (CLI: "
                "leave out --resume and use a new --directory) to start over."
            )
        finished = set(state["end_order"])
        start_order = sorted(self.trials, key=_trial_order)
        state["start_order"] = start_order
        # Finished trials' hashes are those of their saved values; so are
        # those of trials started after the last oracle.json write.
        id_to_hash = dict(state["id_to_hash"])
        for trial_id in start_order:
            if trial_id not in id_to_hash:
                values = self.trials[trial_id].hyperparameters.values
                id_to_hash[trial_id] = self._compute_values_hash(values)
        state["id_to_hash"] = id_to_hash
        tried = set(id_to_hash.values()) - set(state.pop("tried_so_far_missing", []))
        state["tried_so_far"] = sorted(tried | set(state["tried_so_far"]))
        run_times = {trial_id: 1 for trial_id in finished}
        run_times.update(state["run_times"])
        state["run_times"] = run_times
        # Started but neither finished nor waiting for a retry: it was running
        # when the search stopped (`create_trial` does not rewrite
        # oracle.json). keras-tuner's `reload` queues ongoing trials for a
        # retry; these join them.
        ongoing = dict(state["ongoing_trials"])
        waiting = finished | set(state["retry_queue"]) | set(ongoing.values())
        for trial_id in start_order:
            if trial_id not in waiting:
                ongoing[f"{_ONGOING}{trial_id}"] = trial_id
        state["ongoing_trials"] = ongoing
        return state

    def save(self):
        if self._defer_save:
            return
        save_json(self._get_oracle_fname(), self.get_state())
        self._save_strategy_files()

    def _save_trial(self, trial):
        trial_dir = self._get_trial_dir(trial.trial_id)
        save_json(os.path.join(trial_dir, "trial.json"), trial.get_state())

    def reload(self):
        """Reloads the trials and oracle.json of the project directory.

        Raises:
            ValueError: naming the file, when a state file is missing,
                truncated or not what keras-tuner wrote, with how to recover.
        """
        pattern = os.path.join(self._project_dir, "trial_*", "trial.json")
        for fname in sorted(kt_backend.io.glob(pattern)):
            try:
                trial = trial_module.Trial.load(fname)
            except (ValueError, KeyError, TypeError) as e:
                raise ValueError(
                    f"Cannot resume the search: {fname} is truncated or "
                    f"corrupt ({type(e).__name__}: {e}). Delete its folder "
                    f"{os.path.dirname(fname)} to run that trial again, or "
                    "pass `overwrite=True` (CLI: a new --directory without "
                    "--resume) to start over."
                ) from e
            self.trials[trial.trial_id] = trial
        fname = self._get_oracle_fname()
        if not kt_backend.io.exists(fname):
            raise ValueError(
                f"Cannot resume the search: {fname} is missing, so the order "
                "in which trials finished is unknown. Restore it, or pass "
                "`overwrite=True` (CLI: a new --directory without --resume) "
                "to start over."
            )
        try:
            state = kt_utils.load_json(fname)
            if not isinstance(state, dict):
                raise TypeError(f"expected a JSON object, found {type(state).__name__}")
            self.set_state(state)
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as e:
            raise ValueError(
                f"Cannot resume the search: {fname} is truncated or corrupt "
                f"({type(e).__name__}: {e}). Restore it from a backup, or pass "
                "`overwrite=True` (CLI: a new --directory without --resume) to "
                "start over; the finished trials' results stay readable in "
                "their trial_*/trial.json files."
            ) from e
        # As keras-tuner: trials that were running are queued for a retry.
        for trial in self.ongoing_trials.values():
            self._retry_queue.append(trial.trial_id)
        self.ongoing_trials = {}

    def _save_strategy_files(self):
        project_dir = self._maybe_project_dir()
        if project_dir is not None:
            self.strategy.save_files(project_dir)

    def _maybe_project_dir(self):
        if getattr(self, "_directory", None) is None:
            return None
        return self._project_dir


def candidate_values(hp):
    """The finite values of a hyperparameter, or `None` for a continuous one.

    `Int` without a step and linear sampling enumerates its range; numerical
    hyperparameters with a step enumerate their grid.
    """
    kind = type(hp).__name__
    if kind in ("Choice", "Boolean", "Fixed"):
        return list(hp.values)
    if kind == "Int" and hp.step is None and hp.sampling == "linear":
        return list(range(hp.min_value, hp.max_value + 1))
    if getattr(hp, "step", None) is not None:
        return list(hp.values)
    return None


def sample_value(hp, rng):
    """Samples one value of `hp` uniformly (in its own sampling scale)."""
    kind = type(hp).__name__
    if kind == "Fixed":
        return hp.value
    if kind in ("Choice", "Boolean"):
        values = list(hp.values)
        return values[int(rng.integers(len(values)))]
    # `prob_to_value` is keras-tuner's own inverse CDF: it honours step, log
    # and reverse_log sampling and returns Python ints/floats.
    return hp.prob_to_value(float(rng.random()))


def _is_legal(hp, value):
    values = candidate_values(hp)
    if values is not None:
        return value in values
    return hp.min_value <= value <= hp.max_value
