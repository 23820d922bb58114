"""One process of a distributed `NASOracle` search, for `test_distributed.py`.

Usage: python distributed_worker.py DIRECTORY STRATEGY MAX_TRIALS LOG_FILE

The role comes from keras-tuner's environment variables: KERASTUNER_TUNER_ID
containing "chief" serves the oracle over gRPC, any other id runs trials.
A trial trains nothing: its score is the number of decisions equal to a fixed
target genotype. Each worker appends every trial it ends to LOG_FILE.

From the environment:
- DISTRIBUTED_SPACE: "nasnet" (3 blocks, default), "one_op" (no op mutation
  possible) or "tiny" (16 configurations: the space runs out).
- DISTRIBUTED_TRIAL_SLEEP: seconds a trial takes (default 0.02).
- DISTRIBUTED_TRIAL_TIMEOUT: the oracle's `trial_timeout`.
- DISTRIBUTED_SYNC_DIR, DISTRIBUTED_HOLD_TRIAL=N: in its Nth trial the worker
  creates SYNC_DIR/<tuner id>.holding, then waits for the test to create
  SYNC_DIR/<tuner id>.go before it ends the trial (it never comes for a
  worker the test kills there).
- DISTRIBUTED_WAIT_FOR: a file to wait for before joining the search.

Every wait is on a file the test controls, bounded by WAIT_LIMIT_S.
"""

import json
import os
import sys
import time

WAIT_LIMIT_S = 300
# Quicker than the strategies' small-search options where they train.
FASTER = {"controller": {"batch_size": 4, "units": 16}}


def wait_for(path):
    deadline = time.monotonic() + WAIT_LIMIT_S
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise TimeoutError(f"{path} did not appear within {WAIT_LIMIT_S} s")
        time.sleep(0.02)


def space(name):
    import keras_tuner

    from keras_nasnet.space import decisions

    hp = keras_tuner.HyperParameters()
    if name == "one_op":
        decisions.declare_cells(hp, ops=("sep_conv_3x3",), num_blocks=3)
    elif name == "tiny":
        decisions.declare_cells(hp, ops=("sep_conv_3x3",), num_blocks=1)
    else:
        decisions.declare_cells(hp, num_blocks=3)
    return hp


def main(directory, strategy, max_trials, log_file):
    import keras_tuner
    from keras_tuner.engine import base_tuner

    from keras_nasnet.space import decisions, sampling
    from tuner_plugins import get_strategy_class
    from tuner_plugins.oracle import NASOracle

    hp = space(os.environ.get("DISTRIBUTED_SPACE", "nasnet"))
    num_blocks = decisions.num_blocks_in(hp.values)
    target = decisions.encode(sampling.random_genotype(0, num_blocks=num_blocks))
    tuner_id = os.environ["KERASTUNER_TUNER_ID"]
    sync_dir = os.environ.get("DISTRIBUTED_SYNC_DIR")
    hold_trial = int(os.environ.get("DISTRIBUTED_HOLD_TRIAL", "0"))

    class ScoreTuner(base_tuner.BaseTuner):
        trials_begun = 0

        def run_trial(self, trial):
            ScoreTuner.trials_begun += 1
            if ScoreTuner.trials_begun == hold_trial:
                with open(os.path.join(sync_dir, f"{tuner_id}.holding"), "w"):
                    pass
                wait_for(os.path.join(sync_dir, f"{tuner_id}.go"))
            values = trial.hyperparameters.values
            time.sleep(float(os.environ.get("DISTRIBUTED_TRIAL_SLEEP", "0.02")))
            return {"score": float(sum(values.get(k) == v for k, v in target.items()))}

        def on_trial_end(self, trial):
            super().on_trial_end(trial)
            with open(log_file, "a") as f:
                record = {
                    "trial_id": trial.trial_id,
                    "status": trial.status,
                    "values": trial.hyperparameters.values,
                }
                f.write(json.dumps(record) + "\n")

    options = {
        **get_strategy_class(strategy).small_search_options,
        **FASTER.get(strategy, {}),
    }
    oracle = NASOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=max_trials,
        strategy=strategy,
        hyperparameters=hp,
        seed=5,
        trial_timeout=(
            float(os.environ["DISTRIBUTED_TRIAL_TIMEOUT"])
            if "DISTRIBUTED_TRIAL_TIMEOUT" in os.environ
            else None
        ),
        **options,
    )
    if "DISTRIBUTED_WAIT_FOR" in os.environ:
        wait_for(os.environ["DISTRIBUTED_WAIT_FOR"])
    tuner = ScoreTuner(oracle, directory=directory, project_name="search")
    tuner.search()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
