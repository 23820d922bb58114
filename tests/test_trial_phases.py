"""Where a trial's time goes: `tuner_plugins.phases`, the CLI's trial line and
the report's phase table."""

import gc
import glob
import io
import json
import os
import re

import pytest

from keras_nasnet import progress, report, workflow
from keras_nasnet._phases import PHASES, metric_name
from tuner_plugins import phases as phases_lib

FASHION_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")


def _settings(**changes):
    return workflow.SearchSettings(
        data_dir=FASHION_DIR,
        cells_per_stack=1,
        filters=4,
        num_blocks=1,
        train_images=64,
        validation_images=32,
        batch_size=32,
        **changes,
    )


def _metrics(directory, trial_id):
    with open(os.path.join(directory, f"trial_{trial_id}", "trial.json")) as f:
        return json.load(f)["metrics"]["metrics"]


def _metric(directory, trial_id, name):
    """The last value of metric `name` in `trial_<id>/trial.json`."""
    return _metrics(directory, trial_id)[name]["observations"][-1]["value"][0]


def _trial_seconds(directory, trial_id):
    """`{phase: seconds}` from the metrics of `trial_<id>/trial.json`."""
    metrics = _metrics(directory, trial_id)
    return {
        phase: _metric(directory, trial_id, metric_name(phase))
        for phase in PHASES
        if metric_name(phase) in metrics
    }


def _check_phases(seconds):
    assert set(seconds) == set(PHASES)
    assert all(value >= 0 for value in seconds.values())
    parts = sum(value for phase, value in seconds.items() if phase != "total")
    # Rounded to 0.1 ms each.
    assert parts <= seconds["total"] + 1e-3
    assert seconds["build"] > 0 and seconds["train"] > 0 and seconds["save"] > 0


def test_the_timer_splits_a_fit_into_trace_train_validation_and_save(monkeypatch):
    now = [0.0]
    monkeypatch.setattr(phases_lib, "_clock", lambda: now[0])
    timer = phases_lib.PhaseTimer()

    def at(t, event, *args):
        now[0] = t
        getattr(timer, event)(*args)

    at(0.0, "on_train_begin")
    begin = 0.0
    for epoch in range(2):
        at(begin, "on_epoch_begin", epoch)
        # Steps of 2 s; the first step of the run also traces for 10 s.
        first = 12.0 if epoch == 0 else 2.0
        ends = [begin + first + 2.0 * i for i in range(3)]
        for step, t in enumerate(ends):
            at(t, "on_train_batch_end", step)
        # Validation from the last step: batches of 1 s, the first of the
        # run also traces for 5 s.
        at(ends[-1] + 0.5, "on_test_begin")
        test_first = 6.0 if epoch == 0 else 1.0
        at(ends[-1] + test_first, "on_test_batch_end", 0)
        at(ends[-1] + test_first + 1.0, "on_test_batch_end", 1)
        at(ends[-1] + test_first + 1.5, "on_test_end")
        # The callbacks after the timer (a checkpoint) take 3 s.
        at(ends[-1] + test_first + 1.5, "on_epoch_end", epoch)
        begin = ends[-1] + test_first + 4.5
    at(begin, "on_train_end")
    split = timer.phases()
    assert split["trace"] == pytest.approx(10.0 + 5.0)
    assert split["train"] == pytest.approx(2 * 3 * 2.0)
    # 2 passes of 2 batches and 0.5 s of set-up each.
    assert split["validation"] == pytest.approx(2 * (2 * 1.0 + 0.5))
    assert split["save"] == pytest.approx(2 * 3.0)
    assert sum(split.values()) == pytest.approx(begin)


def test_the_trial_line_shows_the_training_share():
    stream = io.StringIO()
    phases = dict.fromkeys(PHASES, 1.0) | {"train": 25.83, "total": 41.0}
    progress.PrintProgress(stream).on_trial_end(
        progress.TrialEnd(
            trial_id="02", status="COMPLETED", score=0.5, best_trial_id="02",
            best_score=0.5, done=3, max_trials=20, seconds=41.0, start_time=0.0,
            end_time=41.0, objective="val_accuracy", phases=phases,
        )
    )  # fmt: skip
    assert "best 0.5000 (trial 02)  41 s (train 63%)  3/20 done" in stream.getvalue()
    assert progress.training_share(phases) == pytest.approx(25.83 / 41.0)
    # A tuner that does not record phases: no share, and no error.
    assert progress.training_share(None) is None


@pytest.mark.slow
def test_search_trials_record_phases_that_survive_resume_and_reach_the_report(
    tmp_path, unfrozen_heap
):
    directory = str(tmp_path / "s")
    stream = io.StringIO()
    workflow.search(
        _settings(max_trials=1), directory, progress=stream, run_eagerly=True
    )
    # The libraries' objects were frozen for the garbage collector during
    # the search only.
    assert gc.get_freeze_count() == 0
    first = _trial_seconds(directory, "0")
    _check_phases(first)
    # The first trial of the process paid for the data; the line its share.
    assert first["data"] > 0
    line = next(x for x in stream.getvalue().splitlines() if "trial 0 " in x)
    share = round(100 * first["train"] / first["total"])
    assert f"{first['total']:.0f} s (train {share}%)" in line

    result = workflow.search(
        _settings(max_trials=2), directory, resume=True, progress=False,
        run_eagerly=True,
    )  # fmt: skip
    assert _trial_seconds(directory, "0") == first
    # The workflow writes no per-epoch weight checkpoint (a resume reruns a
    # trial from scratch).
    assert not glob.glob(os.path.join(directory, "trial_*", "checkpoint*"))
    second = _trial_seconds(directory, "1")
    _check_phases(second)
    # Data were prepared once, before trial 1 of this process.
    assert second["data"] > 0 and result.done == 2
    # The phases are never the objective: each score is the trial's
    # val_accuracy, and the best trial the best by it.
    accuracies = [_metric(directory, t, "val_accuracy") for t in ("0", "1")]
    search = report.load_search(directory)
    assert [r.score for r in search.records] == pytest.approx(accuracies)
    assert result.best_trials(1)[0].score == pytest.approx(max(accuracies))
    assert [r.seconds for r in search.records] == [first, second]
    page = tmp_path / "report.md"
    report.write_report(directory, page, top_k=1)
    text = page.read_text()
    header = "| Trial | Status | Score | " + " | ".join(PHASES) + " |"
    assert header in text
    total_row = next(x for x in text.splitlines() if x.startswith("| all trials"))
    train = first["train"] + second["train"]
    share = train / (first["total"] + second["total"])
    assert f"{report.format_duration(train)} ({share:.0%})" in total_row


@pytest.mark.slow
@pytest.mark.parametrize("strategy", ["random", "bayesian"])
def test_keras_tuner_tuners_through_the_workflow_record_phases(strategy, tmp_path):
    directory = str(tmp_path / strategy)
    workflow.search(
        _settings(strategy=strategy, max_trials=1),
        directory,
        progress=False,
        run_eagerly=True,
    )
    _check_phases(_trial_seconds(directory, "0"))


@pytest.mark.slow
def test_nas_tuner_from_python_records_phases(fashion, tmp_path):
    from tuner_plugins import NASNetHyperModel, NASTuner

    (x, y), validation = fashion(32, 16)
    tuner = NASTuner(
        NASNetHyperModel(
            num_classes=10, input_shape=(28, 28, 1), num_blocks=1,
            cells_per_stack=1, filters=4, run_eagerly=True,
        ),
        strategy="evolution", objective="val_accuracy", max_trials=1, seed=1,
        population_size=2, sample_size=1, directory=str(tmp_path),
        project_name="p",
    )  # fmt: skip
    tuner.search(x, y, validation_data=validation, epochs=1, batch_size=16, verbose=0)
    trial = tuner.oracle.get_best_trials(1)[0]
    seconds = _trial_seconds(str(tmp_path / "p"), trial.trial_id)
    _check_phases(seconds)
    # No data phase outside the workflow unless told.
    assert seconds["data"] == 0
    assert tuner.trial_phases(trial.trial_id) == pytest.approx(seconds, abs=1e-4)
    assert trial.score == trial.metrics.get_best_value("val_accuracy")
    assert re.fullmatch(r"\d+", trial.trial_id)


@pytest.mark.slow
def test_trial_overhead_measures_the_phases_through_a_search(
    run_benchmark_in_process, tmp_path
):
    result = run_benchmark_in_process(
        "trial_overhead",
        ["--data-dir", FASHION_DIR, "--genotypes", "0", "--memory-trials", "0",
         "--search-trials", "1", "--search-train-images", "64",
         "--search-validation-images", "32", "--cells-per-stack", "1",
         "--filters", "4", "--num-blocks", "1", "--batch-size", "32",
         "--run-eagerly"],
        tmp_path,
    )["results"]["search"]  # fmt: skip
    assert result["trials"] == 1
    # The size flags reach the search's children.
    sizes = ("cells_per_stack", "filters", "num_blocks", "batch_size")
    assert [result["settings"][k] for k in sizes] == [1, 4, 1, 32]
    (row,) = result["per_trial"]
    sums = result["phase_sums_s"]
    assert set(sums) == set(PHASES)
    assert sums["total"] == pytest.approx(row["total"], abs=0.01)
    assert result["non_training_share"] == pytest.approx(
        1 - sums["train"] / sums["total"], abs=1e-3
    )
    assert result["process_start_s"] > 0 and row["gc_pauses"] >= 0
