"""Search reports: read keras-tuner project directories, plot, write a page.

A keras-tuner search leaves, under the `directory` and `project_name` given
to the tuner, one `oracle.json` and one `trial_<id>/trial.json` per trial.
This module reads those JSON files directly, so it needs neither keras-tuner
nor Keras: a report can be made on a machine without TensorFlow.

The objective's direction (`"max"` or `"min"`) is taken from `oracle.json`
when it records an `objective`; keras-tuner 1.4.8's own oracles do not, so it
is otherwise inferred from the trials: the objective is the metric whose best
value (by that metric's recorded direction) equals the trial's score in every
completed trial.

Only trials with status `COMPLETED` and a finite score count as scored, as in
keras-tuner's `Oracle.get_best_trials`.

Next to `oracle.json`, the files `keras-nasnet search` and the workflow write
add context when present: `search.json` (the proxy's settings), `final.json`
(the final training of the best cells: a reference point), and per trial the
metrics `seconds_<phase>` (wall time per phase, `PHASES`).

A trial is named by its keras-tuner id, as in its folder name: "trial 02" for
`trial_02/`, in tables, headings and on the progress plot's x axis.

A trial's costs (its metrics `params`, `macs` and `latency_ms`, which
`tuner_plugins`' oracle and tuners record) add a plot of accuracy against
cost with the Pareto front highlighted, the search's budgets, and NASNet-A
and AmoebaNet-A priced at the search's size (`plot_cost`), and columns of the
top-k table.
"""

import dataclasses
import html
import json
import math
import os
import re
import urllib.parse

from keras_nasnet import pareto, viz
from keras_nasnet._phases import PHASES, metric_name

COMPLETED = "COMPLETED"
DIRECTIONS = ("max", "min")
# Statuses of a trial that has ended, well or not.
_ENDED = ("COMPLETED", "FAILED", "INVALID", "STOPPED")
SEARCH_FILE = "search.json"
FINAL_FILE = "final.json"
# search.json key -> what the report calls it, in the order shown.
_SETTING_NAMES = {
    "strategy": "strategy",
    "dataset": "dataset",
    "recipe": "recipe",
    "cells_per_stack": "N (cells per stack)",
    "filters": "F (filters)",
    "num_blocks": "B (blocks per cell)",
    "ops": "ops",
    "epochs": "epochs per trial",
    "batch_size": "batch size",
    "train_images": "training images",
    "validation_images": "validation images",
    "learning_rate": "learning rate",
    "max_trials": "trials",
    "seed": "seed",
}
_REPORT_FORMATS = {".html": "html", ".htm": "html", ".md": "md", ".markdown": "md"}
# The cost metrics a trial may record (smaller is better), and how the
# report names them.
COSTS = {"params": "Parameters", "macs": "MACs", "latency_ms": "Latency (ms)"}
# The published cells marked on the cost plot, at the search's size.
REFERENCE_GENOTYPES = ("NASNet-A", "AmoebaNet-A")


@dataclasses.dataclass(frozen=True)
class TrialRecord:
    """One trial of a search, as read from its `trial.json`.

    Attributes:
        trial_id: the keras-tuner trial id (a string, e.g. `"03"`).
        number: 1-based position in the order the oracle started trials.
        status: the keras-tuner status, e.g. `"COMPLETED"`, `"FAILED"`.
        score: the objective's value, or `None`.
        values: hyperparameter name -> value.
        genotype: the `Genotype` the values spell (see
            `keras_nasnet.space.decisions`), or `None` if they spell none.
        seconds: phase -> wall time in seconds, from the trial's metrics
            `seconds_<phase>` (see `PHASES`); empty if it recorded none.
        metrics: metric name -> the trial's value (its last observation),
            e.g. `"val_accuracy"`, `"params"`, `"macs"`, `"latency_ms"`.
    """

    trial_id: str
    number: int
    status: str
    score: float = None
    values: dict = dataclasses.field(default_factory=dict)
    genotype: object = None
    seconds: dict = dataclasses.field(default_factory=dict)
    metrics: dict = dataclasses.field(default_factory=dict)

    @property
    def label(self):
        """The name a user sees, from the trial's folder: `"trial 02"`."""
        return f"trial {self.trial_id}"

    @property
    def x(self):
        """The trial's position on the progress plot: its id as a number
        (keras-tuner counts from 0), else its start order."""
        return int(self.trial_id) if self.trial_id.isdigit() else self.number

    @property
    def scored(self):
        """Whether the trial completed with a finite score."""
        return (
            self.status == COMPLETED
            and isinstance(self.score, (int, float))
            and math.isfinite(self.score)
        )


@dataclasses.dataclass(frozen=True)
class Search:
    """A keras-tuner search read back from its project directory.

    Attributes:
        directory: the project directory (the one holding `oracle.json`).
        objective: the objective's name, or `None` if it could not be told.
        direction: `"max"`, `"min"`, or `None` if it could not be told.
        records: `TrialRecord`s in trial-number order.
        strategy: the search strategy recorded by `tuner_plugins`' oracle
            (`oracle.json` key `nas_oracle.strategy`), else `search.json`'s,
            else `None`.
        settings: the contents of `search.json` (the proxy's settings), or
            `None` when the directory has none.
        final: the contents of `final.json`, `{"recipe": {...}, "results":
            [{"label", "genotype", "params", "test_accuracy",
            "validation_accuracy", "seconds"}, ...]}`, or `None`.
        costs: what `tuner_plugins`' oracle recorded about costs in
            oracle.json, or `None`: `{"objective": {"kind": "metric" |
            "mnas" | "pareto", ...}, "constraints": {"max_params": ...},
            "cost_model": {"input_shape": ..., ...} or None,
            "infeasible_proposals": int}`.
    """

    directory: str
    objective: str
    direction: str
    records: tuple
    strategy: str = None
    settings: dict = None
    final: dict = None
    costs: dict = None

    @property
    def name(self):
        """The project name (the directory's base name)."""
        return os.path.basename(os.path.normpath(self.directory))


def best_so_far(scores, direction="max"):
    """Returns the running best of `scores`.

    Args:
        scores: numbers in trial order.
        direction: `"max"` or `"min"`.

    Example:

    >>> best_so_far([0.5, 0.4, 0.7, 0.6])
    [0.5, 0.5, 0.7, 0.7]
    >>> best_so_far([3.0, 1.0, 2.0], direction="min")
    [3.0, 1.0, 1.0]
    """
    pick = max if _check_direction(direction) == "max" else min
    best, current = [], None
    for score in scores:
        current = score if current is None else pick(current, score)
        best.append(current)
    return best


def top_trials(records, k=5, direction="max"):
    """Returns the `k` best scored records, best first (ties: earlier first).

    Args:
        records: `TrialRecord`s (or a `Search`).
        k: how many.
        direction: `"max"` or `"min"`.
    """
    sign = -1 if _check_direction(direction) == "max" else 1
    scored = [r for r in _records_of(records) if r.scored]
    return sorted(scored, key=lambda r: (sign * r.score, r.number))[:k]


def load_search(directory, project_name=None, direction=None):
    """Reads a keras-tuner project directory.

    Args:
        directory: the project directory (the one holding `oracle.json`), or
            the tuner's `directory` when `project_name` is given.
        project_name: the tuner's `project_name`, if `directory` is its parent.
        direction: `"max"` or `"min"` to override the objective's direction
            (needed when it can be neither read nor inferred, e.g. with a
            multi-objective search).

    Returns:
        A `Search`.

    Raises:
        ValueError: if the directory is missing, holds no `oracle.json`, or
            its JSON files cannot be read.
    """
    if direction is not None:
        _check_direction(direction)
    path = os.fspath(directory)
    if project_name is not None:
        path = os.path.join(path, os.fspath(project_name))
    if not os.path.isdir(path):
        raise ValueError(
            f"Invalid value received for argument `directory`: {path!r} does not "
            "exist or is not a directory. Expected the directory passed to the "
            "tuner as `directory`/`project_name`."
        )
    oracle_path = os.path.join(path, "oracle.json")
    if not os.path.isfile(oracle_path):
        message = (
            f"{path!r} has no oracle.json; expected the directory passed to the "
            "tuner as `directory`/`project_name`."
        )
        projects = sorted(
            name
            for name in os.listdir(path)
            if os.path.isfile(os.path.join(path, name, "oracle.json"))
        )
        if projects:
            message += (
                f" It contains the keras-tuner projects {projects}: pass one of "
                "them (or `project_name=`)."
            )
        raise ValueError(message)
    oracle = _read_json(oracle_path)
    if not isinstance(oracle, dict):
        raise ValueError(f"{oracle_path!r} is not a keras-tuner oracle file.")

    trials = {}  # trial_id -> trial.json contents
    for entry in sorted(os.listdir(path)):
        trial_path = os.path.join(path, entry, "trial.json")
        if entry.startswith("trial_") and os.path.isfile(trial_path):
            state = _read_json(trial_path)
            if not isinstance(state, dict):
                raise ValueError(f"{trial_path!r} is not a keras-tuner trial file.")
            trial_id = str(state.get("trial_id") or entry[len("trial_") :])
            trials[trial_id] = state

    # Trials the oracle started, in order (once each), then any it did not list.
    start_order = list(
        dict.fromkeys(
            str(t) for t in oracle.get("start_order") or [] if str(t) in trials
        )
    )
    rest = sorted(set(trials) - set(start_order), key=_natural_key)
    records = tuple(
        _record(trial_id, number, trials[trial_id])
        for number, trial_id in enumerate(start_order + rest, start=1)
    )
    objective, found_direction = _objective(oracle, trials, records)
    settings = _read_optional(path, SEARCH_FILE)
    nas_oracle = oracle.get("nas_oracle")
    nas_oracle = nas_oracle if isinstance(nas_oracle, dict) else {}
    costs = {
        key: nas_oracle[key]
        for key in ("objective", "constraints", "cost_model", "infeasible_proposals")
        if key in nas_oracle
    }
    return Search(
        directory=path,
        objective=objective,
        direction=direction or found_direction,
        records=records,
        strategy=nas_oracle.get("strategy") or (settings or {}).get("strategy"),
        settings=settings,
        final=_read_optional(path, FINAL_FILE),
        costs=costs or None,
    )


def plot_progress(searches, path=None, direction="max", title=None, ylabel=None):
    """Plots score against trial number, with the best-so-far line.

    Args:
        searches: label -> `Search` or sequence of `TrialRecord`s; one set of
            points and one best-so-far line per label (several searches =
            several strategies on one plot). A trial is plotted at its id
            (`TrialRecord.x`), as its folder names it.
        path: optional file to write (`.png`, `.svg` or `.pdf`).
        direction: `"max"` or `"min"`, for the best-so-far line.
        title: optional plot title.
        ylabel: y axis label; defaults to the searches' common objective name,
            else `"score"`.

    Returns:
        A dict with `"figure"`, `"ax"` and `"data"`: label -> `{"trials": [...],
        "scores": [...], "best": [...]}`, exactly what was plotted (trial
        ids, scores, best so far). The points' `Line2D` has the label as
        its label, the best-so-far line `"<label> (best so far)"`.

    Example:

    >>> records = [TrialRecord("0", 1, "COMPLETED", 0.5),
    ...            TrialRecord("1", 2, "FAILED"),
    ...            TrialRecord("2", 3, "COMPLETED", 0.7)]
    >>> plot_progress({"random": records})["data"]["random"]
    {'trials': [0, 2], 'scores': [0.5, 0.7], 'best': [0.5, 0.7]}
    """
    from matplotlib.ticker import MaxNLocator

    _check_direction(direction)
    if path is not None:
        viz._check_path(path)
    figure = viz._new_figure(7, 4)
    ax = figure.add_subplot()
    data = {}
    objectives = set()
    for i, (label, records) in enumerate(searches.items()):
        if isinstance(records, Search):
            objectives.add(records.objective)
        scored = sorted(
            (r for r in _records_of(records) if r.scored), key=lambda r: r.number
        )
        trials = [r.x for r in scored]
        scores = [float(r.score) for r in scored]
        best = best_so_far(scores, direction)
        data[str(label)] = {"trials": trials, "scores": scores, "best": best}
        color = f"C{i % 10}"
        ax.plot(
            trials, scores, "o", color=color, alpha=0.5, markersize=4, label=str(label)
        )
        ax.plot(
            trials,
            best,
            "-",
            drawstyle="steps-post",
            color=color,
            linewidth=1.5,
            label=f"{label} (best so far)",
        )
    if ylabel is None:
        ylabel = (
            objectives.pop()
            if len(objectives) == 1 and None not in objectives
            else "score"
        )
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial (id)")
    ax.set_ylabel(f"{ylabel} ({'higher' if direction == 'max' else 'lower'} is better)")
    ax.grid(alpha=0.3)
    if data:
        ax.legend(fontsize=8)
    if title:
        ax.set_title(title)
    figure.tight_layout()
    if path is not None:
        viz._save(figure, path)
    return {"figure": figure, "ax": ax, "data": data}


def accuracy_metric(search):
    """`(name, direction)` of the metric the cost plot's y axis shows: the
    accuracy a `MnasReward` scales, a `Pareto`'s first objective, else the
    objective itself."""
    objective = (search.costs or {}).get("objective") or {}
    if objective.get("kind") == "mnas" and objective.get("metric"):
        return objective["metric"], "max"
    return search.objective, search.direction


def cost_points(search, cost="macs"):
    """`[(record, accuracy, cost), ...]` of the scored trials that recorded
    both `cost` (a metric name, e.g. `"macs"`) and the accuracy metric
    (`accuracy_metric`; the score if the trials lack it)."""
    name, _ = accuracy_metric(search)
    points = []
    for record in search.records:
        if not record.scored or cost not in record.metrics:
            continue
        accuracy = record.metrics.get(name, record.score)
        points.append((record, float(accuracy), record.metrics[cost]))
    return points


def pareto_records(search, costs=None):
    """The scored trials no other trial beats on the accuracy and on every
    cost at once (costs are better smaller), best accuracy first.

    Args:
        search: a `Search`.
        costs: the cost metric names; None: a Pareto search's own costs, else
            `("macs",)`.
    """
    objective = (search.costs or {}).get("objective") or {}
    if costs is None:
        costs = [
            o["name"]
            for o in objective.get("objectives", [])[1:]
            if isinstance(o, dict) and o.get("name") in COSTS
        ] or ["macs"]
    _, direction = accuracy_metric(search)
    sign = -1.0 if direction == "min" else 1.0
    rows = [
        (record, accuracy)
        for record, accuracy, _ in cost_points(search, costs[0])
        if all(c in record.metrics for c in costs)
    ]
    points = [
        (sign * accuracy, *(-record.metrics[c] for c in costs))
        for record, accuracy in rows
    ]
    front = [rows[i] for i in pareto.pareto_front(points)]
    return [r for r, _ in sorted(front, key=lambda ra: (-sign * ra[1], ra[0].number))]


def reference_costs(search, accuracies=None):
    """NASNet-A's and AmoebaNet-A's costs at the search's size.

    The size is the cost model `tuner_plugins`' oracle recorded (input
    shape, classes, stem) with the N and F most of the scored trials used.
    The genotypes are the published ones (`keras_nasnet.genotypes`), whose
    released wiring concatenates h_{i-1} too: a trial of the search space
    with the same decisions is a different network (its concat is derived),
    so only a trial with exactly the published genotype counts as theirs.

    Args:
        search: a `Search`.
        accuracies: optional `{name: accuracy}` measured elsewhere at the
            same size (e.g. `{"NASNet-A": 0.91}`).

    Returns:
        `{name: {"params", "macs", "size", "accuracy", "trial_id"}}` for
        `REFERENCE_GENOTYPES`; `accuracy` is from `accuracies`, else a
        trial's with exactly that genotype (its `trial_id`), else None (not
        measured). Empty when the search recorded no cost model.
    """
    from keras_nasnet import genotypes
    from keras_nasnet.space import cost as cost_lib

    model = (search.costs or {}).get("cost_model")
    if not isinstance(model, dict):
        return {}
    sizes = {}
    for record in search.records:
        if record.scored:
            size = tuple(
                record.values.get(k, model.get(k))
                for k in ("cells_per_stack", "filters")
            )
            sizes[size] = sizes.get(size, 0) + 1
    n, f = max(sizes, key=sizes.get) if sizes else (None, None)
    n, f = n or model.get("cells_per_stack"), f or model.get("filters")
    if n is None or f is None:
        return {}
    name, _ = accuracy_metric(search)
    out = {}
    for label in REFERENCE_GENOTYPES:
        genotype = genotypes.get(label)
        try:
            cost = cost_lib.network_cost(
                genotype,
                int(n),
                filters=int(f),
                stem=model.get("stem", "cifar"),
                stem_multiplier=model.get("stem_multiplier"),
                num_classes=model["num_classes"],
                input_shape=tuple(model["input_shape"]),
                stem_strides=model.get("stem_strides", 1),
            )
        except (ValueError, KeyError, TypeError):
            continue
        match = next(
            (r for r in search.records if r.scored and r.genotype == genotype), None
        )
        accuracy = (accuracies or {}).get(label)
        if accuracy is None and match is not None:
            accuracy = match.metrics.get(name, match.score)
        out[label] = {
            "params": cost.params,
            "macs": cost.macs,
            "size": f"N={n}, F={f}",
            "accuracy": None if accuracy is None else float(accuracy),
            "trial_id": None if match is None else match.trial_id,
        }
    return out


def plot_cost(searches, path=None, cost="macs", title=None, reference_accuracies=None):
    """Plots accuracy against cost, the Pareto front highlighted.

    Every scored trial that recorded `cost` is a point; each search's front
    (`pareto_records` on this cost) is a step line through larger markers.
    A budget on this cost (`max_params`, `max_macs`, `max_latency_ms`) is a
    dashed vertical line; NASNet-A and AmoebaNet-A at the search's size
    (`reference_costs`, when it is known) are dotted vertical lines at their
    cost, and points where a trial measured their accuracy.

    Args:
        searches: label -> `Search` (or one `Search`).
        path: optional file to write (`.png`, `.svg` or `.pdf`).
        cost: the cost metric on the x axis: `"macs"`, `"params"` or
            `"latency_ms"`.
        title: optional plot title.
        reference_accuracies: optional `{name: accuracy}` of NASNet-A and
            AmoebaNet-A at the search's size, measured elsewhere: they are
            drawn as stars (see `reference_costs`).

    Returns:
        A dict with `"figure"`, `"ax"`, `"data"`: label -> `{"trials",
        "costs", "accuracies", "front"}` (trial ids, and the front's trial
        ids, accuracy first), and `"references"`: label -> `reference_costs`.

    Raises:
        ValueError: for an unknown cost.
    """
    if cost not in COSTS:
        raise ValueError(
            "Invalid value received for argument `cost`. Expected one of "
            f"{', '.join(map(repr, COSTS))}. Received: cost={cost!r}"
        )
    if isinstance(searches, Search):
        searches = {searches.name: searches}
    if path is not None:
        viz._check_path(path)
    figure = viz._new_figure(7, 4.5)
    ax = figure.add_subplot()
    data, references, ylabels = {}, {}, set()
    for i, (label, search) in enumerate(searches.items()):
        color = f"C{i % 10}"
        points = cost_points(search, cost)
        name, direction = accuracy_metric(search)
        ylabels.add((name, direction))
        front = pareto_records(search, [cost])
        data[str(label)] = {
            "trials": [r.x for r, _, _ in points],
            "costs": [c for _, _, c in points],
            "accuracies": [a for _, a, _ in points],
            "front": [r.x for r in front],
        }
        ax.plot(
            [c for _, _, c in points],
            [a for _, a, _ in points],
            "o",
            color=color,
            alpha=0.35,
            markersize=4,
            label=f"{label}: trials",
        )
        by_cost = sorted(front, key=lambda r: r.metrics[cost])
        front_x = [r.metrics[cost] for r in by_cost]
        front_y = [r.metrics.get(name, r.score) for r in by_cost]
        ax.plot(
            front_x,
            front_y,
            "D-",
            drawstyle="steps-post",
            color=color,
            markersize=6,
            linewidth=1.5,
            label=f"{label}: Pareto front",
        )
        budget = ((search.costs or {}).get("constraints") or {}).get(
            {"params": "max_params", "macs": "max_macs"}.get(cost, "max_latency_ms")
        )
        if isinstance(budget, (int, float)):
            ax.axvline(budget, color=color, linestyle="--", linewidth=1)
            ax.annotate(
                "budget",
                (budget, 0.98),
                xycoords=("data", "axes fraction"),
                rotation=90,
                ha="right",
                va="top",
                fontsize=8,
                color=color,
            )
        references[str(label)] = reference_costs(search, reference_accuracies)
        for ref, info in references[str(label)].items():
            if cost not in info:
                continue
            ax.axvline(info[cost], color="0.4", linestyle=":", linewidth=1)
            text = f"{ref} ({info['size']})"
            if info["accuracy"] is not None:
                ax.plot(info[cost], info["accuracy"], "*", color="k", markersize=10)
            else:
                text += ", accuracy not measured"
            ax.annotate(
                text,
                (info[cost], 0.02),
                xycoords=("data", "axes fraction"),
                rotation=90,
                ha="right",
                va="bottom",
                fontsize=7,
                color="0.3",
            )
    from matplotlib.ticker import EngFormatter

    name, direction = ylabels.pop() if len(ylabels) == 1 else ("accuracy", "max")
    if cost != "latency_ms":
        ax.xaxis.set_major_formatter(EngFormatter())
    ax.set_xlabel(f"{COSTS[cost].lower()} (lower is better)")
    ax.set_ylabel(
        f"{name or 'score'} ({'higher' if direction != 'min' else 'lower'} is better)"
    )
    ax.grid(alpha=0.3)
    if data:
        ax.legend(fontsize=8, loc="best")
    if title:
        ax.set_title(title)
    figure.tight_layout()
    if path is not None:
        viz._save(figure, path)
    return {"figure": figure, "ax": ax, "data": data, "references": references}


def _cost_axis(searches):
    """The cost the report plots: MACs when recorded, else parameters, else
    latency; None when no trial recorded a cost."""
    for cost in ("macs", "params", "latency_ms"):
        if any(cost_points(s, cost) for s in searches.values()):
            return cost
    return None


def _cost_columns(rows):
    """The costs any of the top trials recorded, in `COSTS` order."""
    return [c for c in COSTS if any(c in record.metrics for record, _ in rows)]


def _format_cost(record, cost):
    value = record.metrics.get(cost)
    if value is None:
        return "-"
    return f"{value:.3g}" if cost == "latency_ms" else f"{int(round(value)):,}"


def _budget_note(searches):
    """One line per search with budgets or a cost-aware objective."""
    lines = []
    for label, search in searches.items():
        costs = search.costs or {}
        budgets = {
            k: v for k, v in (costs.get("constraints") or {}).items() if v is not None
        }
        objective = costs.get("objective") or {}
        parts = []
        if budgets:
            parts.append(
                "budgets "
                + ", ".join(
                    f"{k}={v:,}" if isinstance(v, int) else f"{k}={v:g}"
                    for k, v in budgets.items()
                )
                + f" ({costs.get('infeasible_proposals', 0):,} proposals over "
                "budget redrawn, never trained)"
            )
        if objective.get("kind") == "mnas":
            parts.append(
                f"score = {objective['metric']} x ({objective['cost']} / "
                f"{objective['target']:g}) ^ {objective['alpha']:g} (MnasNet's reward)"
            )
        elif objective.get("kind") == "pareto":
            names = [o["name"] for o in objective.get("objectives", [])]
            parts.append(
                "Pareto search over " + ", ".join(names) + f" (the score is {names[0]})"
            )
        if parts:
            lines.append(f"{label}: " + "; ".join(parts) + ".")
    return lines


def write_report(
    directories,
    out_path,
    top_k=5,
    param_counts=None,
    direction=None,
    title="Architecture search report",
    reference_accuracies=None,
):
    """Writes one page reporting on one or more searches.

    The page holds a summary of each search, the progress plot (PNG shown,
    SVG linked), the accuracy-against-cost plot when trials recorded a cost
    (`plot_cost`, with the search's budgets and cost-aware objective), and
    for each search a table of its `top_k` best trials (rank, trial id,
    score, parameter count if `param_counts` is given, the params, MACs and
    latency the trials recorded, and the genotype text) followed by the
    diagrams of their genotypes. Images go in `<out_path without
    extension>_files/` next to the page.

    Everything is read and computed before anything is written, so an error
    leaves no partial report behind.

    Args:
        directories: a project directory, a sequence of them, or a dict
            label -> directory. `Search` objects are accepted in their place.
            Labels default to the project names.
        out_path: the page to write; `.html` or `.md` picks the format.
        top_k: how many trials to list per search.
        param_counts: optional callable `genotype -> int` (e.g. building the
            model with Keras and counting its parameters).
        direction: `"max"` or `"min"` to override the searches' direction.
        title: the page title.
        reference_accuracies: optional `{"NASNet-A": accuracy, ...}` at the
            searches' size, for the cost plot (see `plot_cost`).

    Returns:
        A dict with `"page"` (the page's path), `"progress"` (format -> path),
        `"cost"` (format -> path of the cost plot, empty without costs) and
        `"diagrams"` (label -> trial id -> `save_genotype_diagrams` paths).

    Raises:
        ValueError: on a bad argument, a directory that is not a keras-tuner
            project, searches that disagree on the direction, or a direction
            that cannot be told.
    """
    out_path = os.fspath(out_path)
    ext = os.path.splitext(out_path)[1].lower()
    if ext not in _REPORT_FORMATS:
        raise ValueError(
            "Invalid value received for argument `out_path`. Expected a file "
            f"name ending in one of {', '.join(_REPORT_FORMATS)}. Received: "
            f"out_path={out_path!r}"
        )
    fmt = _REPORT_FORMATS[ext]
    if isinstance(top_k, bool) or not isinstance(top_k, int) or top_k < 1:
        raise ValueError(
            "Invalid value received for argument `top_k`. Expected a positive "
            f"integer. Received: top_k={top_k!r}"
        )
    if param_counts is not None and not callable(param_counts):
        raise ValueError(
            "Invalid value received for argument `param_counts`. Expected a "
            f"callable genotype -> int or None. Received: {param_counts!r}"
        )
    if direction is not None:
        _check_direction(direction)

    searches = _load_all(directories)
    direction = _common_direction(searches, direction)
    # label -> list of (record, param count or None)
    tops = {}
    for label, search in searches.items():
        rows = []
        for record in top_trials(search.records, top_k, direction):
            count = None
            if param_counts is not None and record.genotype is not None:
                count = int(param_counts(record.genotype))
            rows.append((record, count))
        tops[label] = rows

    out_dir = os.path.dirname(os.path.abspath(out_path))
    assets = os.path.splitext(os.path.abspath(out_path))[0] + "_files"
    os.makedirs(assets, exist_ok=True)
    progress = {}
    result = plot_progress(searches, direction=direction, title="Search progress")
    for image_format in ("png", "svg"):
        progress[image_format] = os.path.join(assets, f"progress.{image_format}")
        viz._save(result["figure"], progress[image_format])
    cost_plot = {}
    cost = _cost_axis(searches)
    if cost is not None:
        figure = plot_cost(
            searches,
            cost=cost,
            title="Accuracy against cost",
            reference_accuracies=reference_accuracies,
        )["figure"]
        for image_format in ("png", "svg"):
            cost_plot[image_format] = os.path.join(assets, f"cost.{image_format}")
            viz._save(figure, cost_plot[image_format])
    diagrams = {}
    stems = set()
    for label, rows in tops.items():
        diagrams[label] = {}
        for record, _ in rows:
            if record.genotype is not None:
                stem = base = f"{_slug(label)}_trial_{_slug(record.trial_id)}"
                while stem in stems:  # labels that differ only in odd characters
                    stem = f"{base}_{len(stems)}"
                stems.add(stem)
                diagrams[label][record.trial_id] = viz.save_genotype_diagrams(
                    record.genotype, assets, stem
                )

    def link(path):
        return urllib.parse.quote(os.path.relpath(path, out_dir).replace(os.sep, "/"))

    # "progress": format -> path; "cost": (cost name, format -> path).
    plots = {"progress": progress, "cost": (cost, cost_plot)}
    page = (_html_page if fmt == "html" else _markdown_page)(
        title, searches, direction, tops, plots, diagrams, link, param_counts
    )
    with open(out_path, "w", encoding="utf-8") as f:
        f.write(page)
    return {
        "page": out_path,
        "progress": progress,
        "cost": cost_plot,
        "diagrams": diagrams,
    }


def format_score(score):
    """The score as the report prints it (6 significant digits).

    >>> format_score(0.912345678)
    '0.912346'
    """
    return format(float(score), ".6g")


def format_duration(seconds):
    """A wall time as the report prints it.

    >>> format_duration(2.34), format_duration(243), format_duration(3723)
    ('2.3s', '4m03s', '1h02m03s')
    """
    if seconds < 59.95:
        return f"{seconds:.1f}s"
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{seconds:02d}s"
    return f"{minutes}m{seconds:02d}s"


# Private helpers.


def _check_direction(direction):
    if direction not in DIRECTIONS:
        raise ValueError(
            "Invalid value received for argument `direction`. Expected 'max' or "
            f"'min'. Received: direction={direction!r}"
        )
    return direction


def _records_of(records):
    return records.records if isinstance(records, Search) else records


def _read_json(path):
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"Could not read {path!r} as JSON: {e}") from None


def _read_optional(directory, name):
    """The JSON object in `directory/name`, or None if there is no such file."""
    path = os.path.join(directory, name)
    if not os.path.isfile(path):
        return None
    data = _read_json(path)
    if not isinstance(data, dict):
        raise ValueError(f"{path!r} is not a keras-nasnet {name} (not a JSON object).")
    return data


def _natural_key(text):
    return [
        (0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", text)
    ]


def _genotype(values):
    # Imported here: `tuner_plugins` is the search layer; reading its naming
    # scheme must not make this module import keras-tuner at import time.
    from keras_nasnet.space import decisions

    if decisions.num_blocks_in(values) == 0:
        return None
    try:
        return decisions.decode(values)
    except ValueError:
        return None


def _record(trial_id, number, state):
    values = (state.get("hyperparameters") or {}).get("values") or {}
    score = state.get("score")
    if isinstance(score, bool) or not isinstance(score, (int, float)):
        score = None
    metrics = (state.get("metrics") or {}).get("metrics") or {}
    last = {}  # metric name -> its last finite value
    for name, metric in metrics.items():
        means = _observation_means(metric) if isinstance(metric, dict) else []
        if means and math.isfinite(means[-1]):
            last[str(name)] = float(means[-1])
    seconds = {
        phase: last[metric_name(phase)]
        for phase in PHASES
        if metric_name(phase) in last
    }
    return TrialRecord(
        trial_id=trial_id,
        number=number,
        status=str(state.get("status")),
        score=score,
        values=dict(values),
        genotype=_genotype(values),
        seconds=seconds,
        metrics={n: v for n, v in last.items() if not n.startswith("seconds_")},
    )


def _observation_means(metric):
    # keras-tuner: the mean of each observation's values, NaNs left out.
    means = []
    for observation in metric.get("observations") or []:
        value = observation.get("value")
        value = value if isinstance(value, list) else [value]
        numbers = [v for v in value if isinstance(v, (int, float))]
        if numbers:
            means.append(sum(numbers) / len(numbers))
    return [m for m in means if not math.isnan(m)]


def _best_observation(metric):
    # keras-tuner's best value of a metric: by its direction.
    means = _observation_means(metric)
    if not means:
        return None
    return max(means) if metric.get("direction") == "max" else min(means)


def _objective(oracle, trials, records):
    """Returns `(objective name or None, direction or None)`."""
    recorded = (oracle.get("nas_oracle") or {}).get("objective")
    if isinstance(recorded, dict):
        # tuner_plugins' oracle: a Pareto search is scored by its first
        # objective, MnasNet's by its reward.
        if recorded.get("kind") == "pareto" and recorded.get("objectives"):
            recorded = recorded["objectives"][0]
        elif recorded.get("kind") == "mnas":
            recorded = {"name": recorded.get("name"), "direction": "max"}
        if recorded.get("direction") in DIRECTIONS:
            return recorded.get("name"), recorded["direction"]
    objective = oracle.get("objective")
    if isinstance(objective, list) and len(objective) == 1:
        objective = objective[0]
    if isinstance(objective, dict) and objective.get("direction") in DIRECTIONS:
        return objective.get("name"), objective["direction"]
    # Infer: metric name -> direction for the metrics that match every score.
    candidates = None
    for record in records:
        if not record.scored:
            continue
        metrics = (trials[record.trial_id].get("metrics") or {}).get("metrics") or {}
        matching = {
            name: metric.get("direction")
            for name, metric in metrics.items()
            if isinstance(metric, dict)
            and metric.get("direction") in DIRECTIONS
            and _best_observation(metric) is not None
            and math.isclose(_best_observation(metric), record.score, rel_tol=1e-12)
        }
        if candidates is None:
            candidates = matching
        else:
            candidates = {n: d for n, d in candidates.items() if matching.get(n) == d}
    if not candidates:
        return None, None
    directions = set(candidates.values())
    name = next(iter(candidates)) if len(candidates) == 1 else None
    return name, directions.pop() if len(directions) == 1 else None


def _load_all(directories):
    """Returns label -> `Search`, labels unique."""
    if isinstance(directories, (str, os.PathLike, Search)):
        directories = [directories]
    if isinstance(directories, dict):
        items = list(directories.items())
    else:
        items = [(None, d) for d in directories]
    if not items:
        raise ValueError(
            "Invalid value received for argument `directories`. Expected at least "
            "one keras-tuner project directory. Received: an empty collection."
        )
    loaded = [
        (label, d if isinstance(d, Search) else load_search(d)) for label, d in items
    ]
    names = [s.name for _, s in loaded]
    searches = {}
    for label, search in loaded:
        if label is None:
            label = search.name
            if names.count(label) > 1:
                # Same project name in different directories: add the parent.
                parent = os.path.basename(
                    os.path.dirname(os.path.normpath(search.directory))
                )
                label = f"{parent}/{label}"
        base, n = str(label), 2
        label = base
        while label in searches:
            label, n = f"{base} ({n})", n + 1
        searches[label] = search
    return searches


def _common_direction(searches, direction):
    if direction is not None:
        return direction
    found = {label: s.direction for label, s in searches.items()}
    known = set(found.values()) - {None}
    if len(known) > 1:
        raise ValueError(
            "The searches do not agree on the objective's direction "
            f"({found}); a common progress plot would mix higher-is-better and "
            "lower-is-better scores. Report them separately, or pass `direction=`."
        )
    unknown = [
        label
        for label, s in searches.items()
        if s.direction is None and any(r.scored for r in s.records)
    ]
    if unknown and not known:
        raise ValueError(
            f"Could not tell the objective's direction of {unknown}: oracle.json "
            "records no objective and no metric matches the trials' scores "
            "(e.g. a multi-objective search). Pass direction='max' or 'min'."
        )
    return known.pop() if known else "max"


def _slug(text):
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", str(text)).strip("_") or "search"


_SUMMARY_HEADER = (
    "Search",
    "Directory",
    "Strategy",
    "Objective",
    "Direction",
    "Trials",
    "Scored",
    "Wall time",
)


def _total_seconds(search):
    """The trials' summed wall time, or None when none recorded it."""
    times = [r.seconds["total"] for r in search.records if "total" in r.seconds]
    return sum(times) if times else None


def _summary_rows(searches):
    for label, search in searches.items():
        ended = sum(r.status in _ENDED for r in search.records)
        planned = (search.settings or {}).get("max_trials")
        if isinstance(planned, bool) or not isinstance(planned, int):
            planned = len(search.records)
        total = _total_seconds(search)
        yield (
            label,
            search.directory,
            search.strategy or "?",
            search.objective or "?",
            search.direction or "?",
            f"{ended}/{max(planned, len(search.records))} done",
            str(sum(r.scored for r in search.records)),
            "-" if total is None else format_duration(total),
        )


def _setting_rows(searches):
    """`(setting name, value per search)` for the settings any search records."""
    with_settings = [s.settings for s in searches.values() if s.settings]
    if not with_settings:
        return []
    rows = []
    for key, name in _SETTING_NAMES.items():
        if not any(key in settings for settings in with_settings):
            continue
        values = []
        for search in searches.values():
            value = (search.settings or {}).get(key, "-")
            if value is None:
                value = "all" if key == "train_images" else "default"
            values.append(f"{value:,}" if isinstance(value, int) else str(value))
        rows.append((name, values))
    return rows


def _proxy_note(searches):
    """Why trial scores are not final accuracies, with the proxy's size."""
    sizes = []
    for search in searches.values():
        settings = search.settings or {}
        parts = [
            f"{name}={settings[key]}"
            for key, name in (("cells_per_stack", "N"), ("filters", "F"))
            if settings.get(key) is not None
        ]
        if settings.get("epochs") is not None:
            parts.append(f"{settings['epochs']} epochs")
        if settings.get("train_images") is not None:
            parts.append(f"{settings['train_images']:,} training images")
        if parts:
            sizes.append(", ".join(parts))
    size = f" ({'; '.join(dict.fromkeys(sizes))})" if sizes else ""
    return (
        "Trial scores are proxy results: each child network is small and "
        f"trained briefly{size}, to rank cells against each other. They are not "
        "the accuracy of the chosen cell in a full-size network trained to the "
        "end; the final training below, when it was run, gives that."
    )


def _final_rows(final):
    """`(label, params, validation, test, time, genotype)` per final result."""

    def number(value, fmt):
        return "-" if not isinstance(value, (int, float)) else format(value, fmt)

    for result in final.get("results") or []:
        if not isinstance(result, dict):
            continue
        seconds = result.get("seconds")
        yield (
            str(result.get("label", "?")),
            number(result.get("params"), ","),
            number(result.get("validation_accuracy"), ".4f"),
            number(result.get("test_accuracy"), ".4f"),
            "-" if not isinstance(seconds, (int, float)) else format_duration(seconds),
            str(result.get("genotype") or "-"),
        )


def _recipe_text(final):
    recipe = final.get("recipe") or {}
    return ", ".join(f"{key}={value}" for key, value in recipe.items())


_FINAL_HEADER = ("Model", "Parameters", "Validation accuracy", "Test accuracy", "Time")


def _phases(search):
    """The phases any trial of `search` recorded, in `PHASES` order."""
    return [p for p in PHASES if any(p in r.seconds for r in search.records)]


def _trial_rows(search):
    """`(label, status, score, time per phase...)` for every trial, then,
    if the trials recorded phases, a row of each phase's sum over the
    trials with its share of their total."""
    phases = _phases(search)
    for record in search.records:
        score = format_score(record.score) if record.scored else "-"
        times = [
            format_duration(record.seconds[p]) if p in record.seconds else "-"
            for p in phases
        ]
        yield (record.label, record.status, score, *times)
    if not phases:
        return
    sums = {p: sum(r.seconds.get(p, 0.0) for r in search.records) for p in phases}
    total = sums.get("total")
    times = [
        format_duration(sums[p])
        + (f" ({sums[p] / total:.0%})" if total and p != "total" else "")
        for p in phases
    ]
    yield ("all trials", "", "", *times)


_CSS = (
    "body{font-family:sans-serif;max-width:1200px;margin:auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:0.5em 0}"
    "td,th{border:1px solid #ccc;padding:4px 8px;vertical-align:top}"
    "code{font-size:90%}img{max-width:100%}.note{color:#555}"
    # The two cells of a trial side by side, each at most half the width and
    # a screenful high.
    ".cells{display:flex;gap:1em;align-items:flex-end}"
    ".cells a{flex:1 1 0;min-width:0;text-align:center}"
    ".cells img{max-height:360px;object-fit:contain}"
)


def _html_table(header, rows, row_class=None):
    e = html.escape
    tr = f'<tr class="{row_class}">' if row_class else "<tr>"
    out = ["<table><tr>" + "".join(f"<th>{e(h)}</th>" for h in header) + "</tr>"]
    for row in rows:
        out.append(tr + "".join(f"<td>{c}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return out


def _cost_text(cost):
    return (
        f"The {COSTS[cost].lower()} and the accuracy of every completed trial that "
        "recorded them; the diamonds joined by a step line are the Pareto "
        "front (no other trial is both more accurate and cheaper). Dashed: "
        "the search's budget; dotted: NASNet-A and AmoebaNet-A at the same "
        "size (a star where a trial trained their cells)."
    )


def _html_page(title, searches, direction, tops, plots, diagrams, link, param_counts):
    e = html.escape
    better = "higher" if direction == "max" else "lower"
    out = [
        "<!DOCTYPE html>",
        '<html><head><meta charset="utf-8">',
        f"<title>{e(title)}</title>",
        f"<style>{_CSS}</style>",
        "</head><body>",
        f"<h1>{e(title)}</h1>",
        "<h2>Searches</h2>",
    ]
    out += _html_table(
        _SUMMARY_HEADER,
        [[e(str(c)) for c in row] for row in _summary_rows(searches)],
    )
    settings = _setting_rows(searches)
    if settings:
        out.append("<h2>Proxy settings</h2>")
        out += _html_table(
            ["Setting", *searches],
            [[e(name), *(e(v) for v in values)] for name, values in settings],
        )
    out += [
        "<h2>Progress</h2>",
        f"<p>Score of every completed trial against its trial id, and the best "
        f"so far ({better} is better).</p>",
        f'<p class="note">{e(_proxy_note(searches))}</p>',
        f'<p><a href="{link(plots["progress"]["svg"])}">'
        f'<img src="{link(plots["progress"]["png"])}" '
        'alt="search progress"></a></p>',
    ]
    cost, plot = plots["cost"]
    if plot:
        out += ["<h2>Accuracy against cost</h2>", f"<p>{e(_cost_text(cost))}</p>"]
        out += [f'<p class="note">{e(line)}</p>' for line in _budget_note(searches)]
        out.append(
            f'<p><a href="{link(plot["svg"])}"><img src="{link(plot["png"])}" '
            'alt="accuracy against cost"></a></p>'
        )
    for label, search in searches.items():
        if search.final:
            out.append(f"<h2>{e(label)}: final training (reference point)</h2>")
            recipe = _recipe_text(search.final)
            if recipe:
                out.append(f"<p>Recipe: <code>{e(recipe)}</code></p>")
            rows = [
                [*(e(c) for c in row[:-1]), f"<code>{e(row[-1])}</code>"]
                if row[-1] != "-"
                else [e(c) for c in row]
                for row in _final_rows(search.final)
            ]
            out += _html_table([*_FINAL_HEADER, "Genotype"], rows, "final")
    for label, rows in tops.items():
        out.append(f"<h2>{e(label)}: top {len(rows)} trials</h2>")
        if not rows:
            out.append("<p>No completed trials.</p>")
        else:
            header = ["Rank", "Trial", "Score"]
            header += ["Parameters"] if param_counts is not None else []
            costs = _cost_columns(rows)
            header += [COSTS[c] for c in costs]
            table = []
            for rank, (record, count) in enumerate(rows, start=1):
                genotype = (
                    "<code>" + e(str(record.genotype)).replace("\n", "<br>") + "</code>"
                    if record.genotype is not None
                    else "(not a cell search)"
                )
                cells = [str(rank), e(record.trial_id), format_score(record.score)]
                if param_counts is not None:
                    cells.append("" if count is None else f"{count:,}")
                cells += [_format_cost(record, c) for c in costs]
                table.append([*cells, genotype])
            out += _html_table([*header, "Genotype"], table, "trial")
        for record, _ in rows:
            paths = diagrams[label].get(record.trial_id)
            if paths is None:
                continue
            out.append(
                f"<h3>{e(record.label)} (score {format_score(record.score)})</h3>"
                '<div class="cells">'
            )
            for cell, files in paths.items():
                out.append(
                    f'<a href="{link(files["svg"])}"><img src="{link(files["png"])}" '
                    f'alt="{e(cell)} cell of {e(record.label)}"></a>'
                )
            out.append("</div>")
        search = searches[label]
        out.append(
            f"<details><summary>{e(label)}: all {len(search.records)} trials</summary>"
        )
        out += _html_table(
            ["Trial", "Status", "Score", *_phases(search)],
            [[e(c) for c in row] for row in _trial_rows(search)],
            "timing",
        )
        out.append("</details>")
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def _md_cell(text):
    return str(text).replace("|", "\\|").replace("\n", "<br>")


def _md_table(header, rows):
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(row) + " |" for row in rows]
    return out + [""]


def _markdown_page(
    title, searches, direction, tops, plots, diagrams, link, param_counts
):
    better = "higher" if direction == "max" else "lower"
    out = [f"# {title}", "", "## Searches", ""]
    out += _md_table(
        _SUMMARY_HEADER,
        [[_md_cell(c) for c in row] for row in _summary_rows(searches)],
    )
    settings = _setting_rows(searches)
    if settings:
        out += ["## Proxy settings", ""]
        out += _md_table(
            ["Setting", *(_md_cell(label) for label in searches)],
            [[_md_cell(name), *map(_md_cell, values)] for name, values in settings],
        )
    out += [
        "## Progress",
        "",
        "Score of every completed trial against its trial id, and the best so "
        f"far ({better} is better).",
        "",
        _proxy_note(searches),
        "",
        f"![search progress]({link(plots['progress']['png'])}) "
        f"([SVG]({link(plots['progress']['svg'])}))",
        "",
    ]
    cost, plot = plots["cost"]
    if plot:
        out += ["## Accuracy against cost", "", _cost_text(cost), ""]
        for line in _budget_note(searches):
            out += [line, ""]
        out += [
            f"![accuracy against cost]({link(plot['png'])}) "
            f"([SVG]({link(plot['svg'])}))",
            "",
        ]
    for label, search in searches.items():
        if search.final:
            out += [f"## {_md_cell(label)}: final training (reference point)", ""]
            recipe = _recipe_text(search.final)
            if recipe:
                out += [f"Recipe: `{recipe}`", ""]
            out += _md_table(
                [*_FINAL_HEADER, "Genotype"],
                [
                    [*map(_md_cell, row[:-1]), f"`{_md_cell(row[-1])}`"]
                    if row[-1] != "-"
                    else list(map(_md_cell, row))
                    for row in _final_rows(search.final)
                ],
            )
    for label, rows in tops.items():
        out += [f"## {_md_cell(label)}: top {len(rows)} trials", ""]
        if not rows:
            out += ["No completed trials.", ""]
        else:
            header = ["Rank", "Trial", "Score"]
            header += ["Parameters"] if param_counts is not None else []
            costs = _cost_columns(rows)
            header += [COSTS[c] for c in costs]
            table = []
            for rank, (record, count) in enumerate(rows, start=1):
                cells = [
                    str(rank),
                    _md_cell(record.trial_id),
                    format_score(record.score),
                ]
                if param_counts is not None:
                    cells.append("" if count is None else f"{count:,}")
                cells += [_format_cost(record, c) for c in costs]
                if record.genotype is None:
                    cells.append("(not a cell search)")
                else:
                    cells.append(
                        "<br>".join(
                            f"`{_md_cell(line)}`"
                            for line in str(record.genotype).splitlines()
                        )
                    )
                table.append(cells)
            out += _md_table([*header, "Genotype"], table)
        for record, _ in rows:
            paths = diagrams[label].get(record.trial_id)
            if paths is None:
                continue
            out += [
                f"### {_md_cell(record.label)} (score {format_score(record.score)})",
                "",
            ]
            # HTML images: side by side, each half the width.
            out.append(
                "".join(
                    f'<a href="{link(files["svg"])}"><img src="{link(files["png"])}" '
                    f'alt="{html.escape(cell)} cell of {html.escape(record.label)}" '
                    'width="49%"></a>'
                    for cell, files in paths.items()
                )
            )
            out.append("")
        search = searches[label]
        out += [f"### {_md_cell(label)}: all {len(search.records)} trials", ""]
        out += _md_table(
            ["Trial", "Status", "Score", *_phases(search)],
            [list(map(_md_cell, row)) for row in _trial_rows(search)],
        )
    return "\n".join(out)
