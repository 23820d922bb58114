"""A plain `tuner.search` for tests/test_resume.py to kill and resume.

    python tests/resume_search.py DIRECTORY [DIRECTORY ...]

Runs 14 trials of each registered strategy in turn (`NASTuner`), on a NASNet
space in DIRECTORY/<strategy>, continuing what is there (`overwrite=False`),
then likewise in each further DIRECTORY; one process for all keeps the test's
process starts (seconds each) few. Trials do not
train: each sleeps a little and scores its values with a fixed function, so
an uninterrupted search and a killed-and-resumed one must end with the same
trials and scores. With RESUME_SEARCH_KILL_AT_WRITE=N in the environment, the
process SIGKILLs itself in the middle of its Nth state-file write (after the
temporary file, before the rename).
"""

import json
import os
import signal
import sys
import time
import zlib

import keras_tuner

from keras_nasnet.space import decisions
from tuner_plugins import NASTuner, get_strategy_class, strategy_names

MAX_TRIALS = 14
# Quicker than the strategies' small-search options where they train.
FASTER = {"controller": {"batch_size": 3, "units": 8, "ppo_epochs": 1}}


def _kill_at_write(n):
    real_replace = os.replace
    count = [0]

    def replace(src, dst):
        count[0] += 1
        if count[0] == n:
            os.kill(os.getpid(), signal.SIGKILL)
        real_replace(src, dst)

    os.replace = replace


def _score(values):
    text = json.dumps(values, sort_keys=True)
    return (zlib.crc32(text.encode("utf-8")) % 1000) / 1000.0


class NoTraining(NASTuner):
    def run_trial(self, trial, *args, **kwargs):
        time.sleep(0.03)  # a window for the random kills to land in
        return {"score": _score(trial.hyperparameters.values)}


def search(directory, strategy):
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp, num_blocks=2)
    options = {
        **get_strategy_class(strategy).small_search_options,
        **FASTER.get(strategy, {}),
    }
    tuner = NoTraining(
        strategy=strategy,
        objective=keras_tuner.Objective("score", "max"),
        max_trials=MAX_TRIALS,
        hyperparameters=hp,
        seed=5,
        directory=directory,
        project_name=strategy,
        overwrite=False,
        **options,
    )
    tuner.search(verbose=0)


def main(*directories):
    if "RESUME_SEARCH_KILL_AT_WRITE" in os.environ:
        _kill_at_write(int(os.environ["RESUME_SEARCH_KILL_AT_WRITE"]))
    for directory in directories:
        for strategy in strategy_names():
            search(directory, strategy)


if __name__ == "__main__":
    main(*sys.argv[1:])
