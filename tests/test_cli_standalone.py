"""End-to-end tests of the `keras-nasnet` command that need no shared search:
the processes themselves (a search killed mid-run, a chain of processes,
`--help` without Keras) and train -> export.

Apart from tests/test_cli.py (whose tests share one search) so that the two
pytest workers of `make test` (`--dist loadfile`) can share the CLI's tests.
"""

import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from tests.test_cli import DATA_DIR, TINY, _run, _trial_scores


@pytest.mark.slow
def test_search_killed_mid_run_resumes(tmp_path, capsys):
    # The killed search is a process of its own (SIGKILL is the point); the
    # resume reads what it left, as a rerun of the command would, here.
    directory = str(tmp_path / "killed")
    search = [
        "search",
        "--strategy",
        "evolution",
        "--max-trials",
        "2",
        "--population-size",
        "1",
        "--sample-size",
        "1",
        "--directory",
        directory,
        *TINY,
    ]
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "keras_nasnet.cli", *search],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    deadline = time.time() + 240
    try:
        for line in proc.stdout:
            if "1/2 done" in line:
                break
            assert time.time() < deadline, "no trial finished in time"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(timeout=30)
        proc.stdout.close()
    finished = {
        k: v for k, v in _trial_scores(directory).items() if v[0] == "COMPLETED"
    }
    assert len(finished) >= 1
    code, out, err = _run(search + ["--resume"], capsys)
    assert code == 0, out + err
    after = _trial_scores(directory)
    completed = [k for k, v in after.items() if v[0] == "COMPLETED"]
    assert len(completed) >= 2
    assert {k: after[k] for k in finished} == finished


@pytest.mark.slow
def test_train_and_export_serve_the_same_predictions(tmp_path, capsys):
    import keras
    import tensorflow as tf

    import keras_nasnet.models  # noqa: F401
    from keras_nasnet import data

    # One block per cell (a sep conv, identity and both pools): the same
    # train -> export -> serve path as NASNet-A's ten blocks, at a fraction of
    # the tracing. (The CLI's lookup of a published name, `nasnet_a`, is
    # `show nasnet_a`'s in test_existing_outputs_are_never_modified.)
    output = str(tmp_path / "small.keras")
    code, out, err = _run(
        [
            "train",
            "normal: sep_conv_3x3(0) + identity(1); "
            "reduction: max_pool_3x3(0) + avg_pool_3x3(1)",
            "--data-dir",
            DATA_DIR,
            "--cells-per-stack",
            "1",
            "--filters",
            "4",
            "--epochs",
            "1",
            "--batch-size",
            "64",
            "--train-images",
            "64",
            "--eager",
            "--output",
            output,
        ],
        capsys,
    )
    assert code == 0, err
    assert "1 epochs x 1 steps of 64 images (1 training steps)" in out
    assert "[train] epoch 1/1  " in out and "eta 0m00s" in out
    assert "test accuracy" in out
    assert os.path.isfile(output)
    saved = str(tmp_path / "served")
    code, out, err = _run(["export", output, "--saved-model", saved], capsys)
    assert code == 0, err
    model = keras.saving.load_model(output)
    x = data.load("fashion_mnist", data_dir=DATA_DIR, validation_size=0).test[0][:8]
    expected = np.asarray(model.predict(x, verbose=0))
    served = tf.saved_model.load(saved)
    got = served.signatures["serving_default"](tf.constant(x))
    got = np.asarray(next(iter(got.values())))
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_help_imports_neither_keras_nor_tensorflow():
    result = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, contextlib, io\n"
            "from keras_nasnet import cli\n"
            "for command in ('search', 'train', 'export', 'show', 'report'):\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n"
            "            cli.main([command, '--help'])\n"
            "        except SystemExit:\n"
            "            pass\n"
            "print(sorted({'keras', 'tensorflow', 'keras_tuner', 'jax'} & set(sys.modules)))",
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


@pytest.mark.slow
def test_a_search_runs_as_a_chain_of_processes(tmp_path):
    # --trials-per-process: each process runs that many trials and hands
    # over to a fresh one (TensorFlow keeps memory per traced child); the
    # chain ends with the whole search, as one process would, and the first
    # process prints every process's progress.
    directory = str(tmp_path / "chain")
    env = dict(os.environ)
    env.pop("TF_CPP_MIN_LOG_LEVEL", None)  # as a user runs it
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "keras_nasnet.cli",
            "search",
            "--strategy",
            "evolution",
            "--max-trials",
            "2",
            "--population-size",
            "2",
            "--sample-size",
            "1",
            "--trials-per-process",
            "1",
            "--directory",
            directory,
            *TINY,
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    out = result.stdout
    assert out.count("going on in a fresh one") == 1
    assert out.count("trials to run") == 1  # one header, not one per process
    assert "[search] trial 0 completed" in out and "1/2 done" in out
    assert "[search] trial 1 completed" in out and "2/2 done" in out
    assert "[search] best genotype" in out
    scores = _trial_scores(directory)
    assert len(scores) == 2
    assert all(status == "COMPLETED" for status, _ in scores.values())
    # TensorFlow's start-up lines (each printed twice by two of its native
    # libraries, in each of the two processes) are gone; nothing else is.
    for noise in ("absl::InitializeLog", "cudart_stub", "cuInit", "cpu_feature_guard"):
        assert noise not in result.stderr, result.stderr[-3000:]
