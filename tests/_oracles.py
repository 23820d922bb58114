"""Helpers for the tests that drive a `NASOracle` without training: make one,
end a trial with a score, and the synthetic objective of the search-quality
tests."""

import keras_tuner
import numpy as np
from keras_tuner.engine import trial as trial_module

from keras_nasnet.space import decisions, sampling
from tuner_plugins import _keras_tuner as kt
from tuner_plugins.oracle import NASOracle

COMPLETED = trial_module.TrialStatus.COMPLETED
FAILED = trial_module.TrialStatus.FAILED


def make_oracle(
    tmp_path,
    hp,
    strategy,
    project="oracle",
    direction="max",
    fast=False,
    objective=None,
    **kwargs,
):
    """A `NASOracle` on `hp` maximizing (or minimizing) "score" (or another
    `objective`), with a project directory under `tmp_path`; `fast` turns its
    file writes off (for tests of thousands of trials: the files are the
    conformance suite's)."""
    kwargs.setdefault("seed", 1)
    kwargs.setdefault("max_trials", 1000)
    oracle = NASOracle(
        objective=objective or keras_tuner.Objective("score", direction),
        strategy=strategy,
        hyperparameters=hp,
        **kwargs,
    )
    kt.set_project_dir(oracle, str(tmp_path), project)
    oracle.verbose = 0
    if fast:
        kt.without_files(oracle)
    return oracle


def finish(oracle, trial, score, status=COMPLETED):
    """Ends `trial`: COMPLETED with `score`, or another status."""
    if status == COMPLETED:
        oracle.update_trial(trial.trial_id, {"score": score})
    trial.status = status
    oracle.end_trial(trial)


def cell_space(**kwargs):
    """A NASNet space: `decisions.declare_cells(hp, **kwargs)`."""
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp, **kwargs)
    return hp


def matches(values, target):
    """The synthetic objective: how many decisions equal the hidden target's."""
    return sum(values.get(name) == value for name, value in target.items())


def changed(parent, child):
    """The names whose values differ between two values dicts."""
    return {k for k in set(parent) | set(child) if parent.get(k) != child.get(k)}


def best_against_random(make_oracle, budget, seeds):
    """The best synthetic score a search reaches in `budget` trials, and
    random search's at the same budget, for each seed.

    The objective is how many of the 40 cell decisions equal those of a
    hidden target genotype, which trains nothing. Random search samples every
    decision uniformly, which is what keras-tuner's RandomSearchOracle
    samples on this space.

    Args:
        make_oracle: `seed -> NASOracle` over `cell_space()`.
    """
    searched, random = [], []
    for seed in seeds:
        target = decisions.encode(sampling.random_genotype(1000 + seed))
        oracle = make_oracle(seed)
        best = 0
        for _ in range(budget):
            trial = oracle.create_trial("tuner0")
            score = matches(trial.hyperparameters.values, target)
            finish(oracle, trial, float(score))
            best = max(best, score)
        searched.append(best)
        rng = np.random.default_rng(seed)
        random.append(
            max(
                matches(decisions.encode(sampling.random_genotype(rng)), target)
                for _ in range(budget)
            )
        )
    return searched, random
