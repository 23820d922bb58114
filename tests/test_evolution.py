"""Regularized evolution (`strategy="evolution"`), driven without training.

Reference: Real et al. 2019, Algorithm 1.
"""

import collections

import keras_tuner
import numpy as np
import pytest

from keras_nasnet.space import decisions, mutations, ops, sampling
from tests import _oracles
from tests._oracles import FAILED, changed, finish, matches
from tests._oracles import cell_space as nasnet_space
from tuner_plugins import _keras_tuner as kt
from tuner_plugins import evolution


def make_oracle(tmp_path, hp, direction="max", fast=False, **kwargs):
    return _oracles.make_oracle(
        tmp_path, hp, "evolution", "evolution", direction, fast, **kwargs
    )


def test_population_is_the_last_p_completed_trials_oldest_leaving(tmp_path):
    oracle = make_oracle(tmp_path, nasnet_space(), population_size=5, sample_size=2)
    rng = np.random.default_rng(0)
    completed = []
    for _ in range(60):
        trial = oracle.create_trial("tuner0")
        if rng.random() < 0.2:
            finish(oracle, trial, None, FAILED)
        else:
            finish(oracle, trial, float(rng.random()))
            completed.append(trial.trial_id)
        population = [t.trial_id for t in oracle.strategy.population(oracle)]
        assert len(population) <= 5
        # Aging: exactly the most recent P completed trials, oldest first;
        # the oldest left, not the worst.
        assert population == completed[-5:]


def test_random_until_the_population_is_full_then_one_mutation_per_child(tmp_path):
    target = decisions.encode(sampling.random_genotype(3))
    oracle = make_oracle(tmp_path, nasnet_space(), population_size=8, sample_size=3)
    kinds = collections.Counter()
    for i in range(80):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        kind = oracle.strategy.last_kind
        if i < 8:
            assert kind == evolution.RANDOM
            assert oracle.trial_note(trial.trial_id) == {"kind": evolution.RANDOM}
        else:
            assert kind in (mutations.HIDDEN_STATE, mutations.OP)
            parent = oracle.trials[oracle.strategy.last_parent_id]
            # Exactly one decision differs from the parent.
            diff = changed(parent.hyperparameters.values, values)
            assert len(diff) == 1
            slot = decisions.parse_hp_name(diff.pop())[2]
            assert slot.startswith("input" if kind == mutations.HIDDEN_STATE else "op")
            kinds[kind] += 1
            # The trial's note records how it was made.
            assert oracle.trial_note(trial.trial_id) == {
                "kind": kind,
                "parent": parent.trial_id,
            }
        finish(oracle, trial, matches(values, target))
    assert kinds[mutations.HIDDEN_STATE] > 15 and kinds[mutations.OP] > 15


def test_op_mutations_stay_in_the_space_op_set(tmp_path):
    hp = nasnet_space(ops=ops.AMOEBANET_OPS)
    oracle = make_oracle(tmp_path, hp, population_size=4, sample_size=2)
    for _ in range(60):
        trial = oracle.create_trial("tuner0")
        genotype = decisions.decode(trial.hyperparameters.values)
        for _, cell in genotype.cells():
            for block in cell.blocks:
                assert set(block.ops) <= set(ops.AMOEBANET_OPS)
        finish(oracle, trial, float(len(oracle.trials) % 7))


def test_other_hyperparameters_form_a_third_mutation_group(tmp_path):
    hp = nasnet_space(num_blocks=2, search_combine=True)
    hp.Choice("filters", [16, 32, 64])
    hp.Fixed("epochs", 3)
    oracle = make_oracle(tmp_path, hp, population_size=4, sample_size=2)
    kinds = collections.Counter()
    for i in range(150):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        kind = oracle.strategy.last_kind
        if kind == evolution.OTHER:
            parent = oracle.trials[oracle.strategy.last_parent_id]
            diff = changed(parent.hyperparameters.values, values)
            assert len(diff) == 1
            name = diff.pop()
            assert name == "filters" or name.endswith("/combine")
        kinds[kind] += 1
        finish(oracle, trial, float(i % 11))
    children = sum(
        kinds[k] for k in (mutations.HIDDEN_STATE, mutations.OP, evolution.OTHER)
    )
    # One group in three, each of the others one in three too.
    assert 0.2 < kinds[evolution.OTHER] / children < 0.47


def test_generic_space_changes_one_hyperparameter(tmp_path):
    hp = keras_tuner.HyperParameters()
    hp.Choice("optimizer", ["sgd", "adam"])
    with hp.conditional_scope("optimizer", ["adam"]):
        hp.Float("beta_1", 0.8, 0.99, step=0.01)
    hp.Int("units", 8, 64, step=8)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    oracle = make_oracle(tmp_path, hp, population_size=4, sample_size=2)
    for _ in range(60):
        trial = oracle.create_trial("tuner0")
        values = trial.hyperparameters.values
        assert ("beta_1" in values) == (values["optimizer"] == "adam")
        if oracle.strategy.last_kind == evolution.HYPERPARAMETER:
            parent = oracle.trials[
                oracle.strategy.last_parent_id
            ].hyperparameters.values
            diff = changed(parent, values)
            # One change, plus the conditional child it (de)activates.
            assert len(diff - {"beta_1"}) == 1 or diff == {"beta_1"}
        finish(oracle, trial, values["units"] / 64.0)


def test_identity_children_are_redrawn_never_repeated(tmp_path):
    # Every child is its parent: an already tried trial. The oracle redraws,
    # then falls back to a random sample; it never repeats a trial.
    oracle = make_oracle(
        tmp_path,
        nasnet_space(num_blocks=2),
        population_size=3,
        sample_size=2,
        identity_prob=1.0,
    )
    seen = set()
    for i in range(30):
        trial = oracle.create_trial("tuner0")
        key = tuple(sorted(trial.hyperparameters.values.items()))
        assert key not in seen
        seen.add(key)
        if i >= 3:
            assert oracle.strategy.last_kind == mutations.IDENTITY
        finish(oracle, trial, float(i))


def test_a_space_with_one_op_mutates_hidden_states_only(tmp_path):
    # No op can change: every child is a hidden-state mutation (before, the
    # op mutation raised under the oracle's lock and froze it).
    hp = nasnet_space(num_blocks=2, ops=("sep_conv_3x3",))
    oracle = make_oracle(tmp_path, hp, population_size=3, sample_size=2)
    kinds = collections.Counter()
    for i in range(30):
        trial = oracle.create_trial("tuner0")
        assert trial.status == "RUNNING"
        kinds[oracle.strategy.last_kind] += 1
        finish(oracle, trial, float(i % 5))
    assert set(kinds) == {evolution.RANDOM, mutations.HIDDEN_STATE}
    assert kinds[mutations.HIDDEN_STATE] == 27
    assert kt.lock_is_free(oracle)


@pytest.mark.parametrize("direction", ["max", "min"])
def test_tournament_winner_follows_the_objective_direction(tmp_path, direction):
    hp = keras_tuner.HyperParameters()
    hp.Int("x", 0, 10_000)
    oracle = make_oracle(
        tmp_path, hp, direction=direction, population_size=4, sample_size=4
    )
    for score in (1.0, 2.0, 3.0, 4.0):
        finish(oracle, oracle.create_trial("tuner0"), score)
    population = oracle.strategy.population(oracle)
    parents = collections.Counter()
    rng = np.random.default_rng(0)
    for _ in range(400):
        oracle.strategy.propose(oracle, rng)
        parents[oracle.trials[oracle.strategy.last_parent_id].score] += 1
    best, worst = (4.0, 1.0) if direction == "max" else (1.0, 4.0)
    # With replacement, the best of 4 draws: P(best) = 1 - (3/4)^4 = 0.68,
    # P(worst) = (1/4)^4 = 0.004.
    assert len(population) == 4
    assert parents[best] > 0.6 * 400
    assert parents[worst] < 0.02 * 400


@pytest.mark.slow
def test_evolution_beats_random_search(tmp_path):
    budget = 300
    evolution_best, random_best = _oracles.best_against_random(
        lambda seed: make_oracle(
            tmp_path / str(seed),
            nasnet_space(),
            fast=True,
            seed=seed + 1,
            max_trials=budget,
        ),
        budget,
        seeds=range(20),
    )
    assert np.median(evolution_best) > np.median(random_best), (
        evolution_best,
        random_best,
    )
