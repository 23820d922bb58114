"""`NASOracle`: a keras-tuner Oracle whose search is a pluggable `Strategy`.

One `keras_tuner.Oracle` subclass does the keras-tuner bookkeeping (trial ids,
duplicates, retries, failures, persistence, chief/worker locking); the search
itself is a `tuner_plugins.strategy.Strategy` object: aging evolution, the RNN
controller, local search (`tuner_plugins.strategy.STRATEGIES`), or your own.

Everything that *can* be derived from the trials is: evolution's population
is recomputed from `end_order` at each proposal, and every random draw of a
trial comes from a generator seeded with `(seed, trial_id)`. What a strategy
must know about a trial from the moment it starts (the controller's
log-probability at sampling time) is a *trial note*, written in the trial's
own `trial.json` with it. So a search reloaded with `overwrite=False`
continues exactly as if it had never stopped.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search" (Algorithm 1); Zoph et al. 2018, "Learning Transferable
Architectures for Scalable Image Recognition" (section 3, appendix A); White
et al. 2020, "Local Search is State of the Art for Neural Architecture Search
Benchmarks".
"""

import json
import os
import threading
import time
import zlib

import keras_tuner
import numpy as np
from keras_tuner.engine import trial as trial_module

from keras_nasnet import _atomic, _validation, pareto
from keras_nasnet.space import decisions
from tuner_plugins import _keras_tuner as kt
from tuner_plugins import objectives as objectives_lib
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.constraints import CELLS_PER_STACK, FILTERS, Constraints, CostModel
from tuner_plugins.failures import failure_reason

_TrialStatus = trial_module.TrialStatus
# Version of the oracle.json written by `get_state`; 1 was keras-tuner's full
# state, which `set_state` still reads.
_STATE_FORMAT = 2
# Tuner-id prefix of trials `set_state` finds were running.
_ONGOING = "reloaded-"
# Proposals per trial before a random sample, for a strategy that does not
# say (keras-tuner's own collision limit); and random samples before the
# space counts as exhausted.
DEFAULT_MAX_ATTEMPTS = 20
MAX_RANDOM_ATTEMPTS = 20
# Key of a strategy's trial note in trial.json.
_NOTE_KEY = "nas_strategy_note"
# Over-budget proposals for one trial before the search stops (each costs
# about 0.3 ms to price, under the lock).
DEFAULT_MAX_INFEASIBLE = 1000
# Children priced when a search starts, looking for one within budget.
FEASIBILITY_CHECK_EVALUATIONS = 2000
# Prices remembered (by values hash) before the cache starts over.
_COST_CACHE_SIZE = 100_000
# `NASOracle.stop_kind` of a search stopped for want of a child within budget.
INFEASIBLE = "infeasible"


def save_json(path, obj):
    """keras-tuner's `utils.save_json`, but atomic on a local disk: a search
    killed while writing keeps the previous file."""
    if _atomic.is_local(path):
        return _atomic.write_json(path, obj)
    return kt.save_json(path, obj)


def _trial_order(trial_id):
    # Trial ids are zero-padded counters; the padding changes when a resumed
    # search raises `max_trials`, so compare them as numbers.
    return (0, int(trial_id), "") if trial_id.isdigit() else (1, 0, trial_id)


class NASOracle(keras_tuner.Oracle):
    """A keras-tuner Oracle that searches with a `Strategy`.

    On a NASNet space (one declared with `keras_nasnet.space.decisions`)
    evolution and local search change the cells the AmoebaNet way; on any
    other space they change one hyperparameter at a time. The controller
    works on any space whose hyperparameters have a finite set of values
    (continuous `Float`s are discretized).

    Args:
        objective: as for `keras_tuner.Oracle`. Its direction decides what
            "best" means and the sign of the controller's reward. A
            `tuner_plugins.objectives.MnasReward` scores each trial by
            MnasNet's accuracy-and-cost reward (computed here from the
            trial's accuracy and the cost `cost_model` gives, when the tuner
            did not report it); a `tuner_plugins.objectives.Pareto` makes
            the `"evolution"` strategy select parents by Pareto rank (other
            strategies refuse it) while the score stays its first objective.
        max_trials: the number of trials, failed ones included.
        strategy: a `tuner_plugins.strategy.Strategy` instance, or a
            registered name (`"evolution"`, `"controller"`, `"local_search"`;
            see `strategy_names()`), which `**strategy_options` configure.
            One strategy object per oracle: it holds the search's progress.
        hyperparameters: optional `keras_tuner.HyperParameters`, the space.
        seed: integer seed, 0 included. The same seed and the same scores
            give the same proposals (and the controller's same initial
            weights). `None`: a random seed, recorded in oracle.json.
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
        constraints: a `tuner_plugins.constraints.Constraints` (or a dict of
            budgets: `max_params`, `max_macs`, `max_latency_ms`), or None. A
            proposal over `max_params` or `max_macs` is never started: the
            strategy proposes again (then random samples are drawn), and
            after `max_infeasible_proposals` of them for one trial the
            search stops, saying so. `max_latency_ms` is the tuner's to
            check (`CostAwareMixin`), on the built child.
        cost_model: a `tuner_plugins.constraints.CostModel`: how big a child
            the trial's values spell (input shape, classes, stem; N and F
            if the trial does not choose them). Needed for `max_params` and
            `max_macs`; with it every trial also records its `"params"` and
            `"macs"` as metrics.
        max_infeasible_proposals: over-budget proposals for one trial before
            the search stops.
        **strategy_options: the options of the strategy named by `strategy`
            (e.g. `population_size=50` for `"evolution"`); see its class.

    Attributes:
        strategy: the `Strategy` object.
        objectives: the objectives a trial is judged by: a `Pareto`'s, else
            `[objective]`.
        constraints: the `Constraints` (empty when none was given).
        cost_model: the `CostModel`, or None.
        infeasible_proposals: over-budget proposals redrawn so far (kept in
            oracle.json).
        stop_reason: `None`, or why every later `create_trial` answers
            STOPPED (the space looks exhausted; too many failures in a row;
            no child within budget).

    Raises:
        ValueError: on an unknown strategy, an option the strategy does not
            take, or an out-of-range option; on a Pareto objective with a
            strategy that cannot use it; on `max_params` or `max_macs`
            without a `cost_model`, or that no child of the space (when
            `hyperparameters` spell one) can meet.

    Example:

    >>> import keras_tuner
    >>> from keras_nasnet.space import decisions
    >>> hp = keras_tuner.HyperParameters()
    >>> _ = decisions.declare_cells(hp)
    >>> oracle = NASOracle("val_accuracy", max_trials=5, hyperparameters=hp,
    ...                    seed=0, population_size=2, sample_size=1)
    >>> oracle.strategy.name, oracle.seed
    ('evolution', 0)
    """

    def __init__(
        self,
        objective=None,
        max_trials=10,
        strategy="evolution",
        hyperparameters=None,
        seed=None,
        allow_new_entries=True,
        tune_new_entries=True,
        max_retries_per_trial=0,
        max_consecutive_failed_trials=3,
        trial_timeout=None,
        constraints=None,
        cost_model=None,
        max_infeasible_proposals=DEFAULT_MAX_INFEASIBLE,
        **strategy_options,
    ):
        strategy = strategy_lib.make_strategy(strategy, **strategy_options)
        constraints = Constraints.make(constraints)
        if cost_model is not None and not isinstance(cost_model, CostModel):
            _validation.fail(
                "cost_model",
                "a tuner_plugins.constraints.CostModel or None",
                cost_model,
            )
        if constraints.before_build and cost_model is None:
            _validation.fail(
                "cost_model",
                f"a CostModel to price children against {constraints} (the "
                "input shape, classes and stem; NASTuner makes one from a "
                "NASNetHyperModel)",
                cost_model,
            )
        max_infeasible_proposals = _validation.check_int(
            "max_infeasible_proposals", max_infeasible_proposals, 1
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
        if seed is not None:
            # keras-tuner does `seed or random.randint(1, 10000)`: 0 is a seed.
            self.seed = seed
        self.strategy = strategy
        # Set (never persisted) when the space looks exhausted or too many
        # trials failed in a row: later proposals answer STOPPED so every
        # worker, and the chief, can exit.
        self.stop_reason = None
        # True while `create_trial` runs: it would rewrite oracle.json, which
        # `reload` does not need (see `_ONGOING` below).
        self._defer_save = False
        self.trial_timeout = trial_timeout
        self._last_heard = {}  # tuner_id -> time.monotonic() of its last call
        self._taken_back = {}  # trial_id -> times its tuner went silent
        self._watchdog = None
        self._finished_cache = None  # see `_finished_ids`
        self._retried = set()  # trial ids that ran more than once
        self._notes = {}  # trial_id -> the strategy's note (see `trial_note`)
        self._hash_index = None  # see `find_trial`
        self._failures_stopped = False  # `stop_reason` is the failure limit
        self.constraints = constraints
        self.cost_model = cost_model
        self.max_infeasible_proposals = max_infeasible_proposals
        self.infeasible_proposals = 0
        self.stop_kind = None  # INFEASIBLE when no child was within budget
        self._costs = {}  # values hash -> Cost, or the error text
        self.objectives = list(getattr(self.objective, "objectives", [self.objective]))
        if isinstance(self.objective, objectives_lib.Pareto) and not getattr(
            strategy, "supports_pareto", False
        ):
            names = [
                n
                for n in strategy_lib.strategy_names()
                if strategy_lib.get_strategy_class(n).supports_pareto
            ]
            _validation.fail(
                "objective",
                f"a single objective for strategy {strategy.name!r} (a Pareto "
                f"objective needs strategy {' or '.join(map(repr, names))})",
                self.objective,
            )
        if decisions.is_cell_space(self.hyperparameters):
            self.check_constraints()

    # ------------------------------------------------------------------ helpers
    # Public to the strategies; all of them read state, none writes it.

    def trial_rng(self, trial_id, *salt):
        """The random stream of one trial: seeded by `(seed, trial_id)`.

        Deriving it instead of carrying one stream forward is what makes a
        reloaded search propose exactly what an uninterrupted one would.
        `salt` (integers) gives other independent streams tied to the trial.
        """
        key = (
            int(trial_id)
            if str(trial_id).isdigit()
            else zlib.crc32(str(trial_id).encode("utf-8"))
        )
        return np.random.default_rng([int(self.seed), key, *salt])

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
        return complete_values(self.hyperparameters, values, rng)

    def one_changes(self, values):
        """`(name, new value)` of every change of one active hyperparameter,
        in space order: the neighbourhood at one mutation (see the
        module-level `one_changes`)."""
        return one_changes(self.hyperparameters, values)

    @staticmethod
    def candidate_values(hp):
        """See the module-level `candidate_values`."""
        return candidate_values(hp)

    @staticmethod
    def sample_value(hp, rng):
        """See the module-level `sample_value`."""
        return sample_value(hp, rng)

    def is_duplicate(self, values):
        """Whether `values` were tried or are being tried (a trial's values
        count as tried from the moment it starts)."""
        return kt.is_tried(self, values)

    def find_trial(self, values):
        """The trial whose values are exactly `values`, or None (the oldest,
        if a retried trial whose hyperparameters grew now shares them)."""
        wanted = kt.values_hash(self, values)
        hashes = kt.trial_hashes(self)
        size = len(self.hyperparameters.space)
        if self._hash_index is None or self._hash_index[0] != size:
            # A new hyperparameter may re-hash finished trials: start over.
            self._hash_index = (size, [0], {})
        _, indexed, index = self._hash_index
        order = self.start_order
        for trial_id in order[indexed[0] :]:
            index.setdefault(hashes.get(trial_id), trial_id)
        indexed[0] = len(order)
        trial_id = index.get(wanted)
        return None if trial_id is None else self.trials.get(trial_id)

    def trial_note(self, trial_id):
        """The note the strategy returned from `on_trial_begin` for a trial it
        proposed (a dict), or None: a random fallback, a trial from before a
        strategy wrote notes, or one it gave none."""
        return self._notes.get(trial_id)

    # ------------------------------------------------------------------- cost

    def cost_of(self, values):
        """The `keras_nasnet.space.cost.Cost` of the child `values` spell, or
        None without a `cost_model` or when they spell no child (remembered
        by the values' hash: pricing one takes about 0.3 ms)."""
        if self.cost_model is None:
            return None
        key = kt.values_hash(self, values)
        cost = self._costs.get(key)
        if cost is None:
            try:
                cost = self.cost_model.cost(values)
            except (ValueError, TypeError, KeyError) as e:
                # Values that spell no child: never an exception under the
                # lock; a budget then refuses them, saying why.
                cost = f"{type(e).__name__}: {e}"
            if len(self._costs) >= _COST_CACHE_SIZE:
                self._costs = {}
            self._costs[key] = cost
        return None if isinstance(cost, str) else cost

    def infeasibility(self, values):
        """Why the child `values` spell is over a before-build budget (one
        line), or None when it is within all of them (or none is set)."""
        if not self.constraints.before_build:
            return None
        cost = self.cost_of(values)
        if cost is None:
            error = self._costs.get(kt.values_hash(self, values), "no cost model")
            return f"cannot be priced ({error})"
        violations = self.constraints.violations(params=cost.params, macs=cost.macs)
        return "; ".join(violations) or None

    def is_feasible(self, values):
        """Whether the child `values` spell is within the before-build budgets
        (True when none is set). Strategies may use it to skip proposals the
        oracle would refuse."""
        return self.infeasibility(values) is None

    def check_constraints(self, hyperparameters=None):
        """Refuses budgets no child of a NASNet space can meet.

        Prices random children and the smallest N and F, then descends on
        the cost one decision at a time, for up to
        `FEASIBILITY_CHECK_EVALUATIONS` children; usually the first is
        within budget and this takes a millisecond.

        Args:
            hyperparameters: the space (the oracle's if None).

        Raises:
            ValueError: naming the budget no child found meets, and the
                cheapest child found.
        """
        space = self.hyperparameters if hyperparameters is None else hyperparameters
        check_budgets(space, self.constraints, self.cost_model, self.seed)

    # -------------------------------------------------------------- objectives

    def metric_value(self, trial, name):
        """A trial's value of one metric: its score for the objective, the
        value at its best step (else the last one) for another; None when
        it has none."""
        if name == self.objective.name and trial.score is not None:
            return float(trial.score)
        if not trial.metrics.exists(name):
            return None
        history = trial.metrics.get_history(name)
        for observation in history:
            if observation.step == trial.best_step:
                return float(observation.mean())
        return float(history[-1].mean()) if history else None

    def objective_vector(self, trial):
        """A trial's objectives as a point where larger is better (see
        `Pareto.vector`): `(reward,)` for a single objective."""
        if isinstance(self.objective, objectives_lib.Pareto):
            return self.objective.vector(lambda name: self.metric_value(trial, name))
        return (self.reward(trial),)

    def pareto_trials(self):
        """The COMPLETED trials no other completed trial dominates on
        `objectives`, best score first (one trial for a single objective, or
        none)."""
        trials = [
            t
            for t in self.trials.values()
            if t.status == _TrialStatus.COMPLETED
            and t.score is not None
            and np.isfinite(t.score)
        ]
        points = [self.objective_vector(t) for t in trials]
        front = [trials[i] for i in pareto.pareto_front(points)]
        return sorted(front, key=self.reward, reverse=True)

    # ----------------------------------------------------------- Oracle methods

    @kt.synchronized
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
        except BaseException:
            # keras-tuner registered the tuner before proposing; a chief would
            # wait for it forever.
            self.tuner_ids.discard(tuner_id)
            raise
        finally:
            self._defer_save = False

    @property
    def hyperparameters(self):
        """The search space (`keras_tuner.HyperParameters`)."""
        return self._hyperparameters

    @hyperparameters.setter
    def hyperparameters(self, space):
        # keras-tuner copies the space for every new trial; ours copies it
        # without a round trip through Keras's deserialization (set here, so
        # that a space keras-tuner reads back on `reload` is one too).
        self._hyperparameters = kt.quick_copying(space)

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

    @kt.synchronized
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
            kt.retry_queue(self).append(trial.trial_id)
            self._save_trial(trial)
            self.save()

    def populate_space(self, trial_id):
        # Called by `create_trial`, under the lock.
        if self.stop_reason is not None:
            return {"status": _TrialStatus.STOPPED, "values": None}
        rng = self.trial_rng(trial_id)
        infeasible = _Rejected()
        # A proposal that repeats a tried or in-flight trial (the identity
        # mutation always does), or is over budget, is redrawn a bounded
        # number of times ...
        attempts = self.strategy.max_attempts
        if attempts is None:
            attempts = DEFAULT_MAX_ATTEMPTS
        for _ in range(attempts):
            values = self.strategy.propose(self, rng)
            if values is None or self.is_duplicate(values):
                continue
            if infeasible.refuses(self, values):
                continue
            self.infeasible_proposals += infeasible.count
            note = self.strategy.on_trial_begin(self, trial_id, values)
            if note is not None:
                self._notes[trial_id] = note
            return {"status": _TrialStatus.RUNNING, "values": values}
        # ... then fresh random samples, as keras-tuner's RandomSearch does.
        duplicates = 0
        while (
            duplicates < MAX_RANDOM_ATTEMPTS
            and infeasible.count < self.max_infeasible_proposals
        ):
            values = self.random_values(rng)
            if self.is_duplicate(values):
                duplicates += 1
            elif not infeasible.refuses(self, values):
                self.infeasible_proposals += infeasible.count
                return {"status": _TrialStatus.RUNNING, "values": values}
        self.infeasible_proposals += infeasible.count
        if duplicates < MAX_RANDOM_ATTEMPTS:
            self._stop(
                f"No child within budget ({self.constraints}): "
                f"{infeasible.count} proposals for trial {trial_id} were all "
                f"over it; the cheapest had {infeasible.cheapest}. Raise the "
                "budget or make the children smaller."
            )
            self.stop_kind = INFEASIBLE
            return {"status": _TrialStatus.STOPPED, "values": None}
        proposals = f"{attempts} proposal{'s' if attempts != 1 else ''}"
        self._stop(
            f"The search space looks exhausted: {proposals} of the "
            f"{self.strategy.name!r} strategy and {MAX_RANDOM_ATTEMPTS} random "
            f"samples for trial {trial_id} all repeated one of the "
            f"{len(self.trials)} trials tried or running."
        )
        return {"status": _TrialStatus.STOPPED, "values": None}

    def _stop(self, reason):
        if self.stop_reason is None:
            self.stop_reason = reason
            if self.verbose:
                print(f"Search stopped. {reason}", flush=True)

    def update_trial(self, trial_id, metrics, step=0):
        """Reports a trial's metrics; see `keras_tuner.Oracle.update_trial`.

        Raises:
            ValueError: for an unknown trial id or metrics without the
                objective.
        """
        # Validated before taking the lock: a clear error, and no lock held.
        if trial_id not in self.trials:
            raise ValueError(
                f"Unknown trial id {trial_id!r}: `update_trial` expects the id "
                "of a trial that `create_trial` returned."
            )
        metrics = self._with_costs(self.trials[trial_id], metrics)
        kt.check_objective_found(self, metrics)
        return self._update_trial_locked(trial_id, metrics, step)

    def _with_costs(self, trial, metrics):
        """`metrics` with the child's `"params"` and `"macs"` (from the cost
        model, when the tuner sent none) and a `MnasReward` score computed
        from them (when the tuner sent none)."""
        metrics = dict(metrics)
        cost = self.cost_of(trial.hyperparameters.values)
        if cost is not None:
            metrics.setdefault(objectives_lib.PARAMS, float(cost.params))
            metrics.setdefault(objectives_lib.MACS, float(cost.macs))
        objective = self.objective
        if (
            isinstance(objective, objectives_lib.MnasReward)
            and objective.name not in metrics
            and objective.has_value(metrics)
        ):
            metrics[objective.name] = objective.get_value(metrics)
        return metrics

    @kt.synchronized
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
        if kt.run_count(self, trial.trial_id) > 1:
            self._retried.add(trial.trial_id)
        kt.forget_start_time(self, trial.trial_id)
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

    @kt.synchronized
    def _end_trial_locked(self, trial):
        tuner_id = self._tuner_of(trial.trial_id)
        if tuner_id is None and trial.trial_id in self._taken_back:
            # A late report of a trial taken back from a silent tuner: kept
            # while the trial waits for a retry; ignored once another tuner
            # runs it again or it has ended.
            queue = kt.retry_queue(self)
            if trial.trial_id not in queue:
                return None
            queue.remove(trial.trial_id)
        self._heard_from(tuner_id)
        stopped_before = self.stop_reason is not None
        self._end_and_learn(trial)
        if self._failures_stopped and not stopped_before:
            # This tuner will stop on the error and never ask again: forget it
            # so that the chief's exit check (no tuner ids left) can pass.
            self.tuner_ids.discard(tuner_id)
            return self.stop_reason
        return None

    def _check_consecutive_failures(self):
        # keras-tuner raises here, inside `end_trial`'s lock, before saving the
        # trial. Record the error instead; `end_trial` raises it unlocked.
        # Only the trailing run counts: keras-tuner scans the whole history,
        # so once any run reached the limit every later end_trial raised.
        limit = self.max_consecutive_failed_trials
        if not limit or self.stop_reason is not None:
            return
        run = 0
        for trial_id in reversed(self.end_order):
            if self.trials[trial_id].status != _TrialStatus.FAILED:
                break
            run += 1
        if run >= limit:
            failed = [self.trials[t] for t in self.end_order[-limit:]]
            self.stop_reason = (
                f"Number of consecutive failures exceeded the limit of {limit}.\n"
                + "\n".join(
                    f"- trial {t.trial_id}: {failure_reason(t) or 'no reason recorded'}"
                    for t in failed
                )
            )
            self._failures_stopped = True

    # -------------------------------------------------------------- persistence

    def get_state(self):
        state = kt.compact_state(
            self, super().get_state(), self._finished_ids(), self._retried
        )
        state["nas_oracle"] = {
            "format": _STATE_FORMAT,
            "strategy": self.strategy.name,
            "strategy_config": self.strategy.get_config(),
            "strategy_state": self.strategy.get_state(),
            "taken_back": dict(self._taken_back),
            # What the trials were judged by and held to: for the report, and
            # for a reader of the directory.
            "objective": objectives_lib.objective_config(self.objective),
            "constraints": self.constraints.get_config(),
            "cost_model": (
                None if self.cost_model is None else self.cost_model.get_config()
            ),
            "infeasible_proposals": self.infeasible_proposals,
        }
        return state

    def set_state(self, state):
        nas_state = state.get("nas_oracle")
        if nas_state is not None and nas_state.get("format", 1) >= 2:
            state = self._expand_state(state)
        super().set_state(state)
        self._retried = {t for t, count in kt.run_counts(self).items() if count > 1}
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
        self.infeasible_proposals = int(nas_state.get("infeasible_proposals", 0))
        project_dir = kt.project_dir(self)
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
        missing = [t for t in state["end_order"] if t not in self.trials]
        missing += [t for t in state["retry_queue"] if t not in self.trials]
        if missing:
            raise ValueError(
                f"{kt.oracle_file(self)} lists trials whose trial.json is "
                f"missing from {kt.project_dir(self)}: {', '.join(missing[:10])}. "
                "Restore those trial folders, or pass `overwrite=True` (CLI: "
                "leave out --resume and use a new --directory) to start over."
            )
        start_order = sorted(self.trials, key=_trial_order)
        return kt.expand_state(self, state, start_order, _ONGOING)

    def save(self):
        if self._defer_save:
            return
        save_json(kt.oracle_file(self), self.get_state())
        self._save_strategy_files()

    def _save_trial(self, trial):
        # Atomic, and with the strategy's note: the note is written with the
        # trial it belongs to, the moment the trial starts.
        state = trial.get_state()
        note = self._notes.get(trial.trial_id)
        if note is not None:
            state[_NOTE_KEY] = note
        trial_dir = kt.trial_dir(self, trial.trial_id)
        save_json(os.path.join(trial_dir, "trial.json"), state)

    def reload(self):
        """Reloads the trials and oracle.json of the project directory.

        Raises:
            ValueError: naming the file, when a state file is missing,
                truncated or not what keras-tuner wrote, with how to recover.
        """
        pattern = os.path.join(kt.project_dir(self), "trial_*", "trial.json")
        for fname in sorted(kt.glob(pattern)):
            try:
                state = kt.load_json(fname)
                trial = trial_module.Trial.from_state(state)
            except (ValueError, KeyError, TypeError, AttributeError) as e:
                raise ValueError(
                    f"Cannot resume the search: {fname} is truncated or "
                    f"corrupt ({type(e).__name__}: {e}). Delete its folder "
                    f"{os.path.dirname(fname)} to run that trial again, or "
                    "pass `overwrite=True` (CLI: a new --directory without "
                    "--resume) to start over."
                ) from e
            self.trials[trial.trial_id] = trial
            if state.get(_NOTE_KEY) is not None:
                self._notes[trial.trial_id] = state[_NOTE_KEY]
        fname = kt.oracle_file(self)
        if not kt.exists(fname):
            raise ValueError(
                f"Cannot resume the search: {fname} is missing, so the order "
                "in which trials finished is unknown. Restore it, or pass "
                "`overwrite=True` (CLI: a new --directory without --resume) "
                "to start over."
            )
        try:
            state = kt.load_json(fname)
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
        queue = kt.retry_queue(self)
        for trial in self.ongoing_trials.values():
            queue.append(trial.trial_id)
        self.ongoing_trials = {}

    def _save_strategy_files(self):
        project_dir = kt.project_dir(self)
        if project_dir is not None:
            self.strategy.save_files(project_dir)


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


def complete_values(space, values, rng):
    """`values` restricted to the active hyperparameters of `space` (a
    `keras_tuner.HyperParameters`), with any active one that is missing or
    not a legal value sampled from `rng`, in definition order."""
    out = {}
    for hp in space.space:
        if not all(cond.is_active(out) for cond in hp.conditions):
            continue
        if hp.name in values and _is_legal(hp, values[hp.name]):
            out[hp.name] = values[hp.name]
        else:
            out[hp.name] = sample_value(hp, rng)
    return out


def one_changes(space, values):
    """`(name, new value)` of every change of one active hyperparameter of
    `space`, in space order: the neighbourhood at one mutation. A continuous
    hyperparameter takes keras-tuner's 10 grid values."""
    for hp in space.space:
        if hp.name not in values or not all(c.is_active(values) for c in hp.conditions):
            continue
        choices = candidate_values(hp)
        if choices is None:
            choices = sorted(set(hp.values))
        current = values[hp.name]
        for choice in choices:
            if choice != current:
                yield hp.name, choice


def check_budgets(space, constraints, cost_model, seed=0):
    """Refuses before-build budgets that no child of a NASNet space meets
    (see `NASOracle.check_constraints`); does nothing for another space or
    without such a budget.

    Raises:
        ValueError: naming the budget, and the cheapest child found.
    """
    if not constraints.before_build or not decisions.is_cell_space(space):
        return
    values, cost, error, tried = find_feasible(
        space,
        cost_model,
        constraints,
        np.random.default_rng([int(seed), 0xFEA5]),
        FEASIBILITY_CHECK_EVALUATIONS,
    )
    if cost is None:
        _validation.fail(
            "cost_model",
            f"a CostModel that prices this space's children ({error})",
            cost_model,
        )
    if constraints.ratio(cost.params, cost.macs) <= 1:
        return
    ratios = {
        "max_params": cost.params / constraints.max_params
        if constraints.max_params
        else 0,
        "max_macs": cost.macs / constraints.max_macs if constraints.max_macs else 0,
    }
    name = max(ratios, key=ratios.get)
    size = ", ".join(
        f"{n}={values.get(n, getattr(cost_model, n))}"
        for n in (CELLS_PER_STACK, FILTERS)
    )
    _validation.fail(
        name,
        "a budget some child of the search space meets: the cheapest of "
        f"{tried} children tried has {cost.params:,} "
        f"params and {cost.macs:,} MACs ({size}). "
        "Raise the budget, or make the children smaller (fewer cells per "
        "stack, fewer filters, smaller images)",
        getattr(constraints, name),
    )


def find_feasible(space, cost_model, constraints, rng, max_evaluations):
    """The cheapest child of a NASNet space found, relative to the budgets.

    Starts from cheap shapes (the smallest N and F, each block reading the
    previous one with the same op, for every op) and random children; from
    each start, cheapest first, takes any one-decision change that lowers
    `constraints.ratio` (first improvement) until a child is within budget,
    or none improves (then the next start), or `max_evaluations` children
    were priced.

    Returns:
        `(values, cost, error, tried)`: the cheapest values found and their
        `Cost` (None, with `error` the reason, if none could be priced), and
        how many children were priced.
    """
    best = [None, None, float("inf"), "no child priced"]  # values, cost, ratio, error
    evaluations = 0

    def price(values):
        """The ratio of `values` (inf if unpriced); keeps the best."""
        nonlocal evaluations
        evaluations += 1
        try:
            cost = cost_model.cost(values)
        except ValueError as e:
            best[3] = f"{type(e).__name__}: {e}"
            return float("inf")
        ratio = constraints.ratio(cost.params, cost.macs)
        if ratio < best[2]:
            best[:3] = values, cost, ratio
        return ratio

    smallest = {}
    for hp in space.space:
        if hp.name in (CELLS_PER_STACK, FILTERS):
            choices = candidate_values(hp)
            smallest[hp.name] = min(choices) if choices else hp.min_value
    starts = [complete_values(space, {**smallest, **c}, rng) for c in _chains(space)]
    starts += [complete_values(space, smallest, rng)]
    starts += [complete_values(space, {}, rng) for _ in range(8)]
    priced = sorted(
        ((price(v), i, v) for i, v in enumerate(starts)), key=lambda x: x[:2]
    )
    for ratio, _, values in priced:
        # Descend from this start until within budget or stuck.
        while best[2] > 1 and ratio < float("inf"):
            for name, value in list(one_changes(space, values)):
                if evaluations >= max_evaluations:
                    return best[0], best[1], best[3], evaluations
                child = complete_values(space, {**values, name: value}, rng)
                child_ratio = price(child)
                if child_ratio < ratio:
                    values, ratio = child, child_ratio
                    break
            else:
                break  # a local minimum
        if best[2] <= 1:
            break
    return best[0], best[1], best[3], evaluations


def _chains(space):
    """Cell decisions in which each block reads the previous block twice
    (the first reads both cell inputs) with one op, for each op: children
    with a single narrow output, the cheap corner of the space."""
    names = {hp.name for hp in space.space}
    num_blocks = decisions.num_blocks_in(names)
    op_hp = decisions.hp_name("normal", 0, "op_a")
    ops = next((hp.values for hp in space.space if hp.name == op_hp), ())
    for op in ops:
        values = {}
        for cell in decisions.CELL_NAMES:
            for b in range(num_blocks):
                values[decisions.hp_name(cell, b, "input_a")] = 0 if b == 0 else b + 1
                values[decisions.hp_name(cell, b, "input_b")] = 1 if b == 0 else b + 1
                values[decisions.hp_name(cell, b, "op_a")] = op
                values[decisions.hp_name(cell, b, "op_b")] = op
                values[decisions.hp_name(cell, b, "combine")] = "add"
        yield values


class _Rejected:
    """Counts one trial's proposals over a before-build budget, and keeps
    the cheapest of them for the message when none is within budget."""

    def __init__(self):
        self.count = 0
        self._cheapest = None  # (ratio, Cost)

    def refuses(self, oracle, values):
        if oracle.infeasibility(values) is None:
            return False
        self.count += 1
        cost = oracle.cost_of(values)
        if cost is not None:
            ratio = oracle.constraints.ratio(cost.params, cost.macs)
            if self._cheapest is None or ratio < self._cheapest[0]:
                self._cheapest = (ratio, cost)
        return True

    @property
    def cheapest(self):
        if self._cheapest is None:
            return "no price"
        cost = self._cheapest[1]
        return f"{cost.params:,} params and {cost.macs:,} MACs"
