"""Tests for `keras_nasnet.report`, on project directories written by keras-tuner."""

import json
import os
import random
import re
import shutil
import subprocess
import sys

import pytest

from keras_nasnet import report
from keras_nasnet.space import decisions

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"

# Scores the fake training returns, in trial order; None makes the trial fail.
MAX_SCORES = [0.3, 0.7, None, 0.5, 0.9, 0.6]
MIN_SCORES = [0.8, 0.4, 0.6, 0.2, 0.5]


def _run_search(directory, project_name, objective, scores):
    """Runs a real keras-tuner RandomSearch over a 2-block cell space."""
    kt = pytest.importorskip("keras_tuner")

    class CellSpace(kt.HyperModel):
        def build(self, hp):
            decisions.declare_cells(hp, num_blocks=2)

    class FakeTraining(kt.RandomSearch):
        def __init__(self, scores, **kwargs):
            super().__init__(**kwargs)
            self.scores = list(scores)

        def run_trial(self, trial, *args, **kwargs):
            score = self.scores.pop(0)
            if score is None:
                raise RuntimeError("this trial fails on purpose")
            # A second metric the report must not mistake for the objective.
            return {objective.name: score, "other": 1.0 - score}

    tuner = FakeTraining(
        scores,
        hypermodel=CellSpace(),
        objective=objective,
        max_trials=len(scores),
        directory=str(directory),
        project_name=project_name,
        seed=1,
    )
    tuner.search(verbose=0)
    return os.path.join(str(directory), project_name)


@pytest.fixture(scope="module")
def projects(tmp_path_factory):
    kt = pytest.importorskip("keras_tuner")
    root = tmp_path_factory.mktemp("searches")
    return {
        "max": _run_search(
            root, "random_max", kt.Objective("score", "max"), MAX_SCORES
        ),
        "min": _run_search(
            root, "random_min", kt.Objective("val_loss", "min"), MIN_SCORES
        ),
    }


def _trial_files(project):
    # trial_id -> trial.json contents, read independently of the module.
    states = {}
    for entry in os.listdir(project):
        path = os.path.join(project, entry, "trial.json")
        if os.path.isfile(path):
            with open(path) as f:
                state = json.load(f)
            states[state["trial_id"]] = state
    return states


def test_load_search_reads_every_trial(projects):
    search = report.load_search(projects["max"])
    states = _trial_files(projects["max"])
    with open(os.path.join(projects["max"], "oracle.json")) as f:
        start_order = json.load(f)["start_order"]
    assert [r.trial_id for r in search.records] == start_order
    assert sorted(states) == sorted(start_order)
    assert [r.number for r in search.records] == list(range(1, len(MAX_SCORES) + 1))
    for record in search.records:
        state = states[record.trial_id]
        assert record.status == state["status"]
        assert record.score == state["score"]
        assert record.values == state["hyperparameters"]["values"]
        assert record.genotype == decisions.decode(record.values)
    assert [r.score for r in search.records] == MAX_SCORES
    assert [r.scored for r in search.records] == [s is not None for s in MAX_SCORES]
    assert search.records[2].status == "FAILED"
    assert (search.objective, search.direction) == ("score", "max")
    assert search.name == "random_max"


def test_load_search_infers_a_min_objective(projects):
    search = report.load_search(projects["min"])
    assert (search.objective, search.direction) == ("val_loss", "min")
    assert [r.score for r in search.records] == MIN_SCORES


def test_load_search_accepts_parent_and_project_name(projects):
    parent, name = os.path.split(projects["max"])
    assert report.load_search(parent, project_name=name) == report.load_search(
        projects["max"]
    )


def test_load_search_reads_the_objective_from_oracle_json(projects, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(projects["max"], copy)
    with open(copy / "oracle.json") as f:
        oracle = json.load(f)
    oracle["objective"] = {"name": "something", "direction": "min"}
    with open(copy / "oracle.json", "w") as f:
        json.dump(oracle, f)
    search = report.load_search(copy)
    assert (search.objective, search.direction) == ("something", "min")
    assert report.load_search(copy, direction="max").direction == "max"


def test_load_search_errors(projects, tmp_path):
    with pytest.raises(ValueError, match="does not exist"):
        report.load_search(tmp_path / "nowhere")
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("not a search")
    with pytest.raises(ValueError, match="has no oracle.json; expected the directory"):
        report.load_search(foreign)
    # The tuner's `directory` without `project_name`: the error names the projects.
    parent = os.path.dirname(projects["max"])
    with pytest.raises(ValueError, match=r"projects \['random_max', 'random_min'\]"):
        report.load_search(parent)
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "oracle.json").write_text("{not json")
    with pytest.raises(ValueError, match="Could not read .* as JSON"):
        report.load_search(broken)
    with pytest.raises(ValueError, match="Expected 'max' or 'min'"):
        report.load_search(projects["max"], direction="up")


def test_best_so_far_is_the_running_best():
    rng = random.Random(0)
    for _ in range(100):
        scores = [rng.uniform(-1, 1) for _ in range(rng.randint(0, 20))]
        best_max = report.best_so_far(scores, "max")
        best_min = report.best_so_far(scores, "min")
        assert best_max == [max(scores[: i + 1]) for i in range(len(scores))]
        assert best_min == [min(scores[: i + 1]) for i in range(len(scores))]
        assert all(a <= b for a, b in zip(best_max, best_max[1:], strict=False))
        assert all(a >= b for a, b in zip(best_min, best_min[1:], strict=False))


def _lines(ax):
    return {line.get_label(): line for line in ax.lines}


@pytest.mark.parametrize("which,direction", [("max", "max"), ("min", "min")])
def test_plot_progress_plots_the_scores(projects, tmp_path, which, direction):
    search = report.load_search(projects[which])
    path = tmp_path / "progress.png"
    result = report.plot_progress({"a": search}, path=path, direction=direction)
    # Plotted at the trial ids the folders show (trial_00 at 0), not 1-based.
    expected = [(int(r.trial_id), r.score) for r in search.records if r.scored]
    lines = _lines(result["ax"])
    points, best = lines["a"], lines["a (best so far)"]
    assert list(points.get_xdata()) == [n for n, _ in expected]
    assert list(points.get_ydata()) == [s for _, s in expected]
    assert list(best.get_xdata()) == [n for n, _ in expected]
    pick = max if direction == "max" else min
    best_y = list(best.get_ydata())
    assert best_y == [
        pick(s for _, s in expected[: i + 1]) for i in range(len(expected))
    ]
    assert result["data"]["a"] == {
        "trials": [n for n, _ in expected],
        "scores": [s for _, s in expected],
        "best": best_y,
    }
    assert path.read_bytes()[:8] == PNG_MAGIC
    assert result["ax"].get_ylabel().startswith(search.objective)


def test_plot_progress_draws_one_pair_of_lines_per_search(projects):
    searches = {k: report.load_search(v) for k, v in projects.items()}
    result = report.plot_progress(searches, direction="max")
    assert sorted(_lines(result["ax"])) == [
        "max",
        "max (best so far)",
        "min",
        "min (best so far)",
    ]


def test_top_trials_orders_best_first_and_breaks_ties_by_trial():
    records = [
        report.TrialRecord(str(i), i + 1, "COMPLETED", s)
        for i, s in enumerate([0.5, 0.9, 0.5, float("nan"), 0.1])
    ]
    records.append(report.TrialRecord("5", 6, "FAILED", 0.99))
    assert [r.trial_id for r in report.top_trials(records, 3, "max")] == ["1", "0", "2"]
    assert [r.trial_id for r in report.top_trials(records, 10, "min")] == [
        "4",
        "0",
        "2",
        "1",
    ]


def _html_rows(page):
    rows = re.findall(r'<tr class="trial">(.*?)</tr>', page, flags=re.S)
    return [re.findall(r"<td>(.*?)</td>", row, flags=re.S) for row in rows]


def _md_rows(page, header_start="| Rank"):
    lines = page.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(header_start))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]])
    return rows


def _expected_top(scores, k, direction):
    order = sorted(
        (i for i, s in enumerate(scores) if s is not None),
        key=lambda i: -scores[i] if direction == "max" else scores[i],
    )
    return order[:k]


def _linked_files(page, out_dir):
    links = re.findall(r'(?:src|href)="([^"]+)"', page) + re.findall(
        r"\]\(([^)]+)\)", page
    )
    return [os.path.join(out_dir, link) for link in links]


def test_write_report_html(projects, tmp_path):
    out = tmp_path / "site" / "report.html"
    result = report.write_report(
        projects["max"], out, top_k=3, param_counts=lambda g: 1000 + len(str(g))
    )
    page = out.read_text()
    search = report.load_search(projects["max"])
    top = [search.records[i] for i in _expected_top(MAX_SCORES, 3, "max")]
    rows = _html_rows(page)
    assert [row[1] for row in rows] == [r.trial_id for r in top]
    assert [row[2] for row in rows] == [report.format_score(r.score) for r in top]
    assert [row[2] for row in rows] == ["0.9", "0.7", "0.6"]
    assert [row[3] for row in rows] == [f"{1000 + len(str(r.genotype)):,}" for r in top]
    for row, record in zip(rows, top, strict=True):
        assert str(record.genotype.normal) in row[4]
    # Every image and link resolves, PNGs are PNGs.
    files = _linked_files(page, out.parent)
    assert len(files) == 2 + 3 * 2 * 2
    for path in files:
        assert os.path.isfile(path), path
        if path.endswith(".png"):
            with open(path, "rb") as f:
                assert f.read(8) == PNG_MAGIC
    assert os.path.isfile(result["progress"]["svg"])
    assert set(result["diagrams"]["random_max"]) == {r.trial_id for r in top}


def test_write_report_markdown_min_direction(projects, tmp_path):
    out = tmp_path / "report.md"
    report.write_report(projects["min"], out, top_k=2)
    page = out.read_text()
    search = report.load_search(projects["min"])
    top = [search.records[i] for i in _expected_top(MIN_SCORES, 2, "min")]
    rows = _md_rows(page)
    assert [row[1] for row in rows] == [r.trial_id for r in top]
    assert [row[2] for row in rows] == ["0.2", "0.4"]
    assert "Parameters" not in page
    assert "lower is better" in page
    for path in _linked_files(page, tmp_path):
        assert os.path.isfile(path), path


def test_write_report_several_searches(projects, tmp_path):
    copy = tmp_path / "other" / "random_max"
    shutil.copytree(projects["max"], copy)
    out = tmp_path / "report.md"
    result = report.write_report([projects["max"], copy], out, top_k=1)
    page = out.read_text()
    labels = list(result["diagrams"])
    assert len(labels) == 2 and labels[1] == "other/random_max"
    assert page.count("| Rank |") == 2
    # The direction of two searches must agree.
    with pytest.raises(ValueError, match="do not agree on the objective's direction"):
        report.write_report(projects, tmp_path / "mixed.md")
    assert not os.path.exists(tmp_path / "mixed.md")
    assert not os.path.exists(tmp_path / "mixed_files")
    # Unless it is given.
    report.write_report(
        {"a": projects["max"], "b": projects["min"]},
        tmp_path / "forced.html",
        top_k=1,
        direction="max",
    )
    assert (tmp_path / "forced.html").read_text().count('<tr class="trial">') == 2


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_write_report_on_a_foreign_directory_writes_nothing(projects, tmp_path, fmt):
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    with pytest.raises(ValueError, match="has no oracle.json"):
        report.write_report([projects["max"], foreign], out_dir / f"report.{fmt}")
    with pytest.raises(ValueError, match="does not exist"):
        report.write_report(tmp_path / "missing", out_dir / f"report.{fmt}")
    assert list(out_dir.iterdir()) == []


def test_write_report_argument_errors(projects, tmp_path):
    with pytest.raises(ValueError, match="`out_path`"):
        report.write_report(projects["max"], tmp_path / "report.pdf")
    with pytest.raises(ValueError, match="`top_k`"):
        report.write_report(projects["max"], tmp_path / "report.md", top_k=0)
    with pytest.raises(ValueError, match="`param_counts`"):
        report.write_report(projects["max"], tmp_path / "report.md", param_counts=3)
    with pytest.raises(ValueError, match="`directories`"):
        report.write_report([], tmp_path / "report.md")
    assert list(tmp_path.iterdir()) == []


def test_report_and_viz_import_neither_keras_nor_tensorflow():
    code = (
        "import sys, keras_nasnet\n"
        "before = set(sys.modules)\n"
        "import keras_nasnet.report, keras_nasnet.viz\n"
        "new = set(sys.modules) - before\n"
        "heavy = sorted(m for m in new if m.split('.')[0] in "
        "('tensorflow', 'keras', 'keras_tuner', 'jax', 'matplotlib'))\n"
        "print(heavy)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]"


def test_write_report_keeps_diagrams_of_similar_labels_apart(projects, tmp_path):
    result = report.write_report(
        {"a b": projects["max"], "a_b": projects["max"]}, tmp_path / "r.md", top_k=1
    )
    pngs = [
        files["png"]
        for label in result["diagrams"].values()
        for cells in label.values()
        for files in cells.values()
    ]
    assert len(pngs) == len(set(pngs)) == 4


def _hand_made_project(root):
    """A project with no start_order and trials whose values spell no cell."""
    kt = pytest.importorskip("keras_tuner")
    from keras_tuner.engine import trial as trial_module

    project = root / "hand_made"
    project.mkdir()
    (project / "oracle.json").write_text("{}")
    for trial_id, score in [("10", 0.5), ("2", 0.25), ("7", None)]:
        hp = kt.HyperParameters()
        hp.Float("learning_rate", 1e-3, 1e-1)
        trial = trial_module.Trial(
            hyperparameters=hp,
            trial_id=trial_id,
            status="COMPLETED" if score is not None else "FAILED",
        )
        trial.score = score
        os.makedirs(project / f"trial_{trial_id}")
        trial.save(str(project / f"trial_{trial_id}" / "trial.json"))
    return project


def test_trials_without_start_order_or_genotype(tmp_path):
    project = _hand_made_project(tmp_path)
    search = report.load_search(project)
    # Natural order of the ids when oracle.json lists none.
    assert [r.trial_id for r in search.records] == ["2", "7", "10"]
    assert [r.number for r in search.records] == [1, 2, 3]
    assert all(r.genotype is None for r in search.records)
    # No metric records the objective: the direction cannot be told.
    assert (search.objective, search.direction) == (None, None)
    out = tmp_path / "out" / "report.md"
    with pytest.raises(ValueError, match="Could not tell the objective's direction"):
        report.write_report(project, out)
    assert not os.path.exists(out.parent)
    report.write_report(project, out, direction="min")
    rows = _md_rows(out.read_text())
    assert [row[1:3] for row in rows] == [["2", "0.25"], ["10", "0.5"]]
    assert all(row[3] == "(not a cell search)" for row in rows)


def _with_context(project, root, max_trials=8):
    """A copy of `project` with what keras-nasnet adds: search.json, per-phase
    times in each trial's metrics, and final.json. Returns (copy, seconds)."""
    copy = root / "context" / "search"
    shutil.copytree(project, copy)
    settings = {
        "strategy": "evolution",
        "dataset": "fashion_mnist",
        "cells_per_stack": 1,
        "filters": 8,
        "epochs": 2,
        "train_images": 1000,
        "max_trials": max_trials,
    }
    (copy / "search.json").write_text(json.dumps(settings))
    seconds = {}  # trial_id -> phase -> seconds
    for n, trial_id in enumerate(sorted(_trial_files(copy))):
        path = copy / f"trial_{trial_id}" / "trial.json"
        state = json.loads(path.read_text())
        phases = {"build": 1.5 + n, "train": 40.0 + 10 * n, "total": 45.0 + 11 * n}
        for phase, value in phases.items():
            state["metrics"]["metrics"][f"seconds_{phase}"] = {
                "direction": "min",
                "observations": [{"value": [value], "step": 0}],
            }
        path.write_text(json.dumps(state))
        seconds[trial_id] = phases
    final = {
        "recipe": {"epochs": 600, "batch_size": 32},
        "results": [
            {
                "label": "trial 04",
                "genotype": "normal: identity(0) + identity(1)",
                "params": 3383786,
                "test_accuracy": 0.9612,
                "validation_accuracy": 0.9587,
                "seconds": 7384.0,
            },
            {"label": "nasnet_a", "params": 3300000, "test_accuracy": None},
        ],
    }
    (copy / "final.json").write_text(json.dumps(final))
    return copy, seconds


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_shows_settings_times_reference_and_proxy_note(projects, tmp_path, fmt):
    project, seconds = _with_context(projects["max"], tmp_path)
    search = report.load_search(project)
    assert search.strategy == "evolution" and search.settings["filters"] == 8
    assert {r.trial_id: r.seconds for r in search.records} == seconds
    out = tmp_path / f"report.{fmt}"
    report.write_report(project, out, top_k=2)
    page = out.read_text()
    text = re.sub(r"<[^>]+>", " ", page)  # the words a reader sees
    total = sum(phases["total"] for phases in seconds.values())
    # "6/8 done": 6 trials ended (one failed) of the 8 planned; the wall time.
    assert "6/8 done" in text and report.format_duration(total) in text
    assert "N (cells per stack)" in text and "F (filters)" in text
    assert "proxy results" in text
    assert "N=1, F=8, 2 epochs, 1,000 training images" in text
    # The reference point.
    assert "final training (reference point)" in text
    assert "3,383,786" in text and "0.9612" in text and "2h03m04s" in text
    assert "epochs=600, batch_size=32" in text
    # Every trial, named as its folder, with its time per recorded phase.
    for trial_id, phases in seconds.items():
        assert f"trial {trial_id}" in text
        assert report.format_duration(phases["train"]) in text
    assert "validation" not in re.findall(r"<th>(\w+)</th>", page)
    # The top trials' diagrams: named "trial <id>", two cells side by side.
    top = report.top_trials(search, 2)
    for record in top:
        assert f"{record.label} (score" in text
    if fmt == "html":
        assert page.count('<div class="cells">') == 2
    else:
        assert page.count('width="49%"') == 4


def test_report_needs_neither_keras_nor_keras_tuner(projects, tmp_path):
    # Blocked modules raise ImportError on import, as if not installed.
    code = (
        "import sys\n"
        "for name in ('keras', 'keras_tuner', 'tensorflow', 'jax', 'torch'):\n"
        "    sys.modules[name] = None\n"
        "from keras_nasnet import report\n"
        f"search = report.load_search({str(projects['max'])!r})\n"
        f"report.write_report(search, {str(tmp_path / 'r.md')!r}, top_k=1)\n"
        "print(len(search.records))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == str(len(MAX_SCORES))
    assert (tmp_path / "r.md").is_file()


@pytest.fixture(scope="module")
def cost_project(tmp_path_factory):
    """A Pareto search under a MACs budget, driven without training; one
    trial's cells are NASNet-A's."""
    pytest.importorskip("keras_tuner")
    import numpy as np

    from keras_nasnet.genotypes import NASNET_A
    from tests import _oracles
    from tuner_plugins.constraints import CostModel
    from tuner_plugins.objectives import Pareto

    root = tmp_path_factory.mktemp("costs")
    model = CostModel((28, 28, 1), 10, cells_per_stack=1, filters=8)
    nasnet_a = decisions.encode(NASNET_A)
    budget = int(1.2 * model.cost(nasnet_a).macs)
    oracle = _oracles.make_oracle(
        root,
        _oracles.cell_space(),
        "evolution",
        project="pareto",
        objective=Pareto(["val_accuracy", "macs"]),
        cost_model=model,
        constraints={"max_macs": budget},
        population_size=4,
        sample_size=2,
    )
    rng = np.random.default_rng(0)
    for i in range(12):
        trial = oracle.create_trial("tuner0")
        if i == 5:
            oracle.trials[trial.trial_id].hyperparameters.values = dict(nasnet_a)
        oracle.update_trial(trial.trial_id, {"val_accuracy": float(rng.random())})
        trial.status = "COMPLETED"
        oracle.end_trial(trial)
    return os.path.join(str(root), "pareto"), model, budget


def test_load_search_reads_costs_and_the_front(cost_project):
    from keras_nasnet import pareto
    from keras_nasnet.genotypes import AMOEBANET_A, NASNET_A
    from keras_nasnet.space import cost as cost_lib

    project, model, budget = cost_project
    search = report.load_search(project)
    assert (search.objective, search.direction) == ("val_accuracy", "max")
    assert search.costs["constraints"]["max_macs"] == budget
    assert search.costs["objective"]["kind"] == "pareto"
    records = [r for r in search.records if r.scored]
    for record in records:
        assert record.metrics["macs"] == model.cost(record.values).macs <= budget
        assert record.metrics["params"] == model.cost(record.values).params
    points = [(r.metrics["val_accuracy"], -r.metrics["macs"]) for r in records]
    front = {records[i].trial_id for i in pareto.pareto_front(points)}
    assert {r.trial_id for r in report.pareto_records(search)} == front
    # The published cells at the search's size, and the trial that trained
    # NASNet-A's decisions.
    refs = report.reference_costs(search)
    size = {"filters": 8, "input_shape": (28, 28, 1), "num_classes": 10}
    for name, genotype in (("NASNet-A", NASNET_A), ("AmoebaNet-A", AMOEBANET_A)):
        expected = cost_lib.network_cost(genotype, 1, **size)
        assert (refs[name]["params"], refs[name]["macs"]) == (
            expected.params,
            expected.macs,
        )
    # The trial with NASNet-A's decisions is another network (its concat is
    # derived, the published one also concatenates h_{i-1}): not NASNet-A's
    # accuracy. An accuracy measured elsewhere is taken as given.
    assert refs["NASNet-A"]["accuracy"] is None
    assert refs["NASNet-A"]["trial_id"] is None
    given = report.reference_costs(search, {"AmoebaNet-A": 0.75})
    assert given["AmoebaNet-A"]["accuracy"] == 0.75


def test_plot_cost_draws_the_trials_the_front_and_the_budget(cost_project, tmp_path):
    project, _, budget = cost_project
    search = report.load_search(project)
    result = report.plot_cost({"pareto": search}, tmp_path / "cost.png")
    data = result["data"]["pareto"]
    scored = [r for r in search.records if r.scored]
    assert data["trials"] == [r.x for r in scored]
    assert data["costs"] == [r.metrics["macs"] for r in scored]
    assert data["front"] == [r.x for r in report.pareto_records(search)]
    lines = result["ax"].get_lines()
    assert any(list(line.get_xdata()) == [budget, budget] for line in lines)
    assert (tmp_path / "cost.png").read_bytes().startswith(PNG_MAGIC)
    with pytest.raises(ValueError, match="argument `cost`"):
        report.plot_cost(search, cost="flops")


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_shows_costs_budgets_and_the_cost_plot(cost_project, tmp_path, fmt):
    project, _, budget = cost_project
    out = tmp_path / f"report.{fmt}"
    result = report.write_report(project, out, top_k=3)
    page = out.read_text()
    text = re.sub(r"<[^>]+>", " ", page)
    assert "Accuracy against cost" in text
    assert f"budgets max_macs={budget:,}" in text
    assert "Pareto search over val_accuracy, macs" in text
    assert result["cost"]["png"].endswith("cost.png")
    search = report.load_search(project)
    for record in report.top_trials(search, 3):
        assert f"{int(record.metrics['macs']):,}" in text
        assert f"{int(record.metrics['params']):,}" in text
    header = "<th>MACs</th>" if fmt == "html" else "| MACs |"
    assert header in page


def test_a_search_without_costs_has_no_cost_section(projects, tmp_path):
    out = tmp_path / "report.md"
    result = report.write_report(projects["max"], out)
    assert result["cost"] == {}
    assert "Accuracy against cost" not in out.read_text()
