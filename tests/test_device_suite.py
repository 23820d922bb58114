"""benchmarks/device_suite.sh runs end to end the way a GPU machine runs it.

The GPU machines have JAX but no TensorFlow: each test runs the suite with the
JAX backend on the CPU and TensorFlow (and tensorflow-datasets) made
unimportable in every process it starts, by a `sitecustomize` module on
PYTHONPATH. A module-level `import tensorflow` anywhere on the path fails
the step that reaches it.
"""

import json
import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "device_suite.sh"
STEPS = (
    "info",
    "trial_overhead",
    "trial_overhead_xla",
    "workers",
    "throughput",
    "search_quality",
)
# Importing either raises ModuleNotFoundError, as where they are not installed.
_NO_TENSORFLOW = """\
import sys

for _name in ("tensorflow", "tensorflow_datasets"):
    sys.modules[_name] = None
"""


def _env(tmp_path, **extra):
    shim = tmp_path / "no_tensorflow"
    shim.mkdir()
    (shim / "sitecustomize.py").write_text(_NO_TENSORFLOW)
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith("DEVICE_SUITE_") and k != "OUT"
    }
    env.update(
        OUT=str(tmp_path / "out"),
        PYTHON=sys.executable,
        PYTHONPATH=os.pathsep.join([str(shim), str(REPO)]),
        KERAS_BACKEND="jax",
        JAX_PLATFORMS="cpu",
        TF_CPP_MIN_LOG_LEVEL="3",
        # The workers' project folders too, so that a leftover process
        # shows in `_leftover_processes`.
        TMPDIR=str(tmp_path),
        **extra,
    )
    return env


def _run_suite(env, *args, timeout):
    return subprocess.run(
        ["bash", str(SCRIPT), *args],
        env=env,
        cwd=os.path.dirname(env["OUT"]),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _summary(tmp_path, tag="tiny"):
    with open(tmp_path / "out" / f"device_suite_{tag}.json") as f:
        return json.load(f)


def _leftover_processes(tmp_path):
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True)
    return [line for line in ps.stdout.splitlines() if str(tmp_path) in line]


def test_tensorflow_is_blocked_in_the_suites_environment(tmp_path):
    env = _env(tmp_path)
    result = subprocess.run(
        [sys.executable, "-c", "import tensorflow"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "ModuleNotFoundError" in result.stderr


def test_a_step_past_its_cap_is_recorded_and_the_next_step_runs(tmp_path):
    # Both steps are stopped by a one-second cap (importing Keras alone takes
    # longer): the first one's timeout must not stop the suite.
    env = _env(
        tmp_path,
        DEVICE_SUITE_STEPS="trial_overhead,workers",
        DEVICE_SUITE_CAP_TRIAL_OVERHEAD="1",
        DEVICE_SUITE_CAP_WORKERS="1",
    )
    result = _run_suite(env, "--tiny", timeout=300)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "NOT all passed: trial_overhead workers" in result.stdout
    summary = _summary(tmp_path)
    assert summary["all_passed"] is False
    assert list(summary["steps"]) == ["trial_overhead", "workers"]
    for step in summary["steps"].values():
        assert step["status"] == "timeout"
        assert step["exit_code"] in (124, 137)
        assert step["cap_s"] == 1
        assert "log_tail" in step
    assert summary["tag"] == "tiny"
    assert "DEVICE_SUITE_STEPS=trial_overhead,workers" in summary["command"]
    md = (tmp_path / "out" / "device_suite_tiny.md").read_text()
    assert md.startswith("# Device suite (tiny)")
    assert "| workers | timeout |" in md
    # The steps' processes were killed with them.
    assert _leftover_processes(tmp_path) == []


def test_unknown_argument(tmp_path):
    result = _run_suite(_env(tmp_path), "--large", timeout=60)
    assert result.returncode == 2
    assert "unknown argument '--large'" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_the_info_step_runs_without_tensorflow(tmp_path):
    # The suite's set-up and its cheapest step, end to end, in CI: the full
    # tiny run below takes 35 minutes on the loaded 2-core machine.
    env = _env(tmp_path, DEVICE_SUITE_STEPS="info")
    result = _run_suite(env, "--tiny", timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    summary = _summary(tmp_path)
    assert summary["all_passed"] is True and list(summary["steps"]) == ["info"]
    with open(tmp_path / "out" / summary["steps"]["info"]["output"]) as f:
        info = json.load(f)
    assert info["backend"] == "jax" and "tensorflow" not in info["versions"]
    assert info["results"]["environment"]["KERAS_BACKEND"] == "jax"


@pytest.mark.large
def test_tiny_suite_end_to_end(tmp_path):
    # 35 minutes on the loaded 2-core machine, not seconds: JAX compiles every
    # program it runs, even on a CPU (the suite's tiny mode shares a
    # compilation cache between its steps). Kept out of CI (`-m large`); the
    # info step above runs the set-up end to end there.
    result = _run_suite(_env(tmp_path), "--tiny", timeout=3600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-6000:]
    assert "== all passed" in result.stdout
    out = tmp_path / "out"

    summary = _summary(tmp_path)
    assert summary["all_passed"] is True
    assert list(summary["steps"]) == list(STEPS)
    assert all(s["status"] == "passed" for s in summary["steps"].values())
    assert summary["backend"] == "jax" and summary["device"] == "cpu"

    reports = {}
    for name, step in summary["steps"].items():
        with open(out / step["output"]) as f:
            reports[name] = json.load(f)
        for key in ("benchmark", "command", "machine", "backend", "device"):
            assert key in reports[name], (name, key)
        assert reports[name]["backend"] == "jax"
        assert "tensorflow" not in reports[name]["versions"]

    info = reports["info"]["results"]
    assert info["jax_devices"][0]["platform"] == "cpu"
    assert info["environment"]["KERAS_BACKEND"] == "jax"

    for name in ("trial_overhead", "trial_overhead_xla"):
        time_part = reports[name]["results"]["time"]
        assert time_part["genotypes"] == len(time_part["trials"]) == 1
        assert time_part["summary"]["fit_s"]["median"] > 0
        assert summary["steps"][name]["figures"]["median_fit_s"] > 0
    assert reports["trial_overhead_xla"]["settings"]["jit_compile"] == "on"

    workers = reports["workers"]
    assert workers["complete"] is True and workers["failed_worker_counts"] == []
    assert set(workers["results"]) == {"1", "2"}
    for record in workers["results"].values():
        assert record["trials"] == record["completed_trials"] == 1
        assert record["trials_per_hour"] > 0
    assert workers["results"]["1"]["speedup"] == 1.0

    throughput = reports["throughput"]
    assert set(throughput["results"]) == {"ours_mobile", "keras_mobile"}
    for record in throughput["results"].values():
        assert record["images_per_s"] > 0 and record["inference_images_per_s"] > 0
    assert throughput["ratio_ours_over_keras"] > 0
    assert throughput["inference_ratio_ours_over_keras"] > 0
    assert len(throughput["inference_ratio_each"]) == 2

    quality = reports["search_quality"]
    assert quality["complete"] is True
    assert set(quality["runs"]) == {"evolution", "random"}
    for by_seed in quality["runs"].values():
        assert set(by_seed) == {"0", "1"}
    assert (out / "search_quality_tiny.md").exists()

    assert _leftover_processes(tmp_path) == []
