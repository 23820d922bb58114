"""Search quality: best validation accuracy after each trial, per strategy.

Four strategies search the same `NASNetHyperModel` (the same proxy: cells per
stack N, filters F, blocks per cell B, epochs and image counts are flags) on
real Fashion-MNIST with the same budget of `--max-trials` trials, once per
seed: aging evolution (`AgingEvolution`), the RNN controller
(`RNNController`), `keras_tuner.RandomSearch` and
`keras_tuner.BayesianOptimization`. For each strategy and seed it records the
best validation accuracy after each trial (the best-so-far curve; a failed
trial keeps the previous best). It reports, per strategy, the median, the
min/max and the interquartile range over seeds of best-so-far at each trial
count, the final median best, and the number of trials each strategy's median
curve needs to reach random search's final median best.

Each search is `keras_nasnet.workflow.search` (what `keras-nasnet search`
runs), in a fresh Python process of its own (`--in-process` runs them all in
this one, on data loaded once: for tiny runs). The data split is the same for every search (seed
0: `--validation-images` held out from the training images, then
`--train-images` of the rest); the search seed changes the strategy's
proposals and the children's initial weights (the workflow seeds trial k from
`(seed, k)`, so trial k starts alike for every strategy of one seed). The
cells are the NASNet paper's space (each block also chooses add or concat;
`--no-search-combine` for AmoebaNet's add-only one). Searches alternate
strategies within a seed, so a change in machine load touches every strategy
alike. Each search runs in its own temporary directory, with a progress line
per trial on stderr. The JSON is rewritten after each
search, so `--resume` continues a run that was stopped (e.g. by a 10-minute
limit per command) without repeating finished searches.

Strategy settings suited to a small budget C (flags, defaults):

- evolution: `--population-size` P = max(2, round(C / 3)) and
  `--sample-size` S = max(2, round(P / 3)). The paper's P = 100, S = 25 are
  for C = 20,000; with P near C nothing would be evolved. P = C / 3 leaves
  two thirds of the budget to mutations; S / P = 1/3 is close to the paper's
  1/4 (the selection pressure) while keeping S >= 2 for tiny P.
- controller: `--controller-batch-size` 5 (paper: 20, which would allow only
  5 updates in 100 trials; 5 gives 20) and `--controller-learning-rate`
  0.0035, ten times the paper's 0.00035: Adam moves each weight by about the
  learning rate per step, so 20 updates x 4 PPO steps at the paper's rate
  move the policy's weights by at most ~0.03 and it stays near uniform.
  Pass 0.00035 for the paper's rate.
- bayesian: `--bayesian-initial-points` max(2, round(C / 4)). keras-tuner's
  default is 3 x the number of hyperparameters (over 120 for a NASNet
  space), which would make the whole budget random.
- random: nothing to set.

Full size, on a GPU without TensorFlow (see ../shared/GPU.md; copy the four
IDX files into `.data/fashion-mnist`), about 2,000 trials: run it in pieces
with `--resume` under a per-command time limit:

    KERAS_BACKEND=jax python benchmarks/search_quality.py --data-dir .data \\
        --cells-per-stack 2 --filters 16 --epochs 5 --train-images 10000 \\
        --validation-images 5000 --max-trials 100 --seeds 0,1,2,3,4 \\
        --tag gpu --xla --resume

The small CPU run committed under benchmarks/results/:

    python benchmarks/search_quality.py --cells-per-stack 1 --filters 8 \\
        --num-blocks 2 --epochs 1 --train-images 640 \\
        --validation-images 320 --max-trials 8 --seeds 0,1 --eager --tag cpu_small

(B = 2 and 640 / 320 images: a trial of B = 5 on 1,000 / 500 images took 85 to
150 s eagerly on the shared 2-core machine, and 200 to 400 s with XLA on JAX.)

Searches run one after another. To use more cores, run processes side by
side on different `--strategies` or `--seeds`, each with its own `--output`
(and `--threads` set to its share of the cores), then combine them with the
same flags and `--merge a.json,b.json --output all.json`, which runs
nothing. Each search has its
own process because TensorFlow keeps every traced child's graph for the
life of a process (`keras-nasnet search` restarts its process every 20
trials for that): a process of this script that ran the make-search proxy's
searches one after another grew by about 220 MiB a trial, two side by side
reached 12 GiB each after about 55 trials, and the kernel killed one on the
24 GiB machine. With `--in-process`, give a process at most a few dozen
trials.

Outputs: `--output` (JSON, default benchmarks/results/search_quality_<tag>.json)
and, beside it with the same name, a markdown table (`.md`) and a plot of the
median best-so-far with the min-max range shaded (`.png`, needs matplotlib).
"""

import argparse
import contextlib
import itertools
import json
import math
import os
import subprocess
import sys
import tempfile
import time

import _common
import numpy as np

from keras_nasnet import progress, workflow

STRATEGIES = workflow.strategy_names()
REFERENCE = "random"
OBJECTIVE = "val_accuracy"
TARGETS = (
    "evolution reaches random search's final median best in at most half the "
    "trials; the controller ends at or above random search's final median best"
)


def evolution_defaults(max_trials, population_size=None, sample_size=None):
    """P and S for a budget of `max_trials` (see the module docstring)."""
    if population_size is None:
        population_size = max(2, round(max_trials / 3))
    if sample_size is None:
        sample_size = max(2, round(population_size / 3))
    return population_size, min(sample_size, population_size)


def add_proxy_arguments(parser):
    """The data and proxy flags shared with `workers_throughput.py`."""
    parser.add_argument("--dataset", default="fashion_mnist")
    parser.add_argument(
        "--data-dir",
        default=None,
        help="folder with the IDX files (default: the Debian package's and "
        "keras' cache folders)",
    )
    parser.add_argument("--train-images", type=int, default=10000)
    parser.add_argument("--validation-images", type=int, default=5000)
    parser.add_argument("--cells-per-stack", type=int, default=2, help="N")
    parser.add_argument("--filters", type=int, default=16, help="F")
    parser.add_argument("--num-blocks", type=int, default=5, help="B")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--learning-rate", type=float, default=0.05)
    parser.add_argument(
        "--search-combine",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="each block also chooses add or concat (the NASNet paper's space)",
    )
    parser.add_argument(
        "--eager", action="store_true", help="train eagerly (tiny CPU proxies)"
    )
    parser.add_argument(
        "--xla", action="store_true", help="compile children with XLA (GPU)"
    )
    parser.add_argument("--max-trials", type=int, default=100)
    parser.add_argument("--population-size", type=int, default=None)
    parser.add_argument("--sample-size", type=int, default=None)
    parser.add_argument("--controller-batch-size", type=int, default=5)
    parser.add_argument("--controller-learning-rate", type=float, default=0.0035)
    parser.add_argument("--bayesian-initial-points", type=int, default=None)


def proxy_settings(args):
    """The flags that define the searched problem, as recorded in the JSON."""
    population_size, sample_size = evolution_defaults(
        args.max_trials, args.population_size, args.sample_size
    )
    return {
        "dataset": args.dataset,
        "train_images": args.train_images,
        "validation_images": args.validation_images,
        "cells_per_stack": args.cells_per_stack,
        "filters": args.filters,
        "num_blocks": args.num_blocks,
        "epochs": args.epochs,
        "batch_size": args.batch_size,
        "learning_rate": args.learning_rate,
        "search_combine": args.search_combine,
        "eager": args.eager,
        "xla": args.xla,
        "max_trials": args.max_trials,
        "population_size": population_size,
        "sample_size": sample_size,
        "controller_batch_size": args.controller_batch_size,
        "controller_learning_rate": args.controller_learning_rate,
        "bayesian_initial_points": args.bayesian_initial_points
        or max(2, round(args.max_trials / 4)),
    }


def load_data(settings, data_dir):
    return workflow.load_splits(
        settings["dataset"],
        data_dir,
        validation_images=settings["validation_images"],
        train_images=settings["train_images"],
        seed=0,
    )


def search_settings(settings, strategy, seed, splits):
    """The `workflow.SearchSettings` of one search of this benchmark."""
    options = {
        "evolution": {
            "population_size": settings["population_size"],
            "sample_size": settings["sample_size"],
        },
        "controller": {
            "batch_size": settings["controller_batch_size"],
            "learning_rate": settings["controller_learning_rate"],
        },
        "bayesian": {"num_initial_points": settings["bayesian_initial_points"]},
    }.get(strategy, {})
    return workflow.SearchSettings(
        dataset=settings["dataset"],
        strategy=strategy,
        strategy_options=options,
        max_trials=settings["max_trials"],
        objective=OBJECTIVE,
        cells_per_stack=settings["cells_per_stack"],
        filters=settings["filters"],
        num_blocks=settings["num_blocks"],
        search_combine=settings["search_combine"],
        epochs=settings["epochs"],
        batch_size=settings["batch_size"],
        train_images=settings["train_images"],
        validation_images=settings["validation_images"],
        learning_rate=settings["learning_rate"],
        seed=seed,
        input_shape=tuple(splits.input_shape),
        num_classes=splits.num_classes,
    )


def best_so_far(scores):
    """Running maximum of `scores`; None (a failed trial) keeps the previous
    best, and counts as 0 before any trial succeeded."""
    out, best = [], 0.0
    for score in scores:
        if score is not None:
            best = max(best, float(score))
        out.append(best)
    return out


class _Record(progress.SearchCallback):
    """Scores, statuses and end times of one search's trials, in end order."""

    def __init__(self, strategy, seed):
        self.strategy, self.seed = strategy, seed
        self.record = {"scores": [], "statuses": [], "trial_end_s": []}
        self.start = time.monotonic()

    def on_trial_end(self, event):
        record = self.record
        record["scores"].append(event.score)
        record["statuses"].append(event.status)
        record["trial_end_s"].append(round(time.monotonic() - self.start, 2))
        curve = best_so_far(record["scores"])
        score = "-" if event.score is None else f"{event.score:.4f}"
        print(
            f"[search_quality] {self.strategy} seed {self.seed} trial "
            f"{event.trial_id} {event.status.lower()} score {score} best "
            f"{curve[-1]:.4f} {event.done}/{event.max_trials} done elapsed "
            f"{time.monotonic() - self.start:.0f}s",
            file=sys.stderr,
            flush=True,
        )


def run_search(strategy, settings, splits, seed):
    """One search; returns its record (scores in end order, curve, times)."""
    recorder = _Record(strategy, seed)
    with tempfile.TemporaryDirectory(prefix=f"search_quality_{strategy}_") as tmp:
        workflow.search(
            search_settings(settings, strategy, seed, splits),
            os.path.join(tmp, "search"),
            progress=recorder,
            splits=splits,
            jit_compile=settings["xla"],
            run_eagerly=settings["eager"],
        )
    record = recorder.record
    record["wall_s"] = round(time.monotonic() - recorder.start, 1)
    record["best_so_far"] = best_so_far(record["scores"])
    record["failed_trials"] = sum(s != "COMPLETED" for s in record["statuses"])
    return record


def run_search_isolated(strategy, settings, data_dir, seed, threads=None):
    """`run_search` in a fresh Python process, which loads the data itself
    and returns the search's record. TensorFlow keeps every traced child's
    graph for the life of a process (a make-search trial adds about 220 MiB),
    so one process per search gives it all back between searches. The
    child's progress lines go to this process's stderr. `threads` sets
    TensorFlow's intra- and inter-op threads in the child (None: its own,
    one per core).

    Raises:
        RuntimeError: if the child failed (its own error is above, on stderr).
    """
    payload = dict(strategy=strategy, settings=settings, data_dir=data_dir, seed=seed)
    completed = subprocess.run(
        [sys.executable, os.path.abspath(__file__), _ONE_SEARCH, json.dumps(payload)],
        env=_common.child_env(**_common.thread_variables(threads)),
        stdout=subprocess.PIPE,
        text=True,
    )
    for line in completed.stdout.splitlines():
        if not line.startswith(_common.RESULT):
            print(line, file=sys.stderr)
    record = _common.result_of(completed.stdout)
    if record is not None:
        return record
    raise RuntimeError(
        f"the {strategy} search of seed {seed} failed in its own process "
        f"(exit status {completed.returncode}; its error is above). The "
        "searches before it are in the output: --resume runs the rest."
    )


_ONE_SEARCH = "--one-search"  # the child process of run_search_isolated


def _one_search(payload):
    settings = payload["settings"]
    splits = load_data(settings, payload["data_dir"])
    record = run_search(payload["strategy"], settings, splits, payload["seed"])
    _common.print_result(record)


def _pad(curve, length):
    # A search that ended early (e.g. too many failed trials) keeps its best.
    return list(curve) + [curve[-1] if curve else 0.0] * (length - len(curve))


def rank_test(values, reference):
    """How often `values` beat `reference` (two samples, e.g. one value per
    seed): the pairs (one of each) where the first is higher (ties count
    half), of all pairs, and the one-sided p-value of that count under
    exchangeability (Mann-Whitney): exact over every split of the pooled
    values when there are at most 20,000 splits, else from 20,000 random
    permutations (fixed seed). No p-value (None) when a sample is empty."""
    a, b = np.asarray(values, float), np.asarray(reference, float)
    if not len(a) or not len(b):  # nothing to compare (no trials after P)
        return {"pairs_above": 0.0, "pairs": 0, "p_one_sided": None}

    def above(x, y):
        return float(
            (x[:, None] > y[None, :]).sum() + 0.5 * (x[:, None] == y[None, :]).sum()
        )

    observed = above(a, b)
    pooled = np.concatenate([a, b])
    n = len(a)
    if math.comb(len(pooled), n) <= 20000:
        splits = (list(c) for c in itertools.combinations(range(len(pooled)), n))
    else:
        rng = np.random.default_rng(0)
        splits = (rng.permutation(len(pooled))[:n] for _ in range(20000))
    counts = []
    for chosen in splits:
        mask = np.zeros(len(pooled), bool)
        mask[chosen] = True
        counts.append(above(pooled[mask], pooled[~mask]))
    return {
        "pairs_above": observed,
        "pairs": len(a) * len(b),
        "p_one_sided": round(float(np.mean(np.asarray(counts) >= observed - 1e-9)), 4),
    }


def _mean_scores(record, start):
    scores = [s for s in record["scores"][start:] if s is not None]
    return round(float(np.mean(scores)), 4) if scores else None


def summarize(runs, max_trials, population_size=0):
    """Per-strategy statistics over seeds of the best-so-far curves and of
    the children's scores, and each strategy against random search.

    Args:
        runs: strategy -> seed (str) -> the record of `run_search`.
        max_trials: the budget.
        population_size: evolution's P: "after the population" means the
            trials after the first P, for every strategy alike.

    Returns:
        {"reference_level": random search's final median best or None,
        "strategies": strategy -> {"trials", "median", "min", "max", "q25",
        "q75", "final_median_best", "trials_to_reach_reference",
        "seeds_trials_to_reach_reference", "final_best_per_seed",
        "mean_child_per_seed", "mean_child_after_population_per_seed"},
        "versus_reference": strategy -> {"final_best",
        "mean_child_after_population"}: `rank_test` of its seeds' values
        against random search's}.
    """
    curves = {
        strategy: np.array(
            [_pad(r["best_so_far"], max_trials) for r in by_seed.values()]
        )
        for strategy, by_seed in runs.items()
        if by_seed
    }
    reference = None
    if REFERENCE in curves:
        reference = float(np.median(curves[REFERENCE][:, -1]))

    def first_reach(curve):
        if reference is None:
            return None
        hits = np.nonzero(np.asarray(curve) >= reference - 1e-9)[0]
        return int(hits[0]) + 1 if len(hits) else None

    out = {"reference_level": reference, "strategies": {}}
    for strategy, c in curves.items():
        median = np.median(c, axis=0)
        out["strategies"][strategy] = {
            "seeds": len(c),
            "trials": list(range(1, max_trials + 1)),
            "median": [round(float(v), 4) for v in median],
            "min": [round(float(v), 4) for v in c.min(axis=0)],
            "max": [round(float(v), 4) for v in c.max(axis=0)],
            "q25": [round(float(v), 4) for v in np.percentile(c, 25, axis=0)],
            "q75": [round(float(v), 4) for v in np.percentile(c, 75, axis=0)],
            "final_median_best": round(float(median[-1]), 4),
            "final_min_best": round(float(c[:, -1].min()), 4),
            "final_max_best": round(float(c[:, -1].max()), 4),
            # Of the median curve; None: never reached within the budget.
            "trials_to_reach_reference": first_reach(median),
            "seeds_trials_to_reach_reference": [first_reach(row) for row in c],
            "final_best_per_seed": [round(float(v), 4) for v in c[:, -1]],
            "mean_child_per_seed": [
                _mean_scores(r, 0) for r in runs[strategy].values()
            ],
            "mean_child_after_population_per_seed": [
                _mean_scores(r, population_size) for r in runs[strategy].values()
            ],
        }
    stats = out["strategies"]
    if REFERENCE in stats:
        out["versus_reference"] = {
            strategy: {
                key: rank_test(
                    [v for v in stats[strategy][key + "_per_seed"] if v is not None],
                    [v for v in stats[REFERENCE][key + "_per_seed"] if v is not None],
                )
                for key in ("final_best", "mean_child_after_population")
            }
            for strategy in stats
            if strategy != REFERENCE
        }
    return out


def targets(summary, max_trials):
    """The two targets, evaluated on this run (None where not measurable)."""
    s = summary["strategies"]
    ref = summary["reference_level"]
    evolution = controller = None
    if ref is not None and "evolution" in s:
        reach = s["evolution"]["trials_to_reach_reference"]
        evolution = reach is not None and reach <= max_trials / 2
    if ref is not None and "controller" in s:
        controller = s["controller"]["final_median_best"] >= round(ref, 4)
    return {
        "evolution_reaches_random_final_in_half_the_trials": evolution,
        "controller_ends_at_or_above_random": controller,
    }


def markdown(report):
    summary = report["summary"]
    max_trials = report["settings"]["max_trials"]
    checkpoints = sorted(
        {t for t in (1, max_trials // 4, max_trials // 2, max_trials) if t >= 1}
    )
    lines = [
        f"# Search quality ({report.get('tag')})",
        "",
        f"{report['scale']}",
        "",
        f"Caveat: {report['caveat']}",
        "",
        "Best validation accuracy so far, median over seeds [min, max]:",
        "",
        "| strategy | seeds | "
        + " | ".join(f"after {t} trials" for t in checkpoints)
        + " | trials to reach random's final median best |",
        "|---|---|" + "---|" * len(checkpoints) + "---|",
    ]
    for strategy, st in summary["strategies"].items():
        cells = [
            f"{st['median'][t - 1]:.4f} [{st['min'][t - 1]:.4f}, {st['max'][t - 1]:.4f}]"
            for t in checkpoints
        ]
        reach = st["trials_to_reach_reference"]
        lines.append(
            f"| {strategy} | {st['seeds']} | "
            + " | ".join(cells)
            + f" | {'not reached' if reach is None else reach} "
            f"(per seed: {st['seeds_trials_to_reach_reference']}) |"
        )
    population = report["settings"]["population_size"]
    versus = summary.get("versus_reference", {})
    if versus:
        lines += [
            "",
            f"Against random search, seed by seed: the pairs (one seed of each) "
            f"where the strategy's value is higher (ties count half), and the "
            f"one-sided rank-test p-value. Mean child after the population: "
            f"trials {population + 1}-{max_trials}.",
            "",
            "| strategy | final best | mean child after the population |",
            "|---|---|---|",
        ]
        for strategy, tests in versus.items():
            cells = [
                f"{t['pairs_above']:g} of {t['pairs']} (p = {t['p_one_sided']:.3f})"
                if t["p_one_sided"] is not None
                else "n/a"
                for t in (tests["final_best"], tests["mean_child_after_population"])
            ]
            lines.append(f"| {strategy} | " + " | ".join(cells) + " |")
    ref = summary["reference_level"]
    lines += [
        "",
        f"Random search's final median best: {'n/a' if ref is None else f'{ref:.4f}'}.",
        f"Targets ({TARGETS}): {json.dumps(report['targets'])}.",
        "",
        f"Command: `{report['command']}`",
        f"Machine: {report['machine']['cpu']} ({report['machine']['cpu_count']} "
        f"cores), device {report['device']}, backend {report['backend']}; "
        f"{report['date_utc']}.",
        "",
    ]
    return "\n".join(lines)


def plot(report, path):
    try:
        import matplotlib
    except ImportError:
        print("[search_quality] no matplotlib: no plot", file=sys.stderr)
        return None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    for strategy, st in report["summary"]["strategies"].items():
        (line,) = ax.plot(
            st["trials"], st["median"], label=f"{strategy} (n={st['seeds']})"
        )
        ax.fill_between(
            st["trials"], st["min"], st["max"], color=line.get_color(), alpha=0.15
        )
    ref = report["summary"]["reference_level"]
    if ref is not None:
        ax.axhline(ref, color="gray", linestyle=":", linewidth=1)
    s = report["settings"]
    ax.set_xlabel("trials")
    ax.set_ylabel("best validation accuracy so far")
    ax.set_title(
        f"{s['dataset']}: N={s['cells_per_stack']}, F={s['filters']}, "
        f"B={s['num_blocks']}, {s['epochs']} epoch(s), {s['train_images']} / "
        f"{s['validation_images']} images\nmedian over seeds, min-max shaded; "
        "dotted: random search's final median",
        fontsize=9,
    )
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _scale(settings, seeds, device):
    return (
        f"{len(seeds)} seed(s) x {settings['max_trials']} trials per strategy; "
        f"proxy N={settings['cells_per_stack']}, F={settings['filters']}, "
        f"B={settings['num_blocks']}, {settings['epochs']} epoch(s) on "
        f"{settings['train_images']} training / {settings['validation_images']} "
        f"validation images of {settings['dataset']}; device: {device}"
    )


def _caveat(settings, seeds):
    small = settings["max_trials"] < 50 or len(seeds) < 5 or settings["epochs"] < 3
    if small:
        return (
            "Far too small to judge the targets (" + TARGETS + "): with so few "
            "trials and seeds, and children trained this briefly, differences "
            "between strategies are within seed-to-seed noise, evolution spends "
            "most of the budget on its random initial population and the "
            "controller gets at most a couple of policy updates. It checks that "
            "the benchmark runs end to end on real data; the figure that can "
            "judge the targets is the full-size GPU run (see the docstring)."
        )
    return (
        "Medians over few seeds: the spread columns say how far to trust a "
        "difference between strategies."
    )


def _merge(paths, settings, runs, report, parser):
    """Adds the searches of the outputs at `paths` to `runs` (strategy ->
    seed -> record); each output must have `settings`, and a search may be
    in only one of them. Records where each came from in `report`."""
    for path in paths:
        part = _common.read_earlier(path, settings, parser, "--merge")
        for strategy, by_seed in part.get("runs", {}).items():
            if strategy not in runs:
                parser.error(f"--merge: {path} has {strategy!r}, not in --strategies")
            for seed, record in by_seed.items():
                if seed in runs[strategy]:
                    parser.error(
                        f"--merge: {strategy} seed {seed} is in more than one output"
                    )
                runs[strategy][seed] = record
        report.setdefault("merged_from", []).append(part["provenance"])


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_proxy_arguments(parser)
    parser.add_argument("--strategies", default=",".join(STRATEGIES))
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument(
        "--tag", default=None, help="names the outputs (default: cpu or gpu)"
    )
    parser.add_argument("--output", default=None)
    parser.add_argument(
        "--resume",
        action="store_true",
        help="keep the searches already in --output (same settings) and run "
        "only the missing ones",
    )
    parser.add_argument(
        "--merge",
        default=None,
        metavar="JSON,...",
        help="run nothing: combine the searches of these outputs (measured "
        "with the same settings, e.g. by processes run side by side on "
        "different strategies or seeds) into --output, and report them",
    )
    parser.add_argument(
        "--in-process",
        action="store_true",
        help="run every search in this process (tiny runs: a fresh process "
        "per search, the default, costs an import of the backend each, and "
        "gives TensorFlow's memory back after each search)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="TensorFlow's threads in each search process (default: its own, "
        "one per core); two runs side by side on 2 cores want 1 each (with "
        "2 each they oversubscribe the cores)",
    )
    args = parser.parse_args(argv)
    strategies = args.strategies.split(",")
    for strategy in strategies:
        if strategy not in STRATEGIES:
            parser.error(f"unknown strategy {strategy!r}; expected {STRATEGIES}")
    seeds = [int(s) for s in args.seeds.split(",")]
    if args.max_trials < 1:
        parser.error("--max-trials must be >= 1")

    report = _common.header("search_quality")
    tag = args.tag or ("cpu" if report["device"] == "cpu" else "gpu")
    output = args.output or _common.default_output(f"search_quality_{tag}")
    settings = proxy_settings(args)
    runs = {s: {} for s in strategies}
    if args.resume and os.path.exists(output):
        previous = _common.read_earlier(output, settings, parser, "--resume")
        for strategy, by_seed in previous.get("runs", {}).items():
            if strategy in runs:
                runs[strategy].update(by_seed)
        report.setdefault("resumed_from", []).append(previous["provenance"])
    report.update(
        tag=tag,
        objective=OBJECTIVE,
        settings=settings,
        seeds=seeds,
        strategies=strategies,
        targets_stated=TARGETS,
        scale=_scale(settings, seeds, report["device"]),
        process_per_search=not args.in_process,
        caveat=_caveat(settings, seeds),
    )

    if args.merge:
        _merge(args.merge.split(","), settings, runs, report, parser)
        missing = [
            f"{strategy} seed {seed}"
            for seed in seeds
            for strategy in strategies
            if str(seed) not in runs[strategy]
        ]
        if missing:
            parser.error(f"--merge: no output has {', '.join(missing)}")
    stem = os.path.splitext(output)[0]

    def finish(complete):
        report["runs"] = runs
        report["complete"] = complete
        report["summary"] = summarize(
            runs, settings["max_trials"], settings["population_size"]
        )
        report["targets"] = targets(report["summary"], settings["max_trials"])
        # A partial report is written but not printed: stdout gets one line.
        with open(os.devnull, "w") as devnull:
            with contextlib.redirect_stdout(devnull if not complete else sys.stdout):
                _common.write(report, output)
        with open(stem + ".md", "w") as f:
            f.write(markdown(report))
        if complete:
            plot(report, stem + ".png")

    splits = None
    for seed in seeds:
        for strategy in strategies:
            if str(seed) in runs[strategy]:
                continue
            if not args.in_process:
                record = run_search_isolated(
                    strategy, settings, args.data_dir, seed, threads=args.threads
                )
                record["threads"] = args.threads
            else:
                if splits is None:
                    splits = load_data(settings, args.data_dir)
                record = run_search(strategy, settings, splits, seed)
            runs[strategy][str(seed)] = record
            finish(complete=False)
    finish(complete=True)


if __name__ == "__main__":
    if sys.argv[1:2] == [_ONE_SEARCH]:
        _one_search(json.loads(sys.argv[2]))
    else:
        main()
