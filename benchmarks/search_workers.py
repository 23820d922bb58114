"""`keras-nasnet search --workers W`: the command's wall time for 1, 2, ... workers.

Runs the CLI itself (`python -m keras_nasnet.cli search`, a fresh process
and a fresh directory per worker count, one count after another) on the
make-search proxy by default, and reads its progress lines: the wall time
of the whole command (imports and the chief's start included), the span
from its first to its last trial line, each trial's seconds and share of
training steps, and the best score. Trials per hour over the wall time are
what a user waits for; the seconds between trial ends after the first
(`trial_interval_s`) are the rate of a longer search, start-up left out.
Speedups are over the first count.

Usage:
    python benchmarks/search_workers.py [--workers 1,2] [--max-trials 8]
        [--tag cpu] [-- EXTRA SEARCH FLAGS]

The search flags default to `make search`'s (evolution, P=6, S=3, N=1, F=8,
one epoch of 4,000 images, 1,000 validation images); flags after `--` are
added to every run.
"""

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time

import _common

MAKE_SEARCH = [
    "--dataset", "fashion_mnist", "--strategy", "evolution",
    "--population-size", "6", "--sample-size", "3",
    "--cells-per-stack", "1", "--filters", "8", "--epochs", "1",
    "--train-images", "4000", "--validation-images", "1000",
]  # fmt: skip
TRIAL_LINE = re.compile(
    r"\[search\] trial (\S+) (\w+)  score (\S+) .*?  (\d+) s \(train (\d+)%\)"
    r".*elapsed (\d+)m(\d+)s"
)
BEST_LINE = re.compile(r"\[search\] best \S+ (\S+) \(trial (\S+)\), (\d+)/(\d+)")


def parse(output):
    """The trials and the best score of a search's progress lines."""
    trials = [
        {
            "trial_id": m[1],
            "status": m[2],
            "score": None if m[3] == "-" else float(m[3]),
            "seconds": int(m[4]),
            "train_share": int(m[5]) / 100,
            "elapsed_s": int(m[6]) * 60 + int(m[7]),
        }
        for m in TRIAL_LINE.finditer(output)
    ]
    best = BEST_LINE.search(output)
    return trials, (float(best[1]) if best else None)


def run(workers, max_trials, extra, directory):
    command = [
        sys.executable, "-m", "keras_nasnet.cli", "search", *MAKE_SEARCH,
        "--max-trials", str(max_trials), "--workers", str(workers),
        "--directory", directory, *extra,
    ]  # fmt: skip
    start = time.perf_counter()
    completed = subprocess.run(
        command, capture_output=True, text=True, env=_common.child_env()
    )
    wall = time.perf_counter() - start
    if completed.returncode != 0:
        raise RuntimeError(
            f"--workers {workers} failed (exit {completed.returncode}):\n"
            + completed.stderr[-3000:]
        )
    trials, best = parse(completed.stdout)
    if len(trials) != max_trials:
        raise RuntimeError(
            f"--workers {workers}: {len(trials)} trial lines, not {max_trials}"
        )
    elapsed = sorted(t["elapsed_s"] for t in trials)
    return {
        "workers": workers,
        "wall_s": round(wall, 1),
        "trials": len(trials),
        "trials_per_hour_wall": round(len(trials) / wall * 3600, 1),
        "last_trial_at_s": elapsed[-1],
        # Seconds between trial ends once the first has ended: the rate of
        # a long search, without the start-up.
        "trial_interval_s": (
            round((elapsed[-1] - elapsed[0]) / (len(elapsed) - 1), 1)
            if len(elapsed) > 1
            else None
        ),
        "median_trial_s": statistics.median(t["seconds"] for t in trials),
        "median_train_share": statistics.median(t["train_share"] for t in trials),
        "best_score": best,
        "per_trial": trials,
    }


def main(argv=None):
    argv = list(sys.argv[1:] if argv is None else argv)
    extra = argv[argv.index("--") + 1 :] if "--" in argv else []
    argv = argv[: argv.index("--")] if "--" in argv else argv
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", default="1,2")
    parser.add_argument("--max-trials", type=int, default=8)
    parser.add_argument("--tag", default="cpu")
    parser.add_argument("--output", default=None)
    args = parser.parse_args(argv)
    counts = [int(w) for w in args.workers.split(",")]
    if not counts or min(counts) < 1 or args.max_trials < 1:
        parser.error("--workers: positive integers; --max-trials: >= 1")
    report = _common.header("search_workers")
    output = args.output or _common.default_output(f"search_workers_{args.tag}")
    report.update(
        search_flags=[*MAKE_SEARCH, "--max-trials", str(args.max_trials), *extra],
        results={},
    )
    for workers in counts:
        print(f"[search_workers] --workers {workers} ...", file=sys.stderr, flush=True)
        with tempfile.TemporaryDirectory(prefix=f"search_workers_{workers}_") as tmp:
            record = run(workers, args.max_trials, extra, os.path.join(tmp, "s"))
        report["results"][str(workers)] = record
        base = report["results"][str(counts[0])]
        for r in report["results"].values():
            r["speedup_wall"] = round(base["wall_s"] / r["wall_s"], 2)
            r["speedup_interval"] = (
                round(base["trial_interval_s"] / r["trial_interval_s"], 2)
                if base["trial_interval_s"] and r["trial_interval_s"]
                else None
            )
        print(
            f"[search_workers] --workers {workers}: {record['wall_s']} s, "
            f"median trial {record['median_trial_s']} s",
            file=sys.stderr,
            flush=True,
        )
    _common.write(report, output)


if __name__ == "__main__":
    main()
