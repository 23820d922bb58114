"""The keras-tuner Oracle contract, checked for every registered strategy.

Modeled on keras-tuner's own `engine/oracle_test.py`: oracles are driven
without training, by `create_trial -> update_trial -> end_trial` loops. The
suite runs over `strategy_names()`: a new strategy is checked by registering
it, with the options of its `small_search_options`.
"""

import functools
import json
import threading
import zlib

import keras_tuner
import numpy as np
import pytest
from keras_tuner.engine import trial as trial_module

from tests import _oracles
from tests._oracles import cell_space
from tuner_plugins import _keras_tuner as kt
from tuner_plugins import strategy as strategy_lib
from tuner_plugins.oracle import NASOracle

STRATEGIES = strategy_lib.strategy_names()
# Smaller and quicker than the CLI's options where a strategy trains
# something (optional per strategy: a new one needs no entry).
FASTER = {"controller": {"batch_size": 4, "units": 16, "ppo_epochs": 1}}
OBJECTIVE = keras_tuner.Objective("score", "max")


def small_options(strategy):
    """The options the suite runs `strategy` with: small enough that every
    strategy leaves its start-up phase within a few trials."""
    cls = strategy_lib.get_strategy_class(strategy)
    return {**cls.small_search_options, **FASTER.get(strategy, {})}


def generic_space():
    hp = keras_tuner.HyperParameters()
    hp.Choice("width", [8, 16, 32, 64])
    hp.Int("depth", 1, 6)
    hp.Boolean("batch_norm")
    hp.Choice("optimizer", ["sgd", "adam"])
    with hp.conditional_scope("optimizer", ["adam"]):
        hp.Float("beta_1", 0.8, 0.99, step=0.01)
    hp.Float("learning_rate", 1e-4, 1e-1, sampling="log")
    return hp


SPACES = {
    "generic": generic_space,
    "nasnet": functools.partial(cell_space, num_blocks=2),
}
# Spaces with little room: no op mutation is possible (one op); one block;
# one block and one op, 2 cells x 2 x 2 input choices = 16 trials.
CRAMPED_SPACES = {
    "one_op": functools.partial(cell_space, ops=("sep_conv_3x3",), num_blocks=2),
    "one_block": functools.partial(cell_space, num_blocks=1),
    "tiny": functools.partial(cell_space, ops=("sep_conv_3x3",), num_blocks=1),
}


def make_oracle(tmp_path, strategy, space="generic", project="proj", **kwargs):
    registered = isinstance(strategy, str)
    options = {**(small_options(strategy) if registered else {}), **kwargs}
    options.setdefault("seed", 7)
    options.setdefault("max_trials", 100)
    hp = space() if callable(space) else SPACES[space]()
    return _oracles.make_oracle(tmp_path, hp, strategy, project, **options)


def score_of(values):
    # Any deterministic function of the values will do.
    text = json.dumps(values, sort_keys=True)
    return (zlib.crc32(text.encode("utf-8")) % 1000) / 1000.0


def run_trials(oracle, num_trials, tuner_id="tuner0"):
    proposals = []
    for _ in range(num_trials):
        trial = oracle.create_trial(tuner_id)
        if trial.status != trial_module.TrialStatus.RUNNING:
            break
        values = dict(trial.hyperparameters.values)
        proposals.append(values)
        oracle.update_trial(trial.trial_id, {"score": score_of(values)})
        trial.status = trial_module.TrialStatus.COMPLETED
        oracle.end_trial(trial)
    return proposals


def assert_lock_free(oracle, timeout=10):
    """Another thread can still take the oracle's lock and get an answer."""
    done = threading.Event()
    answers = []

    def other_thread():
        answers.append(oracle.create_trial("another_tuner").status)
        done.set()

    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    thread.join(timeout)
    assert done.is_set(), "the oracle's lock is held after an exception"
    return answers[0]


@pytest.fixture(params=STRATEGIES)
def strategy(request):
    return request.param


def test_missing_objective_is_a_clear_error(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    trial = oracle.create_trial("tuner0")
    with pytest.raises(ValueError, match="Objective value missing"):
        oracle.update_trial(trial.trial_id, {"accuracy": 0.5})
    assert_lock_free(oracle)


def test_unknown_trial_id_is_a_clear_error(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    with pytest.raises(ValueError, match="Unknown trial id"):
        oracle.update_trial("999", {"score": 1.0})
    assert_lock_free(oracle)


def test_default_no_retry(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    trial_1 = oracle.create_trial("tuner0")
    trial_1.status = trial_module.TrialStatus.INVALID
    oracle.end_trial(trial_1)
    trial_2 = oracle.create_trial("tuner0")
    assert trial_2.trial_id != trial_1.trial_id
    assert oracle.trials[trial_1.trial_id].status == trial_module.TrialStatus.FAILED


def test_invalid_trials_are_retried_up_to_max_retries(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_retries_per_trial=1)
    trial_1 = oracle.create_trial("tuner0")
    trial_1.status = trial_module.TrialStatus.INVALID
    trial_1.message = "error1"
    oracle.end_trial(trial_1)
    # The retry.
    trial_2 = oracle.create_trial("tuner0")
    assert trial_2.trial_id == trial_1.trial_id
    trial_2.status = trial_module.TrialStatus.INVALID
    oracle.end_trial(trial_2)
    assert oracle.trials[trial_1.trial_id].status == trial_module.TrialStatus.FAILED
    # Retried once: a new trial.
    trial_3 = oracle.create_trial("tuner1")
    assert trial_3.trial_id != trial_1.trial_id


# keras-tuner's metric tracking takes a nanmax of the lone NaN.
@pytest.mark.filterwarnings("ignore:All-NaN:RuntimeWarning")
def test_nan_score_marks_the_trial_invalid(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_retries_per_trial=1)
    trial = oracle.create_trial("tuner0")
    oracle.update_trial(trial.trial_id, {"score": float("nan")})
    trial.status = trial_module.TrialStatus.COMPLETED
    oracle.end_trial(trial)
    assert oracle.trials[trial.trial_id].status == trial_module.TrialStatus.INVALID


def test_failed_trials_are_not_retried(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_retries_per_trial=1)
    trial_1 = oracle.create_trial("tuner0")
    trial_1.status = trial_module.TrialStatus.FAILED
    oracle.end_trial(trial_1)
    trial_2 = oracle.create_trial("tuner0")
    assert trial_2.trial_id != trial_1.trial_id


def test_consecutive_failures_within_the_limit(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_retries_per_trial=2)
    # (1 run + 2 retries) * 2 trials: two FAILED trials in a row, limit 3.
    for _ in range(6):
        trial = oracle.create_trial("tuner0")
        trial.status = trial_module.TrialStatus.INVALID
        oracle.end_trial(trial)
    assert len(run_trials(oracle, 3)) == 3


def test_too_many_consecutive_failures_stop_the_search(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    run_trials(oracle, 2)
    with pytest.raises(RuntimeError, match="Number of consecutive") as error:
        for _ in range(3):
            trial = oracle.create_trial("tuner0")
            trial.status = trial_module.TrialStatus.FAILED
            trial.message = "custom_error_info"
            oracle.end_trial(trial)
    assert "custom_error_info" in str(error.value)
    # The failing trial was saved and ended, the lock is free, and every
    # tuner that asks again is told to stop, so a chief can exit.
    assert not oracle.ongoing_trials
    assert_lock_free(oracle)
    assert oracle.create_trial("tuner1").status == trial_module.TrialStatus.STOPPED
    assert not oracle.tuner_ids


def test_same_tuner_id_gets_its_ongoing_trial_back(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    trial_1 = oracle.create_trial("tuner0")
    trial_2 = oracle.create_trial("tuner0")
    assert trial_1.trial_id == trial_2.trial_id
    trial_3 = oracle.create_trial("tuner1")
    assert trial_3.trial_id != trial_1.trial_id


def test_reload_queues_ongoing_trials_for_retry(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    run_trials(oracle, 5)
    ongoing = oracle.create_trial("tuner0")

    reloaded = make_oracle(tmp_path, strategy)
    reloaded.reload()
    assert not reloaded.ongoing_trials
    retried = reloaded.create_trial("tuner7")
    assert retried.trial_id == ongoing.trial_id
    assert retried.hyperparameters.values == ongoing.hyperparameters.values


@pytest.mark.filterwarnings("ignore:All-NaN:RuntimeWarning")
def test_best_trials_ignore_nan(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    for score in (0.2, float("nan"), 0.7, 0.5):
        trial = oracle.create_trial("tuner0")
        oracle.update_trial(trial.trial_id, {"score": score})
        trial.status = trial_module.TrialStatus.COMPLETED
        oracle.end_trial(trial)
    best = oracle.get_best_trials(3)
    assert [t.score for t in best] == [0.7, 0.5, 0.2]


def test_max_trials_stops_the_search(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_trials=6)
    assert len(run_trials(oracle, 10)) == 6
    assert oracle.create_trial("tuner0").status == trial_module.TrialStatus.STOPPED


@pytest.mark.parametrize("space", sorted(SPACES))
def test_same_seed_same_proposals(tmp_path, strategy, space):
    runs = [
        run_trials(make_oracle(tmp_path, strategy, space, project=f"p{i}", seed=s), 14)
        for i, s in enumerate((3, 3, 4))
    ]
    assert runs[0] == runs[1]
    assert runs[0] != runs[2]


@pytest.mark.parametrize("space", sorted(SPACES))
def test_seed_zero_is_a_seed(tmp_path, strategy, space):
    # keras-tuner replaces a falsy seed with a random one.
    oracles = [
        make_oracle(tmp_path, strategy, space, project=f"p{i}", seed=0)
        for i in range(2)
    ]
    assert [oracle.seed for oracle in oracles] == [0, 0]
    assert run_trials(oracles[0], 12) == run_trials(oracles[1], 12)


@pytest.mark.parametrize("space", sorted(CRAMPED_SPACES))
def test_spaces_with_little_room_never_hold_the_lock(tmp_path, strategy, space):
    # One op (no op mutation possible), one block, and a space of 16 trials
    # that is soon exhausted: the search goes on or stops with a reason, no
    # exception escapes with the oracle's lock held.
    oracle = make_oracle(
        tmp_path, strategy, CRAMPED_SPACES[space], max_trials=40, seed=3
    )
    proposals = run_trials(oracle, 40)
    keys = {json.dumps(values, sort_keys=True) for values in proposals}
    assert len(keys) == len(proposals)
    if space == "tiny":
        assert 8 <= len(proposals) <= 16
        assert "exhausted" in oracle.stop_reason
        assert oracle.create_trial("tuner0").status == "STOPPED"
    else:
        assert len(proposals) == 40
        assert oracle.stop_reason is None
    assert kt.lock_is_free(oracle)
    assert assert_lock_free(oracle) == "STOPPED"


def test_an_exception_in_a_strategy_releases_the_lock(tmp_path):
    class Broken(strategy_lib.Strategy):
        name = "broken"

        def propose(self, oracle, rng):
            raise ZeroDivisionError("a bug in a strategy")

    oracle = make_oracle(tmp_path, Broken())
    with pytest.raises(ZeroDivisionError):
        oracle.create_trial("tuner0")
    assert kt.lock_is_free(oracle)
    # The tuner that got the error is forgotten: a chief would not wait for it.
    assert "tuner0" not in oracle.tuner_ids
    errors = []

    def other_thread():
        try:
            oracle.create_trial("tuner1")
        except ZeroDivisionError as e:
            errors.append(e)

    thread = threading.Thread(target=other_thread, daemon=True)
    thread.start()
    thread.join(10)
    assert len(errors) == 1, "another thread could not take the lock"


@pytest.mark.parametrize("space", sorted(SPACES))
@pytest.mark.parametrize("first_part", [4, 10])
def test_save_reload_continue_equals_uninterrupted(
    tmp_path, strategy, space, first_part
):
    total = 22
    uninterrupted = run_trials(
        make_oracle(tmp_path, strategy, space, project="straight"), total
    )

    first = make_oracle(tmp_path, strategy, space, project="resumed")
    proposals = run_trials(first, first_part)
    del first  # the process "stops" here; everything is on disk
    resumed = make_oracle(tmp_path, strategy, space, project="resumed")
    resumed.reload()
    proposals += run_trials(resumed, total - first_part)
    assert proposals == uninterrupted
    if strategy == "controller":
        # The continuation crossed controller updates on both sides.
        assert resumed.strategy.num_updates >= 3


def test_state_survives_a_json_round_trip(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy)
    run_trials(oracle, 9)
    state = oracle.get_state()
    text = json.dumps(state)  # raises on numpy scalars and the like
    other = make_oracle(tmp_path, strategy, project="other")
    other.trials = oracle.trials
    other.set_state(json.loads(text))
    again = json.loads(json.dumps(other.get_state()))
    expected = json.loads(text)
    for state in (again, expected):
        state["tried_so_far"] = sorted(state["tried_so_far"])  # a set's order
    assert again == expected


def test_reload_with_another_strategy_is_a_clear_error(tmp_path):
    oracle = make_oracle(tmp_path, "evolution")
    run_trials(oracle, 3)
    other = make_oracle(tmp_path, "controller")
    with pytest.raises(ValueError, match="strategy='evolution'"):
        other.reload()


def test_no_duplicates_among_concurrent_tuners(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, space="nasnet", max_trials=60)
    seen = []
    ongoing = {}
    for step in range(200):
        tuner_id = f"tuner{step % 3}"
        if tuner_id in ongoing:
            trial = ongoing.pop(tuner_id)
            oracle.update_trial(
                trial.trial_id, {"score": score_of(trial.hyperparameters.values)}
            )
            trial.status = trial_module.TrialStatus.COMPLETED
            oracle.end_trial(trial)
            continue
        trial = oracle.create_trial(tuner_id)
        if trial.status == trial_module.TrialStatus.STOPPED:
            continue
        ongoing[tuner_id] = trial
        seen.append(json.dumps(trial.hyperparameters.values, sort_keys=True))
    assert len(seen) == 60
    assert len(set(seen)) == len(seen)


def test_invalid_strategy_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match="argument `strategy`. Expected one of 'evolution', 'controller', "
        "'local_search' or a Strategy. Received: strategy='bogus'",
    ):
        NASOracle(objective=OBJECTIVE, strategy="bogus")


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (
            {"sample_size": 0},
            "Invalid value received for argument `sample_size`. Expected an "
            "integer between 1 and population_size (100). Received: sample_size=0",
        ),
        ({"population_size": 10, "sample_size": 11}, "Received: sample_size=11"),
        ({"population_size": 0}, "Received: population_size=0"),
        ({"identity_prob": 1.5}, "Received: identity_prob=1.5"),
    ],
)
def test_evolution_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError) as error:
        NASOracle(objective=OBJECTIVE, strategy="evolution", **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"units": 0}, "Received: units=0"),
        ({"units": np.int64(0)}, "Received: units=np.int64(0)"),
        ({"update": "a2c"}, "Received: update='a2c'"),
        ({"ppo_clip": 1.5}, "Received: ppo_clip=1.5"),
        ({"baseline_decay": 1.0}, "Received: baseline_decay=1.0"),
        ({"temperature": 0}, "Expected None or a number > 0. Received: temperature=0"),
    ],
)
def test_controller_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError) as error:
        NASOracle(objective=OBJECTIVE, strategy="controller", **kwargs)
    assert message in str(error.value)


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"num_initial": 0}, "Received: num_initial=0"),
        ({"max_neighbours": 0}, "Received: max_neighbours=0"),
    ],
)
def test_local_search_arguments_are_validated(kwargs, message):
    with pytest.raises(ValueError, match="Invalid value received") as error:
        NASOracle(objective=OBJECTIVE, strategy="local_search", **kwargs)
    assert message in str(error.value)


def test_numpy_integers_are_integers():
    # np.int64 passed as an option (e.g. from a config array) is an integer.
    oracle = NASOracle(
        objective=OBJECTIVE, strategy="controller", units=np.int64(50), seed=0
    )
    assert oracle.strategy.units == 50 and type(oracle.strategy.units) is int


def test_an_option_of_another_strategy_is_a_clear_error():
    with pytest.raises(
        ValueError,
        match=r"Unrecognized keyword arguments passed to EvolutionStrategy: "
        r"\{'units': 16\}. Expected some of: population_size, sample_size, "
        r"identity_prob.",
    ):
        NASOracle(objective=OBJECTIVE, strategy="evolution", units=16)


def test_options_with_a_strategy_instance_are_a_clear_error():
    strategy = strategy_lib.make_strategy("evolution", population_size=4, sample_size=2)
    with pytest.raises(ValueError, match="Unrecognized keyword arguments passed"):
        NASOracle(objective=OBJECTIVE, strategy=strategy, sample_size=2)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_a_strategy_object_or_class_is_the_same_as_its_name(tmp_path, strategy):
    cls = strategy_lib.get_strategy_class(strategy)
    options = small_options(strategy)
    by_name = make_oracle(tmp_path, strategy, project="name")
    by_object = make_oracle(tmp_path, cls(**options), project="object")
    by_class = make_oracle(tmp_path / "c", cls, project="class", **options)
    assert by_object.strategy.get_config() == by_name.strategy.get_config()
    assert by_class.strategy.get_config() == by_name.strategy.get_config()
    assert run_trials(by_object, 6) == run_trials(by_name, 6)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_options_are_declared_once_and_documented(strategy):
    cls = strategy_lib.get_strategy_class(strategy)
    assert cls.name == strategy
    specs = cls.option_specs()
    assert specs, "a registered strategy has options"
    defaults = {}
    for name, default, kind, help_text in specs:
        assert kind in (int, float, str, bool), (name, kind)
        assert default is None or isinstance(default, kind), (name, default)
        assert len(help_text) > 10, name
        defaults[name] = default
    # The defaults and the small-search options are valid options.
    assert cls(**defaults).get_config() == defaults
    assert set(cls.small_search_options) <= set(defaults)
    small = cls(**cls.small_search_options)
    config = json.loads(json.dumps(small.get_config()))
    assert cls.from_config(config).get_config() == small.get_config()


def test_a_custom_strategy_plugs_in_without_registering(tmp_path):
    class Lowest(strategy_lib.Strategy):
        """Proposes the smallest untried width, then anything."""

        name = "lowest"

        def propose(self, oracle, rng):
            tried = {
                t.hyperparameters.values.get("width") for t in oracle.trials.values()
            }
            for width in (8, 16, 32, 64):
                if width not in tried:
                    return oracle.complete_values({"width": width}, rng)
            return oracle.random_values(rng)

    oracle = make_oracle(tmp_path, Lowest())
    widths = [v["width"] for v in run_trials(oracle, 4)]
    assert widths == [8, 16, 32, 64]
    state = json.loads(json.dumps(oracle.get_state()))
    assert state["nas_oracle"]["strategy"] == "lowest"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"max_trials": 0}, "Received: max_trials=0"),
        ({"max_trials": "10"}, "Received: max_trials='10'"),
        ({"max_trials": True}, "Received: max_trials=True"),
        ({"max_retries_per_trial": -1}, "Received: max_retries_per_trial=-1"),
        ({"max_retries_per_trial": 1.5}, "Received: max_retries_per_trial=1.5"),
        (
            {"max_consecutive_failed_trials": "3"},
            "Received: max_consecutive_failed_trials='3'",
        ),
        ({"seed": -1}, "Expected an integer >= 0. Received: seed=-1"),
        ({"trial_timeout": 0}, "Received: trial_timeout=0"),
        ({"trial_timeout": float("inf")}, "Received: trial_timeout=inf"),
    ],
)
def test_keras_tuner_arguments_are_validated(strategy, kwargs, message):
    with pytest.raises(ValueError) as error:
        NASOracle(objective=OBJECTIVE, strategy=strategy, **kwargs)
    assert f"argument `{next(iter(kwargs))}`" in str(error.value)
    assert message in str(error.value)


def test_too_many_failures_list_each_reason(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_consecutive_failed_trials=2)
    run_trials(oracle, 2)
    for reason in ("loss became NaN", "out of memory"):
        trial = oracle.create_trial("tuner0")
        trial.status = trial_module.TrialStatus.FAILED
        trial.message = reason
        if reason == "out of memory":
            with pytest.raises(RuntimeError) as error:
                oracle.end_trial(trial)
        else:
            oracle.end_trial(trial)
    lines = str(error.value).splitlines()
    assert lines[1:] == ["- trial 002: loss became NaN", "- trial 003: out of memory"]
