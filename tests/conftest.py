"""Fixtures shared by the test modules.

- `FASHION_DIR`: the committed real subset of Fashion-MNIST (IDX files made by
  `tests/data/make_subset.py`), so tests load real images offline.
- `fashion`: loads that subset as `(train, validation)` array pairs, cached
  per size for the whole session (loading is cheap, but dozens of tests ask).
- `run_benchmark`: runs a script of `benchmarks/` in a fresh Python process
  and returns its report.
- `run_benchmark_in_process`: the same through the script's `main(argv)` in
  the test's own process (no `import tensorflow` to pay again).
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
    return _read_report(name, output)


def _read_report(name, output):
    """The report a benchmark wrote to `output`, once its header is checked."""
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


@pytest.fixture
def run_benchmark_in_process(monkeypatch):
    """`run_benchmark_in_process(name, args, tmp_path)`: what `run_benchmark`
    checks and returns, but calling `benchmarks/<name>.py`'s `main(argv)` in
    this process, from `tmp_path`, with `sys.argv` set as the script would
    see it. For scripts whose process is not what the test checks: a fresh
    interpreter costs about 10 CPU-seconds of `import tensorflow`.

    What a script may change for the whole process is put back: `sys.path`
    (the scripts import their siblings), `sys.argv`, the working directory,
    the environment (also what a module sets when imported) and Keras's
    global dtype policy. A script that sets anything else process-wide (the
    TensorFlow thread pools: `training.configure_tensorflow(threads=...)`)
    must keep its own process."""
    import importlib

    import keras

    def run(name, args, tmp_path):
        output = os.path.join(str(tmp_path), f"{name}.json")
        script = os.path.join(REPO_DIR, "benchmarks", f"{name}.py")
        argv = [*args, "--output", output]
        monkeypatch.syspath_prepend(os.path.dirname(script))
        monkeypatch.setattr(sys, "argv", [script, *argv])
        monkeypatch.chdir(tmp_path)
        environ = dict(os.environ)
        policy = keras.config.dtype_policy()
        try:
            status = importlib.import_module(name).main(argv)
        finally:
            keras.config.set_dtype_policy(policy)
            for key in set(os.environ) - set(environ):
                del os.environ[key]
            os.environ.update(environ)
        assert status in (None, 0), status
        return _read_report(name, output)

    return run
