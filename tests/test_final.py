"""The final training after a search (`workflow.final_training`, `keras-nasnet
final`): enlarge the best cell, train it and NASNet-A identically, test both,
write `final.json` in the report's form; reruns train only what is missing."""

import io
import json
import os

import pytest

from keras_nasnet import cli, report, workflow
from keras_nasnet.workflow import FinalSettings, SearchSettings

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")
# Tiny: B=1 cells, N=1, F=2, one epoch of one batch of 64 images.
SEARCH = SearchSettings(
    data_dir=DATA_DIR,
    strategy="random",
    max_trials=1,
    num_blocks=1,
    cells_per_stack=1,
    filters=2,
    epochs=1,
    train_images=64,
    validation_images=32,
)
FINAL = FinalSettings(cells_per_stack=1, filters=4, epochs=1, train_images=64)


def _final_json(directory):
    with open(os.path.join(directory, report.FINAL_FILE)) as f:
        return json.load(f)


def _write_final(directory, final):
    with open(os.path.join(directory, report.FINAL_FILE), "w") as f:
        json.dump(final, f)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A 1-trial search and its final training: (directory, its output)."""
    directory = str(tmp_path_factory.mktemp("final") / "search")
    workflow.search(SEARCH, directory, progress=False, run_eagerly=True)
    out = io.StringIO()
    workflow.final_training(directory, FINAL, progress=out, run_eagerly=True)
    return directory, out.getvalue()


@pytest.mark.slow
def test_final_json_has_the_report_form_and_the_report_shows_it(trained, tmp_path):
    directory, out = trained
    final = _final_json(directory)
    best = workflow.SearchResult.from_directory(directory).best_trials(1)[0]
    assert [r["label"] for r in final["results"]] == [
        f"trial {best.trial_id}",
        "NASNet-A",
    ]
    assert final["results"][0]["genotype"] == str(best.genotype)
    for result in final["results"]:
        assert set(result) == {
            "label",
            "genotype",
            "params",
            "test_accuracy",
            "validation_accuracy",
            "seconds",
        }
        assert 0 <= result["test_accuracy"] <= 1
        assert 0 <= result["validation_accuracy"] <= 1
        assert result["params"] > 0 and result["seconds"] > 0
    # The enlarged size, the proxy's and the images of each split.
    recipe = final["recipe"]
    assert (recipe["cells_per_stack"], recipe["filters"]) == (1, 4)
    assert (recipe["search_cells_per_stack"], recipe["search_filters"]) == (1, 2)
    # The search's held-out images are left out of the training images.
    assert recipe["training_images"] == 64 and recipe["validation_images"] == 32
    assert recipe["test_images"] > 0
    # NASNet-A (B=5) is larger than the searched B=1 cell at the same size.
    assert final["results"][1]["params"] > final["results"][0]["params"]
    # Progress: the plan, an epoch line per model with the time left, and the
    # test accuracies side by side.
    assert "2 of 2 models to train" in out and "N=1, F=2 to N=1, F=4" in out
    assert out.count("[final] epoch 1/1 ") == 2 and "eta " in out
    summary = out.split("test accuracy of each model")[1]
    assert "trial " in summary and "NASNet-A" in summary
    loaded = report.load_search(directory)
    assert loaded.final == final
    page = report.write_report([directory], str(tmp_path / "report.md"))["page"]
    with open(page) as f:
        text = f.read()
    assert "final training (reference point)" in text and "NASNet-A" in text
    assert f"{final['results'][1]['test_accuracy']:.4f}" in text


@pytest.mark.slow
def test_a_rerun_trains_only_what_is_missing(trained, capsys):
    directory, _ = trained
    before = _final_json(directory)
    path = os.path.join(directory, report.FINAL_FILE)
    mtime = os.stat(path).st_mtime_ns
    # Finished: nothing retrained, the results printed again, the file as it was.
    code = cli.main(
        ["final", directory, "--cells-per-stack", "1", "--filters", "4"]
        + ["--epochs", "1", "--train-images", "64", "--eager"]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "already trained" in out and "epoch" not in out
    assert "NASNet-A" in out.split("test accuracy of each model")[1]
    assert os.stat(path).st_mtime_ns == mtime
    # Stopped with one model trained (final.json is rewritten after each): a
    # rerun trains the missing one only and keeps the other as it was.
    _write_final(directory, {**before, "results": before["results"][1:]})
    out = io.StringIO()
    again = workflow.final_training(directory, FINAL, progress=out, run_eagerly=True)
    assert "1 of 2 models to train" in out.getvalue()
    assert out.getvalue().count("[final] epoch 1/1 ") == 1
    assert again["results"][1] == before["results"][1]
    assert [r["label"] for r in again["results"]] == [
        r["label"] for r in before["results"]
    ]
    assert _final_json(directory) == again


@pytest.mark.slow
def test_other_settings_or_a_damaged_file_are_refused(trained, capsys):
    directory, _ = trained
    path = os.path.join(directory, report.FINAL_FILE)
    before = _final_json(directory)
    # Other settings than the stored training's: refused, nothing changed.
    code = cli.main(["final", directory, "--filters", "8", "--eager"])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "filters=8 (stored: 4)" in err and "--overwrite" in err
    assert _final_json(directory) == before
    # A damaged final.json: named, not overwritten.
    with open(path, "w") as f:
        f.write('{"recipe": ')
    with pytest.raises(workflow.SearchError, match="final.json is unreadable"):
        workflow.final_training(directory, FINAL, progress=False)
    with open(path) as f:
        assert f.read() == '{"recipe": '
    _write_final(directory, before)
    # Not the report's form either.
    _write_final(directory, {"recipe": {}, "results": {"trial 0": 0.5}})
    code = cli.main(["final", directory])
    err = capsys.readouterr().err
    assert code == 2 and "final.json is unreadable or corrupt" in err
    _write_final(directory, before)


@pytest.mark.parametrize(
    "given, match",
    [
        ({"filters": 1}, "argument `filters`"),
        ({"epochs": 0}, "argument `epochs`"),
        ({"train_images": 0}, "argument `train_images`"),
        ({"learning_rate": -1.0}, "argument `learning_rate`"),
        ({"reference": "resnet"}, "argument `reference`"),
        ({"size": 3}, "argument `settings`"),
    ],
)
def test_bad_settings_are_refused_keras_style(given, match, tmp_path):
    directory = tmp_path / "search"
    directory.mkdir()
    (directory / "search.json").write_text(json.dumps(SEARCH.to_json()))
    with pytest.raises(ValueError, match=match) as info:
        workflow.final_training(directory, given, progress=False)
    assert "Invalid value received for argument" in str(info.value)
    assert not os.path.exists(directory / report.FINAL_FILE)


def test_a_directory_without_a_search_or_a_trial_is_refused(tmp_path, capsys):
    code = cli.main(["final", str(tmp_path / "missing")])
    err = capsys.readouterr().err
    assert code == 2 and "does not exist" in err and len(err.splitlines()) == 1
    # A search that has not completed a trial yet.
    directory = tmp_path / "search"
    directory.mkdir()
    (directory / "search.json").write_text(json.dumps(SEARCH.to_json()))
    (directory / "oracle.json").write_text(json.dumps({"start_order": []}))
    code = cli.main(["final", str(directory)])
    err = capsys.readouterr().err
    assert code == 2 and "no completed trial" in err and len(err.splitlines()) == 1
    assert not os.path.exists(directory / report.FINAL_FILE)
