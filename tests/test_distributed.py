"""A chief and two workers on localhost gRPC, for each strategy.

The processes run keras-tuner's own distributed machinery (`BaseTuner.search`
with KERASTUNER_* set); their trials train nothing, so a search takes seconds.
Nothing depends on timing: where the test needs both workers in the search,
or a worker inside a given trial, the workers wait on files the test creates
(tests/distributed_worker.py). Every wait is bounded: a hang fails the test
instead of hanging CI.
"""

import json
import os
import subprocess
import sys
import time

import pytest

from keras_nasnet import workflow
from tuner_plugins.strategy import strategy_names

# Slow: left out of `make check` (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")
REPO = os.path.dirname(HERE)
MAX_TRIALS = 24
TIMEOUT_S = 240


def start(tmp_path, strategy, tuner_id, port, **extra_env):
    env = {
        **extra_env,
        **os.environ,
        "KERASTUNER_ORACLE_IP": "127.0.0.1",
        "KERASTUNER_ORACLE_PORT": str(port),
        "KERASTUNER_TUNER_ID": tuner_id,
        # JAX imports in a fraction of TensorFlow's time, and it runs the
        # controller's Keras update on a second backend (the in-process
        # tests use the default one).
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "PYTHONPATH": REPO + os.pathsep + os.environ.get("PYTHONPATH", ""),
    }
    out = open(tmp_path / f"{tuner_id}.out", "w")
    process = subprocess.Popen(
        [
            sys.executable,
            WORKER,
            str(tmp_path / "project"),
            strategy,
            str(MAX_TRIALS),
            str(tmp_path / f"{tuner_id}.log"),
        ],
        env=env,
        stdout=out,
        stderr=subprocess.STDOUT,
    )
    return process, out


def stop_all(processes):
    """Kills what is still running (a failed test must not leave processes)."""
    for process, out in processes.values():
        if process.poll() is None:
            process.kill()
            process.wait(timeout=30)
        out.close()


def tail(tmp_path, name, size=3000):
    path = tmp_path / f"{name}.out"
    return path.read_text()[-size:] if path.exists() else ""


def wait_for_files(tmp_path, processes, paths, deadline):
    """Waits until every path exists; fails (with the workers' output) if a
    process exits first or the deadline passes."""
    while not all(path.exists() for path in paths):
        for name, (process, _) in processes.items():
            if process.poll() is not None:
                pytest.fail(f"{name} exited early:\n{tail(tmp_path, name)}")
        if time.monotonic() > deadline:
            missing = [str(p) for p in paths if not p.exists()]
            pytest.fail(f"{missing} did not appear within {TIMEOUT_S}s")
        time.sleep(0.05)


def wait_all(tmp_path, processes, names, deadline):
    for name in names:
        process = processes[name][0]
        remaining = max(1.0, deadline - time.monotonic())
        try:
            process.wait(timeout=remaining)
        except subprocess.TimeoutExpired:
            pytest.fail(
                f"{name} did not exit within {TIMEOUT_S}s:\n{tail(tmp_path, name)}"
            )
        assert process.returncode == 0, f"{name} failed:\n{tail(tmp_path, name)}"


def run_with_both_workers(tmp_path, strategy, **env):
    """A chief and two workers; each worker holds its first trial until both
    hold one, so both take part however loaded the machine is."""
    port = workflow._free_port()
    sync = tmp_path / "sync"
    sync.mkdir()
    env = {"DISTRIBUTED_SYNC_DIR": str(sync), "DISTRIBUTED_HOLD_TRIAL": "1", **env}
    processes = {
        name: start(tmp_path, strategy, name, port, **env)
        for name in ("chief", "tuner0", "tuner1")
    }
    deadline = time.monotonic() + TIMEOUT_S
    try:
        workers = ("tuner0", "tuner1")
        holding = [sync / f"{name}.holding" for name in workers]
        wait_for_files(tmp_path, processes, holding, deadline)
        for name in workers:
            (sync / f"{name}.go").touch()
        wait_all(tmp_path, processes, processes, deadline)
    finally:
        stop_all(processes)
    ended = []
    for name in ("tuner0", "tuner1"):
        log = tmp_path / f"{name}.log"
        records = [json.loads(line) for line in log.read_text().splitlines()]
        assert records, f"{name} ran no trial"
        ended += records
    return ended


@pytest.mark.parametrize("strategy", strategy_names())
def test_chief_and_two_workers_run_the_search_to_the_end(tmp_path, strategy):
    ended = run_with_both_workers(tmp_path, strategy)
    ids = [r["trial_id"] for r in ended]
    # Every trial id ends exactly once, all of them COMPLETED.
    assert sorted(ids) == [f"{i:02d}" for i in range(MAX_TRIALS)]
    assert all(r["status"] == "COMPLETED" for r in ended)
    # No two trials share their hyperparameters.
    keys = {json.dumps(r["values"], sort_keys=True) for r in ended}
    assert len(keys) == MAX_TRIALS

    with open(tmp_path / "project" / "search" / "oracle.json") as f:
        state = json.load(f)
    assert sorted(state["end_order"]) == sorted(ids)
    assert not state["ongoing_trials"]
    if strategy == "controller":
        # The chief updated the policy (24 trials, minibatches of 4).
        assert (tmp_path / "project" / "search" / "controller.npz").exists()


@pytest.mark.parametrize("space", ["one_op", "tiny"])
def test_a_chief_keeps_answering_when_mutations_or_the_space_run_out(tmp_path, space):
    # Evolution on a space with one op (no op mutation: it used to raise
    # under the oracle's lock, freezing the chief) and on one of 16
    # configurations (exhausted before max_trials): the search ends and
    # every process exits.
    ended = run_with_both_workers(tmp_path, "evolution", DISTRIBUTED_SPACE=space)
    keys = {json.dumps(r["values"], sort_keys=True) for r in ended}
    assert len(keys) == len(ended)
    assert all(r["status"] == "COMPLETED" for r in ended)
    if space == "tiny":
        assert len(ended) <= 16
    else:
        assert len(ended) == MAX_TRIALS


def taken_back(tmp_path):
    """The chief's record of trials taken back from silent workers."""
    path = tmp_path / "project" / "search" / "oracle.json"
    if not path.exists():
        return {}
    return json.loads(path.read_text())["nas_oracle"]["taken_back"]


def test_a_worker_killed_mid_trial_loses_nothing(tmp_path):
    # tuner0 runs two trials alone, holds its third, and the test kills it
    # (SIGKILL) in the middle of that trial. With `trial_timeout`, the chief
    # takes the trial back after 4 s of silence; only then does tuner1 join:
    # it runs that trial and the rest, and the chief exits once the search is
    # over.
    port = workflow._free_port()
    sync = tmp_path / "sync"
    sync.mkdir()
    holding = sync / "tuner0.holding"
    release = sync / "tuner1.join"
    env = {
        "DISTRIBUTED_TRIAL_SLEEP": "0.1",
        "DISTRIBUTED_TRIAL_TIMEOUT": "4",
        "DISTRIBUTED_SYNC_DIR": str(sync),
    }
    processes = {
        "chief": start(tmp_path, "evolution", "chief", port, **env),
        "tuner0": start(
            tmp_path, "evolution", "tuner0", port, DISTRIBUTED_HOLD_TRIAL="3", **env
        ),
        "tuner1": start(
            tmp_path,
            "evolution",
            "tuner1",
            port,
            DISTRIBUTED_WAIT_FOR=str(release),
            **env,
        ),
    }
    deadline = time.monotonic() + TIMEOUT_S
    try:
        wait_for_files(tmp_path, processes, [holding], deadline)
        processes["tuner0"][0].kill()
        processes["tuner0"][0].wait(timeout=30)
        while not taken_back(tmp_path):
            assert time.monotonic() < deadline, tail(tmp_path, "chief")
            assert processes["chief"][0].poll() is None, tail(tmp_path, "chief")
            time.sleep(0.05)
        release.touch()
        wait_all(tmp_path, processes, ("chief", "tuner1"), deadline)
    finally:
        stop_all(processes)

    with open(tmp_path / "project" / "search" / "oracle.json") as f:
        state = json.load(f)
    ended = [
        json.loads(line)
        for name in ("tuner0", "tuner1")
        for line in (tmp_path / f"{name}.log").read_text().splitlines()
    ]
    # Every trial ended exactly once and COMPLETED: the killed one too, on
    # tuner1, after it was taken back.
    assert sorted(state["end_order"]) == [f"{i:02d}" for i in range(MAX_TRIALS)]
    assert sorted(r["trial_id"] for r in ended) == sorted(state["end_order"])
    assert all(r["status"] == "COMPLETED" for r in ended)
    assert list(state["nas_oracle"]["taken_back"].values()) == [1]
    (trial_id,) = state["nas_oracle"]["taken_back"]
    trial_log = [r for r in ended if r["trial_id"] == trial_id]
    assert len(trial_log) == 1
    # The victim's two finished trials were kept; the one it died in ran on
    # tuner1.
    victim = (tmp_path / "tuner0.log").read_text().splitlines()
    assert len(victim) == 2
    assert trial_id not in {json.loads(line)["trial_id"] for line in victim}
