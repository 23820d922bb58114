"""Fixtures shared by the test modules.

- `FASHION_DIR`: the committed real subset of Fashion-MNIST (IDX files made by
  `tests/data/make_subset.py`), so tests load real images offline.
- `fashion`: loads that subset as `(train, validation)` array pairs, cached
  per size for the whole session (loading is cheap, but dozens of tests ask).
- `run_benchmark`: runs a script of `benchmarks/` in a fresh Python process
  and returns its report.
"""

import functools
import json
import os
import subprocess
import sys

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
REPO_DIR = os.path.dirname(TESTS_DIR)
DATA_DIR = os.path.join(TESTS_DIR, "data")
FASHION_DIR = os.path.join(DATA_DIR, "fashion-mnist")


@functools.cache
def _fashion(subset, validation_size):
    from keras_nasnet import data

    splits = data.load(
        "fashion_mnist",
        data_dir=FASHION_DIR,
        validation_size=validation_size,
        subset=subset,
        download=False,
    )
    return splits.train, splits.validation


@pytest.fixture(scope="session")
def fashion():
    """`fashion(subset, validation_size)` -> `((x, y), (x_val, y_val))`."""
    return _fashion


def _run_benchmark(name, args, tmp_path):
    output = os.path.join(str(tmp_path), f"{name}.json")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    env["PYTHONPATH"] = os.pathsep.join(
        [REPO_DIR, *filter(None, [os.environ.get("PYTHONPATH")])]
    )
    script = os.path.join(REPO_DIR, "benchmarks", f"{name}.py")
    result = subprocess.run(
        [sys.executable, script, *args, "--output", output],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-4000:]
    with open(output) as f:
        report = json.load(f)
    for key in ("benchmark", "command", "machine", "backend", "device", "versions"):
        assert key in report, key
    assert report["benchmark"] == name
    return report


@pytest.fixture
def run_benchmark():
    """`run_benchmark(name, args, tmp_path)` runs `benchmarks/<name>.py` with
    `args` and `--output tmp_path/<name>.json`, checks that it exits 0 and
    that its report has the header every benchmark writes (under its own
    name), and returns the report."""
    return _run_benchmark


def pytest_collection_modifyitems(config, items):
    """Tests marked `large` run only when `-m` names them (`-m large`): they
    take tens of minutes, beyond CI's 10-minute budget for the suite."""
    if "large" in (config.getoption("markexpr") or ""):
        return
    skip = pytest.mark.skip(reason="large: run with -m large")
    for item in items:
        if "large" in item.keywords:
            item.add_marker(skip)


def pytest_collection_finish(session):
    """Once every test module is imported (TensorFlow, Keras and keras-tuner
    with them), their objects are frozen for the garbage collector.

    keras-tuner collects garbage before building each trial's model and a
    full collection walks the hundreds of thousands of objects those imports
    made, about 0.4 CPU-s each time: what `keras-nasnet search` avoids with
    `_workflow_keras.frozen_heap`, the tests avoid for the whole session.
    Objects the tests make are collected as before.
    """
    import gc

    gc.collect()
    gc.freeze()


@pytest.fixture
def unfrozen_heap():
    """Puts the session's `gc.freeze()` (above) aside for one test that
    checks what freezes the heap, and restores it after."""
    import gc

    gc.unfreeze()
    yield
    gc.collect()
    gc.freeze()
