"""Augmentation and normalization as Keras layers, for any backend.

They run inside the model (on the accelerator, under XLA) rather than in a
`tf.data` pipeline, so training on JAX or PyTorch needs no TensorFlow. Every
random layer is active only in training and is the identity at inference.

Reference: Zoph et al. 2018, appendix A.1 (pad to 40x40, random 32x32 crop,
random horizontal flip); DeVries & Taylor 2017, "Improved Regularization of
Convolutional Neural Networks with Cutout" (arXiv 1708.04552).
"""

import keras
import numpy as np
from keras import ops

from keras_nasnet._validation import check_int as _check_int


def _shift_matrices(offsets, size):
    # One-hot (batch, size, size) matrices: row i picks source index i + offset;
    # rows whose source falls outside the image are all zero (the zero padding).
    target = ops.arange(size)[None, :, None] + offsets[:, None, None]
    source = ops.arange(size)[None, None, :]
    return ops.cast(ops.equal(target, source), "float32")


@keras.saving.register_keras_serializable(package="keras_nasnet")
class RandomPadCrop(keras.layers.Layer):
    """Zero-pads each image by `padding` pixels and crops a random window of
    the original size: the standard CIFAR "pad 4, random 32x32 crop".

    Each example gets its own crop (`keras.layers.RandomCrop` uses one window
    per batch). The crop is done as two one-hot matrix products, exact and
    cheap at CIFAR sizes, with no gather and no padded copy.

    Args:
        padding: pixels of zero padding on every side; the crop offset is
            uniform in [-padding, padding] along each axis.
        seed: optional seed of the random offsets.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: images of shape `(batch, height, width, channels)`.
        training: crop in training, identity otherwise.

    Example:

    >>> layer = RandomPadCrop(padding=4, seed=0)
    >>> x = np.ones((2, 8, 8, 3), dtype="float32")
    >>> tuple(layer(x, training=True).shape)
    (2, 8, 8, 3)
    >>> bool(np.all(keras.ops.convert_to_numpy(layer(x)) == x))
    True
    """

    def __init__(self, padding=4, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.padding = _check_int("padding", padding, 0)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training or self.padding == 0:
            return inputs
        batch = ops.shape(inputs)[0]
        height, width = inputs.shape[1], inputs.shape[2]
        offsets = keras.random.randint(
            (2, batch), -self.padding, self.padding + 1, seed=self.seed_generator
        )
        rows = ops.cast(_shift_matrices(offsets[0], height), inputs.dtype)
        cols = ops.cast(_shift_matrices(offsets[1], width), inputs.dtype)
        shifted = ops.einsum("bhi,biwc->bhwc", rows, inputs)
        return ops.einsum("bwj,bhjc->bhwc", cols, shifted)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "padding": self.padding, "seed": self.seed}


@keras.saving.register_keras_serializable(package="keras_nasnet")
class Cutout(keras.layers.Layer):
    """Zeroes one random `size` x `size` square per image (Cutout).

    The square's centre is uniform over the image, so the square may be
    clipped at the borders, as in DeVries & Taylor 2017 (16x16 on CIFAR-10).
    Applied after normalization, zero is the dataset mean.

    Args:
        size: side of the square in pixels.
        seed: optional seed.
        **kwargs: base layer arguments.

    Call arguments:
        inputs: images of shape `(batch, height, width, channels)`.
        training: cut in training, identity otherwise.

    Example:

    >>> layer = Cutout(size=4, seed=0)
    >>> out = keras.ops.convert_to_numpy(
    ...     layer(np.ones((3, 16, 16, 1), dtype="float32"), training=True))
    >>> zeros = (out == 0).sum(axis=(1, 2, 3))  # fewer where clipped
    >>> bool(((zeros > 0) & (zeros <= 16)).all())
    True
    """

    def __init__(self, size=16, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.size = _check_int("size", size, 1)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def call(self, inputs, training=False):
        if not training:
            return inputs
        batch = ops.shape(inputs)[0]
        height, width = inputs.shape[1], inputs.shape[2]
        centre_y = keras.random.randint((batch,), 0, height, seed=self.seed_generator)
        centre_x = keras.random.randint((batch,), 0, width, seed=self.seed_generator)

        def inside(centre, length):
            start = (centre - self.size // 2)[:, None]
            positions = ops.arange(length)[None, :]
            return ops.logical_and(positions >= start, positions < start + self.size)

        square = ops.logical_and(
            inside(centre_y, height)[:, :, None], inside(centre_x, width)[:, None, :]
        )
        keep = ops.cast(ops.logical_not(square), inputs.dtype)[..., None]
        return inputs * keep

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        return {**super().get_config(), "size": self.size, "seed": self.seed}


def augmentation(input_shape, *, pad=4, flip=True, cutout=None, seed=None):
    """The CIFAR augmentation of NASNet/AmoebaNet as one Keras model.

    Pad-and-crop, then horizontal flip, then (optionally) cutout; all active
    in training only, so the model is the identity at inference. Place it
    before the normalization for crop and flip; cutout is best applied after
    normalization (so the cut square is the mean) — `training.train` does
    this by building `augmentation(..., cutout=None)`, normalization, then a
    `Cutout` layer.

    Args:
        input_shape: `(height, width, channels)` of one image.
        pad: zero padding for the random crop (4 in the papers); 0 for no crop.
        flip: random horizontal flips. The papers flip CIFAR; do not flip
            digits (the `Splits.horizontal_flip` attribute says which).
        cutout: side of the cutout square (16 on CIFAR-10), or None.
        seed: optional seed; each random layer derives its own from it.

    Returns:
        A `keras.Sequential` mapping images to images of the same shape.

    Example:

    >>> aug = augmentation((28, 28, 1), pad=4, flip=True, cutout=8, seed=1)
    >>> [layer.name for layer in aug.layers]
    ['random_pad_crop', 'random_flip', 'cutout']
    """
    pad = _check_int("pad", pad, 0)
    layers = []
    derived = (lambda k: None) if seed is None else (lambda k: seed + k)
    if pad:
        layers.append(RandomPadCrop(pad, seed=derived(0), name="random_pad_crop"))
    if flip:
        layers.append(
            keras.layers.RandomFlip("horizontal", seed=derived(1), name="random_flip")
        )
    if cutout is not None:
        layers.append(Cutout(cutout, seed=derived(2), name="cutout"))
    return keras.Sequential(
        [keras.Input(tuple(input_shape)), *layers], name="augmentation"
    )


def normalization(mean, std):
    """Per-channel `(x - mean) / std` as a Keras layer.

    Args:
        mean: per-channel means, e.g. from `Splits.mean_std()`.
        std: per-channel standard deviations.

    Returns:
        A `keras.layers.Normalization` with those fixed statistics.
    """
    std = np.asarray(std, dtype="float32")
    if np.any(std <= 0):
        raise ValueError(
            "Invalid value received for argument `std`. Expected positive "
            f"standard deviations. Received: std={std.tolist()}"
        )
    return keras.layers.Normalization(
        mean=np.asarray(mean, dtype="float32"), variance=std**2, name="normalization"
    )
