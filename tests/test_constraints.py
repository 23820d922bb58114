"""Budgets on a child's cost: priced before the build, never trained over.

Oracle-level tests drive `NASOracle` without training (every registered
strategy); the tuner-level ones run tiny real searches (Fashion-MNIST
images, N = 1, F = 4, two-block cells).
"""

import functools
import json
import os
import re

import keras_tuner
import numpy as np
import pytest

from keras_nasnet.space import cost as cost_lib
from keras_nasnet.space import decisions, sampling
from keras_nasnet.space import ops as ops_lib
from tests import _oracles
from tests._oracles import cell_space
from tuner_plugins import _keras_tuner as kt
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.constraints import (
    Constraints,
    CostModel,
)
from tuner_plugins.oracle import INFEASIBLE, NASOracle
from tuner_plugins.tuners import NASTuner

STRATEGIES = strategy_lib.strategy_names()
OPTIONS = {
    "evolution": {"population_size": 8, "sample_size": 3},
    "controller": {"batch_size": 4, "units": 16, "ppo_epochs": 1},
    "local_search": {"num_initial": 4, "max_neighbours": 8},
}
COST_MODEL = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=8)


@functools.cache
def _random_params(num=300):
    rng = np.random.default_rng(0)
    return sorted(
        COST_MODEL.cost(decisions.encode(sampling.random_genotype(rng))).params
        for _ in range(num)
    )


def _budget(quantile):
    """A parameter budget that about `quantile` of random children meet."""
    params = _random_params()
    return params[int(quantile * len(params))]


def _oracle(tmp_path, strategy, **kwargs):
    kwargs.setdefault("cost_model", COST_MODEL)
    return _oracles.make_oracle(
        tmp_path, cell_space(), strategy, **{**OPTIONS[strategy], **kwargs}
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_no_child_over_budget_is_ever_started(tmp_path, strategy):
    # A budget about 20% of random children meet, and a score that favours
    # the big ones: every strategy is pushed against the budget.
    budget = _budget(0.2)
    oracle = _oracle(tmp_path, strategy, constraints={"max_params": budget})
    rng = np.random.default_rng(0)
    started = []
    for _ in range(40):
        trial = oracle.create_trial("tuner0")
        assert trial.status == "RUNNING", oracle.stop_reason
        params = COST_MODEL.cost(trial.hyperparameters.values).params
        started.append(params)
        _oracles.finish(oracle, trial, params / 1e5 + 0.1 * rng.random())
    assert max(started) <= budget
    # The strategies did propose children over it: they were redrawn.
    assert oracle.infeasible_proposals > 0
    # Every trial records its costs, as the cost model prices them.
    trial = oracle.trials[oracle.start_order[0]]
    cost = COST_MODEL.cost(trial.hyperparameters.values)
    assert trial.metrics.get_last_value("params") == cost.params
    assert trial.metrics.get_last_value("macs") == cost.macs


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_macs_budget_holds_too(tmp_path, strategy):
    rng = np.random.default_rng(1)
    macs = sorted(
        COST_MODEL.cost(decisions.encode(sampling.random_genotype(rng))).macs
        for _ in range(100)
    )
    budget = macs[30]
    oracle = _oracle(tmp_path, strategy, constraints=Constraints(max_macs=budget))
    for _ in range(20):
        trial = oracle.create_trial("tuner0")
        assert COST_MODEL.cost(trial.hyperparameters.values).macs <= budget
        _oracles.finish(oracle, trial, float(rng.random()))


def test_without_a_budget_the_proposals_do_not_change(tmp_path):
    # Pricing (for the metrics) must not consume the strategies' randomness.
    plain = _oracle(tmp_path, "evolution", project="plain", cost_model=None)
    priced = _oracle(tmp_path, "evolution", project="priced")
    for oracle in (plain, priced):
        for _ in range(15):
            trial = oracle.create_trial("tuner0")
            values = trial.hyperparameters.values
            _oracles.finish(oracle, trial, float(_oracles.matches(values, {})))
    assert [plain.trials[t].hyperparameters.values for t in plain.start_order] == [
        priced.trials[t].hyperparameters.values for t in priced.start_order
    ]
    assert priced.infeasible_proposals == 0


@pytest.mark.parametrize(
    "budget", [{"max_params": 1000}, {"max_macs": 10_000}], ids=["params", "macs"]
)
def test_a_budget_no_child_meets_is_refused_when_the_oracle_is_made(budget):
    name = next(iter(budget))
    with pytest.raises(ValueError, match=f"argument `{name}`.*cheapest of"):
        NASOracle(
            "val_accuracy",
            hyperparameters=cell_space(),
            constraints=budget,
            cost_model=COST_MODEL,
        )


def test_a_budget_met_only_by_a_cheap_corner_is_accepted():
    # A chain of max pools (each block pools the previous one) costs a
    # quarter of the cheapest of 300 random children: the check must find
    # such a child rather than refuse the budget.
    chain = {}
    for cell in decisions.CELL_NAMES:
        for b in range(5):
            for slot, value in (
                ("input_a", 0 if b == 0 else b + 1),
                ("input_b", 1 if b == 0 else b + 1),
                ("op_a", "max_pool_3x3"),
                ("op_b", "max_pool_3x3"),
            ):
                chain[decisions.hp_name(cell, b, slot)] = value
    cheap = COST_MODEL.cost(chain).params
    assert cheap < _random_params()[0] / 3
    oracle = NASOracle(
        "val_accuracy",
        hyperparameters=cell_space(),
        constraints={"max_params": cheap},
        cost_model=COST_MODEL,
    )
    assert oracle.constraints.max_params == cheap


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_space_without_a_child_in_budget_stops_the_search_saying_why(
    tmp_path, strategy
):
    # The space joins after the oracle is made (as keras-tuner's tuners do),
    # so the check at construction cannot see it.
    oracle = _oracles.make_oracle(
        tmp_path,
        None,
        strategy,
        constraints={"max_params": 1000},
        cost_model=COST_MODEL,
        max_infeasible_proposals=50,
        **OPTIONS[strategy],
    )
    oracle.update_space(cell_space())
    trial = oracle.create_trial("tuner0")
    assert trial.status == "STOPPED"
    assert oracle.stop_kind == INFEASIBLE
    assert "No child within budget (max_params=1,000)" in oracle.stop_reason
    assert "cheapest had" in oracle.stop_reason
    assert oracle.infeasible_proposals >= 50
    assert kt.lock_is_free(oracle)
    assert oracle.create_trial("tuner1").status == "STOPPED"


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"max_params": 0}, "`max_params`. Expected None or a number in (0, inf)"),
        ({"max_macs": -5}, "`max_macs`. Expected None or a number in (0, inf)"),
        ({"max_latency_ms": float("nan")}, "`max_latency_ms`"),
        ({"max_params": "100k"}, "`max_params`"),
        ({"max_params": True}, "`max_params`"),
    ],
)
def test_a_budget_must_be_a_positive_number(kwargs, message):
    with pytest.raises(
        ValueError, match=re.escape(f"Invalid value received for argument {message}")
    ):
        Constraints(**kwargs)


def test_constraints_from_a_dict_refuse_unknown_budgets():
    with pytest.raises(ValueError, match="Unrecognized keyword arguments.*max_flops"):
        Constraints.make({"max_flops": 10})
    assert Constraints.make({"max_params": 10.0}).max_params == 10


def test_a_before_build_budget_needs_a_cost_model():
    with pytest.raises(ValueError, match="argument `cost_model`. Expected a CostModel"):
        NASOracle("val_accuracy", constraints={"max_params": 10**6})
    # A latency budget is the tuner's to measure: no cost model needed.
    NASOracle("val_accuracy", constraints={"max_latency_ms": 5.0})


def test_cost_model_prices_a_trial_like_network_cost():
    genotype = sampling.random_genotype(3)
    values = {**decisions.encode(genotype), "cells_per_stack": 2, "filters": 6}
    model = CostModel((32, 32, 3), 100)
    assert model.cost(values) == cost_lib.network_cost(
        genotype, 2, filters=6, num_classes=100, input_shape=(32, 32, 3)
    )
    with pytest.raises(ValueError, match="no `cells_per_stack`"):
        model.cost(decisions.encode(genotype))
    with pytest.raises(ValueError, match="`stem`"):
        CostModel((32, 32, 3), 10, stem="mobile")


def test_the_hypermodels_cost_model_prices_the_child_it_builds():
    # NASNetHyperModel trains SEARCH_PROXY's stride-2 stem: a cost model that
    # missed it would count four times the MACs of the stem and every cell.
    from keras_nasnet.models.measure import count_macs
    from tuner_plugins import NASNetHyperModel

    hypermodel = NASNetHyperModel(num_classes=10, input_shape=(28, 28, 1))
    model = CostModel.from_hypermodel(hypermodel)
    assert model.stem_strides == hypermodel.recipe.stem_strides == 2
    hp = keras_tuner.HyperParameters()
    hp.values = dict(hypermodel.search_space().values)
    hp.values.update(decisions.encode(sampling.random_genotype(5)))
    built = hypermodel.build(hp)
    expected = model.cost(hp.values)
    assert (built.count_params(), count_macs(built)) == (
        expected.params,
        expected.macs,
    )


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_resumed_budget_search_proposes_what_an_uninterrupted_one_does(
    tmp_path, strategy
):
    budget, total = {"max_params": _budget(0.3)}, 16

    def run(oracle, num):
        proposals = []
        for _ in range(num):
            trial = oracle.create_trial("tuner0")
            values = trial.hyperparameters.values
            proposals.append(values)
            _oracles.finish(oracle, trial, _oracles.matches(values, {}) / 40)
        return proposals

    straight = run(_oracle(tmp_path, strategy, project="a", constraints=budget), total)
    first = _oracle(tmp_path, strategy, project="b", constraints=budget)
    proposals = run(first, 7)
    resumed = _oracle(tmp_path, strategy, project="b", constraints=budget)
    resumed.reload()
    assert proposals + run(resumed, total - 7) == straight


def test_the_infeasible_count_survives_a_resume(tmp_path):
    budget = _budget(0.2)
    oracle = _oracle(tmp_path, "evolution", constraints={"max_params": budget})
    for _ in range(12):
        trial = oracle.create_trial("tuner0")
        _oracles.finish(oracle, trial, 0.5)
    resumed = _oracle(tmp_path, "evolution", constraints={"max_params": budget})
    resumed.reload()
    assert resumed.infeasible_proposals == oracle.infeasible_proposals > 0
    with open(kt.oracle_file(oracle)) as f:
        state = json.load(f)["nas_oracle"]
    assert state["constraints"]["max_params"] == budget
    assert state["cost_model"]["input_shape"] == [28, 28, 1]


# ----------------------------------------------------------------- tuners


def _hypermodel(**kwargs):
    # test_tuners' tiny proxy (N = 1, two-block cells, eager steps), F = 4.
    from tests.test_tuners import _hypermodel

    return _hypermodel(filters=4, **kwargs)


def _recording(hypermodel, method):
    """Wraps `hypermodel.<method>(hp, ...)`; returns the list of the values of
    `hp` at each call, which grows as it is called."""
    calls = []
    original = getattr(hypermodel, method)

    def recorded(hp, *args, **kwargs):
        calls.append(dict(hp.values))
        return original(hp, *args, **kwargs)

    setattr(hypermodel, method, recorded)
    return calls


def _files(directory):
    out = {}
    for root, _, names in os.walk(directory):
        for name in names:
            path = os.path.join(root, name)
            with open(path, "rb") as f:
                out[path] = f.read()
    return out


@pytest.mark.slow
def test_a_budget_no_child_meets_changes_nothing_of_an_existing_search(
    tmp_path, fashion
):
    (x, y), validation = fashion(16, 16)
    tuner = NASTuner(
        _hypermodel(),
        objective="val_accuracy",
        max_trials=1,
        seed=0,
        directory=tmp_path,
        project_name="search",
    )
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)
    before = _files(tmp_path)
    for overwrite in (False, True):
        with pytest.raises(ValueError, match="argument `max_params`"):
            NASTuner(
                _hypermodel(),
                objective="val_accuracy",
                max_trials=2,
                max_params=100,
                directory=tmp_path,
                project_name="search",
                overwrite=overwrite,
            )
    assert _files(tmp_path) == before


@pytest.mark.slow
def test_keras_tuners_own_tuner_fails_children_over_budget_unbuilt(tmp_path, fashion):
    from tuner_plugins import CostAwareMixin, TrialFailureMixin

    class BudgetRandomSearch(
        CostAwareMixin, TrialFailureMixin, keras_tuner.RandomSearch
    ):
        pass

    hypermodel = _hypermodel()
    model = CostModel.from_hypermodel(hypermodel)
    rng = np.random.default_rng(0)
    size = {"cells_per_stack": 1, "filters": 4}
    prices = sorted(
        model.cost(
            {
                **decisions.encode(
                    sampling.random_genotype(
                        rng,
                        num_blocks=hypermodel.num_blocks,
                        combines=(ops_lib.ADD, ops_lib.CONCAT),
                    )
                ),
                **size,
            }
        ).params
        for _ in range(200)
    )
    budget = prices[len(prices) // 2]
    built = _recording(hypermodel, "build")
    tuner = BudgetRandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=6,
        seed=3,
        max_params=budget,
        max_consecutive_failed_trials=6,
        directory=tmp_path,
        project_name="search",
    )
    built.clear()  # keras-tuner builds once to read the space
    (x, y), validation = fashion(16, 16)
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)
    trials = list(tuner.oracle.trials.values())
    failed = [t for t in trials if t.status == "FAILED"]
    completed = [t for t in trials if t.status == "COMPLETED"]
    assert failed and completed, [t.status for t in trials]
    for trial in failed:
        assert (
            trial.message.strip()
            .splitlines()[-1]
            .endswith(f"> max_params={budget:,} (not built).")
        )
    # Only the children within budget were built, and they record their
    # costs: params equal to the built model's count.
    assert len(built) == len(completed)
    for trial in completed:
        params = trial.metrics.get_last_value("params")
        assert params <= budget
        assert params == model.cost(trial.hyperparameters.values).params
        assert trial.metrics.exists("macs")


@pytest.mark.slow
def test_a_latency_budget_fails_the_trial_after_the_build_before_training(
    tmp_path, fashion
):
    hypermodel = _hypermodel()
    fits = _recording(hypermodel, "fit")
    tuner = NASTuner(
        hypermodel,
        objective="val_accuracy",
        max_trials=1,
        seed=0,
        max_latency_ms=1e-3,
        directory=tmp_path,
        project_name="search",
    )
    (x, y), validation = fashion(16, 16)
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "FAILED"
    reason = trial.message.strip().splitlines()[-1]
    assert "latency_ms > max_latency_ms=0.001 (built, not trained)." in reason
    assert fits == []


@pytest.mark.slow
def test_latency_is_a_metric_and_can_be_the_mnas_cost(tmp_path, fashion):
    from tuner_plugins import MnasReward

    objective = MnasReward(target=20.0, cost="latency_ms")
    tuner = NASTuner(
        _hypermodel(),
        objective=objective,
        max_trials=1,
        seed=0,
        directory=tmp_path,
        project_name="search",
    )
    assert tuner.measure_latency  # the objective reads it
    (x, y), validation = fashion(16, 16)
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)
    (trial,) = tuner.oracle.trials.values()
    assert trial.status == "COMPLETED", trial.message
    latency = trial.metrics.get_last_value("latency_ms")
    accuracy = trial.metrics.get_last_value("val_accuracy")
    assert latency > 0
    assert trial.score == pytest.approx(objective.reward(accuracy, latency), rel=1e-5)


def _dense_model(hp):
    import keras

    inputs = keras.Input((4,))
    x = keras.layers.Dense(hp.Choice("units", [2, 64]), activation="relu")(inputs)
    model = keras.Model(inputs, keras.layers.Dense(1)(x))
    model.compile(optimizer="sgd", loss="mse")
    return model


def _budget_tuner(tmp_path, build, **kwargs):
    from tuner_plugins import CostAwareMixin, TrialFailureMixin

    class BudgetGridSearch(CostAwareMixin, TrialFailureMixin, keras_tuner.GridSearch):
        pass

    return BudgetGridSearch(
        hypermodel=build,
        objective="val_loss",
        max_trials=2,
        directory=tmp_path,
        project_name="search",
        **kwargs,
    )


def test_without_a_cost_model_the_built_model_is_counted_and_checked(tmp_path):
    # Any Keras model: params and MACs are counted on the built model, and
    # a before-build budget is checked right after the build.
    tuner = _budget_tuner(tmp_path, _dense_model, max_params=100)
    x = np.zeros((8, 4), "float32")
    tuner.search(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=1, verbose=0)
    by_units = {
        t.hyperparameters.values["units"]: t for t in tuner.oracle.trials.values()
    }
    small, big = by_units[2], by_units[64]
    assert small.status == "COMPLETED"
    assert small.metrics.get_last_value("params") == 4 * 2 + 2 + 2 + 1
    assert small.metrics.get_last_value("macs") == 4 * 2 + 2
    assert big.status == "FAILED"
    assert "385 params > max_params=100 (built, not trained)." in big.message


def test_latency_of_a_model_that_cannot_run_is_refused(tmp_path):
    def build(hp):
        import keras

        # Any length of sequence: no static input size to time it on.
        inputs = keras.Input((None, 1))
        x = keras.layers.Dense(hp.Choice("units", [2, 64]))(inputs)
        x = keras.layers.GlobalAveragePooling1D()(x)
        model = keras.Model(inputs, keras.layers.Dense(1)(x))
        model.compile(optimizer="sgd", loss="mse")
        return model

    tuner = _budget_tuner(tmp_path, build, measure_latency=True)
    x = np.zeros((8, 4, 1), "float32")
    with pytest.raises(
        keras_tuner.errors.FatalValueError,
        match="Invalid value received for argument `model`. Expected a model "
        "whose input has static sizes",
    ):
        tuner.search(x, x[:, :1], validation_data=(x, x[:, :1]), epochs=1, verbose=0)
