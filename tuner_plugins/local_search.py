"""Local search (hill climbing with restarts), as a `NASOracle` strategy.

A *climb* evaluates `num_initial` random trials; the best is the first
*center*. Every neighbour of the center (a configuration at one mutation from
it: exactly one decision changed; `max_neighbours` of them, drawn at random,
when there are more) is evaluated; if the best of them beats the center, it
becomes the center and its neighbours are next; if none does, the center is a
local optimum and a new climb starts from new random trials. A neighbour that
was already evaluated (by another climb) is not run again: its score counts.

On a NASNet space a neighbour is the parent with one hidden-state or one op
mutation (AmoebaNet's, without the identity), or one other searchable
hyperparameter changed; on any other space, one hyperparameter changed (a
continuous one takes keras-tuner's 10 grid values). Conditional
hyperparameters that a change activates are sampled. Under a before-build
budget (`NASOracle(constraints=...)`) the neighbourhood is its feasible part.

The state is the trials: each trial the strategy proposes carries the note
`{"run": <climb>}` (a random start) or `{"run": <climb>, "center": <trial
id>}` (a neighbour), and the climb is replayed from the trials at each
proposal, so a resumed search continues exactly.

Several workers: when the current step waits for running trials (a climb's
random starts, or the last neighbours of a center), a proposal starts the
next climb early with a random trial rather than wait.

Reference: White, Nolen and Savani 2020, "Local Search is State of the Art for
Neural Architecture Search Benchmarks" (Algorithm 1; the released code starts
each climb from the best of 10 random architectures).
"""

from keras_nasnet import _validation
from tuner_plugins.strategy import Strategy

_FINISHED = ("COMPLETED", "FAILED")


class LocalSearchStrategy(Strategy):
    """Hill climbing over one-mutation neighbourhoods, restarted at random.

    Args:
        num_initial: random trials that start each climb; the best is its
            first center (White et al.'s code: 10).
        max_neighbours: how many neighbours of a center are evaluated, drawn
            at random; `None` evaluates all of them (the paper's full
            neighbourhood: about 300 on the NASNet space of 5 blocks, more
            than a short search can afford).

    Raises:
        ValueError: if an argument is out of range.

    Reference: White, Nolen and Savani 2020, "Local Search is State of the
    Art for Neural Architecture Search Benchmarks", Algorithm 1.

    Example:

    >>> LocalSearchStrategy(max_neighbours=20).get_config()
    {'num_initial': 10, 'max_neighbours': 20}
    """

    name = "local_search"
    small_search_options = {"num_initial": 4, "max_neighbours": 8}

    def __init__(self, num_initial: int = 10, max_neighbours: int | None = None):
        self.num_initial = _validation.check_int("num_initial", num_initial, 1)
        self.max_neighbours = (
            None
            if max_neighbours is None
            else _validation.check_int("max_neighbours", max_neighbours, 1)
        )
        # Caches of what the trials say (rebuilt after a resume): they only
        # grow, because a trial's note and a finished trial never change.
        self._plans = {}  # center trial id -> its planned neighbours' values
        self._found = {}  # center trial id -> trial ids of its plan's prefix
        self._moves = {}  # center trial id -> next center id, or None: optimum
        self._runs = {}  # run -> trial ids of its random starts
        self._scanned = (None, 0)  # (oracle.start_order, how much is read)
        self._note = None  # (values, note) of the last proposal
        # What the last `propose` did, for tests and logs; not state.
        self.last_run = None
        self.last_center_id = None

    # ---------------------------------------------------------------- propose

    def propose(self, oracle, rng):
        runs = self._starts_by_run(oracle)
        run = 0
        while True:
            starts = runs.get(run, [])
            if len(starts) < self.num_initial:
                return self._random(oracle, rng, run)
            if not all(_finished(oracle, t) for t in starts):
                return self._random(oracle, rng, self._next_open_run(runs, run))
            completed = [t for t in starts if oracle.trials[t].status == "COMPLETED"]
            center = self._best(oracle, completed)
            while center is not None:
                if center in self._moves:
                    next_center = self._moves[center]
                else:
                    step = self._step(oracle, center)
                    if isinstance(step, dict):
                        return self._propose(step, {"run": run, "center": center})
                    if step is _WAIT:
                        next_run = self._next_open_run(runs, run)
                        return self._random(oracle, rng, next_run)
                    next_center = self._moves[center] = step
                if next_center is None:
                    break  # a local optimum: the next climb
                center = next_center
            run += 1

    def _step(self, oracle, center):
        """The next neighbour of `center` to evaluate (a values dict), or
        `_WAIT` while some are running, or the id of the new center (None at
        a local optimum) once all are finished."""
        plan = self._plan(oracle, center)
        found = self._found.setdefault(center, [])
        while len(found) < len(plan):
            trial = oracle.find_trial(plan[len(found)])
            if trial is None:
                return plan[len(found)]
            found.append(trial.trial_id)
        if not all(_finished(oracle, t) for t in found):
            return _WAIT
        completed = [t for t in found if oracle.trials[t].status == "COMPLETED"]
        best = self._best(oracle, completed)
        center_reward = oracle.reward(oracle.trials[center])
        if best is not None and oracle.reward(oracle.trials[best]) > center_reward:
            return best
        return None

    def _plan(self, oracle, center):
        """The neighbours of `center` this climb evaluates, in order."""
        plan = self._plans.get(center)
        if plan is None:
            values = oracle.trials[center].hyperparameters.values
            changes = list(oracle.one_changes(values))
            # Streams of their own, tied to the center: the same plan after
            # a resume, independent of the center's own proposal.
            order = oracle.trial_rng(center, 1).permutation(len(changes))
            rng = oracle.trial_rng(center, 2)
            plan = []
            for i in order:
                if self.max_neighbours is not None and len(plan) >= self.max_neighbours:
                    break
                name, value = changes[int(i)]
                neighbour = oracle.complete_values({**values, name: value}, rng)
                # Under a budget, the neighbourhood is its feasible part.
                if oracle.is_feasible(neighbour):
                    plan.append(neighbour)
            self._plans[center] = plan
        return plan

    def _random(self, oracle, rng, run):
        return self._propose(oracle.random_values(rng), {"run": run})

    def _propose(self, values, note):
        self._note = (values, note)
        self.last_run, self.last_center_id = note["run"], note.get("center")
        return values

    def set_state(self, state):
        # A resumed search: everything is read again from its trials.
        self._plans, self._found, self._moves, self._runs = {}, {}, {}, {}
        self._scanned = (None, 0)

    def on_trial_begin(self, oracle, trial_id, values):
        if self._note is None or self._note[0] is not values:
            return None
        note, self._note = self._note[1], None
        return note

    # ----------------------------------------------------------------- helpers

    def _starts_by_run(self, oracle):
        """`{run: [trial ids of its random starts]}`, in start order."""
        order, scanned = self._scanned
        if order is not oracle.start_order:  # a new search, or a resumed one
            order, scanned, self._runs = oracle.start_order, 0, {}
        for trial_id in order[scanned:]:
            note = oracle.trial_note(trial_id)
            if note is not None and "run" in note and "center" not in note:
                self._runs.setdefault(note["run"], []).append(trial_id)
        self._scanned = (order, len(order))
        return self._runs

    def _next_open_run(self, runs, run):
        """The first climb after `run` whose random starts are not all out."""
        run += 1
        while len(runs.get(run, [])) >= self.num_initial:
            run += 1
        return run

    @staticmethod
    def _best(oracle, trial_ids):
        """The trial with the highest reward (the first on ties), or None."""
        best, best_reward = None, None
        for trial_id in trial_ids:
            reward = oracle.reward(oracle.trials[trial_id])
            if best is None or reward > best_reward:
                best, best_reward = trial_id, reward
        return best


_WAIT = object()  # `_step`: neighbours are still running


def _finished(oracle, trial_id):
    # A trial waiting for a retry is not finished (INVALID, not in end_order).
    return oracle.trials[trial_id].status in _FINISHED
