"""Local search (`strategy="local_search"`), driven without training.

Reference: White, Nolen and Savani 2020, "Local Search is State of the Art for
Neural Architecture Search Benchmarks", Algorithm 1.
"""

import keras_tuner
import numpy as np
import pytest

from tests import _oracles
from tests._oracles import FAILED, changed, finish


def make_oracle(tmp_path, hp, fast=False, **kwargs):
    return _oracles.make_oracle(
        tmp_path, hp, "local_search", "local_search", fast=fast, **kwargs
    )


def grid_space():
    # 4 x 4 x 3 = 48 configurations; a neighbourhood has 3 + 3 + 2 = 8.
    hp = keras_tuner.HyperParameters()
    hp.Choice("a", [0, 1, 2, 3])
    hp.Choice("b", [0, 1, 2, 3])
    hp.Choice("c", [0, 1, 2])
    return hp


def test_climbs_to_the_best_neighbour_and_restarts_at_a_local_optimum(tmp_path):
    # A score with one local optimum besides the global one: the climb from
    # the best random start must end at one of them, then restart at random.
    def score(v):
        peak = -abs(v["a"] - 3) - abs(v["b"] - 3) - abs(v["c"] - 2)
        trap = -0.5 if (v["a"], v["b"]) == (0, 0) else -10.0
        return float(max(peak, trap - v["c"]))

    oracle = make_oracle(tmp_path, grid_space(), num_initial=3)
    trials = []
    while True:
        trial = oracle.create_trial("tuner0")
        if trial.status != "RUNNING":
            break
        trials.append(trial)
        finish(oracle, trial, score(trial.hyperparameters.values))
    notes = [oracle.trial_note(t.trial_id) for t in trials]
    assert notes[:3] == [{"run": 0}] * 3
    # Every neighbour trial differs from its center in exactly one decision.
    # Per climb, the first center is the best random start, and each later
    # center is a neighbour of the one before that beat it.
    chains = {}
    for trial, note in zip(trials, notes, strict=True):
        if "center" not in note:
            continue
        center = oracle.trials[note["center"]]
        diff = changed(center.hyperparameters.values, trial.hyperparameters.values)
        assert len(diff) == 1
        chain = chains.setdefault(note["run"], [])
        if not chain or chain[-1] != note["center"]:
            chain.append(note["center"])
    assert len(chains) >= 2
    for run, chain in chains.items():
        starts = [
            t.trial_id for t, n in zip(trials, notes, strict=True) if n == {"run": run}
        ]
        assert chain[0] == max(starts, key=lambda t: oracle.trials[t].score)
        for before, after in zip(chain, chain[1:], strict=False):
            # (`after` may have been evaluated by an earlier climb.)
            assert oracle.trials[after].score > oracle.trials[before].score
            values = [oracle.trials[t].hyperparameters.values for t in (before, after)]
            assert len(changed(*values)) == 1
    # The climbs restarted, and the search found the global optimum.
    assert max(n["run"] for n in notes) >= 1
    assert max(t.score for t in trials) == 0.0
    # A neighbour is never tried twice, nor is anything else.
    keys = [tuple(sorted(t.hyperparameters.values.items())) for t in trials]
    assert len(set(keys)) == len(keys)


def test_evaluates_the_whole_neighbourhood_before_moving(tmp_path):
    # max_neighbours=None: all 8 neighbours of the center, then a move.
    oracle = make_oracle(tmp_path, grid_space(), num_initial=1)
    first = oracle.create_trial("tuner0")
    finish(oracle, first, 0.0)
    neighbours = []
    for i in range(8):
        trial = oracle.create_trial("tuner0")
        assert oracle.trial_note(trial.trial_id) == {"run": 0, "center": first.trial_id}
        neighbours.append(trial)
        finish(oracle, trial, float(i % 4))  # neighbours 3 and 7 score best
    values = [tuple(sorted(t.hyperparameters.values.items())) for t in neighbours]
    assert len(set(values)) == 8
    after = oracle.create_trial("tuner0")
    # The first of the best neighbours is the new center.
    assert oracle.trial_note(after.trial_id) == {
        "run": 0,
        "center": neighbours[3].trial_id,
    }


def test_max_neighbours_draws_a_subset_and_failed_trials_never_lead(tmp_path):
    oracle = make_oracle(tmp_path, grid_space(), num_initial=2, max_neighbours=3)
    start_a = oracle.create_trial("tuner0")
    finish(oracle, start_a, None, FAILED)
    start_b = oracle.create_trial("tuner0")
    finish(oracle, start_b, 0.0)
    subset = []
    for _ in range(3):
        trial = oracle.create_trial("tuner0")
        assert oracle.trial_note(trial.trial_id)["center"] == start_b.trial_id
        subset.append(trial)
        finish(oracle, trial, -1.0)  # none improves: a local optimum
    restart = oracle.create_trial("tuner0")
    assert oracle.trial_note(restart.trial_id) == {"run": 1}


def test_several_workers_start_the_next_climb_instead_of_waiting(tmp_path):
    oracle = make_oracle(tmp_path, grid_space(), num_initial=2)
    starts = [oracle.create_trial(f"tuner{i}") for i in range(2)]
    # Both starts are running: the third worker gets the next climb's start.
    early = oracle.create_trial("tuner2")
    assert oracle.trial_note(early.trial_id) == {"run": 1}
    for i, trial in enumerate(starts):
        finish(oracle, trial, float(i))
    neighbour = oracle.create_trial("tuner0")
    assert oracle.trial_note(neighbour.trial_id) == {
        "run": 0,
        "center": starts[1].trial_id,
    }


@pytest.mark.slow
def test_local_search_beats_random_search(tmp_path):
    # The synthetic objective of the evolution and controller tests, with a
    # subset of 20 neighbours per center (the full neighbourhood, about 300,
    # is this whole budget).
    budget = 300
    local_best, random_best = _oracles.best_against_random(
        lambda seed: make_oracle(
            tmp_path / str(seed),
            _oracles.cell_space(),
            fast=True,
            seed=seed + 1,
            max_trials=budget,
            max_neighbours=20,
        ),
        budget,
        seeds=range(10),
    )
    assert np.median(local_best) > np.median(random_best), (local_best, random_best)
