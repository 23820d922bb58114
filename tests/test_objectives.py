"""Objectives that trade accuracy against cost: MnasNet's reward, and the
names the CLI takes."""

import keras_tuner
import numpy as np
import pytest

from keras_nasnet.space import decisions, sampling
from tests import _oracles
from tests._oracles import cell_space
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.constraints import CostModel
from tuner_plugins.objectives import MnasReward, Pareto, make_objective

COST_MODEL = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=8)
OPTIONS = {
    "evolution": {"population_size": 4, "sample_size": 2},
    "controller": {"batch_size": 4, "units": 16, "ppo_epochs": 1},
    "local_search": {"num_initial": 3, "max_neighbours": 4},
}


def test_mnas_reward_is_the_papers_formula():
    soft = MnasReward(target=10.0)
    assert soft.direction == "max"
    assert soft.reward(0.8, 10.0) == pytest.approx(0.8)
    assert soft.reward(0.8, 20.0) == pytest.approx(0.8 * 2**-0.07)
    assert soft.reward(0.8, 5.0) == pytest.approx(0.8 * 0.5**-0.07)
    # The hard constraint: nothing gained below the target, a steep price
    # above it.
    hard = MnasReward(target=10.0, alpha=0.0, beta=-1.0)
    assert hard.reward(0.8, 5.0) == pytest.approx(0.8)
    assert hard.reward(0.8, 20.0) == pytest.approx(0.4)
    # A metric of its own, computed from the logs when absent.
    assert soft.get_value({"val_accuracy": 0.8, "macs": 20.0}) == pytest.approx(
        0.8 * 2**-0.07
    )
    assert soft.get_value({"mnas_reward": 0.5, "val_accuracy": 0.8}) == 0.5
    assert not soft.has_value({"val_accuracy": 0.8})


@pytest.mark.parametrize("strategy", strategy_lib.strategy_names())
def test_every_strategy_searches_for_the_reward(tmp_path, strategy):
    target = 8e6
    oracle = _oracles.make_oracle(
        tmp_path,
        cell_space(),
        strategy,
        objective=MnasReward(target=target),
        cost_model=COST_MODEL,
        **OPTIONS[strategy],
    )
    rng = np.random.default_rng(0)
    for _ in range(10):
        trial = oracle.create_trial("tuner0")
        # The tuner reports the accuracy only: the oracle prices the child.
        accuracy = float(rng.random())
        oracle.update_trial(trial.trial_id, {"val_accuracy": accuracy})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        macs = COST_MODEL.cost(trial.hyperparameters.values).macs
        expected = accuracy * (macs / target) ** -0.07
        assert oracle.trials[trial.trial_id].score == pytest.approx(expected, rel=1e-6)
        assert oracle.reward(oracle.trials[trial.trial_id]) == pytest.approx(expected)
        assert oracle.trials[trial.trial_id].metrics.get_last_value("macs") == macs


def test_a_smaller_child_can_outscore_a_more_accurate_one(tmp_path):
    oracle = _oracles.make_oracle(
        tmp_path,
        cell_space(),
        "evolution",
        objective=MnasReward(target=5e6),
        cost_model=COST_MODEL,
        population_size=4,
        sample_size=2,
    )
    rng = np.random.default_rng(0)
    children = sorted(
        (decisions.encode(sampling.random_genotype(rng)) for _ in range(20)),
        key=lambda v: COST_MODEL.cost(v).macs,
    )
    small, big = children[0], children[-1]
    ratio = COST_MODEL.cost(big).macs / COST_MODEL.cost(small).macs
    assert ratio > 2
    ids = {}
    # The big child is 3% more accurate: not enough for its MACs.
    for name, values, accuracy in (("small", small, 0.80), ("big", big, 0.824)):
        trial = oracle.create_trial("tuner0")
        oracle.trials[trial.trial_id].hyperparameters.values = dict(values)
        oracle.update_trial(trial.trial_id, {"val_accuracy": accuracy})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
        ids[name] = trial.trial_id
    assert oracle.get_best_trials(1)[0].trial_id == ids["small"]


def test_a_cost_nobody_reports_is_a_clear_error(tmp_path):
    oracle = _oracles.make_oracle(
        tmp_path, cell_space(), "evolution", objective=MnasReward(target=1e6)
    )
    trial = oracle.create_trial("tuner0")
    with pytest.raises(ValueError, match="Objective value missing.*mnas_reward"):
        oracle.update_trial(trial.trial_id, {"val_accuracy": 0.5})


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"target": 0}, "`target`. Expected a number in \\(0, inf\\)"),
        ({"target": -1e6}, "`target`"),
        ({"target": float("inf")}, "`target`"),
        ({"target": 1e6, "cost": "flops"}, "`cost`. Expected one of 'params'"),
        ({"target": 1e6, "metric": "val_loss"}, "`metric`. Expected a metric that"),
        ({"target": 1e6, "alpha": 0.1}, "`alpha`"),
        ({"target": 1e6, "name": "macs"}, "`name`"),
    ],
)
def test_mnas_arguments_are_validated(kwargs, message):
    with pytest.raises(
        ValueError, match="Invalid value received for argument " + message
    ):
        MnasReward(**kwargs)


def test_objective_names():
    assert isinstance(make_objective("pareto"), Pareto)
    assert make_objective("pareto", costs=["params"]).objectives[1].name == "params"
    mnas = make_objective("mnas", target=2e6, cost="params")
    assert (mnas.target, mnas.cost) == (2e6, "params")
    plain = make_objective("val_loss")
    assert isinstance(plain, keras_tuner.Objective) and plain.direction == "min"
    for bad in ("paretto", "macs", "", None):
        with pytest.raises(
            ValueError,
            match="argument `objective`. Expected 'pareto', 'mnas', or an accuracy",
        ):
            make_objective(bad)
    with pytest.raises(ValueError, match="argument `target`"):
        make_objective("mnas")
    with pytest.raises(ValueError, match="argument `costs`"):
        make_objective("pareto", costs=["flops"])
