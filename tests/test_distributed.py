"""A chief and two workers on localhost gRPC, for each strategy.

The processes run keras-tuner's own distributed machinery (`BaseTuner.search`
with KERASTUNER_* set); their trials train nothing, so a search takes seconds.
Every wait is bounded: a hang fails the test instead of hanging CI.
"""

import json
import os
import socket
import subprocess
import sys
import time

import pytest

# Slow: left out of `make check` (`pytest -m "not slow"`).
pytestmark = pytest.mark.slow

HERE = os.path.dirname(os.path.abspath(__file__))
WORKER = os.path.join(HERE, "distributed_worker.py")
REPO = os.path.dirname(HERE)
MAX_TRIALS = 24
TIMEOUT_S = 240


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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


@pytest.mark.parametrize("strategy", ["evolution", "controller"])
def test_chief_and_two_workers_run_the_search_to_the_end(tmp_path, strategy):
    port = free_port()
    processes = {
        name: start(tmp_path, strategy, name, port)
        for name in ("chief", "tuner0", "tuner1")
    }
    deadline = time.monotonic() + TIMEOUT_S
    try:
        for name, (process, _) in processes.items():
            remaining = max(1.0, deadline - time.monotonic())
            try:
                process.wait(timeout=remaining)
            except subprocess.TimeoutExpired:
                pytest.fail(
                    f"{name} did not exit within {TIMEOUT_S}s:\n{tail(tmp_path, name)}"
                )
            assert process.returncode == 0, f"{name} failed:\n{tail(tmp_path, name)}"
    finally:
        stop_all(processes)

    ended = []
    for name in ("tuner0", "tuner1"):
        log = tmp_path / f"{name}.log"
        records = [json.loads(line) for line in log.read_text().splitlines()]
        # Both workers took part.
        assert records, f"{name} ran no trial"
        ended += records
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


def test_a_worker_killed_mid_trial_loses_nothing(tmp_path):
    # tuner0 dies (SIGKILL) in the middle of a trial. With `trial_timeout`,
    # the chief takes its trial back after 4 s of silence, tuner1 runs it,
    # and the chief exits once the search is over.
    port = free_port()
    env = {"DISTRIBUTED_TRIAL_SLEEP": "0.4", "DISTRIBUTED_TRIAL_TIMEOUT": "4"}
    processes = {
        name: start(tmp_path, "evolution", name, port, **env)
        for name in ("chief", "tuner0", "tuner1")
    }
    deadline = time.monotonic() + TIMEOUT_S
    victim_log = tmp_path / "tuner0.log"
    try:
        while not (
            victim_log.exists() and len(victim_log.read_text().splitlines()) >= 2
        ):
            assert time.monotonic() < deadline, tail(tmp_path, "tuner0")
            time.sleep(0.05)
        time.sleep(0.15)  # inside its third trial (each sleeps 0.4 s)
        processes["tuner0"][0].kill()
        for name in ("chief", "tuner1"):
            process = processes[name][0]
            try:
                process.wait(timeout=max(1.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pytest.fail(f"{name} did not exit:\n{tail(tmp_path, name)}")
            assert process.returncode == 0, f"{name} failed:\n{tail(tmp_path, name)}"
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
    taken_back = state["nas_oracle"]["taken_back"]
    assert list(taken_back.values()) == [1]
    (trial_id,) = taken_back
    trial_log = [r for r in ended if r["trial_id"] == trial_id]
    assert len(trial_log) == 1
