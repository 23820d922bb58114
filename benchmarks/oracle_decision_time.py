"""How long `NASOracle` takes to decide: one `create_trial` + `end_trial`.

For each strategy, on the NASNet space (2 cells x 5 blocks, 13 ops; 40
decisions) with default options, the oracle is filled with N finished trials
(file writes switched off while filling, to keep the run short), then one
create_trial -> update_trial -> end_trial is timed `--repeats` times with
keras-tuner's files written as in a real search. Reported: the median, p90 and
max in milliseconds, and the part spent in the strategy itself (proposal and
update) as opposed to keras-tuner's bookkeeping (copying the space, hashing,
writing trial.json and oracle.json). `keras_tuner_random_search` is
keras-tuner's own RandomSearchOracle measured the same way: the bookkeeping
any keras-tuner oracle pays. The controller updates once per 20
finished trials: the median is a trial without an update; `update_ms` is the
median time of the updates met while timing.

Usage:
    python benchmarks/oracle_decision_time.py [--sizes 100,1000,2000,5000]
        [--repeats 40] [--output benchmarks/results/oracle_decision_time.json]
"""

import argparse
import json
import os
import sys
import tempfile
import time

import _common
import keras_tuner
import numpy as np

from keras_nasnet.space import decisions, sampling
from tuner_plugins import _keras_tuner
from tuner_plugins.oracle import NASOracle

TARGET_MS = 20.0
REFERENCE = "keras_tuner_random_search"


class _Timed:
    """Wraps a callable and records how long each call took."""

    def __init__(self, fn):
        self.fn, self.last = fn, 0.0

    def __call__(self, *args, **kwargs):
        start = time.perf_counter()
        try:
            return self.fn(*args, **kwargs)
        finally:
            self.last = time.perf_counter() - start


def _one_trial(oracle, target):
    trial = oracle.create_trial("tuner0")
    values = trial.hyperparameters.values
    score = float(sum(values.get(k) == v for k, v in target.items()))
    oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = "COMPLETED"
    oracle.end_trial(trial)


def bench_strategy(strategy, sizes, repeats, directory):
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp)
    target = decisions.encode(sampling.random_genotype(0))
    kwargs = dict(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=max(sizes) + repeats * len(sizes) + 1,
        hyperparameters=hp,
        seed=1,
    )
    if strategy == REFERENCE:
        # keras-tuner's own RandomSearchOracle: the same bookkeeping, no
        # search to speak of. What a keras-tuner oracle costs at N trials.
        oracle = keras_tuner.oracles.RandomSearchOracle(**kwargs)
    else:
        oracle = NASOracle(strategy=strategy, **kwargs)
    _keras_tuner.set_project_dir(oracle, directory, strategy)
    oracle.verbose = 0
    populate = _Timed(oracle.populate_space)
    oracle.populate_space = populate
    on_end = _Timed(lambda oracle: False)
    if strategy != REFERENCE:
        on_end = _Timed(oracle.strategy.on_trial_end)
        oracle.strategy.on_trial_end = on_end

    results = {}
    for size in sorted(sizes):
        # Fill without files: keras-tuner rewrites oracle.json (all trial ids
        # and hashes) twice per trial, which makes filling quadratic.
        restore_files = _keras_tuner.without_files(oracle)
        while len(oracle.end_order) < size:
            _one_trial(oracle, target)
        restore_files()
        oracle.save()
        totals, strategy_times, updates = [], [], []
        for _ in range(repeats):
            strategy_obj = getattr(oracle, "strategy", None)
            updates_before = getattr(strategy_obj, "num_updates", 0)
            start = time.perf_counter()
            _one_trial(oracle, target)
            total = time.perf_counter() - start
            own = populate.last + on_end.last
            if getattr(strategy_obj, "num_updates", 0) != updates_before:
                updates.append(total * 1e3)
            else:
                totals.append(total * 1e3)
                strategy_times.append(own * 1e3)
        results[str(size)] = {
            "finished_trials": size,
            "repeats": repeats,
            "median_ms": round(float(np.median(totals)), 2),
            "p90_ms": round(float(np.percentile(totals, 90)), 2),
            "max_ms": round(float(np.max(totals)), 2),
            "strategy_median_ms": round(float(np.median(strategy_times)), 2),
            "keras_tuner_median_ms": round(
                float(np.median(np.array(totals) - np.array(strategy_times))), 2
            ),
            "updates_timed": len(updates),
            "update_ms": round(float(np.median(updates)), 2) if updates else None,
        }
        print(strategy, size, results[str(size)], file=sys.stderr, flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,2000,5000")
    parser.add_argument("--repeats", type=int, default=40)
    parser.add_argument("--strategies", default=f"evolution,controller,{REFERENCE}")
    parser.add_argument(
        "--append",
        action="store_true",
        help="add these strategies' results to an existing output file",
    )
    parser.add_argument(
        "--output",
        default=_common.default_output("oracle_decision_time"),
    )
    args = parser.parse_args(argv)
    sizes = [int(s) for s in args.sizes.split(",")]
    report = _common.header("oracle_decision_time")
    report["space"] = "NASNet, 2 cells x 5 blocks, 13 ops (40 decisions)"
    report["target_ms"] = TARGET_MS
    report["results"] = {}
    if args.append and os.path.exists(args.output):
        with open(args.output) as f:
            previous = json.load(f)
        previous.setdefault("appended", []).append(
            {k: report[k] for k in ("command", "date_utc", "machine")}
        )
        report = previous
    with tempfile.TemporaryDirectory() as directory:
        for strategy in args.strategies.split(","):
            report["results"][strategy] = bench_strategy(
                strategy, sizes, args.repeats, directory
            )
    _common.write(report, args.output)


if __name__ == "__main__":
    main()
