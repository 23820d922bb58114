"""Pareto mode: dominance, NSGA-II's ranking and crowding distance, the
hypervolume, evolution's crowded tournament, and the front as the result."""

import itertools

import keras_tuner
import numpy as np
import pytest

from keras_nasnet import pareto
from keras_nasnet.space import decisions, sampling
from tests import _oracles
from tests._oracles import cell_space
from tuner_plugins.constraints import CostModel
from tuner_plugins.objectives import Pareto
from tuner_plugins.oracle import NASOracle

COST_MODEL = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=8)
PARETO = Pareto([keras_tuner.Objective("score", "max"), "macs"])


def _brute_force_ranks(points):
    """Peels fronts one at a time."""
    ranks, left, rank = {}, set(range(len(points))), 0
    while left:
        front = {
            i
            for i in left
            if not any(pareto.dominates(points[j], points[i]) for j in left)
        }
        for i in front:
            ranks[i] = rank
        left -= front
        rank += 1
    return [ranks[i] for i in range(len(points))]


def _union_volume(points, reference):
    """Inclusion-exclusion over the boxes [reference, p]."""
    total = 0.0
    for size in range(1, len(points) + 1):
        for subset in itertools.combinations(points, size):
            corner = [min(c) for c in zip(*subset, strict=True)]
            volume = np.prod(
                [max(0.0, c - r) for c, r in zip(corner, reference, strict=True)]
            )
            total += (-1) ** (size + 1) * volume
    return total


@pytest.mark.parametrize("dims", [2, 3])
def test_ranks_match_peeling_fronts(dims):
    rng = np.random.default_rng(dims)
    for _ in range(20):
        # Few distinct values: ties and duplicates included.
        points = [tuple(rng.integers(0, 5, dims)) for _ in range(25)]
        assert pareto.non_dominated_ranks(points) == _brute_force_ranks(points)
        front = pareto.pareto_front(points)
        assert front == [i for i, r in enumerate(_brute_force_ranks(points)) if r == 0]


def test_crowding_distance_is_infinite_at_the_extremes_and_grows_with_gaps():
    # One front; the middle points have gaps of 1 and 3 on each side.
    points = [(0.0, 8.0), (1.0, 7.0), (2.0, 4.0), (8.0, 0.0)]
    distances = pareto.crowding_distances(points)
    assert distances[0] == distances[3] == float("inf")
    # (2 - 0) / 8 + (8 - 4) / 8 and (8 - 1) / 8 + (7 - 0) / 8.
    assert distances[1] == pytest.approx(0.75)
    assert distances[2] == pytest.approx(1.75)
    # A dominated point is ranked in its own front.
    assert pareto.crowded_order([*points, (0.5, 0.5)])[4][0] == 1


@pytest.mark.parametrize("dims", [2, 3])
def test_hypervolume_equals_the_union_of_boxes(dims):
    rng = np.random.default_rng(10 + dims)
    for _ in range(10):
        points = [tuple(rng.random(dims)) for _ in range(7)]
        reference = tuple(rng.random(dims) * 0.3)
        kept = [
            p for p in points if all(x > r for x, r in zip(p, reference, strict=True))
        ]
        assert pareto.hypervolume(points, reference) == pytest.approx(
            _union_volume(kept, reference)
        )
    assert pareto.hypervolume([], (0, 0)) == 0.0
    # Dominated points add nothing.
    assert pareto.hypervolume([(2, 2), (1, 1)], (0, 0)) == 4.0


class _Draws(np.random.Generator):
    """A generator whose tournament draw is fixed; the rest is random."""

    def __init__(self, sample, seed=0):
        super().__init__(np.random.PCG64(seed))
        self.sample = np.array(sample)

    def integers(self, *args, size=None, **kwargs):
        if size is not None:
            return self.sample
        return super().integers(*args, **kwargs)


def _population(tmp_path, scores_and_genotypes, **kwargs):
    oracle = _oracles.make_oracle(
        tmp_path,
        cell_space(),
        "evolution",
        objective=PARETO,
        cost_model=COST_MODEL,
        population_size=len(scores_and_genotypes),
        sample_size=2,
        **kwargs,
    )
    ids = []
    for score, values in scores_and_genotypes:
        trial = oracle.create_trial("tuner0")
        # Overwrite the random values with the planned child.
        trial.hyperparameters.values = dict(values)
        oracle.trials[trial.trial_id].hyperparameters.values = dict(values)
        _oracles.finish(oracle, trial, score)
        ids.append(trial.trial_id)
    return oracle, ids


def test_the_tournament_prefers_a_lower_rank_then_a_less_crowded_member(tmp_path):
    rng = np.random.default_rng(0)
    children = sorted(
        (decisions.encode(sampling.random_genotype(rng)) for _ in range(5)),
        key=lambda v: COST_MODEL.cost(v).macs,
    )
    # By MACs: c0 < c1 < c2 < c3 < c4. Scores make c0, c1, c3, c4 the front
    # and c2 dominated by c1 (more MACs, lower score) although it scores
    # more than c0.
    scores = [0.1, 0.5, 0.3, 0.8, 0.9]
    oracle, ids = _population(tmp_path, list(zip(scores, children, strict=True)))
    strategy = oracle.strategy
    # Dominated c2 against front member c0 (lower score): c0 wins.
    strategy.propose(oracle, _Draws([2, 0]))
    assert strategy.last_parent_id == ids[0]
    # Two front members: the extreme c4 (infinite crowding distance) beats
    # the interior c1, although c1 comes first.
    strategy.propose(oracle, _Draws([1, 4]))
    assert strategy.last_parent_id == ids[4]


def test_without_pareto_the_tournament_is_by_score(tmp_path):
    rng = np.random.default_rng(0)
    children = [decisions.encode(sampling.random_genotype(rng)) for _ in range(3)]
    oracle = _oracles.make_oracle(
        tmp_path, cell_space(), "evolution", population_size=3, sample_size=2
    )
    ids = []
    for score, values in zip([0.2, 0.9, 0.5], children, strict=True):
        trial = oracle.create_trial("tuner0")
        oracle.trials[trial.trial_id].hyperparameters.values = dict(values)
        _oracles.finish(oracle, trial, score)
        ids.append(trial.trial_id)
    oracle.strategy.propose(oracle, _Draws([0, 2]))
    assert oracle.strategy.last_parent_id == ids[2]


def test_the_front_is_the_result_and_every_objective_is_recorded(tmp_path):
    from tests.test_tuners import _hypermodel
    from tuner_plugins import NASTuner

    hypermodel = _hypermodel()
    tuner = NASTuner(
        hypermodel,
        objective=Pareto(["val_accuracy", "macs", "params"]),
        max_trials=30,
        seed=0,
        population_size=6,
        sample_size=2,
        directory=tmp_path,
        project_name="pareto",
    )
    oracle = tuner.oracle
    rng = np.random.default_rng(0)
    for _ in range(20):
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"val_accuracy": float(rng.random())})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    trials = [oracle.trials[t] for t in oracle.start_order]
    for trial in trials:
        assert {"val_accuracy", "macs", "params"} <= set(trial.metrics.metrics)
    points = [
        (
            t.score,
            -t.metrics.get_last_value("macs"),
            -t.metrics.get_last_value("params"),
        )
        for t in trials
    ]
    expected = [trials[i] for i in pareto.pareto_front(points)]
    assert len(expected) > 1
    front = oracle.pareto_trials()
    assert {t.trial_id for t in front} == {t.trial_id for t in expected}
    assert [t.score for t in front] == sorted((t.score for t in front), reverse=True)
    genotypes = tuner.best_genotypes()
    assert genotypes == [decisions.decode(t.hyperparameters.values) for t in front]
    assert tuner.best_genotypes(2) == genotypes[:2]
    # keras-tuner's own ranking is by the first objective, as before.
    assert tuner.oracle.get_best_trials(1)[0].score == max(t.score for t in trials)


@pytest.mark.parametrize("strategy", ["controller", "local_search"])
def test_strategies_without_a_pareto_mode_refuse_it(strategy):
    with pytest.raises(
        ValueError,
        match=f"argument `objective`. Expected a single objective for strategy "
        f"'{strategy}' \\(a Pareto objective needs strategy 'evolution'\\)",
    ):
        NASOracle(PARETO, strategy=strategy)


@pytest.mark.parametrize(
    ("objectives", "message"),
    [
        (["val_accuracy"], "two or more distinct"),
        (["val_accuracy", "val_accuracy"], "two or more distinct"),
        ("val_accuracy", "a list of two or more"),
        (["val_accuracy", "flops"], "`objective`. Expected a metric whose direction"),
    ],
)
def test_pareto_arguments_are_validated(objectives, message):
    with pytest.raises(ValueError, match=message):
        Pareto(objectives)


def _hypervolume_of(values_list, target):
    """Hypervolume of (synthetic accuracy, -MACs) over some children."""
    points = []
    for values in values_list:
        accuracy = _oracles.matches(values, target) / len(target)
        points.append((accuracy, -COST_MODEL.cost(values).macs / 1e6))
    return pareto.hypervolume(points, (0.0, -40.0))


def test_pareto_evolution_beats_random_search_on_hypervolume(tmp_path):
    # A synthetic two-objective problem, nothing trained: "accuracy" is the
    # fraction of decisions equal to a hidden target's, the cost is the
    # child's MACs. Random search samples every decision uniformly.
    budget, seeds = 120, range(6)
    searched, random = [], []
    for seed in seeds:
        target = decisions.encode(sampling.random_genotype(1000 + seed))
        oracle = _oracles.make_oracle(
            tmp_path,
            cell_space(),
            "evolution",
            project=f"seed{seed}",
            objective=Pareto([keras_tuner.Objective("score", "max"), "macs"]),
            cost_model=COST_MODEL,
            population_size=20,
            sample_size=5,
            seed=seed,
            fast=True,
        )
        tried = []
        for _ in range(budget):
            trial = oracle.create_trial("tuner0")
            values = trial.hyperparameters.values
            tried.append(values)
            _oracles.finish(oracle, trial, _oracles.matches(values, target) / 40)
        searched.append(_hypervolume_of(tried, target))
        rng = np.random.default_rng(seed)
        random.append(
            _hypervolume_of(
                [
                    decisions.encode(sampling.random_genotype(rng))
                    for _ in range(budget)
                ],
                target,
            )
        )
    wins = sum(s > r for s, r in zip(searched, random, strict=True))
    assert wins >= 5, (searched, random)
    assert np.median(searched) > np.median(random)
