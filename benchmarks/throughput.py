"""Training throughput of our NASNet-A models, against keras.applications.

Three models, trained on synthetic data (random images, random labels) with
SGD (momentum 0.9) or RMSprop and sparse categorical cross-entropy:

- `ours_mobile`: `keras_nasnet.NASNet(NASNET_A, cells_per_stack=4,
  penultimate_filters=1056, stem="imagenet", stem_multiplier=1)`, NASNet-A
  mobile (4@1056, 5,326,716 parameters at 224 px and 1000 classes);
- `keras_mobile`: `keras.applications.NASNetMobile(weights=None)` at the same
  input size: the same network as Keras builds it, the peer to beat;
- `ours_cifar`: NASNet-A 6@768 on 32x32 images with the CIFAR recipe's
  auxiliary head and scheduled drop path (`training.NASNET_CIFAR`, trained
  with `DropPathScheduler` as `training.train` does), alone.

All models are built under one dtype policy (`--precision`) and compiled with
one `jit_compile` (`--jit-compile`); the backend is `KERAS_BACKEND`. After a
warm-up `fit` per model (tracing and compiling; its time is reported
separately), each repetition runs one `fit` of `--steps` steps per model, the
models alternating, and waits for the last step to finish. Reported per model:
the median images/s over the repetitions, every repetition's figure, and
`ours_mobile / keras_mobile`.

With `--inference`, each repetition also times one `predict` of `--steps`
batches per model (after a warm-up `predict` that traces the predict
function), the models alternating as in training: the median inference
images/s per model and `ours_mobile / keras_mobile` of it (paired per
repetition) are reported beside the training figures.

Usage:
    KERAS_BACKEND=tensorflow python benchmarks/throughput.py \
        [--image-size 224] [--batch-size 32] [--steps 10] [--repeats 5] \
        [--cells-per-stack 4] [--penultimate-filters 1056] \
        [--precision float32|mixed_bfloat16|mixed_float16] \
        [--jit-compile on|off|auto] [--models ours_mobile,keras_mobile,ours_cifar] \
        [--inference] \
        [--output benchmarks/results/throughput_<backend>_<precision>_<jit>.json]
"""

import argparse
import dataclasses
import statistics
import sys
import time

import _common
import keras
import numpy as np

from keras_nasnet import training
from keras_nasnet.callbacks import DropPathScheduler
from keras_nasnet.genotypes import NASNET_A
from keras_nasnet.models import NASNet

MODELS = ("ours_mobile", "keras_mobile", "ours_cifar")
PRECISIONS = ("float32", "mixed_bfloat16", "mixed_float16")
_JIT = {"on": True, "off": False, "auto": "auto"}


def build(
    name, image_size, cifar_image_size, cells_per_stack=4, penultimate_filters=1056
):
    """The model called `name` and the input size it trains on.

    `cells_per_stack` and `penultimate_filters` size both mobile models
    (NASNet-A mobile is 4@1056); at another size Keras's own model is its
    generic NASNet builder (`keras.src.applications.nasnet.NASNet`, what
    `NASNetMobile` calls), for the smoke test's small pair.
    """
    if name == "ours_mobile":
        shape = (image_size, image_size, 3)
        model = NASNet(
            NASNET_A,
            cells_per_stack=cells_per_stack,
            penultimate_filters=penultimate_filters,
            stem="imagenet",
            stem_multiplier=1,
            input_shape=shape,
            num_classes=1000,
        )
        return model, shape, 1000
    if name == "keras_mobile":
        shape = (image_size, image_size, 3)
        if (cells_per_stack, penultimate_filters) == (4, 1056):
            model = keras.applications.NASNetMobile(weights=None, input_shape=shape)
        else:
            from keras.src.applications import nasnet

            model = nasnet.NASNet(
                input_shape=shape,
                penultimate_filters=penultimate_filters,
                num_blocks=cells_per_stack,
                stem_block_filters=32,
                skip_reduction=False,
                filter_multiplier=2,
                weights=None,
                classes=1000,
                default_size=224,
            )
        return model, shape, 1000
    if name == "ours_cifar":
        shape = (cifar_image_size, cifar_image_size, 3)
        # The global policy applies: the recipe's own precision stays unset.
        recipe = dataclasses.replace(training.NASNET_CIFAR, mixed_precision=None)
        return training.build_model(NASNET_A, (shape, 10), recipe), shape, 10
    raise ValueError(
        f"Invalid value received for argument `--models`. Expected names from "
        f"{MODELS}. Received: {name!r}"
    )


def make_optimizer(name):
    if name == "sgd":
        return keras.optimizers.SGD(0.01, momentum=0.9)
    return keras.optimizers.RMSprop(0.001)


def _wait(model):
    # JAX and TF GPU dispatch asynchronously: reading a weight back waits for
    # the last step.
    keras.ops.convert_to_numpy(model.trainable_variables[0])


class _Bench:
    """One model, its synthetic data, and its timed `fit` calls."""

    def __init__(self, name, args):
        self.name = name
        start = time.perf_counter()
        self.model, shape, classes = build(
            name,
            args.image_size,
            args.cifar_image_size,
            args.cells_per_stack,
            args.penultimate_filters,
        )
        self.build_s = time.perf_counter() - start
        self.model.compile(
            optimizer=make_optimizer(args.optimizer),
            loss=keras.losses.SparseCategoricalCrossentropy(),
            jit_compile=False if args.run_eagerly else _JIT[args.jit_compile],
            run_eagerly=args.run_eagerly,
        )
        self.batch_size = args.batch_size
        self.steps = args.steps
        rng = np.random.default_rng(0)
        n = args.batch_size * max(args.steps, args.warmup_steps)
        self.x = rng.random((n, *shape), dtype=np.float32)
        self.y = rng.integers(0, classes, size=(n,))
        self.callbacks = [DropPathScheduler()] if name == "ours_cifar" else []
        self.images_per_s = []
        self.inference_images_per_s = []
        self.inference_warmup_s = None

    def fit(self, steps):
        start = time.perf_counter()
        self.model.fit(
            self.x[: steps * self.batch_size],
            self.y[: steps * self.batch_size],
            batch_size=self.batch_size,
            epochs=1,
            shuffle=False,
            callbacks=self.callbacks,
            verbose=0,
        )
        _wait(self.model)
        return time.perf_counter() - start

    def predict(self, steps):
        start = time.perf_counter()
        # `predict` returns NumPy arrays: it has waited for the last batch.
        self.model.predict(
            self.x[: steps * self.batch_size], batch_size=self.batch_size, verbose=0
        )
        return time.perf_counter() - start

    def result(self):
        median = statistics.median(self.images_per_s)
        out = {
            "params": int(self.model.count_params()),
            "input_shape": list(self.model.input_shape[1:]),
            "build_s": round(self.build_s, 2),
            "warmup_s": round(self.warmup_s, 2),
            "images_per_s": round(median, 2),
            "step_ms": round(1e3 * self.batch_size / median, 1),
            "images_per_s_each": [round(v, 2) for v in self.images_per_s],
        }
        if self.inference_images_per_s:
            median = statistics.median(self.inference_images_per_s)
            out.update(
                inference_warmup_s=round(self.inference_warmup_s, 2),
                inference_images_per_s=round(median, 2),
                inference_step_ms=round(1e3 * self.batch_size / median, 1),
                inference_images_per_s_each=[
                    round(v, 2) for v in self.inference_images_per_s
                ],
            )
        return out


def default_output(precision, jit_compile):
    backend = keras.backend.backend()
    jit = {"on": "jit", "off": "nojit", "auto": "autojit"}[jit_compile]
    return _common.default_output(f"throughput_{backend}_{precision}_{jit}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--image-size", type=int, default=224)
    parser.add_argument("--cifar-image-size", type=int, default=32)
    parser.add_argument(
        "--cells-per-stack",
        type=int,
        default=4,
        help="N of both mobile models (NASNet-A mobile: 4)",
    )
    parser.add_argument(
        "--penultimate-filters",
        type=int,
        default=1056,
        help="of both mobile models (NASNet-A mobile: 1056)",
    )
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument(
        "--steps", type=int, default=10, help="timed steps per repetition"
    )
    parser.add_argument("--warmup-steps", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--precision", choices=PRECISIONS, default="float32")
    parser.add_argument("--jit-compile", choices=tuple(_JIT), default="auto")
    parser.add_argument(
        "--run-eagerly",
        action="store_true",
        help="no tracing: for a quick check of the script, not a measurement",
    )
    parser.add_argument("--optimizer", choices=("sgd", "rmsprop"), default="sgd")
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument(
        "--inference",
        action="store_true",
        help="also time `predict` (inference images/s), alternating likewise",
    )
    parser.add_argument(
        "--output",
        default=None,
        help="default: benchmarks/results/throughput_<backend>_<precision>_<jit>.json",
    )
    args = parser.parse_args(argv)
    names = args.models.split(",")
    for name in names:
        if name not in MODELS:
            parser.error(f"unknown model {name!r}; choose from {','.join(MODELS)}")
    output = args.output or default_output(args.precision, args.jit_compile)

    report = _common.header("throughput")
    keras.mixed_precision.set_global_policy(args.precision)
    report["settings"] = {
        "image_size": args.image_size,
        "cifar_image_size": args.cifar_image_size,
        "cells_per_stack": args.cells_per_stack,
        "penultimate_filters": args.penultimate_filters,
        "batch_size": args.batch_size,
        "steps": args.steps,
        "warmup_steps": args.warmup_steps,
        "repeats": args.repeats,
        "precision": args.precision,
        "jit_compile": args.jit_compile,
        "optimizer": args.optimizer,
        "run_eagerly": args.run_eagerly,
        "inference": args.inference,
    }
    benches = []
    for name in names:
        bench = _Bench(name, args)
        bench.warmup_s = bench.fit(args.warmup_steps)
        if args.inference:
            bench.inference_warmup_s = bench.predict(args.warmup_steps)
        print(
            f"{name}: built in {bench.build_s:.1f} s, warm-up {bench.warmup_s:.1f} s",
            file=sys.stderr,
            flush=True,
        )
        benches.append(bench)
    for repeat in range(args.repeats):
        for bench in benches:
            seconds = bench.fit(args.steps)
            bench.images_per_s.append(args.steps * args.batch_size / seconds)
            print(
                f"repeat {repeat} {bench.name}: {bench.images_per_s[-1]:.2f} images/s",
                file=sys.stderr,
                flush=True,
            )
        if not args.inference:
            continue
        for bench in benches:
            seconds = bench.predict(args.steps)
            bench.inference_images_per_s.append(args.steps * args.batch_size / seconds)
            print(
                f"repeat {repeat} {bench.name}: "
                f"{bench.inference_images_per_s[-1]:.2f} inference images/s",
                file=sys.stderr,
                flush=True,
            )
    report["results"] = {bench.name: bench.result() for bench in benches}
    if "ours_mobile" in names and "keras_mobile" in names:
        ours, peer = report["results"]["ours_mobile"], report["results"]["keras_mobile"]
        for prefix in ("", "inference_") if args.inference else ("",):
            report[f"{prefix}ratio_ours_over_keras"] = round(
                ours[f"{prefix}images_per_s"] / peer[f"{prefix}images_per_s"], 3
            )
            # Paired: the two ran one after the other in each repetition.
            pairs = zip(
                ours[f"{prefix}images_per_s_each"],
                peer[f"{prefix}images_per_s_each"],
                strict=True,
            )
            report[f"{prefix}ratio_each"] = [round(a / b, 3) for a, b in pairs]
    _common.write(report, output)


if __name__ == "__main__":
    main()
