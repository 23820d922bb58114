"""The result of loading a dataset, and how the held-out splits are drawn.

Architecture search scores children on a validation split held out from the
TRAINING images (NASNet: 5,000 of CIFAR-10's 50,000), so the test split is
never seen until the final model is evaluated.

Reference: Zoph et al. 2018, section 4 ("a validation set of 5,000 images
held out from the training set").
"""

import dataclasses
import numbers

import numpy as np


@dataclasses.dataclass(frozen=True)
class Splits:
    """A dataset cut into training, validation and test splits.

    Each split is a pair `(x, y)` of numpy arrays: `x` has shape
    `(num_examples, height, width, channels)` (grayscale images get a channel
    axis of 1), dtype `float32` with values in [0, 1] by default or `uint8`
    with the raw pixel values when loaded with `dtype="uint8"`; `y` holds the
    integer class indices, shape `(num_examples,)`, dtype `int32`. When loaded
    with `as_dataset=True` each split is instead a batched `tf.data.Dataset`
    of `(x, y)` pairs (the training split shuffled).

    Attributes:
        train: the training split.
        validation: the split held out from the training images for scoring
            candidate architectures, or `None` when `validation_size=0`.
        test: the test split, or `None` when the source has none and none was
            requested (`test_size=0`).
        num_classes: number of classes.
        input_shape: shape of one image, `(height, width, channels)`.
        class_names: one name per class index.
        name: the dataset's name (or the directory, or `"arrays"`).
        horizontal_flip: whether mirroring an image keeps its label. False for
            digits and characters (MNIST, SVHN, ...), True otherwise; the
            training recipe flips only when this allows it.
    """

    train: object
    validation: object
    test: object
    num_classes: int
    input_shape: tuple
    class_names: tuple
    name: str = ""
    horizontal_flip: bool = True

    def mean_std(self):
        """Per-channel mean and standard deviation of the training images.

        Computed on the [0, 1] scale whatever the stored dtype, so the result
        feeds `keras_nasnet.data.normalization` directly.

        Returns:
            A pair of float32 arrays of shape `(channels,)`.

        Raises:
            TypeError: if the splits hold `tf.data` datasets, not arrays.
        """
        if not isinstance(self.train, tuple):
            raise TypeError(
                "`Splits.mean_std()` needs numpy arrays; these splits hold "
                f"{type(self.train).__name__}. Load with `as_dataset=False`."
            )
        x = self.train[0]
        scale = 255.0 if x.dtype == np.uint8 else 1.0
        axes = tuple(range(x.ndim - 1))
        # float64 accumulation: float32 sums over 50k images lose digits.
        mean = x.mean(axis=axes, dtype=np.float64) / scale
        std = x.std(axis=axes, dtype=np.float64) / scale
        return mean.astype("float32"), std.astype("float32")


def check_size(name, value, total):
    """Turns a count or a fraction of `total` into a count, validating it.

    Args:
        name: the argument's name, for the error message.
        value: an int in [0, total] or a float in [0, 1).
        total: the number of examples the size is taken from.

    Returns:
        The size as an int.

    Raises:
        ValueError: if `value` is neither.
    """
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if 0 <= value <= total:
            return int(value)
    elif isinstance(value, numbers.Real) and not isinstance(value, bool):
        if 0.0 <= value < 1.0:
            return int(round(value * total))
    raise ValueError(
        f"Invalid value received for argument `{name}`. Expected an integer "
        f"between 0 and the number of available images ({total}) or a float "
        f"fraction in [0, 1). Received: {name}={value!r}"
    )


def check_subset(subset, total):
    """Validates `subset` (a maximum number of training images) or None."""
    if subset is None:
        return None
    if isinstance(subset, numbers.Integral) and not isinstance(subset, bool):
        if subset >= 1:
            return int(subset)
    raise ValueError(
        "Invalid value received for argument `subset`. Expected None or an "
        f"integer >= 1 (the most training images to keep; {total} available). "
        f"Received: subset={subset!r}"
    )


def hold_out(num_examples, size, rng):
    """Splits `range(num_examples)` into a random held-out part and the rest.

    Args:
        num_examples: the number of examples.
        size: how many to hold out.
        rng: a `numpy.random.Generator`.

    Returns:
        `(kept, held_out)`: two sorted, disjoint int64 index arrays that
        together cover `range(num_examples)`.
    """
    order = rng.permutation(num_examples)
    return np.sort(order[size:]), np.sort(order[:size])


def make_splits(
    x,
    y,
    *,
    test=None,
    validation_size,
    test_size=0,
    subset=None,
    seed=0,
    class_names,
    name,
    horizontal_flip=True,
):
    """Builds `Splits` from training arrays, drawing the held-out splits.

    The test split is `test` when given, else `test_size` examples held out
    from `x` (else None). The validation split is then held out from what
    remains of the training images, and `subset` caps the training split last
    (a random choice, order kept), so the three are disjoint by construction.
    """
    num_examples = len(x)
    rng = np.random.default_rng(seed)
    pool = np.arange(num_examples)
    if test is None:
        n_test = check_size("test_size", test_size, num_examples)
        if n_test:
            kept, held = hold_out(num_examples, n_test, rng)
            test = (x[held], y[held])
            pool = kept
    n_val = check_size("validation_size", validation_size, len(pool))
    subset = check_subset(subset, len(pool) - n_val)
    if n_val == len(pool):
        raise ValueError(
            "Invalid value received for argument `validation_size`. Expected "
            f"fewer than the {len(pool)} available training images so that "
            f"some remain for training. Received: validation_size={validation_size!r}"
        )
    kept, held = hold_out(len(pool), n_val, rng)
    validation = (x[pool[held]], y[pool[held]]) if n_val else None
    train_index = pool[kept]
    if subset is not None and subset < len(train_index):
        train_index = np.sort(rng.choice(train_index, size=subset, replace=False))
    return Splits(
        train=(x[train_index], y[train_index]),
        validation=validation,
        test=test,
        num_classes=len(class_names),
        input_shape=tuple(int(d) for d in x.shape[1:]),
        class_names=tuple(class_names),
        name=name,
        horizontal_flip=horizontal_flip,
    )
