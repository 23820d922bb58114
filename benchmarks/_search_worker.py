"""One process of a distributed search, for `workers_throughput.py`.

Usage: python benchmarks/_search_worker.py --directory DIR --strategy S
    --seed K --log FILE [the proxy flags of search_quality.py]

The role comes from keras-tuner's environment variables, as in
`tests/distributed_worker.py`: a KERASTUNER_TUNER_ID containing "chief" serves
the oracle over gRPC and trains nothing; any other id runs trials of the same
`NASNetHyperModel` as `search_quality.py` on real data. Each worker appends
one JSON line per trial it ends to FILE: tuner id, trial id, status
and the wall-clock (`time.time()`) start and end of the trial.
"""

import argparse
import json
import os
import time

import search_quality


def _limit_tensorflow_memory():
    # Several processes share one GPU: TensorFlow would take it all at once.
    # (JAX is limited by XLA_PYTHON_CLIENT_* variables set by the parent.)
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    search_quality.add_proxy_arguments(parser)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--strategy", choices=search_quality.STRATEGIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    _limit_tensorflow_memory()
    settings = search_quality.proxy_settings(args)
    splits = search_quality.load_data(settings, args.data_dir)
    hypermodel = search_quality.make_hypermodel(settings, splits)
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    started = {}  # trial_id -> time.time() at its start

    def on_trial_end(tuner, trial):
        record = {
            "tuner_id": tuner_id,
            "trial_id": trial.trial_id,
            "status": trial.status,
            "start": started.get(trial.trial_id),
            "end": time.time(),
        }
        with open(args.log, "a") as f:
            f.write(json.dumps(record) + "\n")

    base = search_quality.tuner_class(args.strategy, on_trial_end)

    class Timed(base):
        def on_trial_begin(self, trial):
            started[trial.trial_id] = time.time()
            super().on_trial_begin(trial)

    tuner = search_quality.make_tuner(
        args.strategy,
        settings,
        hypermodel,
        args.seed,
        os.path.dirname(os.path.abspath(args.directory)),
        os.path.basename(os.path.abspath(args.directory)),
        cls=Timed,
        overwrite=False,
    )
    x, y = splits.train
    tuner.search(x, y, validation_data=splits.validation, verbose=0)


if __name__ == "__main__":
    main()
