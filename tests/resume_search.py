"""A plain `tuner.search` for tests/test_resume.py to kill and resume.

    python tests/resume_search.py DIRECTORY

Runs 14 trials of `AgingEvolution`, then 14 of `RNNController`, on a NASNet
space in DIRECTORY/evolution and DIRECTORY/controller, continuing what is
there (`overwrite=False`); one process for both keeps the test's process
starts (seconds each) few. Trials do not
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
from tuner_plugins import AgingEvolution, RNNController

MAX_TRIALS = 14


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


def _tuner_class(strategy):
    base = AgingEvolution if strategy == "evolution" else RNNController

    class NoTraining(base):
        def run_trial(self, trial, *args, **kwargs):
            time.sleep(0.03)  # a window for the random kills to land in
            return {"score": _score(trial.hyperparameters.values)}

    return NoTraining


def search(directory, strategy):
    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp, num_blocks=2)
    options = (
        {"population_size": 4, "sample_size": 2}
        if strategy == "evolution"
        else {
            "controller_batch_size": 3,
            "controller_units": 8,
            "controller_ppo_epochs": 1,
        }
    )
    tuner = _tuner_class(strategy)(
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


def main(directory):
    if "RESUME_SEARCH_KILL_AT_WRITE" in os.environ:
        _kill_at_write(int(os.environ["RESUME_SEARCH_KILL_AT_WRITE"]))
    for strategy in ("evolution", "controller"):
        search(directory, strategy)


if __name__ == "__main__":
    main(*sys.argv[1:])
