"""Failing trials end FAILED with their reason, and the search goes on.

Tiny real searches (16 Fashion-MNIST images, one cell per stack, 4 filters,
two-block cells, one eager step) whose children diverge, run out of memory or
fail to build on purpose.
"""

import json
import os

import keras
import keras_tuner
import numpy as np
import pytest
import tensorflow as tf

from keras_nasnet import cli, data
from tuner_plugins import (
    AgingEvolution,
    NASNetHyperModel,
    TooManyFailedTrialsError,
    TrialFailureMixin,
    failure_reason,
    failures,
)

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")
_FAILED = keras_tuner.engine.trial.TrialStatus.FAILED
_COMPLETED = keras_tuner.engine.trial.TrialStatus.COMPLETED


@pytest.fixture(scope="module")
def fashion():
    splits = data.load(
        "fashion_mnist", data_dir=DATA_DIR, validation_size=16, subset=16
    )
    return splits.train, splits.validation


class _FailingHyperModel(NASNetHyperModel):
    """Fails the trials whose 0-based build number is in `fail_at`, with `how`."""

    def __init__(self, how, fail_at=(0,)):
        super().__init__(
            num_classes=10,
            input_shape=(28, 28, 1),
            num_blocks=2,
            cells_per_stack=1,
            filters=4,
            run_eagerly=True,
        )
        self.how = how
        self.fail_at = set(fail_at)
        self.builds = 0
        self.armed = False  # keras-tuner builds it once to read the space

    def build(self, hp):
        self.failing = self.armed and self.builds in self.fail_at
        self.builds += self.armed
        if self.failing and self.how == "build":
            raise ValueError("no such cell: conv_9x9")
        model = super().build(hp)
        if self.failing and self.how == "nan":
            # A child that diverges: every loss is NaN.
            model.compile(
                optimizer="sgd",
                loss=lambda y, p: keras.ops.mean(p) * np.float32("nan"),
                run_eagerly=True,
            )
        return model

    def fit(self, hp, model, *args, **kwargs):
        if self.failing and self.how == "oom":
            raise tf.errors.ResourceExhaustedError(
                None, None, "OOM when allocating tensor with shape[64,32,28,28]"
            )
        return super().fit(hp, model, *args, **kwargs)


def _tuner(tmp_path, hypermodel, max_trials, **kwargs):
    tuner = AgingEvolution(
        hypermodel,
        objective="val_accuracy",
        max_trials=max_trials,
        population_size=2,
        sample_size=2,
        seed=0,
        directory=tmp_path,
        project_name="search",
        **kwargs,
    )
    hypermodel.armed = True
    return tuner


def _search(tuner, fashion):
    (x, y), validation = fashion
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)


def _by_id(tuner):
    return [tuner.oracle.trials[k] for k in sorted(tuner.oracle.trials)]


def _trial_json(tmp_path, trial):
    with open(tmp_path / "search" / f"trial_{trial.trial_id}" / "trial.json") as f:
        return json.load(f)


class _MixedFailures(_FailingHyperModel):
    """Trial 0 diverges, trial 1 runs out of memory, trial 2 fails to build."""

    def __init__(self):
        super().__init__(how=None, fail_at=(0, 1, 2))

    def build(self, hp):
        self.how = {0: "nan", 1: "oom", 2: "build"}.get(self.builds)
        return super().build(hp)


@pytest.mark.slow
def test_failing_children_are_failed_with_their_reasons_and_the_search_goes_on(
    tmp_path, fashion
):
    hypermodel = _MixedFailures()
    tuner = _tuner(
        tmp_path,
        hypermodel,
        max_trials=4,
        max_consecutive_failed_trials=4,
        max_retries_per_trial=2,
    )
    _search(tuner, fashion)
    trials = _by_id(tuner)
    assert [t.status for t in trials] == [_FAILED] * 3 + [_COMPLETED]
    # Deterministic failures are not retried: one build per trial.
    assert hypermodel.builds == 4
    nan, oom, build = (failure_reason(t) for t in trials[:3])
    assert nan.startswith("Training diverged: the loss became NaN at epoch 1, batch 1")
    assert oom.startswith("Out of memory while training the model (")
    assert "parameters, cells_per_stack=1, filters=4, batch_size=16)" in oom
    assert "OOM when allocating tensor" in oom
    assert build == "The model failed to build: ValueError: no such cell: conv_9x9"
    # The reasons are in trial.json too, for reports and resumed searches.
    for trial, reason in zip(trials, (nan, oom, build), strict=False):
        saved = _trial_json(tmp_path, trial)
        assert saved["status"] == "FAILED" and reason[:60] in saved["message"]


def test_three_failures_in_a_row_stop_the_search_with_their_reasons(tmp_path, fashion):
    tuner = _tuner(
        tmp_path, _FailingHyperModel("build", fail_at=(0, 1, 2)), max_trials=5
    )
    with pytest.raises(TooManyFailedTrialsError) as info:
        _search(tuner, fashion)
    message = str(info.value)
    assert "3 trials failed in a row" in message
    assert message.count("no such cell: conv_9x9") == 3
    assert [tid for tid, _ in info.value.reasons] == sorted(tuner.oracle.trials)
    assert isinstance(info.value, RuntimeError)
    assert len(tuner.oracle.trials) == 3


def test_the_mixin_works_with_keras_tuners_own_tuners(tmp_path, fashion):
    class RandomSearch(TrialFailureMixin, keras_tuner.RandomSearch):
        pass

    hypermodel = _FailingHyperModel("build", fail_at=(0, 1))
    tuner = RandomSearch(
        hypermodel,
        objective="val_accuracy",
        max_trials=2,
        max_consecutive_failed_trials=2,
        seed=0,
        directory=tmp_path,
        project_name="search",
    )
    hypermodel.armed = True
    with pytest.raises(TooManyFailedTrialsError, match="conv_9x9"):
        _search(tuner, fashion)


@pytest.mark.parametrize(
    "error, expected",
    [
        (tf.errors.ResourceExhaustedError(None, None, "OOM when allocating"), True),
        (
            RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate"),
            True,
        ),
        (RuntimeError("CUDA out of memory. Tried to allocate 2.00 GiB"), True),
        (MemoryError(), True),
        (type("OutOfMemoryError", (RuntimeError,), {})("boom"), True),
        (ValueError("Unknown op 'zoom_3x3'"), False),
        (RuntimeError("NaN in the room"), False),
    ],
)
def test_is_out_of_memory(error, expected):
    assert failures.is_out_of_memory(error) is expected
    try:
        try:
            raise error
        except Exception as e:
            raise RuntimeError("while training") from e
    except RuntimeError as wrapped:
        assert failures.is_out_of_memory(wrapped) is expected


def test_failure_reason_reads_keras_tuner_messages():
    assert failure_reason("") == ""
    assert failure_reason("plain text\nsecond line") == "plain text second line"
    chained = (
        "Traceback (most recent call last):\n"
        '  File "a.py", line 1, in f\n'
        "    g()\n"
        "    ^^^\n"
        "ValueError: first\n"
        "\nThe above exception was the direct cause of the following exception:\n\n"
        "Traceback (most recent call last):\n"
        '  File "b.py", line 2, in h\n'
        "keras_tuner.src.errors.FailedTrialError: the reason\nspans lines\n"
    )
    assert failure_reason(chained) == "the reason spans lines"
    assert failure_reason(
        chained.replace("keras_tuner.src.errors.FailedTrialError", "KeyError")
    ) == ("KeyError: the reason spans lines")
    assert len(failure_reason("x" * 1000)) == 300


def test_cli_prints_failed_trials_and_exits_2_with_the_reasons(
    tmp_path, capsys, monkeypatch
):
    def fail(self, hp, model, *args, **kwargs):
        raise tf.errors.ResourceExhaustedError(None, None, "OOM when allocating tensor")

    monkeypatch.setattr(NASNetHyperModel, "fit", fail)
    directory = str(tmp_path / "s")
    code = cli.main(
        [
            "search",
            "--data-dir",
            DATA_DIR,
            "--num-blocks",
            "2",
            "--cells-per-stack",
            "1",
            "--filters",
            "4",
            "--train-images",
            "16",
            "--validation-images",
            "16",
            "--batch-size",
            "16",
            "--eager",
            "--max-trials",
            "5",
            "--directory",
            directory,
        ]
    )
    out, err = capsys.readouterr()
    assert code == 2
    for n in (1, 2, 3):
        assert f"[search] trial {n - 1} failed" in out and f"{n}/5 done" in out
    assert out.count("reason: Out of memory while training") == 3
    assert len(err.strip().splitlines()) == 1
    assert (
        "3 failed trials in a row" in err
        and err.count("OOM when allocating tensor") == 3
    )
    # The failed trials are saved: the search can be resumed after a fix.
    assert os.path.isfile(os.path.join(directory, "search.json"))
