"""How long `fit` takes to return after its last callback, on busy cores.

Keras's TensorFlow trainer batches numpy arrays with a `tf.data` pipeline
that starts tf.data's autotuning thread; deleting the pipeline's iterator
when `fit` ends waits for that thread (see `keras_nasnet.data.feeding`). This
script trains the make-search child (NASNet-A, N=1, F=8, the SEARCH_PROXY
recipe, one epoch on `--images` Fashion-MNIST-shaped random images, scored
on a quarter as many) `--fits` times each way, alternating:

- `keras_arrays`: `fit(x, y, validation_data=(xv, yv))`, as Keras feeds them;
- `array_dataset`: the same arrays through `feeding.as_datasets` (autotuning
  off, a fixed prefetch).

`--busy` busy-loop processes share the cores meanwhile, and TensorFlow runs
`--threads` threads: the defaults (one of each on two cores) are what a
worker of a two-worker search meets. Reported per feed: the seconds from the
last callback (`on_train_end`) to `fit`'s return (`stall_s`: each, the
median, the max, how many above 1 s) and the seconds of the fit itself
(`fit_s`), so that a slower pipeline would show.

Usage:
    python benchmarks/fit_return_stall.py [--fits 6] [--threads 1] [--busy 1]
        [--images 4000] [--output benchmarks/results/fit_return_stall.json]
"""

import argparse
import dataclasses
import subprocess
import sys
import time

import _common
import keras
import numpy as np

from keras_nasnet import training
from keras_nasnet.data import feeding

FEEDS = ("keras_arrays", "array_dataset")


class _TrainEnd(keras.callbacks.Callback):
    def on_train_end(self, logs=None):
        self.at = time.perf_counter()


def _busy_loops(count):
    code = "while True: pass"
    return [subprocess.Popen([sys.executable, "-c", code]) for _ in range(count)]


def one_fit(feed, data, recipe, seed):
    (x, y), validation = data
    keras.utils.set_random_seed(seed)
    model = training.build_model("nasnet_a", ((28, 28, 1), 10), recipe)
    steps = recipe.steps_per_epoch(len(x))
    training.compile_model(model, recipe, steps)
    training.build_training_state(model)
    ended = _TrainEnd()
    args, kwargs = (
        (x, y),
        dict(
            batch_size=recipe.batch_size,
            epochs=1,
            validation_data=validation,
            callbacks=[ended],
            verbose=0,
        ),
    )
    if feed == "array_dataset":
        args, kwargs = feeding.as_datasets(args, kwargs)
    began = time.perf_counter()
    model.fit(*args, **kwargs)
    returned = time.perf_counter()
    del model
    keras.backend.clear_session()
    return {"fit_s": ended.at - began, "stall_s": returned - ended.at}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fits", type=int, default=6, help="per feed")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--busy", type=int, default=1)
    parser.add_argument("--images", type=int, default=4000)
    parser.add_argument("--filters", type=int, default=8)
    parser.add_argument("--output", default=_common.default_output("fit_return_stall"))
    args = parser.parse_args(argv)
    training.configure_tensorflow(threads=args.threads)
    recipe = dataclasses.replace(
        training.SEARCH_PROXY, cells_per_stack=1, filters=args.filters, epochs=1
    )
    rng = np.random.default_rng(0)
    n_val = max(1, args.images // 4)
    data = (
        (
            rng.random((args.images, 28, 28, 1), dtype="float32"),
            rng.integers(0, 10, args.images).astype("int32"),
        ),
        (
            rng.random((n_val, 28, 28, 1), dtype="float32"),
            rng.integers(0, 10, n_val).astype("int32"),
        ),
    )
    report = _common.header("fit_return_stall")
    report["settings"] = {
        "fits_per_feed": args.fits,
        "threads": args.threads,
        "busy_processes": args.busy,
        "images": args.images,
        "validation_images": n_val,
        "child": f"nasnet_a, N=1, F={args.filters}, SEARCH_PROXY, batch "
        f"{recipe.batch_size}, 1 epoch",
    }
    runs = {feed: [] for feed in FEEDS}
    busy = _busy_loops(args.busy)
    try:
        for i in range(args.fits):
            for feed in FEEDS:
                run = one_fit(feed, data, recipe, seed=i)
                runs[feed].append(run)
                print(
                    feed,
                    i,
                    {k: round(v, 2) for k, v in run.items()},
                    file=sys.stderr,
                    flush=True,
                )
    finally:
        for process in busy:
            process.kill()
            process.wait()
    report["results"] = {}
    for feed, feed_runs in runs.items():
        stalls = [r["stall_s"] for r in feed_runs]
        fits = [r["fit_s"] for r in feed_runs]
        report["results"][feed] = {
            "stall_s": [round(s, 3) for s in stalls],
            "stall_median_s": round(float(np.median(stalls)), 3),
            "stall_max_s": round(float(np.max(stalls)), 3),
            "stalls_over_1s": int(sum(s > 1 for s in stalls)),
            "fit_s": [round(s, 2) for s in fits],
            "fit_median_s": round(float(np.median(fits)), 2),
        }
    _common.write(report, args.output)


if __name__ == "__main__":
    main()
