"""A search survives being stopped anywhere: state files, reload, resume.

The oracle-level checks drive `NASOracle` without training; the kill checks
run a real `tuner.search` in a subprocess (tests/resume_search.py) and SIGKILL
it at random moments and in the middle of writing its state files, then
compare the resumed search with an uninterrupted one.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.test_oracle_conformance import make_oracle, run_trials
from tuner_plugins import _keras_tuner as kt
from tuner_plugins.strategy import strategy_names

HERE = os.path.dirname(os.path.abspath(__file__))
STRATEGIES = strategy_names()


def _internal_state(oracle):
    """keras-tuner's bookkeeping, which a reload must rebuild exactly."""
    return {
        "start_order": list(oracle.start_order),
        "end_order": list(oracle.end_order),
        "id_to_hash": dict(kt.trial_hashes(oracle)),
        "tried_so_far": sorted(kt.tried_hashes(oracle)),
        "run_times": kt.run_counts(oracle),
        "statuses": {k: t.status for k, t in oracle.trials.items()},
        "notes": {k: oracle.trial_note(k) for k in oracle.trials},
    }


def _read(path, mode="r"):
    with open(path, mode) as f:
        return f.read()


def _write(path, content, mode="w"):
    with open(path, mode) as f:
        f.write(content)


def _end(oracle, trial, status, score=None):
    if score is not None:
        oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = status
    oracle.end_trial(trial)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_reload_rebuilds_keras_tuners_bookkeeping(tmp_path, strategy):
    oracle = make_oracle(tmp_path, strategy, max_retries_per_trial=1)
    run_trials(oracle, 6)
    _end(oracle, oracle.create_trial("tuner1"), "FAILED")
    run_trials(oracle, 3, tuner_id="tuner1")
    invalid = oracle.create_trial("tuner0")
    running = oracle.create_trial("tuner2")  # running when the search "dies"
    _end(oracle, invalid, "INVALID")  # waits for a retry
    before = _internal_state(oracle)

    reloaded = make_oracle(tmp_path, strategy, max_retries_per_trial=1)
    reloaded.reload()
    after = _internal_state(reloaded)
    # The running trial was written by create_trial but oracle.json was not:
    # the reload finds it anyway and queues it for a retry.
    assert after.pop("statuses")[running.trial_id] == "RUNNING"
    before.pop("statuses")
    assert after == before
    waiting = sorted([running.trial_id, invalid.trial_id])
    assert sorted(kt.retry_queue(reloaded)) == waiting
    retried = sorted(reloaded.create_trial(f"t{i}").trial_id for i in range(2))
    assert retried == waiting


def test_oracle_json_grows_by_the_end_order_only(tmp_path):
    oracle = make_oracle(tmp_path, "evolution", space="nasnet")
    fname = os.path.join(tmp_path, "proj", "oracle.json")
    run_trials(oracle, 10)
    size_10 = os.path.getsize(fname)
    run_trials(oracle, 40)
    per_trial = (os.path.getsize(fname) - size_10) / 40
    # keras-tuner's own state adds ~110 bytes per trial (start and end order,
    # hash list, hash map, run counts); ours only the end order's entry.
    assert per_trial < 12, per_trial


def test_controller_files_behind_oracle_json_catch_up(tmp_path):
    # A kill between oracle.json and the controller's weights file leaves the
    # weights one update behind the finished trials.
    total, stop = 16, 8  # the suite's controller updates every 4 trials
    straight = make_oracle(tmp_path, "controller", project="a")
    uninterrupted = run_trials(straight, stop)
    first = make_oracle(tmp_path, "controller", project="b")
    proposals = run_trials(first, stop - 1)
    weights = os.path.join(tmp_path, "b", "controller.npz")
    stale = _read(weights, "rb")
    proposals += run_trials(first, 1)  # ends a minibatch: an update
    _write(weights, stale, "wb")

    resumed = make_oracle(tmp_path, "controller", project="b")
    resumed.reload()
    assert resumed.strategy.num_updates == straight.strategy.num_updates == 2
    for mine, theirs in zip(
        resumed.strategy._params, straight.strategy._params, strict=True
    ):
        np.testing.assert_array_equal(mine, theirs)
    uninterrupted += run_trials(straight, total - stop)
    proposals += run_trials(resumed, total - stop)
    assert proposals == uninterrupted


@pytest.mark.parametrize(
    "damage, message",
    [
        ("truncate_oracle", r"oracle\.json is truncated or corrupt"),
        ("empty_oracle", r"oracle\.json is truncated or corrupt"),
        ("not_an_object", r"oracle\.json is truncated or corrupt"),
        ("delete_oracle", r"oracle\.json is missing"),
        ("truncate_trial", r"trial_0003.trial\.json is truncated or corrupt"),
        ("delete_trial", r"trial\.json is missing from .*: 0003"),
    ],
)
def test_damaged_state_files_are_clear_errors(tmp_path, damage, message):
    oracle = make_oracle(tmp_path, "evolution", max_trials=1000)
    run_trials(oracle, 6)
    project = os.path.join(tmp_path, "proj")
    oracle_json = os.path.join(project, "oracle.json")
    trial_json = os.path.join(project, "trial_0003", "trial.json")
    if damage == "truncate_oracle":
        _write(oracle_json, _read(oracle_json)[:-40])
    elif damage == "empty_oracle":
        _write(oracle_json, "")
    elif damage == "not_an_object":
        _write(oracle_json, "[1, 2]")
    elif damage == "delete_oracle":
        os.remove(oracle_json)
    elif damage == "truncate_trial":
        _write(trial_json, _read(trial_json)[:100])
    elif damage == "delete_trial":
        shutil.rmtree(os.path.dirname(trial_json))
    before = sorted(os.listdir(project))
    reloaded = make_oracle(tmp_path, "evolution", max_trials=1000)
    with pytest.raises(ValueError, match=message) as info:
        reloaded.reload()
    assert "overwrite=True" in str(info.value)  # says how to recover
    assert sorted(os.listdir(project)) == before  # and touched nothing


def test_state_files_are_replaced_atomically(tmp_path, monkeypatch):
    oracle = make_oracle(tmp_path, "evolution")
    run_trials(oracle, 3)
    project = os.path.join(tmp_path, "proj")
    oracle_json = os.path.join(project, "oracle.json")
    before = _read(oracle_json)

    def dies(*args):
        raise KeyboardInterrupt  # the process stops between write and rename

    monkeypatch.setattr(os, "replace", dies)
    with pytest.raises(KeyboardInterrupt):
        run_trials(oracle, 1)
    monkeypatch.undo()
    assert _read(oracle_json) == before
    assert not [n for n in os.listdir(project) if n.endswith(".tmp")]
    assert json.loads(before)["end_order"] == ["000", "001", "002"]


# ---------------------------------------------------------------- real kills


def _search(*directories, kill_at_write=None):
    env = dict(os.environ, KERAS_BACKEND="jax", PYTHONPATH=os.path.dirname(HERE))
    if kill_at_write is not None:
        env["RESUME_SEARCH_KILL_AT_WRITE"] = str(kill_at_write)
    return subprocess.Popen(
        [sys.executable, os.path.join(HERE, "resume_search.py"), *directories],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _results(directory):
    """Per strategy: trial id -> (values, score, status), and the order the
    trials ended in."""
    out = {}
    for strategy in STRATEGIES:
        project = os.path.join(directory, strategy)
        trials = {}
        for name in os.listdir(project):
            if name.startswith("trial_"):
                with open(os.path.join(project, name, "trial.json")) as f:
                    state = json.load(f)
                trials[state["trial_id"]] = (
                    state["hyperparameters"]["values"],
                    state["score"],
                    state["status"],
                )
        with open(os.path.join(project, "oracle.json")) as f:
            out[strategy] = (trials, json.load(f)["end_order"])
    return out


@pytest.mark.slow
def test_killed_searches_resume_to_the_uninterrupted_result(tmp_path):
    rng = np.random.default_rng(0)
    directory = str(tmp_path / "killed")
    kills = []
    # Each strategy's search makes about 5 atomic writes per trial (trial.json
    # three times, oracle.json twice), 70 in all: a write number in
    # [2, 70 * strategies) lands in any search, and a resumed process counts
    # from 0 again.
    for moment in ("write", "random", "write"):
        if moment == "write":
            n = int(rng.integers(2, 70 * len(STRATEGIES)))
            proc = _search(directory, kill_at_write=n)
            proc.communicate(timeout=300)
        else:
            proc = _search(directory)
            first = os.path.join(directory, "evolution", "oracle.json")
            deadline = time.monotonic() + 120
            while not os.path.exists(first) and proc.poll() is None:
                assert time.monotonic() < deadline
                time.sleep(0.02)
            time.sleep(float(rng.uniform(0.0, 2.0)))
            proc.send_signal(signal.SIGKILL)
            _, err = proc.communicate(timeout=60)
            n = None
        if proc.returncode == 0:
            break  # the search was over before the kill
        assert proc.returncode == -signal.SIGKILL, err[-3000:]
        kills.append(n)
    assert len(kills) >= 2, kills

    # The last process resumes the killed search to its end, then runs the
    # uninterrupted one from scratch (a process of its own would only add an
    # import: the strategies already run one after another in one process).
    final = _search(directory, str(tmp_path / "reference"))
    _, err = final.communicate(timeout=300)
    assert final.returncode == 0, err[-3000:]
    expected = _results(str(tmp_path / "reference"))
    assert [len(expected[s][1]) for s in STRATEGIES] == [14] * len(STRATEGIES)
    assert _results(directory) == expected, f"killed at writes {kills}"
