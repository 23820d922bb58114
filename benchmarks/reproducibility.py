"""Is a seeded search reproducible, and what does a default-sized trial cost?

The workflow seeds each trial's training from `(seed, trial id)`
(`keras_nasnet.workflow.trial_seed`): a re-run of a trial starts from the
same initial weights and draws the same batches. Whether it then ends with
the same weights depends on the backend's kernels. This runs the same
`keras_nasnet.workflow.search` `--runs` times, each in a fresh process (as a
re-run after a kill, or a second `keras-nasnet search`, would), traced and
eagerly, and compares per trial: the proposed hyperparameters, and every
metric keras-tuner recorded (`trial.json`: loss, accuracy, val_loss,
val_accuracy per epoch), bit for bit. It also reports each trial's time.

The search is `keras-nasnet search`'s default proxy (N=1, F=8, B=5, one epoch
on 3,000 Fashion-MNIST images, 1,000 held out, batch 64, the NASNet space
with add or concat), evolution with a population of 2 so that the last trial
is a child chosen by score. Seed 1: on the code before issue 10.1's fix
`NASOracle` took a seed of 0 as "no seed".

Usage:
    python benchmarks/reproducibility.py [--trials 3] [--runs 2]
        [--train-images 3000] [--modes traced,eager] [--data-dir DIR]
        [--output benchmarks/results/reproducibility_<backend>.json]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile

import _common

HERE = os.path.dirname(os.path.abspath(__file__))


def _child(args):
    """One search in this process; its trial events as JSON on stdout."""
    from keras_nasnet import progress, workflow

    events = []

    class Record(progress.SearchCallback):
        def on_trial_end(self, event):
            events.append({"trial_id": event.trial_id, "seconds": event.seconds})

    settings = workflow.SearchSettings(
        data_dir=args.data_dir,
        strategy="evolution",
        strategy_options={"population_size": 2, "sample_size": 2},
        max_trials=args.trials,
        train_images=args.train_images,
        validation_images=args.validation_images,
        seed=args.seed,
    )
    workflow.search(
        settings,
        args.child,
        progress=Record(),
        run_eagerly=args.mode == "eager",
    )
    trials = {}
    for name in sorted(os.listdir(args.child)):
        path = os.path.join(args.child, name, "trial.json")
        if name.startswith("trial_") and os.path.isfile(path):
            with open(path) as f:
                state = json.load(f)
            trials[state["trial_id"]] = {
                "values": state["hyperparameters"]["values"],
                "status": state["status"],
                "score": state["score"],
                # keras-tuner stores each observation's value as a list.
                "metrics": {
                    metric: [v for o in history["observations"] for v in o["value"]]
                    for metric, history in state["metrics"]["metrics"].items()
                },
            }
    for event in events:
        trials[event["trial_id"]]["seconds"] = round(event["seconds"], 2)
    print(json.dumps(trials))


def _run(args, mode, directory):
    command = [
        sys.executable,
        os.path.join(HERE, "reproducibility.py"),
        "--child",
        directory,
        "--mode",
        mode,
        "--trials",
        str(args.trials),
        "--train-images",
        str(args.train_images),
        "--validation-images",
        str(args.validation_images),
        "--seed",
        str(args.seed),
    ]
    if args.data_dir:
        command += ["--data-dir", args.data_dir]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{mode} run failed:\n{result.stderr[-3000:]}")
    return json.loads(result.stdout.strip().splitlines()[-1])


def _compare(runs):
    first = runs[0]
    same_values = all(r.keys() == first.keys() for r in runs) and all(
        r[t]["values"] == first[t]["values"] for r in runs for t in first
    )
    same_metrics = same_values and all(
        r[t]["metrics"] == first[t]["metrics"] for r in runs for t in first
    )
    largest = 0.0
    if same_values:
        for r in runs[1:]:
            for t in first:
                for metric, values in first[t]["metrics"].items():
                    other = r[t]["metrics"].get(metric, [])
                    for a, b in zip(values, other, strict=False):
                        largest = max(largest, abs(a - b))
    seconds = [r[t].get("seconds") for r in runs for t in r]
    return {
        "same_proposals": same_values,
        "same_metrics_bitwise": same_metrics,
        "largest_metric_difference": largest,
        "scores": [[r[t]["score"] for t in sorted(r)] for r in runs],
        "trial_seconds": seconds,
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--train-images", type=int, default=3000)
    parser.add_argument("--validation-images", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--modes", default="traced,eager")
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--output", default=None)
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--mode", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args)
    report = _common.header("reproducibility")
    report["settings"] = {
        k: v for k, v in vars(args).items() if k not in ("output", "child", "mode")
    }
    report["results"] = {}
    with tempfile.TemporaryDirectory(prefix="reproducibility_") as tmp:
        for mode in args.modes.split(","):
            runs = [
                _run(args, mode, os.path.join(tmp, f"{mode}_{i}"))
                for i in range(args.runs)
            ]
            report["results"][mode] = {**_compare(runs), "runs": runs}
            print(
                f"[reproducibility] {mode}: "
                f"{ {k: v for k, v in report['results'][mode].items() if k != 'runs'} }",
                file=sys.stderr,
                flush=True,
            )
    output = args.output or _common.default_output(
        f"reproducibility_{report['backend']}"
    )
    _common.write(report, output)


if __name__ == "__main__":
    sys.exit(main())
