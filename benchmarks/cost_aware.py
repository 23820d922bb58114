"""Cost-aware search: a budget against no budget, and Pareto evolution against
random search, on the default search proxy.

Three parts (`--parts`), each over several seeds:

- `constrained`: aging evolution with a MACs (or parameter) budget against the
  same evolution without one, same seed (same data, same initial weights of
  trial k), same number of trials, each search `keras_nasnet.workflow.search`
  (what `keras-nasnet search` runs) on the default proxy
  (`keras_nasnet.training.SEARCH_PROXY`: N=1, F=8, B=5, one epoch, stride-2
  stem). The budget is the `--budget-quantile` of the cost of random children
  of that size (analytic, `keras_nasnet.space.cost`). Reports: children
  trained over budget (must be 0 with the budget), the best validation
  accuracy overall and within the budget, and over-budget proposals redrawn.
- `pareto`: evolution with `objective="pareto"` (accuracy against MACs,
  NSGA-II's tournament) against random search (keras-tuner's), same seeds and
  trials, trained on the same proxy; the hypervolume of each search's
  (accuracy, MACs) points.
- `synthetic`: the same comparison with nothing trained, so it can run
  hundreds of trials over many seeds in seconds: a child's "accuracy" is the
  fraction of its cell decisions equal to a hidden target genotype's (one per
  seed), its cost its analytic MACs at the proxy's size. It measures the
  search algorithm, not the proxy.

The hypervolume is of the points (accuracy, -MACs / reference MACs) above the
reference (0, -1), the reference MACs the most expensive of the random
children priced for the budget: 1.0 would be a child of accuracy 1 at no
cost. A verdict says, per comparison, whether every seed points the same way
by more than the noise (two standard errors of a validation accuracy on the
held-out images) on enough seeds for a one-sided sign test at 5% (at least
5); otherwise the data cannot separate the methods.

The JSON (and a Markdown table beside it) is rewritten after each search, so
`--resume` continues a stopped run. `--smoke` is a tiny run for CI.

The default run (for a quiet 2-core CPU: 120 trained trials of the default
proxy, 4,000 images; at the ~45 s a trial such a machine should take, not
measured here, about 1.5 hours):

    python benchmarks/cost_aware.py

The runs committed under benchmarks/results/ (the shared 2-core machine at a
load of 11-13, where a default-proxy trial takes about 3 minutes; sized to
finish in about half an hour):

    python benchmarks/cost_aware.py --seeds 0,1 --max-trials 3 \\
        --train-images 2000 --validation-images 500 --parts constrained
    python benchmarks/cost_aware.py --parts synthetic --synthetic-seeds 10 \\
        --output benchmarks/results/cost_aware_synthetic.json
    python benchmarks/cost_aware.py --parts pareto --seeds 0,1,2 \\
        --max-trials 6 --train-images 2000 --validation-images 500 \\
        --output benchmarks/results/cost_aware_pareto.json

(At 1,000 training images, 16 steps, the proxy's children stayed at chance,
0.08-0.10: too few steps to rank anything.)
"""

import argparse
import contextlib
import json
import math
import os
import sys
import tempfile
import time

import _common
import numpy as np
from search_quality import (
    add_proxy_arguments,
    load_data,
    proxy_settings,
    search_settings,
)

from keras_nasnet import pareto, progress, workflow

PARTS = ("constrained", "pareto", "synthetic")
METHODS = {
    "constrained": ("unconstrained", "constrained"),
    "pareto": ("random", "pareto"),
    "synthetic": ("random", "pareto"),
}


def _arguments(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_proxy_arguments(parser)
    # The default search proxy (the workflow's defaults), not search_quality's.
    proxy = workflow.SearchSettings()
    parser.set_defaults(
        **{
            name: getattr(proxy, name)
            for name in (
                "train_images", "validation_images", "cells_per_stack", "filters",
                "num_blocks", "epochs", "batch_size", "learning_rate",
            )
        },
        max_trials=10,
    )  # fmt: skip
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--parts", default=",".join(PARTS))
    parser.add_argument("--budget-cost", choices=("macs", "params"), default="macs")
    parser.add_argument("--budget-quantile", type=float, default=0.5)
    parser.add_argument("--synthetic-seeds", type=int, default=20)
    parser.add_argument("--synthetic-trials", type=int, default=200)
    parser.add_argument("--synthetic-population", type=int, default=20)
    parser.add_argument("--synthetic-sample", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny run for CI")
    parser.add_argument("--output", default=None)
    parser.add_argument("--resume", action="store_true")
    args = parser.parse_args(argv)
    if args.smoke:
        args.__dict__.update(
            train_images=64, validation_images=32, cells_per_stack=1, filters=4,
            num_blocks=2, eager=True, max_trials=1, seeds="0",
            parts="constrained,synthetic", synthetic_seeds=2,
            synthetic_trials=24, synthetic_population=6, synthetic_sample=2,
        )  # fmt: skip
    parts = args.parts.split(",")
    for part in parts:
        if part not in PARTS:
            parser.error(f"unknown part {part!r}; expected some of {PARTS}")
    if not 0 < args.budget_quantile < 1:
        parser.error("--budget-quantile must be in (0, 1)")
    return parser, args, parts


def _settings(args):
    """What defines the measured problem, as recorded in the JSON."""
    return {
        **proxy_settings(args),
        "budget_cost": args.budget_cost,
        "budget_quantile": args.budget_quantile,
        "synthetic_seeds": args.synthetic_seeds,
        "synthetic_trials": args.synthetic_trials,
        "synthetic_population": args.synthetic_population,
        "synthetic_sample": args.synthetic_sample,
    }


def _search_settings(settings, method, seed, splits, budget):
    strategy = "random" if method == "random" else "evolution"
    extra = {}
    if method == "constrained":
        extra["max_" + settings["budget_cost"]] = budget
    if method in ("pareto", "random"):
        extra.update(objective="pareto", costs=("macs",))
    return search_settings(settings, strategy, seed, splits).replace(
        # Over-budget children of random search are FAILED trials.
        max_consecutive_failed_trials=settings["max_trials"],
        **extra,
    )


def _cost_model(settings, splits):
    """The searches' hypermodel, and how it prices a child."""
    from tuner_plugins.constraints import CostModel

    hypermodel = workflow.make_hypermodel(
        search_settings(settings, "evolution", 0, splits)
    )
    return hypermodel, CostModel.from_hypermodel(hypermodel)


def _random_costs(hypermodel, cost_model, count=500, seed=12345):
    """Params and MACs of `count` random children of the search space."""
    from tuner_plugins.oracle import complete_values

    space = hypermodel.search_space()
    rng = np.random.default_rng(seed)
    costs = [cost_model.cost(complete_values(space, {}, rng)) for _ in range(count)]
    return {
        "params": sorted(c.params for c in costs),
        "macs": sorted(c.macs for c in costs),
    }


def _hypervolume(points, reference_macs):
    """Of `(accuracy, macs)` points; see the module docstring."""
    return pareto.hypervolume(
        [(a, -m / reference_macs) for a, m in points], (0.0, -1.0)
    )


class _Progress(progress.SearchCallback):
    def __init__(self, label):
        self.label, self.start = label, time.monotonic()

    def on_trial_end(self, event):
        score = "-" if event.score is None else f"{event.score:.4f}"
        print(
            f"[cost_aware] {self.label} trial {event.trial_id} "
            f"{event.status.lower()} score {score} {event.done}/{event.max_trials} "
            f"elapsed {time.monotonic() - self.start:.0f}s",
            file=sys.stderr,
            flush=True,
        )


def _run_search(settings, method, seed, splits, budget, reference_macs):
    """One trained search; returns its record."""
    label = f"{method} seed {seed}"
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix=f"cost_aware_{method}_") as tmp:
        directory = os.path.join(tmp, "search")
        result = workflow.search(
            _search_settings(settings, method, seed, splits, budget),
            directory,
            progress=_Progress(label),
            splits=splits,
            jit_compile=settings["xla"],
            run_eagerly=settings["eager"],
        )
        with open(os.path.join(directory, "oracle.json")) as f:
            nas_oracle = json.load(f).get("nas_oracle") or {}
        front = (
            [r.trial_id for r in result.best_trials()]
            if method != "unconstrained"
            else None
        )
    trials = [
        {
            "trial_id": r.trial_id,
            "status": r.status,
            "val_accuracy": r.metrics.get("val_accuracy"),
            "params": r.metrics.get("params"),
            "macs": r.metrics.get("macs"),
        }
        for r in result.trials
    ]
    record = {
        "trials": trials,
        "wall_s": round(time.monotonic() - start, 1),
        "infeasible_proposals": nas_oracle.get("infeasible_proposals"),
    }
    if method in ("pareto", "random"):
        record["front"] = front
        record["hypervolume"] = _hypervolume(
            [
                (t["val_accuracy"], t["macs"])
                for t in trials
                if t["status"] == "COMPLETED" and t["macs"] is not None
            ],
            reference_macs,
        )
    return record


def _run_synthetic(settings, seed, hypermodel, cost_model, reference_macs):
    """Pareto evolution and random sampling on the synthetic objective."""
    import keras_tuner

    from keras_nasnet.space import decisions, sampling
    from tuner_plugins import _keras_tuner as kt
    from tuner_plugins.objectives import Pareto
    from tuner_plugins.oracle import NASOracle, complete_values

    space = hypermodel.search_space()
    target = decisions.encode(
        sampling.random_genotype(
            10_000 + seed,
            ops=hypermodel.ops,
            num_blocks=hypermodel.num_blocks,
            combines=("add", "concat") if hypermodel.search_combine else ("add",),
        )
    )

    def accuracy(values):
        return sum(values.get(n) == v for n, v in target.items()) / len(target)

    def point(values):
        return accuracy(values), cost_model.cost(values).macs

    oracle = NASOracle(
        objective=Pareto([keras_tuner.Objective("accuracy", "max"), "macs"]),
        max_trials=settings["synthetic_trials"],
        strategy="evolution",
        hyperparameters=space,
        seed=seed,
        cost_model=cost_model,
        population_size=settings["synthetic_population"],
        sample_size=settings["synthetic_sample"],
    )
    with tempfile.TemporaryDirectory(prefix="cost_aware_synthetic_") as tmp:
        kt.set_project_dir(oracle, tmp, "oracle")
        oracle.verbose = 0
        kt.without_files(oracle)
        searched = []
        for _ in range(settings["synthetic_trials"]):
            trial = oracle.create_trial("tuner0")
            values = trial.hyperparameters.values
            searched.append(point(values))
            oracle.update_trial(trial.trial_id, {"accuracy": accuracy(values)})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
    rng = np.random.default_rng(seed)
    sampled = [
        point(complete_values(space, {}, rng))
        for _ in range(settings["synthetic_trials"])
    ]
    return {
        "pareto": {"hypervolume": _hypervolume(searched, reference_macs)},
        "random": {"hypervolume": _hypervolume(sampled, reference_macs)},
    }


def _completed(record):
    return [
        t
        for t in record["trials"]
        if t["status"] == "COMPLETED" and t["val_accuracy"] is not None
    ]


def _noise(settings):
    """Two standard errors of a validation accuracy near 0.8."""
    return 2 * math.sqrt(0.8 * 0.2 / settings["validation_images"])


def _verdict(differences, noise, what):
    """Whether the per-seed differences separate the methods: every seed
    beyond `noise` the same way, and enough seeds for that to be unlikely by
    chance (a one-sided sign test at 5%: at least 5 seeds)."""
    if not differences:
        return None
    n = len(differences)
    margin = f"by more than the noise ({noise:.3f})" if noise else "(no noise)"
    for sign, word in ((1, "better"), (-1, "worse")):
        if all(sign * d > noise for d in differences):
            p = 0.5**n
            if p < 0.05:
                return (
                    f"{what}: {word} on all {n} seeds {margin} (sign test p = {p:.3g})"
                )
            return (
                f"{what}: {word} on all {n} seeds {margin}, but {n} seeds cannot "
                f"separate the methods (sign test p = {p:.3g} >= 0.05)"
            )
    return (
        f"{what}: the data cannot separate the methods (per-seed differences "
        f"{[round(d, 4) for d in differences]}, noise {noise:.3f})"
    )


def summarize(runs, settings, budget):
    """Per part, per method: the medians over seeds, and the verdicts."""
    out = {}
    cost = settings["budget_cost"]
    runs_c = runs.get("constrained", {})
    if runs_c:
        methods = {}
        for method, by_seed in runs_c.items():
            rows = []
            for record in by_seed.values():
                done = _completed(record)
                inside = [t for t in done if t[cost] is not None and t[cost] <= budget]
                rows.append(
                    {
                        "trained_over_budget": len(done) - len(inside),
                        "best_accuracy": max(
                            (t["val_accuracy"] for t in done), default=None
                        ),
                        "best_accuracy_in_budget": max(
                            (t["val_accuracy"] for t in inside), default=None
                        ),
                        "trained_in_budget": len(inside),
                        "infeasible_proposals": record["infeasible_proposals"],
                    }
                )
            methods[method] = {
                "per_seed": rows,
                "trained_over_budget": sum(r["trained_over_budget"] for r in rows),
                "median_best_accuracy_in_budget": _median(
                    [r["best_accuracy_in_budget"] for r in rows]
                ),
                "median_best_accuracy": _median([r["best_accuracy"] for r in rows]),
            }
        part = {"methods": methods}
        if set(METHODS["constrained"]) <= set(runs_c):
            seeds = sorted(set(runs_c["constrained"]) & set(runs_c["unconstrained"]))
            differences = [
                _best_in(runs_c["constrained"][s], cost, budget)
                - _best_in(runs_c["unconstrained"][s], cost, budget)
                for s in seeds
            ]
            part["constraint_never_violated"] = (
                methods["constrained"]["trained_over_budget"] == 0
            )
            part["best_in_budget_difference_per_seed"] = differences
            part["verdict"] = _verdict(
                differences,
                _noise(settings),
                "best accuracy within the budget, constrained minus unconstrained",
            )
        out["constrained"] = part
    for name in ("pareto", "synthetic"):
        by_method = runs.get(name, {})
        if not by_method:
            continue
        part = {
            "methods": {
                method: {
                    "hypervolumes": [r["hypervolume"] for r in by_seed.values()],
                    "median_hypervolume": _median(
                        [r["hypervolume"] for r in by_seed.values()]
                    ),
                }
                for method, by_seed in by_method.items()
            }
        }
        if set(METHODS[name]) <= set(by_method):
            seeds = sorted(set(by_method["pareto"]) & set(by_method["random"]))
            differences = [
                by_method["pareto"][s]["hypervolume"]
                - by_method["random"][s]["hypervolume"]
                for s in seeds
            ]
            part["pareto_wins"] = sum(d > 0 for d in differences)
            part["seeds"] = len(differences)
            # The hypervolume's noise: one accuracy step of the validation set
            # across the whole cost range for a trained run; none for the
            # synthetic objective, which has no noise.
            noise = _noise(settings) if name == "pareto" else 0.0
            part["verdict"] = _verdict(
                differences, noise, "hypervolume, Pareto evolution minus random"
            )
        out[name] = part
    return out


def _best_in(record, cost, budget):
    return max(
        (
            t["val_accuracy"]
            for t in _completed(record)
            if t[cost] is not None and t[cost] <= budget
        ),
        default=0.0,
    )


def _median(values):
    values = [v for v in values if v is not None]
    return round(float(np.median(values)), 4) if values else None


def markdown(report):
    summary = report["summary"]
    lines = [
        "# Cost-aware search",
        "",
        f"`{report['command']}`",
        "",
        f"Budget: {report['budget_cost']} <= {report['budget']:,} (the "
        f"{report['settings']['budget_quantile']} quantile of random children); "
        f"reference MACs for the hypervolume {report['reference_macs']:,}.",
        "",
    ]
    part = summary.get("constrained")
    if part:
        lines += [
            "| method | trained over budget | median best accuracy | median best "
            "in budget |",
            "|---|---:|---:|---:|",
        ]
        for method, m in part["methods"].items():
            lines.append(
                f"| {method} | {m['trained_over_budget']} | "
                f"{m['median_best_accuracy']} | {m['median_best_accuracy_in_budget']} |"
            )
        lines += ["", f"Verdict: {part.get('verdict')}", ""]
    for name in ("pareto", "synthetic"):
        part = summary.get(name)
        if not part:
            continue
        lines += [
            f"## Hypervolume ({name})",
            "",
            "| method | median | per seed |",
            "|---|---:|---|",
        ]
        for method, m in part["methods"].items():
            seeds = ", ".join(f"{h:.4f}" for h in m["hypervolumes"])
            lines.append(f"| {method} | {m['median_hypervolume']} | {seeds} |")
        lines += ["", f"Verdict: {part.get('verdict')}", ""]
    return "\n".join(lines)


def main(argv=None):
    parser, args, parts = _arguments(argv)
    seeds = [int(s) for s in args.seeds.split(",")]
    report = _common.header("cost_aware")
    default_name = "cost_aware_smoke" if args.smoke else "cost_aware"
    output = args.output or _common.default_output(default_name)
    settings = _settings(args)
    runs = {}
    if args.resume and os.path.exists(output):
        previous = _common.read_earlier(output, settings, parser, "--resume")
        runs = previous.get("runs", {})
        report.setdefault("resumed_from", []).append(previous["provenance"])
    splits = load_data(settings, args.data_dir)
    hypermodel, cost_model = _cost_model(settings, splits)
    random_costs = _random_costs(hypermodel, cost_model)
    ranked = random_costs[args.budget_cost]
    budget = int(ranked[int(args.budget_quantile * len(ranked))])
    reference_macs = int(random_costs["macs"][-1])
    report.update(
        settings=settings,
        seeds=seeds,
        parts=parts,
        budget_cost=args.budget_cost,
        budget=budget,
        reference_macs=reference_macs,
        synthetic_objective=(
            "fraction of the cell decisions equal to a hidden random target "
            "genotype's (one per seed); cost: analytic MACs at the proxy's size"
        ),
    )
    stem = os.path.splitext(output)[0]

    def finish(complete):
        report["runs"] = runs
        report["complete"] = complete
        report["summary"] = summarize(runs, settings, budget)
        with open(os.devnull, "w") as devnull:
            with contextlib.redirect_stdout(devnull if not complete else sys.stdout):
                _common.write(report, output)
        with open(stem + ".md", "w") as f:
            f.write(markdown(report))

    if "synthetic" in parts:
        by_method = runs.setdefault("synthetic", {})
        for seed in range(settings["synthetic_seeds"]):
            if str(seed) in by_method.get("pareto", {}):
                continue
            result = _run_synthetic(
                settings, seed, hypermodel, cost_model, reference_macs
            )
            for method, record in result.items():
                by_method.setdefault(method, {})[str(seed)] = record
        finish(complete=False)
    for seed in seeds:
        for part in ("constrained", "pareto"):
            if part not in parts:
                continue
            for method in METHODS[part]:
                by_seed = runs.setdefault(part, {}).setdefault(method, {})
                if str(seed) in by_seed:
                    continue
                by_seed[str(seed)] = _run_search(
                    settings, method, seed, splits, budget, reference_macs
                )
                finish(complete=False)
    finish(complete=True)


if __name__ == "__main__":
    main()
