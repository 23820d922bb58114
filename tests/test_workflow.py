"""The search workflow as a library: `keras_nasnet.workflow` and `keras_nasnet.progress`."""

import io
import json
import os
import pathlib
import re

import numpy as np
import pytest

from keras_nasnet import progress, workflow
from keras_nasnet.workflow import SearchError, SearchSettings

FASHION_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")

# The old CLI's search.json (before SearchSettings): every strategy's options
# as flat keys, whatever the strategy.
VERSION_1 = {
    "batch_size": 64,
    "cells_per_stack": 1,
    "controller_batch_size": 5,
    "controller_learning_rate": 0.0035,
    "data_dir": None,
    "dataset": "fashion_mnist",
    "drop_path_keep_prob": 1.0,
    "epochs": 1,
    "filters": 8,
    "input_shape": [28, 28, 1],
    "learning_rate": 0.05,
    "max_trials": 6,
    "num_blocks": 5,
    "num_classes": 10,
    "ops": "nasnet",
    "population_size": 3,
    "sample_size": 2,
    "search_combine": False,
    "seed": 0,
    "strategy": "evolution",
    "train_images": 2000,
    "validation_images": 500,
}


@pytest.mark.parametrize(
    "name,value",
    [
        ("strategy", "grid"),
        ("max_trials", 0),
        ("filters", 1),
        ("epochs", 2.5),
        ("seed", -1),
        ("learning_rate", float("nan")),
        ("drop_path_keep_prob", 0.0),
        ("direction", "up"),
        # A typo is not taken for a metric name (no trial would record it).
        ("objective", "paretto"),
        ("objective", "val_acc"),
        ("ops", "darts"),
        ("search_combine", 1),
        ("strategy_options", {"population_size": [1, 2]}),
        ("input_shape", (28, 28)),
        ("num_classes", 1),
    ],
)
def test_settings_are_validated_keras_style(name, value):
    with pytest.raises(ValueError) as e:
        SearchSettings(**{name: value})
    assert str(e.value).startswith(
        f"Invalid value received for argument `{name}`. Expected "
    )
    assert f"Received: {name}=" in str(e.value)


def test_search_and_final_settings_default_to_the_search_proxy_recipe():
    # The settings cannot import the recipe (they import no backend), so the
    # defaults are repeated there; this keeps the copies equal.
    from keras_nasnet import training

    proxy = training.SEARCH_PROXY
    for settings in (SearchSettings(), workflow.FinalSettings()):
        assert settings.batch_size == proxy.batch_size
        assert settings.learning_rate == proxy.learning_rate
        assert settings.epochs == proxy.epochs
    search = SearchSettings()
    assert (search.cells_per_stack, search.filters) == (
        proxy.cells_per_stack,
        proxy.filters,
    )


@pytest.mark.parametrize(
    "objective,direction",
    [("val_loss", "max"), ("loss", "max"), ("val_accuracy", "min"), ("pareto", "min")],
)
def test_settings_refuse_an_objective_the_wrong_way_round(objective, direction):
    with pytest.raises(ValueError, match=r"argument `direction`.*'(max|min)' with"):
        SearchSettings(objective=objective, direction=direction)


def test_settings_have_one_json_form_and_read_old_files(tmp_path):
    settings = SearchSettings(
        strategy="controller",
        strategy_options={"batch_size": 4},
        objective="val_loss",
        direction="min",
        input_shape=(28, 28, 1),
        num_classes=10,
    )
    # Options not given take the small-search ones.
    assert settings.strategy_options == {"batch_size": 4, "learning_rate": 0.0035}
    text = json.dumps(settings.to_json())
    assert SearchSettings.from_json(json.loads(text)) == settings
    # A search.json of the old CLI loads, keeping the options of its strategy.
    old = SearchSettings.from_json(VERSION_1)
    assert old.strategy_options == {"population_size": 3, "sample_size": 2}
    assert old.max_trials == 6 and old.search_combine is False
    assert old.objective == "val_accuracy" and old.direction == "max"
    # ... and one written before the controller's options existed: the paper's.
    controller = {k: v for k, v in VERSION_1.items() if not k.startswith("controller_")}
    controller["strategy"] = "controller"
    assert SearchSettings.from_json(controller).strategy_options == {
        "batch_size": 20,
        "learning_rate": 0.00035,
    }
    directory = tmp_path / "old"
    directory.mkdir()
    (directory / "search.json").write_text(json.dumps(VERSION_1))
    assert workflow.read_settings(directory) == old
    with pytest.raises(ValueError, match="config"):
        SearchSettings.from_json({**settings.to_json(), "epoch": 3})


def test_differences_count_only_what_is_given():
    stored = SearchSettings(strategy_options={"population_size": 4})
    assert stored.differences({"epochs": 1, "max_trials": 99}) == []
    assert stored.differences(
        {"epochs": 2, "strategy_options": {"population_size": 5, "sample_size": 3}}
    ) == [("epochs", 2, 1), ("strategy_options.population_size", 5, 4)]
    # A whole SearchSettings: every field but the budget and the data's shape.
    assert stored.differences(stored.replace(max_trials=50, num_classes=10)) == []
    assert stored.differences(SearchSettings()) == [
        ("strategy_options.population_size", 8, 4)
    ]


def test_search_refuses_what_would_drop_a_request(tmp_path):
    missing = tmp_path / "missing"
    with pytest.raises(SearchError, match="there is no search to resume"):
        workflow.search({"epochs": 1}, missing, resume=True, progress=False)
    assert not missing.exists()
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(SearchError, match="holds no keras-nasnet search"):
        workflow.search(None, foreign, progress=False)
    existing = tmp_path / "existing"
    existing.mkdir()
    (existing / "search.json").write_text(json.dumps(VERSION_1))
    with pytest.raises(SearchError, match="already holds a search"):
        workflow.search(None, existing, progress=False)
    with pytest.raises(SearchError) as e:
        workflow.search(
            {"strategy": "controller", "epochs": 1},
            existing,
            resume=True,
            progress=False,
        )
    assert e.value.differences == [("strategy", "controller", "evolution")]
    with pytest.raises(
        SearchError, match="Invalid value received for argument `epochs`"
    ):
        workflow.search({"epochs": 0}, tmp_path / "new", progress=False)
    with pytest.raises(ValueError, match="`settings`"):
        workflow.search({"epoch": 1}, tmp_path / "new", progress=False)
    assert sorted(os.listdir(tmp_path)) == ["existing", "foreign"]
    assert os.listdir(existing) == ["search.json"]


def _trial_end(trial_id, done, seconds, status="COMPLETED", **kwargs):
    fields = dict(
        trial_id=trial_id,
        status=status,
        score=0.5 if status == "COMPLETED" else None,
        best_trial_id="00",
        best_score=0.5,
        done=done,
        max_trials=6,
        seconds=seconds,
        start_time=0.0,
        end_time=seconds,
        objective="val_accuracy",
    )
    return progress.TrialEnd(**{**fields, **kwargs})


def test_print_progress_lines():
    stream = io.StringIO()
    printer = progress.PrintProgress(stream)
    begin = progress.SearchBegin(
        directory="runs/s", strategy="evolution", dataset="fashion_mnist",
        train_images=3000, validation_images=1000, max_trials=6, done=2,
        epochs=2, steps_per_epoch=47, batch_size=64, cells_per_stack=1,
        filters=8, num_blocks=5, objective="val_accuracy", resumed=True,
    )  # fmt: skip
    printer.on_search_begin(begin)
    printer.on_epoch_end(
        progress.EpochEnd(
            trial_id="02", epoch=1, epochs=2, steps=47, seconds=20.0, elapsed=21.0,
            logs={"loss": 2.0, "val_accuracy": 0.25},
        )
    )  # fmt: skip
    printer.on_trial_end(_trial_end("02", done=3, seconds=40.0))
    printer.on_trial_end(
        _trial_end("03", done=4, seconds=80.0, status="FAILED", reason="NaN loss")
    )
    printer.on_process_end(progress.ProcessEnd(trials=2, done=4, max_trials=6))
    printer.on_search_begin(begin)  # the next process of a chain: no new header
    lines = stream.getvalue().splitlines()
    assert lines[0] == "[search] resuming the search in runs/s: 2/6 trials done"
    assert lines[2] == (
        "[search] 4 trials to run, each 2 epochs x 47 steps of 64 images "
        "(376 training steps); results in runs/s"
    )
    assert lines[3].startswith(
        "[search]   trial 02 epoch 1/2  loss 2.0000  val_accuracy 0.2500  20.0s/epoch"
    )
    assert lines[3].endswith("eta 0m21s")  # the trial's: 21 s per epoch so far
    # keras-tuner's ids as in the folders; counts of ended trials; the ETA is
    # the mean trial time so far times the trials left: 40 s, then 60 s x 2.
    assert lines[4].startswith("[search] trial 02 completed  score 0.5000  ")
    assert "best 0.5000 (trial 00)  3/6 done" in lines[4]
    assert lines[4].endswith("eta 2m00s")
    assert lines[5].startswith("[search] trial 03 failed  score -") and lines[
        5
    ].endswith("eta 2m00s")
    assert lines[6] == (
        "[search]   reason: NaN loss (traceback in trial_03/trial.json)"
    )
    assert "going on in a fresh one" in lines[7]
    assert len(lines) == 8


def test_print_progress_with_workers_divides_the_time_left_among_them():
    stream = io.StringIO()
    printer = progress.PrintProgress(stream)
    printer.on_search_begin(
        progress.SearchBegin(
            directory="runs/s", strategy="evolution", dataset="fashion_mnist",
            train_images=3000, validation_images=1000, max_trials=6, done=0,
            epochs=1, steps_per_epoch=47, batch_size=64, cells_per_stack=1,
            filters=8, num_blocks=5, objective="val_accuracy", resumed=False,
            workers=2,
        )
    )  # fmt: skip
    printer.on_trial_end(_trial_end("00", done=1, seconds=60.0))
    lines = stream.getvalue().splitlines()
    assert lines[2] == "[search] 2 trials at a time, each in a worker process"
    # 60 s a trial, 5 trials left, 2 at a time.
    assert lines[3].endswith("1/6 done  elapsed 0m00s  eta 2m30s")


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        ({"workers": 0}, "argument `workers`. Expected an integer >= 1"),
        ({"workers": 2, "fit_callbacks": [object()]}, "Expected 1 when `splits`"),
    ],
)
def test_search_checks_its_workers_before_anything(tmp_path, kwargs, expected):
    with pytest.raises(ValueError, match=re.escape(expected)):
        workflow.search({"max_trials": 2}, tmp_path / "s", **kwargs)
    assert not (tmp_path / "s").exists()


def test_train_epoch_lines_give_the_time_left_of_the_run():
    stream = io.StringIO()
    printer = progress.PrintProgress(stream, prefix="[train]")
    printer.on_epoch_end(
        progress.EpochEnd(
            trial_id=None, epoch=3, epochs=600, steps=1563, seconds=60.0,
            elapsed=180.0, logs={"accuracy": 0.5},
        )
    )  # fmt: skip
    line = stream.getvalue().strip()
    assert line.startswith("[train] epoch 3/600  accuracy 0.5000  60.0s/epoch")
    assert line.endswith("elapsed 3m00s  eta 9h57m00s")


def test_startup_noise_is_dropped_and_nothing_else():
    # As TensorFlow 2.21 prints them on a machine without a GPU (twice).
    noise = (
        "WARNING: All log messages before absl::InitializeLog() is called are "
        "written to STDERR\n"
        "I0000 00:00:1795958478.751645    9989 cudart_stub.cc:31] Could not find "
        "cuda drivers on your machine, GPU will not be used.\n"
        "I0000 00:00:1795958536.295992   10180 cpu_feature_guard.cc:227] This "
        "TensorFlow binary is optimized to use available CPU instructions in "
        "performance-critical operations.\n"
        "To enable the following instructions: AVX2 FMA, in other operations, "
        "rebuild TensorFlow with the appropriate compiler flags.\n"
        "E0000 00:00:1795958494.539232    9989 cuda_platform.cc:52] failed call "
        "to cuInit: INTERNAL: CUDA error: Failed call to cuInit: UNKNOWN ERROR (303)\n"
    )
    kept = "ImportError: something real\nWARNING: a warning of ours\n"
    assert workflow.filter_startup_noise(noise * 2 + kept) == kept


def test_trial_seed():
    assert workflow.trial_seed(0, "01") == workflow.trial_seed(0, "01")
    seeds = {workflow.trial_seed(s, t) for s in (0, 1) for t in ("00", "01", "1")}
    assert len(seeds) == 4  # "01" and "1" are the same trial number
    assert all(0 <= s < 2**32 for s in seeds)


def _tiny_settings(**changes):
    return SearchSettings(
        num_blocks=2,
        cells_per_stack=1,
        filters=4,
        input_shape=(28, 28, 1),
        num_classes=10,
        **changes,
    )


def test_a_trial_rerun_starts_from_the_same_weights():
    import keras

    from keras_nasnet import _workflow_keras

    hypermodel = workflow.make_hypermodel(_tiny_settings(), run_eagerly=True)
    hp = hypermodel.search_space()

    def initial_weights(trial_id):
        # In the order keras-tuner takes: the workflow seeds the trial, then
        # keras-tuner clears the session and builds.
        _workflow_keras.seed_trial(0, trial_id)
        keras.backend.clear_session()
        return [np.asarray(w) for w in hypermodel.build(hp).get_weights()]

    first, again, other = (
        initial_weights("1"),
        initial_weights("1"),
        initial_weights("2"),
    )
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other, strict=True))


@pytest.mark.parametrize(
    "strategy",
    [
        "evolution",
        "controller",
        "local_search",
        "random",
        "bayesian",
    ],
)
def test_seed_0_is_a_seed_for_every_strategy(strategy, tmp_path):
    settings = _tiny_settings(strategy=strategy, max_trials=8, seed=0)
    proposals = []
    for run in ("a", "b"):
        tuner = workflow.make_tuner(
            settings, workflow.make_hypermodel(settings), str(tmp_path / run)
        )
        proposals.append(
            [
                tuner.oracle.create_trial("tuner0").hyperparameters.values
                for _ in range(3)
            ]
        )
    assert proposals[0] == proposals[1]


def test_unknown_strategy_options_are_named(tmp_path):
    settings = _tiny_settings(
        strategy="random", strategy_options={"population_size": 3}
    )
    with pytest.raises(ValueError) as e:
        workflow.make_tuner(settings, workflow.make_hypermodel(settings), str(tmp_path))
    assert "Unrecognized keyword arguments passed to RandomSearch: " in str(e.value)
    assert "{'population_size': 3}. Expected some of: none." in str(e.value)
    assert not os.listdir(tmp_path)


class _Recorder(progress.SearchCallback):
    def __init__(self):
        self.events = []

    def dispatch(self, event):
        self.events.append(event)

    def on_search_begin(self, event):
        self.dispatch(event)

    on_epoch_end = on_trial_end = on_process_end = on_search_end = on_search_begin


@pytest.mark.slow
def test_search_from_python_with_another_objective(tmp_path):
    recorder = _Recorder()
    settings = SearchSettings(
        data_dir=FASHION_DIR, strategy="random", max_trials=2, objective="val_loss",
        direction="min", num_blocks=2, filters=4, epochs=2, train_images=64,
        validation_images=32,
    )  # fmt: skip
    result = workflow.search(
        settings, tmp_path / "s", progress=recorder, run_eagerly=True
    )
    kinds = [type(e).__name__ for e in recorder.events]
    assert kinds == ["SearchBegin"] + ["EpochEnd", "EpochEnd", "TrialEnd"] * 2 + [
        "SearchEnd"
    ]
    trial_ends = [e for e in recorder.events if isinstance(e, progress.TrialEnd)]
    assert [e.done for e in trial_ends] == [1, 2]
    assert all(e.objective == "val_loss" and e.seconds > 0 for e in trial_ends)
    # Lower is better: the best trial has the smaller val_loss.
    best = min(trial_ends, key=lambda e: (e.score, e.trial_id))
    assert recorder.events[-1].best_trial_id == best.trial_id
    assert [t.trial_id for t in result.best_trials(2)][0] == best.trial_id
    assert result.best_genotypes(1)[0] is not None
    stored = workflow.read_settings(tmp_path / "s")
    assert stored == settings.replace(input_shape=(28, 28, 1), num_classes=10)
    assert stored.objective == "val_loss" and result.done == 2
    page = result.write_report(str(tmp_path / "report.md"))["page"]
    # The report reads the objective from the search: val_loss, lower is better.
    text = pathlib.Path(page).read_text()
    assert "val_loss" in text and "lower is better" in text


def test_the_search_freezes_the_heap_and_leaves_a_callers_freeze_alone(
    unfrozen_heap,
):
    import gc

    from keras_nasnet import _workflow_keras

    with _workflow_keras.frozen_heap():
        assert gc.get_freeze_count() > 0
    # Unfrozen after: a caller's garbage from before is collected again.
    assert gc.get_freeze_count() == 0
    gc.freeze()
    frozen = gc.get_freeze_count()
    assert frozen > 0
    with _workflow_keras.frozen_heap():
        pass
    # A caller that froze objects itself keeps them frozen.
    assert gc.get_freeze_count() >= frozen
