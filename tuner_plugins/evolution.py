"""Regularized (aging) evolution, as a `NASOracle` strategy.

The population is not stored: it is the `population_size` most recent
COMPLETED trials in the order they ended (`oracle.end_order`), so it is rebuilt
from the trials after a reload, and the oldest member leaves when a new one
finishes. FAILED and INVALID trials never join it.

Steady state with several workers: until the population holds P members every
proposal is random (the paper's initial population); afterwards every proposal
is a child of a tournament winner, whatever is still in flight.

Pareto mode (the oracle's objective is a `tuner_plugins.objectives.Pareto`):
the tournament's winner is the sampled member of lowest non-dominated rank
within the population, ties broken by the larger crowding distance in its
front: NSGA-II's crowded comparison. Aging is kept (the oldest member dies,
not the most crowded), and a child is made by one mutation as before.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", Algorithm 1 and section 3 (mutations).
"""

from keras_nasnet import _validation, pareto
from keras_nasnet.space import decisions
from keras_nasnet.space import mutations as mutations_lib
from tuner_plugins.strategy import Strategy

# Mutation kinds besides keras_nasnet's "identity", "hidden_state" and "op".
OTHER = "other"  # one non-cell hyperparameter of a NASNet space changed
HYPERPARAMETER = "hyperparameter"  # one hyperparameter of a generic space
RANDOM = "random"  # not a child: the population is still filling

_CELL_SLOTS = ("input_a", "input_b", "op_a", "op_b")


class EvolutionStrategy(Strategy):
    """Aging evolution: tournament selection, one mutation per child.

    Each trial's note (`oracle.trial_note`) records how it was made:
    `{"kind": "random"}` while the population fills, then
    `{"kind": <mutation>, "parent": <trial id>}`.

    Args:
        population_size: P, the number of most recent finished trials that
            form the population (paper: 100).
        sample_size: S, the tournament size, `1 <= S <= P` (paper: 25).
        identity_prob: probability that a child is its parent unchanged
            (paper: 0.05). Such a child repeats a tried trial, so the oracle
            redraws it: the children actually trained follow the paper's
            distribution conditioned on "not identity" (see
            `docs/evolution.md`).

    Raises:
        ValueError: if an argument is out of range.

    With a `Pareto` objective the tournament ranks by non-dominated rank,
    then crowding distance (NSGA-II's crowded comparison) over all the
    objectives; aging stays.

    Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
    Architecture Search", Algorithm 1 and section 3; Deb et al. 2002, "A Fast
    and Elitist Multiobjective Genetic Algorithm: NSGA-II" (crowded
    comparison).

    Example:

    >>> EvolutionStrategy(population_size=10, sample_size=3).sample_size
    3
    """

    name = "evolution"
    small_search_options = {"population_size": 8, "sample_size": 3}
    supports_pareto = True

    def __init__(
        self,
        population_size: int = 100,
        sample_size: int = 25,
        identity_prob: float = mutations_lib.DEFAULT_IDENTITY_PROB,
    ):
        self.population_size = _validation.check_int(
            "population_size", population_size, 1
        )
        self.sample_size = _validation.check_int(
            "sample_size", sample_size, 1, self.population_size, "population_size"
        )
        self.identity_prob = _validation.check_real(
            "identity_prob", identity_prob, 0, 1
        )
        # What the last `propose` did; its note once the oracle accepts it.
        self.last_kind = None
        self.last_parent_id = None

    def population(self, oracle):
        """The population, oldest first: the last P COMPLETED trials."""
        members = []
        for trial_id in reversed(oracle.end_order):
            trial = oracle.trials[trial_id]
            if trial.status == "COMPLETED":
                members.append(trial)
                if len(members) == self.population_size:
                    break
        members.reverse()
        return members

    def propose(self, oracle, rng):
        """One cycle of Algorithm 1: tournament, then one mutation."""
        population = self.population(oracle)
        if len(population) < self.population_size:
            self.last_kind, self.last_parent_id = RANDOM, None
            return oracle.random_values(rng)
        # The authors' reference code draws the tournament with replacement.
        sample = rng.integers(len(population), size=self.sample_size)
        parent = population[int(sample[self._winner(oracle, population, sample)])]
        child, kind = self.mutate(oracle, parent.hyperparameters.values, rng)
        self.last_kind, self.last_parent_id = kind, parent.trial_id
        return child

    @staticmethod
    def _winner(oracle, population, sample):
        """The position in `sample` of the tournament's winner (the first on
        ties): the best reward, or in Pareto mode the best crowded order
        (rank, then crowding distance) within the population."""
        if len(oracle.objectives) > 1:
            keys = pareto.crowded_order(
                [oracle.objective_vector(t) for t in population]
            )
            return min(range(len(sample)), key=lambda j: keys[int(sample[j])])
        rewards = [oracle.reward(population[i]) for i in sample]
        return max(range(len(sample)), key=rewards.__getitem__)

    def mutate(self, oracle, values, rng):
        """Applies exactly one mutation to a trial's values.

        On a NASNet space the cells mutate as in AmoebaNet (identity,
        hidden-state or op mutation). The space's other searchable
        hyperparameters (e.g. `combine`, a learning rate) form a third
        group: with probability `1 - identity_prob`, one of the three groups
        is picked uniformly. On any other space one hyperparameter changes.

        Returns:
            `(child_values, kind)`.
        """
        space = oracle.hyperparameters
        if decisions.is_cell_space(space):
            try:
                genotype = decisions.decode(values)
            except ValueError:
                genotype = None  # e.g. a trial from before the cells existed
            if genotype is not None:
                return self._mutate_cells(oracle, values, genotype, rng)
        if rng.random() < self.identity_prob:
            return dict(values), mutations_lib.IDENTITY
        child = _change_one(oracle, values, rng, lambda name: True)
        if child is None:
            return dict(values), mutations_lib.IDENTITY
        return child, HYPERPARAMETER

    def _mutate_cells(self, oracle, values, genotype, rng):
        space = oracle.hyperparameters
        ops = _op_choices(space)

        def is_other(name):
            parsed = decisions.parse_hp_name(name)
            return parsed is None or parsed[2] not in _CELL_SLOTS

        has_other = any(
            is_other(name) and _changeable(oracle, hp)
            for name, hp in _active_hps(space, values)
        )
        if not has_other:
            child, kind = mutations_lib.mutate(
                genotype, rng, ops, identity_prob=self.identity_prob
            )
        elif rng.random() < self.identity_prob:
            child, kind = genotype, mutations_lib.IDENTITY
        elif rng.random() < 1.0 / 3.0:
            return _change_one(oracle, values, rng, is_other), OTHER
        else:
            child, kind = mutations_lib.mutate(genotype, rng, ops, identity_prob=0.0)
        out = dict(values)
        for name, value in decisions.encode(child).items():
            if decisions.parse_hp_name(name)[2] in _CELL_SLOTS:
                out[name] = value
        return out, kind

    def on_trial_begin(self, oracle, trial_id, values):
        note = {"kind": self.last_kind}
        if self.last_parent_id is not None:
            note["parent"] = self.last_parent_id
        return note

    # The population is read from the trials: nothing to learn, save or
    # restore. A resumed search may change P, S or the identity probability:
    # the population is recomputed with the new P at the next proposal.


def _op_choices(space):
    for hp in space.space:
        if hp.name == decisions.hp_name("normal", 0, "op_a"):
            return tuple(hp.values)
    raise ValueError("Not a NASNet space: no `normal/block_0/op_a` decision.")


def _active_hps(space, values):
    # name -> the entry of the space that is active for these values (a name
    # may be declared under several conditions).
    for hp in space.space:
        if hp.name in values and all(c.is_active(values) for c in hp.conditions):
            yield hp.name, hp


def _changeable(oracle, hp):
    choices = oracle.candidate_values(hp)
    return choices is None or len(choices) > 1


def _change_one(oracle, values, rng, eligible):
    """Changes one eligible active hyperparameter to a different value, then
    completes the values (a new parent value may activate other
    hyperparameters). Returns `None` if none can change."""
    candidates = [
        hp
        for name, hp in _active_hps(oracle.hyperparameters, values)
        if eligible(name) and _changeable(oracle, hp)
    ]
    if not candidates:
        return None
    hp = candidates[int(rng.integers(len(candidates)))]
    current = values[hp.name]
    choices = oracle.candidate_values(hp)
    if choices is not None:
        others = [v for v in choices if v != current]
        new = others[int(rng.integers(len(others)))]
    else:
        # Continuous: resample; equality is a measure-zero event, but bounded.
        new = current
        for _ in range(10):
            new = oracle.sample_value(hp, rng)
            if new != current:
                break
    child = dict(values)
    child[hp.name] = new
    return oracle.complete_values(child, rng)
