"""One process of a distributed `NASOracle` search, for `test_distributed.py`.

Usage: python distributed_worker.py DIRECTORY STRATEGY MAX_TRIALS LOG_FILE

The role comes from keras-tuner's environment variables: KERASTUNER_TUNER_ID
containing "chief" serves the oracle over gRPC, any other id runs trials.
A trial trains nothing: its score is the number of decisions equal to a fixed
target genotype. Each worker appends every trial it ends to LOG_FILE.
DISTRIBUTED_TRIAL_SLEEP (seconds a trial takes, default 0.02) and
DISTRIBUTED_TRIAL_TIMEOUT (the oracle's `trial_timeout`) come from the
environment.
"""

import json
import os
import sys
import time


def main(directory, strategy, max_trials, log_file):
    import keras_tuner
    from keras_tuner.engine import base_tuner

    from keras_nasnet.space import decisions, sampling
    from tuner_plugins.oracle import NASOracle

    hp = keras_tuner.HyperParameters()
    decisions.declare_cells(hp, num_blocks=3)
    target = decisions.encode(sampling.random_genotype(0, num_blocks=3))

    class ScoreTuner(base_tuner.BaseTuner):
        def run_trial(self, trial):
            values = trial.hyperparameters.values
            # Long enough for the two workers' trials to overlap.
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

    oracle = NASOracle(
        objective=keras_tuner.Objective("score", "max"),
        max_trials=max_trials,
        strategy=strategy,
        hyperparameters=hp,
        seed=5,
        population_size=6,
        sample_size=3,
        controller_batch_size=4,
        controller_units=16,
        trial_timeout=(
            float(os.environ["DISTRIBUTED_TRIAL_TIMEOUT"])
            if "DISTRIBUTED_TRIAL_TIMEOUT" in os.environ
            else None
        ),
    )
    tuner = ScoreTuner(oracle, directory=directory, project_name="search")
    tuner.search()


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4])
