"""Which learning rate the RNN controller should use in a search of tens of
trials, measured on the synthetic objective.

The paper's 0.00035 (Adam) is tuned for 20,000 children in minibatches of 20;
a CLI search trains a few dozen (`ControllerStrategy.small_search_options`:
minibatches of 5). This script runs the controller with those options and
each `--learning-rates` value on the NASNet space with the combine searched
(50 decisions: the paper's space), scoring a trial by how many decisions equal
a hidden target genotype's (no training), over `--seeds` seeds, with uniform
random search at the same budget for reference. Reported per arm: over
seeds, the median and quartiles of the best score after each of
`--checkpoints` trials.

Usage:
    python benchmarks/controller_learning_rate.py [--seeds 20]
        [--learning-rates 0.00035,0.0035,0.035] [--checkpoints 30,60]
        [--output benchmarks/results/controller_learning_rate.json]
"""

import argparse
import sys
import tempfile

import _common
import keras_tuner
import numpy as np

from keras_nasnet.space import decisions, ops, sampling
from tuner_plugins import _keras_tuner as kt
from tuner_plugins.controller import ControllerStrategy
from tuner_plugins.oracle import NASOracle


def _space():
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp, search_combine=True)
    return hp


def _target(seed):
    genotype = sampling.random_genotype(1000 + seed, combines=ops.COMBINES)
    return decisions.encode(genotype, search_combine=True)


def _matches(values, target):
    return sum(values.get(name) == value for name, value in target.items())


def _best_so_far(scores, checkpoints):
    return [max(scores[:n]) for n in checkpoints]


def controller_run(seed, learning_rate, budget, checkpoints):
    options = {
        **ControllerStrategy.small_search_options,
        "learning_rate": learning_rate,
    }
    oracle = NASOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=budget,
        strategy="controller",
        hyperparameters=_space(),
        seed=seed + 1,
        **options,
    )
    target = _target(seed)
    scores = []
    with tempfile.TemporaryDirectory() as directory:
        kt.set_project_dir(oracle, directory, "p")
        oracle.verbose = 0
        kt.without_files(oracle)
        for _ in range(budget):
            trial = oracle.create_trial("tuner0")
            score = _matches(trial.hyperparameters.values, target)
            oracle.update_trial(trial.trial_id, {"score": float(score)})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            scores.append(score)
    return _best_so_far(scores, checkpoints), oracle.strategy.num_updates


def random_run(seed, budget, checkpoints):
    oracle = NASOracle(
        objective=keras_tuner.Objective("score", "max"),
        strategy="evolution",
        hyperparameters=_space(),
        seed=0,
    )
    rng = np.random.default_rng([seed, 29])
    target = _target(seed)
    scores = [_matches(oracle.random_values(rng), target) for _ in range(budget)]
    return _best_so_far(scores, checkpoints)


def _summary(rows, checkpoints):
    rows = np.array(rows, dtype=float)
    return {
        str(n): {
            "median": float(np.median(rows[:, i])),
            "q25": float(np.percentile(rows[:, i], 25)),
            "q75": float(np.percentile(rows[:, i], 75)),
        }
        for i, n in enumerate(checkpoints)
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--learning-rates", default="0.00035,0.0035,0.035")
    parser.add_argument("--checkpoints", default="30,60")
    parser.add_argument(
        "--output", default=_common.default_output("controller_learning_rate")
    )
    args = parser.parse_args(argv)
    checkpoints = [int(n) for n in args.checkpoints.split(",")]
    budget = max(checkpoints)
    report = _common.header("controller_learning_rate", argv and [sys.argv[0], *argv])
    report["objective"] = (
        "matches of the 50 decisions (NASNet space, 5 blocks, 13 ops, combine "
        "searched) with a target genotype; no noise"
    )
    report["options"] = {
        k: v
        for k, v in ControllerStrategy.small_search_options.items()
        if k != "learning_rate"
    }
    results = {}
    for learning_rate in (float(v) for v in args.learning_rates.split(",")):
        rows, updates = [], []
        for seed in range(args.seeds):
            row, num_updates = controller_run(seed, learning_rate, budget, checkpoints)
            rows.append(row)
            updates.append(num_updates)
        results[f"controller_lr_{learning_rate:g}"] = {
            "learning_rate": learning_rate,
            "updates": int(np.median(updates)),
            "best_after": _summary(rows, checkpoints),
        }
        print(
            learning_rate, results[f"controller_lr_{learning_rate:g}"], file=sys.stderr
        )
    rows = [random_run(seed, budget, checkpoints) for seed in range(args.seeds)]
    results["random"] = {"best_after": _summary(rows, checkpoints)}
    report["seeds"] = args.seeds
    report["results"] = results
    _common.write(report, args.output)


if __name__ == "__main__":
    main()
