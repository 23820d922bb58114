"""Numpy arrays fed to `fit` and `evaluate` without tf.data's autotuning.

Given numpy arrays, Keras's TensorFlow trainer batches them with a `tf.data`
pipeline that ends in `prefetch(AUTOTUNE)`, and so starts tf.data's
autotuning thread. When `fit` (or `evaluate`) ends, the pipeline's iterator
is deleted, and the deletion waits for that thread, which sleeps for its
optimisation period (seconds, growing with the run). On idle cores this
costs nothing; with the cores busy (two search workers of one thread each,
or TensorFlow's own threads) `fit` returned 1.6-19.7 s after its last
callback in each of 6 fits of the make-search child beside a busy core
(18-20 s in four; `benchmarks/results/fit_return_stall.json`), and 8 of the
20 trials of a two-worker `make search` lost 15-19 s.

`array_dataset` builds what Keras builds from arrays (the whole set
reshuffled at each epoch, consecutive batches, the last one partial) with
autotuning off and a fixed prefetch; `as_datasets` swaps the arrays of a
`fit` call for such pipelines. On the JAX and PyTorch backends Keras batches
arrays without tf.data, and both leave the arrays as they are.
"""

import keras
import numpy as np

from keras_nasnet._validation import check_int

# Batches prepared ahead of the step that takes them: a gather from memory
# takes far less than a training step, so two hide it.
PREFETCH = 2


def array_dataset(x, y=None, *, batch_size, shuffle=False, seed=None):
    """A `tf.data.Dataset` of the batches of `(x, y)`, without autotuning.

    Args:
        x: a numpy array of examples (first axis: the examples).
        y: an optional numpy array of as many targets.
        batch_size: the examples per batch; the last batch holds the rest.
        shuffle: reshuffle the whole set at each pass (each epoch).
        seed: the shuffle's seed; None draws one from numpy's global
            generator, so `keras.utils.set_random_seed` makes it repeatable.

    Returns:
        A `tf.data.Dataset` of `x` batches, or of `(x, y)` batches.

    Raises:
        ValueError: if `batch_size` is not a positive integer, or `x` and `y`
            hold different numbers of examples.
    """
    import tensorflow as tf

    batch_size = check_int("batch_size", batch_size, 1)
    arrays = (x,) if y is None else (x, y)
    num_examples = len(x)
    if y is not None and len(y) != num_examples:
        raise ValueError(
            f"`x` and `y` hold different numbers of examples: {num_examples} "
            f"and {len(y)}."
        )
    tensors = tuple(tf.convert_to_tensor(a) for a in arrays)
    indices = tf.data.Dataset.range(num_examples)
    if shuffle:
        if seed is None:
            seed = int(np.random.randint(2**31 - 1))
        indices = indices.shuffle(
            max(num_examples, 1), seed=seed, reshuffle_each_iteration=True
        )

    @tf.autograph.experimental.do_not_convert  # plain TensorFlow ops
    def gather(batch):
        taken = tuple(tf.gather(t, batch) for t in tensors)
        return taken[0] if y is None else taken

    dataset = indices.batch(batch_size).map(gather).prefetch(PREFETCH)
    options = tf.data.Options()
    options.autotune.enabled = False
    # As Keras does for arrays: no rewrite of the pipeline's graph (which
    # would serialise the captured arrays).
    options.experimental_optimization.apply_default_optimizations = False
    return dataset.with_options(options)


def _is_array(value):
    return isinstance(value, np.ndarray)


def as_datasets(args, kwargs, *, method="fit"):
    """`(args, kwargs)` of a `fit` (or `evaluate`) call, its arrays swapped
    for `array_dataset`s.

    Swaps the arrays `x, y` (positional or by keyword) and, for `fit`, a
    `validation_data=(x, y)` of arrays, on the TensorFlow backend, when the
    call asks nothing Keras does only for arrays (`sample_weight`,
    `class_weight`, `validation_split`, `steps_per_epoch`, `steps`,
    `shuffle="batch"`). Otherwise, or on another backend, returns them as
    they are. `fit`'s training pipeline shuffles itself when `shuffle`
    (default True) is set; `fit` is then given `shuffle=False`.

    Args:
        args: the call's positional arguments.
        kwargs: its keyword arguments (not modified).
        method: `"fit"` or `"evaluate"`.

    Returns:
        The new `(args, kwargs)`.
    """
    if method not in ("fit", "evaluate"):
        raise ValueError(
            "Invalid value received for argument `method`. Expected 'fit' or "
            f"'evaluate'. Received: method={method!r}"
        )
    if keras.backend.backend() != "tensorflow" or len(args) > 2:
        return args, kwargs
    x = args[0] if args else kwargs.get("x")
    y = args[1] if len(args) > 1 else kwargs.get("y")
    shuffle = kwargs.get("shuffle", True) if method == "fit" else False
    if (
        not (_is_array(x) and _is_array(y))
        or kwargs.get("sample_weight") is not None
        or kwargs.get("class_weight") is not None
        or kwargs.get("validation_split")
        or kwargs.get("steps_per_epoch")
        or kwargs.get("steps")
        or shuffle == "batch"
    ):
        return args, kwargs
    kwargs = {k: v for k, v in kwargs.items() if k not in ("x", "y")}
    batch_size = kwargs.pop("batch_size", None) or 32
    dataset = array_dataset(x, y, batch_size=batch_size, shuffle=bool(shuffle))
    if method == "evaluate":
        return (dataset,), kwargs
    kwargs["shuffle"] = False
    validation = kwargs.get("validation_data")
    if (
        isinstance(validation, (tuple, list))
        and len(validation) == 2
        and all(_is_array(v) for v in validation)
    ):
        kwargs["validation_data"] = array_dataset(
            *validation,
            batch_size=kwargs.pop("validation_batch_size", None) or batch_size,
        )
    return (dataset,), kwargs
