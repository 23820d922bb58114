"""Fixtures shared by the test modules.

- `FASHION_DIR`: the committed real subset of Fashion-MNIST (IDX files made by
  `tests/data/make_subset.py`), so tests load real images offline.
- `fashion`: loads that subset as `(train, validation)` array pairs, cached
  per size for the whole session (loading is cheap, but dozens of tests ask).
- `run_benchmark_in_process`: runs a script of `benchmarks/` through its
  `main(argv)` in the test's own process (no `import tensorflow` to pay
  again) and returns its report.
- `unfrozen_heap`: puts aside the session's `gc.freeze()` (made once the
  test modules are imported) for a test that checks what freezes the heap.
- `pytest_configure` gives every JAX process the session starts (distributed
  workers, resumed chains, fresh-import checks) one shared XLA compilation
  cache, compiled at XLA's lowest optimization level (see there).
"""

import collections
import functools
import json
import os
import shutil
import sys
import tempfile

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


def _read_report(name, output):
    """The report a benchmark wrote to `output`, once its header is checked."""
    with open(output) as f:
        report = json.load(f)
    for key in ("benchmark", "command", "machine", "backend", "device", "versions"):
        assert key in report, key
    assert report["benchmark"] == name
    return report


# Set by `pytest_configure` in the process that made the cache directory.
_JAX_CACHE_OWNER = "_KERAS_NASNET_TESTS_JAX_CACHE"


def pytest_configure(config):
    """pytest-xdist keeps the order of `pytest_collection_modifyitems`, and
    every JAX process of the session (the tests start about a dozen: the
    distributed chief and workers, killed and resumed searches, first-import
    checks, the JAX fit) shares one XLA compilation cache, and XLA compiles
    at its lowest optimization level.

    On JAX, Keras initializes each variable with a `jax.random` program
    compiled for its shape, and a train step is one more program: the JAX
    fit of a tiny NASNet compiled 62 programs, 47 of its 62 CPU-seconds on
    this machine. The processes of one search build the same shapes, so a
    cache shared through the environment (which the test processes, xdist's
    workers and their children inherit) compiles each once per session;
    `--xla_backend_optimization_level=0` halves what is compiled. Neither
    changes what a program computes. A user's own `JAX_COMPILATION_CACHE_DIR`
    or `XLA_FLAGS` is left as it is."""
    # `--dist loadfile` hands files out in the order the tests are collected
    # (`pytest_collection_modifyitems` below), not pytest-xdist's default of
    # the files with the most tests first. The controller schedules; the
    # workers get the same setting, which tests/test_suite_order.py reads.
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False
    if hasattr(config, "workerinput"):
        return  # an xdist worker: it inherited the controller's environment
    if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
        cache = tempfile.mkdtemp(prefix="keras-nasnet-tests-jax-cache-")
        os.environ["JAX_COMPILATION_CACHE_DIR"] = cache
        os.environ[_JAX_CACHE_OWNER] = cache
        # Cache every program, however quick to compile or small.
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
        os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    os.environ.setdefault("XLA_FLAGS", "--xla_backend_optimization_level=0")


def pytest_unconfigure(config):
    cache = os.environ.get(_JAX_CACHE_OWNER)
    if cache and not hasattr(config, "workerinput"):
        shutil.rmtree(cache, ignore_errors=True)


def _file_seconds():
    """Each file's seconds in a measured run (tests/file_seconds.py)."""
    try:
        with open(os.path.join(TESTS_DIR, "file_seconds.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def pytest_collection_modifyitems(config, items):
    """Tests marked `large` run only when `-m` names them (`-m large`): they
    take tens of minutes, beyond CI's 10-minute budget for the suite.

    The longest files run first (each file's tests stay together and in
    order): `pytest -n 2 --dist loadfile` hands files to its workers in this
    order, and a long file handed out last leaves the other worker idle
    while it runs (longest first, the workers end within about the shortest
    files' time of each other). A file's length is its seconds in the run
    recorded in tests/file_seconds.json; a file not recorded there counts
    10 s per test marked `slow`. The order changes no result."""
    seconds = _file_seconds()
    slow = collections.Counter(item.path for item in items if "slow" in item.keywords)
    first = {}
    for index, item in enumerate(items):
        first.setdefault(item.path, index)

    def length(item):
        path = item.nodeid.split("::", 1)[0]
        return seconds.get(path, 10.0 * slow[item.path])

    items.sort(key=lambda item: (-length(item), first[item.path]))
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
    _freeze_heap()


def _freeze_heap():
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
    _freeze_heap()


@pytest.fixture
def run_benchmark_in_process(monkeypatch):
    """`run_benchmark_in_process(name, args, tmp_path)` calls
    `benchmarks/<name>.py`'s `main(argv)` (argv: `args` and `--output
    tmp_path/<name>.json`) in this process, from `tmp_path`, with `sys.argv`
    set as the script would see it; checks that it returns 0 (or None) and
    that its report has the header every benchmark writes (under its own
    name), and returns the report. For scripts whose process is not what
    the test checks: a fresh interpreter costs about 10 CPU-seconds of
    `import tensorflow`.

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
