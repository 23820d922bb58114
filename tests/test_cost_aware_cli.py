"""Budgets and cost-aware objectives through the workflow and the CLI.

`keras-nasnet search --max-params/--max-macs/--max-latency-ms`, `--objective
pareto --costs ...` and `--objective mnas --target-macs ...`, and the same
`SearchSettings` fields from Python: stored in search.json, passed to every
strategy's tuner, bad input refused before anything is written.
"""

import json
import os

import pytest

from keras_nasnet import cli, workflow
from keras_nasnet.space import decisions, sampling
from keras_nasnet.workflow import SearchSettings
from tests.test_cli import _tree
from tuner_plugins.constraints import CostModel

DATA_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")
# The tiny proxy: 2-block cells, N=1, F=4, one epoch of one step, eagerly.
TINY_SETTINGS = dict(
    data_dir=DATA_DIR,
    num_blocks=2,
    cells_per_stack=1,
    filters=4,
    epochs=1,
    batch_size=64,
    train_images=64,
    validation_images=32,
)
TINY = [
    f"--{name.replace('_', '-')}={value}" for name, value in TINY_SETTINGS.items()
] + ["--eager"]
# How the workflow's hypermodel prices a child of the tiny proxy (Fashion-MNIST,
# SEARCH_PROXY's stride-2 stem).
TINY_COSTS = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=4, stem_strides=2)


def _quantile_params(quantile, count=60):
    """A parameter budget about `quantile` of the tiny proxy's children meet."""
    params = sorted(
        TINY_COSTS.cost(
            decisions.encode(
                sampling.random_genotype(seed, num_blocks=2, combines=("add", "concat"))
            )
        ).params
        for seed in range(count)
    )
    return params[int(quantile * count)]


def _records(directory):
    """trial id -> its `keras_nasnet.report.TrialRecord`."""
    return {
        r.trial_id: r for r in workflow.SearchResult.from_directory(directory).trials
    }


def _message(directory, trial_id):
    with open(os.path.join(directory, f"trial_{trial_id}", "trial.json")) as f:
        return json.load(f)["message"]


def _refused(capsys, argv):
    """Runs the CLI; returns its one error line (it must exit 2, print one
    line and nothing on stdout)."""
    try:
        code = cli.main(argv)
    except SystemExit as e:  # argparse's refusals
        code = e.code
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert code == 2, captured
    assert len(lines) == 1 and captured.out == "", captured
    return lines[0]


# ------------------------------------------------------------------ settings


def test_budgets_and_objectives_round_trip_through_search_json():
    settings = SearchSettings(
        max_params=2e5, max_macs=8_000_000, objective="pareto", costs=["macs", "params"]
    )
    assert settings.max_params == 200_000 and isinstance(settings.max_params, int)
    assert settings.costs == ("macs", "params")
    config = settings.to_json()
    assert config["version"] == workflow.SETTINGS_VERSION == 3
    assert config["costs"] == ["macs", "params"]
    assert SearchSettings.from_json(json.loads(json.dumps(config))) == settings
    mnas = SearchSettings(objective="mnas", target_latency_ms=12.5)
    assert SearchSettings.from_json(mnas.to_json()) == mnas
    assert str(workflow.cost_objective(mnas)).startswith("MnasReward")
    assert workflow.latency_measured(mnas)
    assert SearchSettings(objective="pareto").costs == ("macs",)
    assert workflow.cost_objective(SearchSettings()) is None


def test_a_search_json_of_version_2_still_loads():
    # Written before the cost-aware fields: they take their defaults.
    config = SearchSettings(max_trials=7).to_json()
    for name in workflow.COST_AWARE_FIELDS:
        config.pop(name)
    config["version"] = 2
    loaded = SearchSettings.from_json(config)
    assert loaded == SearchSettings(max_trials=7)
    assert loaded.max_params is None and loaded.objective == "val_accuracy"


@pytest.mark.parametrize(
    "fields,argument",
    [
        ({"max_params": 0}, "max_params"),
        ({"max_macs": -5}, "max_macs"),
        ({"max_latency_ms": float("inf")}, "max_latency_ms"),
        ({"objective": "mnas"}, "objective"),
        ({"objective": "mnas", "target_macs": 1e6, "target_params": 10}, "objective"),
        ({"objective": "mnas", "target_macs": 0}, "target_macs"),
        ({"target_macs": 1e6}, "target_macs"),
        ({"costs": ["macs"]}, "costs"),
        ({"objective": "pareto", "costs": ["flops"]}, "costs"),
        ({"objective": "pareto", "costs": "macs"}, "costs"),
        ({"objective": "pareto", "direction": "min"}, "direction"),
        ({"measure_latency": 1}, "measure_latency"),
    ],
)
def test_bad_budgets_and_objectives_are_refused_keras_style(fields, argument):
    with pytest.raises(ValueError) as e:
        SearchSettings(**fields)
    assert str(e.value).startswith(
        f"Invalid value received for argument `{argument}`. Expected "
    )


# ------------------------------------------------------------- bad CLI input


@pytest.mark.parametrize(
    "flags,says",
    [
        (["--max-params", "0"], "argument `max_params` (--max-params)"),
        (["--max-macs=-1e6"], "argument `max_macs` (--max-macs)"),
        (["--objective", "paretto"], "invalid choice: 'paretto'"),
        (["--objective", "mnas"], "exactly one of target_params, target_macs"),
        (["--target-macs", "1e6"], "None unless objective='mnas'"),
        (["--objective", "pareto", "--costs", "macs,flops"], "argument `costs`"),
        (["--max-params", "many"], "expected a number, got 'many'"),
    ],
)
def test_bad_cost_flags_exit_2_with_one_line_and_write_nothing(
    tmp_path, capsys, flags, says
):
    directory = tmp_path / "s"
    line = _refused(capsys, ["search", *TINY, "--directory", str(directory), *flags])
    assert says in line
    assert not directory.exists()


def test_a_budget_no_child_meets_is_refused_before_the_search_starts(tmp_path, capsys):
    directory = tmp_path / "s"
    directory.mkdir()  # an empty directory stays empty
    line = _refused(
        capsys,
        ["search", *TINY, "--directory", str(directory), "--max-params", "300"],
    )
    assert line.startswith("keras-nasnet search: error: Invalid value received for")
    assert "argument `max_params` (--max-params)" in line
    assert "Raise the budget, or make the children smaller" in line
    assert os.listdir(directory) == []


def test_a_pareto_objective_with_a_strategy_without_a_pareto_mode_is_refused(
    tmp_path, capsys
):
    directory = tmp_path / "s"
    line = _refused(
        capsys,
        [
            "search",
            *TINY,
            "--directory",
            str(directory),
            "--strategy",
            "controller",
            "--objective",
            "pareto",
        ],  # fmt: skip
    )
    assert "a Pareto objective needs strategy 'evolution'" in line
    assert not directory.exists()


def test_latency_where_the_children_cannot_run_is_refused_at_the_boundary(
    tmp_path, capsys, monkeypatch
):
    # A device where the child cannot be timed: measure_latency refuses the
    # model, as it does for one that raises when called.
    from keras_nasnet.models import measure

    def cannot_run(model, **kwargs):
        raise ValueError("Invalid value received for argument `model`: no device")

    monkeypatch.setattr(measure, "measure_latency", cannot_run)
    directory = tmp_path / "s"
    line = _refused(
        capsys,
        ["search", *TINY, "--directory", str(directory), "--max-latency-ms", "50"],
    )
    assert "argument `measure_latency`" in line and "no device" in line
    assert not directory.exists()


# ------------------------------------------------------------------- searches


@pytest.mark.slow
def test_a_constrained_mnas_search_from_the_cli_never_trains_a_child_over_budget(
    tmp_path, capsys
):
    budget = _quantile_params(0.25)
    target = 1e6
    directory = tmp_path / "s"
    argv = [
        "search", *TINY, "--directory", str(directory), "--strategy", "evolution",
        "--strategy-option", "population_size=2", "--strategy-option",
        "sample_size=1", "--max-trials", "3", "--seed", "0",
        "--max-params", str(budget), "--objective", "mnas",
        "--target-macs", str(target),
    ]  # fmt: skip
    assert cli.main(argv) == 0
    assert "[search] best mnas " in capsys.readouterr().out
    stored = workflow.read_settings(directory)
    assert (stored.max_params, stored.objective, stored.target_macs) == (
        budget,
        "mnas",
        int(target),
    )
    trials = _records(directory)
    assert len(trials) == 3
    for record in trials.values():
        assert record.status == "COMPLETED"
        params, macs = record.metrics["params"], record.metrics["macs"]
        assert params <= budget
        accuracy = record.metrics["val_accuracy"]
        assert record.score == pytest.approx(accuracy * (macs / target) ** -0.07)
    with open(directory / "oracle.json") as f:
        oracle = json.load(f)
    # The budget was binding: the strategy proposed children over it.
    assert oracle["nas_oracle"]["infeasible_proposals"] > 0
    assert oracle["nas_oracle"]["constraints"]["max_params"] == budget
    # A resume may not change the budget; nothing of the search changes.
    before = _tree(directory)
    line = _refused(
        capsys,
        [
            "search",
            *TINY,
            "--directory",
            str(directory),
            "--resume",
            "--max-params",
            str(budget * 2),
        ],  # fmt: skip
    )
    assert f"--max-params {budget * 2}" in line
    assert _tree(directory) == before


def _dominated(point, others):
    return any(
        all(o >= p for o, p in zip(other, point, strict=True)) and other != point
        for other in others
    )


@pytest.mark.slow
def test_a_pareto_search_returns_its_front_as_the_best_genotypes(tmp_path):
    budget = _quantile_params(0.8)
    settings = SearchSettings(
        **TINY_SETTINGS,
        strategy="random",
        max_trials=3,
        seed=1,
        objective="pareto",
        costs=("macs", "params"),
        max_params=budget,
        max_consecutive_failed_trials=3,
    )
    result = workflow.search(settings, tmp_path / "s", progress=False, run_eagerly=True)
    trials = _records(tmp_path / "s")
    completed = {t: r for t, r in trials.items() if r.status == "COMPLETED"}
    assert completed
    for trial_id, record in trials.items():
        # keras-tuner's random search cannot propose again: a child over
        # budget is a FAILED trial, never trained.
        if record.status != "COMPLETED":
            assert record.status == "FAILED"
            message = _message(tmp_path / "s", trial_id)
            assert message.startswith("Over budget: ") and "(not built)" in message
    points = {}
    for trial_id, record in completed.items():
        params = record.metrics["params"]
        assert params <= budget
        points[trial_id] = (
            record.metrics["val_accuracy"],
            -record.metrics["macs"],
            -params,
        )
    front = {t for t, p in points.items() if not _dominated(p, points.values())}
    best = result.best_trials()
    assert {r.trial_id for r in best} == front
    assert [r.genotype for r in best] == result.best_genotypes()
    accuracies = [points[r.trial_id][0] for r in best]
    assert accuracies == sorted(accuracies, reverse=True)
    # Not only the most accurate trial: k limits the front.
    assert result.best_genotypes(1) == result.best_genotypes()[:1]


def test_the_tiny_cost_model_is_the_workflows():
    # The budgets above are priced with TINY_COSTS: the workflow's hypermodel
    # must price children the same way.
    hypermodel = workflow.make_hypermodel(
        SearchSettings(
            **TINY_SETTINGS, ops="nasnet", input_shape=(28, 28, 1), num_classes=10
        )
    )
    model = CostModel.from_hypermodel(hypermodel)
    values = decisions.encode(sampling.random_genotype(0, num_blocks=2))
    values.update(cells_per_stack=1, filters=4)
    assert model.cost(values) == TINY_COSTS.cost(values)


@pytest.mark.slow
def test_the_cost_aware_benchmark_smoke_run(tmp_path, run_benchmark_in_process):
    report = run_benchmark_in_process(
        "cost_aware", ["--smoke", "--data-dir", DATA_DIR], tmp_path
    )
    assert report["complete"] and report["parts"] == ["constrained", "synthetic"]
    constrained = report["summary"]["constrained"]
    assert constrained["constraint_never_violated"] is True
    assert set(constrained["methods"]) == {"constrained", "unconstrained"}
    for record in report["runs"]["constrained"]["constrained"].values():
        for trial in record["trials"]:
            assert trial["status"] != "COMPLETED" or trial["macs"] <= report["budget"]
    synthetic = report["summary"]["synthetic"]
    assert synthetic["seeds"] == 2 and 0 <= synthetic["pareto_wins"] <= 2
    for method in ("pareto", "random"):
        for volume in synthetic["methods"][method]["hypervolumes"]:
            assert 0 < volume < 1
    markdown = (tmp_path / "cost_aware.md").read_text()
    assert markdown.startswith("# Cost-aware search") and "Verdict:" in markdown
