"""What redrawing identity children changes in aging evolution, measured on
the synthetic objective.

The paper's identity mutation (probability 0.05) makes a child equal to its
parent, which is trained again and joins the population as a new member.
`NASOracle` never runs a configuration twice, so an identity child (like any
repeat) is redrawn: the children it trains follow the paper's distribution
conditioned on "not identity" (see docs/evolution.md). This script measures
the effect, on the objective the test suite uses (how many of the 40 cell
decisions equal a hidden target genotype's), with and without evaluation
noise (Gaussian, `--noises`, in matches), over `--seeds` seeds. Arms:

- `paper`: a reference loop of Algorithm 1 where an identity child is
  evaluated again (a fresh noisy score) and joins the population.
- `redraw`: the same loop, but any child that repeats a tried architecture
  is redrawn (new tournament, new mutation): the oracle's rule.
- `oracle`: `NASOracle(strategy="evolution")` itself, the implementation the
  `redraw` loop describes.

Reported per arm: over seeds, the median and quartiles of the true score of
the architecture with the best observed score at the end of the budget (what
a search returns), and in `paper` the share of trials that were identity
copies.

Usage:
    python benchmarks/identity_mutation.py [--seeds 20] [--noises 0,2]
        [--settings paper,small] [--output benchmarks/results/identity_mutation.json]
"""

import argparse
import collections
import sys
import tempfile

import _common
import keras_tuner
import numpy as np

from keras_nasnet.space import decisions, mutations, sampling
from tuner_plugins import _keras_tuner as kt
from tuner_plugins.oracle import NASOracle

# name -> (population size P, tournament size S, trials): the paper's P and
# S over 1,000 trials, and the CLI's small-search options over 60.
SETTINGS = {"paper": (100, 25, 1000), "small": (8, 3, 60)}
IDENTITY_PROB = mutations.DEFAULT_IDENTITY_PROB


def _matches(values, target):
    return sum(values.get(name) == value for name, value in target.items())


def reference_evolution(
    target, seed, population_size, sample_size, budget, noise, redraw
):
    """Algorithm 1 with the identity mutation; returns (true score of the best
    observed trial, share of identity trials)."""
    rng = np.random.default_rng([seed, 17])
    population = collections.deque()  # (genotype, observed score)
    tried = set()
    best = (-np.inf, 0)  # (observed, true)
    identities = trials = 0
    while trials < budget:
        kind = "random"
        if len(population) < population_size:
            child = sampling.random_genotype(rng)
        else:
            drawn = rng.integers(len(population), size=sample_size)
            parent = population[int(max(drawn, key=lambda i: population[i][1]))][0]
            child, kind = mutations.mutate(parent, rng, identity_prob=IDENTITY_PROB)
        key = str(child)
        if redraw and key in tried:
            continue
        tried.add(key)
        true = _matches(decisions.encode(child), target)
        observed = true + noise * rng.normal()
        trials += 1
        identities += kind == mutations.IDENTITY
        best = max(best, (observed, true))
        population.append((child, observed))
        if len(population) > population_size:
            population.popleft()
    return best[1], identities / budget


def oracle_evolution(target, seed, population_size, sample_size, budget, noise):
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp)
    oracle = NASOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=budget,
        strategy="evolution",
        hyperparameters=hp,
        seed=seed + 1,
        population_size=population_size,
        sample_size=sample_size,
        identity_prob=IDENTITY_PROB,
    )
    with tempfile.TemporaryDirectory() as directory:
        kt.set_project_dir(oracle, directory, "p")
        oracle.verbose = 0
        kt.without_files(oracle)
        rng = np.random.default_rng([seed, 23])
        best = (-np.inf, 0)
        for _ in range(budget):
            trial = oracle.create_trial("tuner0")
            true = _matches(trial.hyperparameters.values, target)
            observed = true + noise * rng.normal()
            oracle.update_trial(trial.trial_id, {"score": observed})
            trial.status = "COMPLETED"
            oracle.end_trial(trial)
            best = max(best, (observed, true))
    return best[1]


def _summary(values):
    return {
        "median": float(np.median(values)),
        "q25": float(np.percentile(values, 25)),
        "q75": float(np.percentile(values, 75)),
        "per_seed": [float(v) for v in values],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--noises", default="0,2")
    parser.add_argument("--settings", default=",".join(SETTINGS))
    parser.add_argument("--output", default=_common.default_output("identity_mutation"))
    args = parser.parse_args(argv)
    report = _common.header("identity_mutation", argv and [sys.argv[0], *argv])
    report["objective"] = (
        "matches of the 40 cell decisions (NASNet space, 5 blocks, 13 ops) with "
        "a target genotype, plus Gaussian noise of std `noise` per evaluation"
    )
    report["identity_prob"] = IDENTITY_PROB
    results = {}
    for name in args.settings.split(","):
        population_size, sample_size, budget = SETTINGS[name]
        by_noise = {}
        for noise in (float(n) for n in args.noises.split(",")):
            arms = collections.defaultdict(list)
            shares = []
            for seed in range(args.seeds):
                target = decisions.encode(sampling.random_genotype(1000 + seed))
                common = (target, seed, population_size, sample_size, budget, noise)
                best, share = reference_evolution(*common, redraw=False)
                arms["paper"].append(best)
                shares.append(share)
                arms["redraw"].append(reference_evolution(*common, redraw=True)[0])
                arms["oracle"].append(oracle_evolution(*common))
            by_noise[f"{noise:g}"] = {
                **{arm: _summary(values) for arm, values in arms.items()},
                "paper_identity_share": float(np.mean(shares)),
            }
            print(
                name, noise, {a: np.median(v) for a, v in arms.items()}, file=sys.stderr
            )
        results[name] = {
            "population_size": population_size,
            "sample_size": sample_size,
            "budget": budget,
            "seeds": args.seeds,
            "by_noise": by_noise,
        }
    report["results"] = results
    _common.write(report, args.output)


if __name__ == "__main__":
    main()
