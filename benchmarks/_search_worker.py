"""One process of a distributed search, for `workers_throughput.py`.

Usage: python benchmarks/_search_worker.py --directory DIR --strategy S
    --seed K --log FILE [the proxy flags of search_quality.py]

The role comes from keras-tuner's environment variables, as in
`tests/distributed_worker.py`: a KERASTUNER_TUNER_ID containing "chief" serves
the oracle over gRPC and trains nothing; any other id runs trials of the same
hypermodel as `search_quality.py` on real data, with the tuner of
`keras_nasnet.workflow.make_tuner`. Each worker appends one JSON line per
trial it ends to FILE: tuner id, trial id, status and the wall-clock
(`time.time()`) start and end of the trial.
"""

import argparse
import json
import os

import search_quality

from keras_nasnet import progress, workflow


def _limit_tensorflow_memory():
    # Several processes share one GPU: TensorFlow would take it all at once.
    # (JAX is limited by XLA_PYTHON_CLIENT_* variables set by the parent.)
    import keras

    if keras.backend.backend() != "tensorflow":
        return
    import tensorflow as tf

    for gpu in tf.config.list_physical_devices("GPU"):
        tf.config.experimental.set_memory_growth(gpu, True)


class _Log(progress.SearchCallback):
    """Appends one JSON line per trial this worker ends to `path`."""

    def __init__(self, path, tuner_id):
        self.path, self.tuner_id = path, tuner_id

    def on_trial_end(self, event):
        record = {
            "tuner_id": self.tuner_id,
            "trial_id": event.trial_id,
            "status": event.status,
            "start": event.start_time,
            "end": event.end_time,
        }
        with open(self.path, "a") as f:
            f.write(json.dumps(record) + "\n")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    search_quality.add_proxy_arguments(parser)
    parser.add_argument("--directory", required=True)
    parser.add_argument("--strategy", choices=search_quality.STRATEGIES)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--log", required=True)
    args = parser.parse_args(argv)
    _limit_tensorflow_memory()
    proxy = search_quality.proxy_settings(args)
    splits = search_quality.load_data(proxy, args.data_dir)
    settings = search_quality.search_settings(proxy, args.strategy, args.seed, splits)
    tuner_id = os.environ.get("KERASTUNER_TUNER_ID", "tuner0")
    # The workflow's tuner, run by keras-tuner's distributed search: the
    # chief serves the oracle, each worker trains trials.
    tuner = workflow.make_tuner(
        settings,
        workflow.make_hypermodel(
            settings, jit_compile=args.xla, run_eagerly=args.eager
        ),
        args.directory,
        callback=_Log(args.log, tuner_id),
    )
    x, y = splits.train
    tuner.search(
        x,
        y,
        validation_data=splits.validation,
        epochs=settings.epochs,
        batch_size=settings.batch_size,
        verbose=0,
    )


if __name__ == "__main__":
    main()
