"""What a built Keras model costs: its multiply-adds, counted layer by layer, and
its inference latency, measured on the current device.

`count_macs(model)` is the check of `keras_nasnet.space.cost`, which knows the
cost of a genotype before anything is built; `measure_latency(model)` is the
cost no formula knows.

Reference: Tan et al. 2019, "MnasNet: Platform-Aware Neural Architecture
Search for Mobile" (latency measured on the target device, not a proxy).
"""

import dataclasses
import math
import re
import time

import keras
import numpy as np

from keras_nasnet import _validation

# Layers whose multiply-adds are counted; everything else counts 0.
_CONVS = (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Conv3D)
_DEPTHWISE = (keras.layers.DepthwiseConv1D, keras.layers.DepthwiseConv2D)
_SEPARABLE = (keras.layers.SeparableConv1D, keras.layers.SeparableConv2D)
_ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _built_input_shape(model, layer):
    # Keras records the shape a layer was built for, whether `build` ran
    # through `__call__` or was called directly (as `NASNetCell.build` does
    # for its sublayers).
    shapes = getattr(layer, "_build_shapes_dict", None)
    if not layer.built or not shapes:
        _validation.fail(
            "model",
            f"a built model (its layer {layer.name!r} is not built: call the "
            "model once, or make it a functional model, before counting)",
            model,
        )
    return tuple(shapes.values())[0]


def _layer_macs(model, layer):
    if isinstance(layer, keras.layers.Dense):
        shape = _built_input_shape(model, layer)
        positions = math.prod(shape[1:-1])  # 1 for a (batch, features) input
        return math.prod(layer.kernel.shape) * positions
    if isinstance(layer, _CONVS + _DEPTHWISE + _SEPARABLE):
        shape = _built_input_shape(model, layer)
        out = layer.compute_output_shape(shape)
        positions = math.prod(out[1:-1])  # channels last: the spatial sizes
        if isinstance(layer, _SEPARABLE):
            weights = math.prod(layer.depthwise_kernel.shape) + math.prod(
                layer.pointwise_kernel.shape
            )
        else:
            weights = math.prod(layer.kernel.shape)
        return weights * positions
    return 0


def count_macs(model):
    """Multiply-adds of one inference on one example, counted from the layers.

    Every convolution (`Conv1D/2D/3D`, `DepthwiseConv1D/2D`,
    `SeparableConv1D/2D`) counts its kernel size times its output positions,
    and every `Dense` layer its kernel size (times positions for an input of
    rank > 2); nested layers included, each layer once. Biases,
    normalization, activations, pooling and additions count 0: the NASNet
    paper's "mult-adds". A strided or dilated layer counts what it computes
    at its own output size. Nothing runs: the shapes come from what each
    layer was built for, so a model built in `keras.StatelessScope` works.

    Args:
        model: a built `keras.Model` or layer, channels-last.

    Returns:
        The number of multiply-adds, an int.

    Raises:
        ValueError: if a counted layer is not built.

    Example:

    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.Conv2D(4, 3, strides=2, padding="same")(inputs)
    >>> x = keras.layers.GlobalAveragePooling2D()(x)
    >>> model = keras.Model(inputs, keras.layers.Dense(10)(x))
    >>> count_macs(model)  # 4*4 positions x 3*3*3*4, plus 4*10
    1768
    """
    layers = model._flatten_layers(include_self=True, recursive=True)
    return sum(_layer_macs(model, layer) for layer in layers)


@dataclasses.dataclass(frozen=True)
class Latency:
    """Inference latency per example, from `runs` timed calls.

    Attributes:
        median_ms: the median over the timed calls, in milliseconds per
            example.
        p10_ms: the 10th percentile (ms per example).
        p90_ms: the 90th percentile (ms per example).
        runs: the number of timed calls.
        batch_size: examples per call.
    """

    median_ms: float
    p10_ms: float
    p90_ms: float
    runs: int
    batch_size: int

    @property
    def spread(self):
        """`(p90 - p10) / median`: how noisy the measurement is."""
        return (self.p90_ms - self.p10_ms) / self.median_ms


def _example_batch(model, batch_size, seed):
    inputs = getattr(model, "inputs", None)
    if not isinstance(model, keras.Model) or not inputs or len(inputs) != 1:
        _validation.fail(
            "model",
            "a built `keras.Model` with one input (a functional model, such "
            "as `NASNet`)",
            model,
        )
    shape, dtype = tuple(inputs[0].shape[1:]), inputs[0].dtype
    if any(size is None for size in shape):
        _validation.fail(
            "model", f"a model whose input has static sizes, not {shape}", model
        )
    rng = np.random.default_rng(seed)
    if np.issubdtype(np.dtype(dtype), np.integer):
        return rng.integers(0, 256, (batch_size, *shape)).astype(dtype)
    return rng.random((batch_size, *shape)).astype(dtype)


def _one_line(error, limit=300):
    # Keras wraps a layer's error in a multi-line, ANSI-styled message.
    text = " ".join(_ANSI.sub("", str(error)).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def measure_latency(model, batch_size=1, warmup=5, runs=30, seed=0):
    """Times inference of `model` on the current device, per example.

    Each call is `model.predict_on_batch(x)` on a random batch: the model's
    traced (and, where compiled so, XLA-compiled) predict function, with its
    result copied back to the host, so the time is the whole call as a
    deployed Keras model makes it, device transfer included. The first
    `warmup` calls (tracing, compilation, caches) are not timed.

    On a shared machine the noise is real: look at `p10_ms`/`p90_ms` or
    `spread` before comparing two models, and compare models measured in the
    same process and period.

    Args:
        model: a built `keras.Model` with one input of static size (`NASNet`
            is one). With an auxiliary head only the main output runs.
        batch_size: examples per call; 1 measures latency, larger batches
            measure per-example time under batching.
        warmup: untimed calls first (>= 1: the first call traces).
        runs: timed calls.
        seed: seed of the random input.

    Returns:
        A `Latency` (median, p10, p90 in ms per example).

    Raises:
        ValueError: on a bad argument, or a model that cannot run on a batch
            of its input shape (the cause named).

    Example:

    >>> inputs = keras.Input((8, 8, 3))
    >>> x = keras.layers.GlobalAveragePooling2D()(keras.layers.Conv2D(4, 3)(inputs))
    >>> latency = measure_latency(keras.Model(inputs, x), runs=5)
    >>> latency.p10_ms <= latency.median_ms <= latency.p90_ms
    True
    """
    batch_size = _validation.check_int("batch_size", batch_size, 1)
    warmup = _validation.check_int("warmup", warmup, 1)
    runs = _validation.check_int("runs", runs, 1)
    x = _example_batch(model, batch_size, seed)
    try:
        model.predict_on_batch(x)
    except Exception as e:  # the boundary: say which model cannot run, and why
        _validation.fail(
            "model",
            f"a model that runs on a batch of shape {x.shape} (it raised "
            f"{type(e).__name__}: {_one_line(e)})",
            model,
        )
    for _ in range(warmup - 1):
        model.predict_on_batch(x)
    seconds = []
    for _ in range(runs):
        start = time.perf_counter()
        model.predict_on_batch(x)
        seconds.append(time.perf_counter() - start)
    p10, median, p90 = np.percentile(np.array(seconds) * 1e3 / batch_size, [10, 50, 90])
    return Latency(float(median), float(p10), float(p90), runs, batch_size)
