"""Loading image classification datasets as numpy arrays, on any backend.

Four sources, one result type (`Splits`):

- MNIST and Fashion-MNIST from local IDX files (offline; preferred when found);
- any image classification dataset of tensorflow-datasets (TFDS) by name;
- a directory of images with one sub-folder per class;
- numpy arrays.

TensorFlow and tensorflow-datasets are imported inside the functions that need
them, so the rest runs where they are not installed (e.g. a JAX-only GPU host).
"""

import difflib
import os
import socket
import urllib.error

import numpy as np

from keras_nasnet.data import idx as idx_lib
from keras_nasnet.data.errors import (
    DatasetDownloadError,
    DatasetError,
    MissingPackageError,
    UnknownDatasetError,
)
from keras_nasnet.data.splits import make_splits

FASHION_MNIST_CLASSES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
MNIST_CLASSES = tuple(str(d) for d in range(10))

# dataset name -> directories searched for its IDX files, after `data_dir`.
# The Debian package `dataset-fashion-mnist` installs the first; the second is
# where `keras.datasets.fashion_mnist.load_data()` caches its download.
IDX_SEARCH_DIRS = {
    "fashion_mnist": (
        "/usr/share/datasets/fashion-mnist",
        os.path.join(os.path.expanduser("~"), ".keras", "datasets", "fashion-mnist"),
    ),
    "mnist": ("/usr/share/datasets/mnist",),
}
_IDX_CLASSES = {"fashion_mnist": FASHION_MNIST_CLASSES, "mnist": MNIST_CLASSES}
# IDX file role -> accepted base names (".gz" optional); the second spelling is
# the one several mirrors use.
_IDX_FILES = {
    "train_images": ("train-images-idx3-ubyte", "train-images.idx3-ubyte"),
    "train_labels": ("train-labels-idx1-ubyte", "train-labels.idx1-ubyte"),
    "test_images": ("t10k-images-idx3-ubyte", "t10k-images.idx3-ubyte"),
    "test_labels": ("t10k-labels-idx1-ubyte", "t10k-labels.idx1-ubyte"),
}
# Datasets of digits and characters: a mirrored "2" is not a "2".
_NO_FLIP = frozenset(
    {
        "mnist",
        "emnist",
        "kmnist",
        "svhn_cropped",
        "binary_alpha_digits",
        "mnist_corrupted",
        "omniglot",
    }
)
_IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".gif")
_DTYPES = ("float32", "uint8")
_COLOR_MODES = {"grayscale": 1, "rgb": 3, "rgba": 4}


def _canonical(name):
    # "Fashion-MNIST" -> "fashion_mnist"; a TFDS config/version suffix is kept.
    return name.strip().lower().replace("-", "_")


def _base_name(name):
    return _canonical(name).split(":")[0].split("/")[0]


def _check_dtype(dtype):
    if dtype not in _DTYPES:
        raise ValueError(
            f"Invalid value received for argument `dtype`. Expected one of "
            f"{list(_DTYPES)}. Received: dtype={dtype!r}"
        )


def _images(x, dtype, argument="x"):
    """Images as (N, H, W, C) in the requested dtype (see `Splits`)."""
    x = np.asarray(x)
    if x.ndim == 3:
        x = x[..., None]
    if x.ndim != 4:
        raise ValueError(
            f"Invalid value received for argument `{argument}`. Expected images "
            "of shape (num_examples, height, width) or (num_examples, height, "
            f"width, channels). Received: {argument} with shape {x.shape}"
        )
    if dtype == "uint8":
        if x.dtype != np.uint8:
            raise ValueError(
                f"Invalid value received for argument `{argument}`. "
                "`dtype='uint8'` keeps raw pixels and needs uint8 images. "
                f"Received: {argument} with dtype {x.dtype}"
            )
        return x
    if x.dtype == np.uint8:
        return x.astype("float32") / np.float32(255.0)
    if not np.issubdtype(x.dtype, np.floating):
        raise ValueError(
            f"Invalid value received for argument `{argument}`. Expected uint8 "
            "images (0..255) or floating-point images (already scaled). "
            f"Received: {argument} with dtype {x.dtype}"
        )
    return x.astype("float32")


def _labels(y, num_examples, argument="y"):
    y = np.asarray(y)
    if y.ndim == 2 and y.shape[1] == 1:
        y = y[:, 0]
    if (
        y.ndim != 1
        or len(y) != num_examples
        or not np.issubdtype(y.dtype, np.integer)
        or (len(y) and y.min() < 0)
    ):
        raise ValueError(
            f"Invalid value received for argument `{argument}`. Expected "
            f"{num_examples} non-negative integer class indices, shape "
            f"({num_examples},). Received: {argument} with shape {y.shape} and "
            f"dtype {y.dtype}"
        )
    return y.astype("int32")


def _check_batch_size(batch_size):
    if (
        isinstance(batch_size, bool)
        or not isinstance(batch_size, int)
        or batch_size < 1
    ):
        raise ValueError(
            "Invalid value received for argument `batch_size`. Expected an "
            f"integer >= 1. Received: batch_size={batch_size!r}"
        )


def _to_datasets(splits, batch_size, seed):
    """Replaces each `(x, y)` split by a batched `tf.data.Dataset`
    (`feeding.array_dataset`: no autotuning thread to wait for)."""
    from keras_nasnet.data import feeding

    def dataset(split, shuffle):
        if split is None:
            return None
        return feeding.array_dataset(
            *split, batch_size=batch_size, shuffle=shuffle, seed=seed
        )

    return type(splits)(
        **{
            **splits.__dict__,
            "train": dataset(splits.train, True),
            "validation": dataset(splits.validation, False),
            "test": dataset(splits.test, False),
        }
    )


def _finish(splits, as_dataset, batch_size, seed):
    if as_dataset:
        return _to_datasets(splits, batch_size, seed)
    return splits


def load_arrays(
    x,
    y,
    *,
    x_test=None,
    y_test=None,
    class_names=None,
    validation_size=0.1,
    test_size=0,
    seed=0,
    subset=None,
    dtype="float32",
    as_dataset=False,
    batch_size=32,
    name="arrays",
    horizontal_flip=True,
):
    """Wraps numpy arrays as `Splits`, holding out a validation split.

    Args:
        x: training images, `(N, H, W)` or `(N, H, W, C)`; uint8 pixels
            (scaled to [0, 1] for `dtype="float32"`) or floats already scaled.
        y: integer class indices, `(N,)`.
        x_test: optional test images; if None, `test_size` images are held
            out of `x` instead (none by default).
        y_test: test labels, with `x_test`.
        class_names: names of the classes; default `"0"`, `"1"`, ... up to the
            largest label.
        validation_size: number of training images held out for validation,
            or a fraction of them in [0, 1); 0 for no validation split.
        test_size: number or fraction of `x` held out as the test split when
            `x_test` is None.
        seed: seed of the random held-out choices.
        subset: keep at most this many training images (after the held-out
            splits are drawn), chosen at random; None keeps all.
        dtype: `"float32"` (values in [0, 1]) or `"uint8"` (raw pixels).
        as_dataset: return batched `tf.data.Dataset`s instead of arrays
            (needs TensorFlow).
        batch_size: batch size of the datasets when `as_dataset`.
        name: a name for the result.
        horizontal_flip: whether mirroring an image keeps its label.

    Returns:
        A `Splits`; its three parts are disjoint.

    Example:

    >>> x = np.zeros((100, 8, 8), dtype="uint8")
    >>> y = np.arange(100) % 4
    >>> splits = load_arrays(x, y, validation_size=20, test_size=0.1)
    >>> [len(s[0]) for s in (splits.train, splits.validation, splits.test)]
    [70, 20, 10]
    >>> splits.train[0].shape, splits.train[0].dtype.name, splits.num_classes
    ((70, 8, 8, 1), 'float32', 4)
    """
    _check_dtype(dtype)
    _check_batch_size(batch_size)
    x = _images(x, dtype, "x")
    y = _labels(y, len(x), "y")
    test = None
    if (x_test is None) != (y_test is None):
        raise ValueError(
            "Invalid value received for arguments `x_test` and `y_test`. "
            "Expected both or neither. Received: "
            f"x_test={'None' if x_test is None else 'an array'}, "
            f"y_test={'None' if y_test is None else 'an array'}"
        )
    if x_test is not None:
        if test_size:
            raise ValueError(
                "Invalid value received for argument `test_size`. Expected 0 "
                f"when `x_test` is given. Received: test_size={test_size!r}"
            )
        x_test = _images(x_test, dtype, "x_test")
        y_test = _labels(y_test, len(x_test), "y_test")
        if x_test.shape[1:] != x.shape[1:]:
            raise ValueError(
                "Invalid value received for argument `x_test`. Expected images "
                f"of the training shape {x.shape[1:]}. Received: x_test with "
                f"shape {x_test.shape}"
            )
        test = (x_test, y_test)
    top = max(
        [int(y.max(initial=-1))] + ([int(test[1].max(initial=-1))] if test else [])
    )
    if class_names is None:
        class_names = tuple(str(c) for c in range(top + 1))
    elif len(class_names) <= top:
        raise ValueError(
            "Invalid value received for argument `class_names`. Expected at "
            f"least {top + 1} names (the largest label is {top}). Received: "
            f"{len(class_names)} names"
        )
    splits = make_splits(
        x,
        y,
        test=test,
        validation_size=validation_size,
        test_size=test_size,
        subset=subset,
        seed=seed,
        class_names=class_names,
        name=name,
        horizontal_flip=horizontal_flip,
    )
    return _finish(splits, as_dataset, batch_size, seed)


def find_idx_files(directory):
    """The four MNIST-style IDX files in `directory`, or None if there are none.

    Args:
        directory: a folder holding `train-images-idx3-ubyte`,
            `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
            `t10k-labels-idx1-ubyte`, each raw or `.gz`.

    Returns:
        A dict from role (`"train_images"`, `"train_labels"`, `"test_images"`,
        `"test_labels"`) to path, or None when the folder holds none of them.

    Raises:
        FileNotFoundError: if the folder holds some of the four but not all
            (a directory where a file is expected is named).
    """
    found, folders = {}, {}  # role -> path of the file / of a directory
    for role, stems in _IDX_FILES.items():
        for stem in stems:
            for suffix in (".gz", ""):
                path = os.path.join(directory, stem + suffix)
                if role not in found and os.path.isfile(path):
                    found[role] = path
                elif os.path.isdir(path):
                    folders.setdefault(role, path)
    if not found and not folders:
        return None
    missing = [_IDX_FILES[r][0] + "[.gz]" for r in _IDX_FILES if r not in found]
    if missing:
        folders = [path for role, path in folders.items() if role not in found]
        hint = (
            f" ({', '.join(folders)}: a directory where a file is expected)"
            if folders
            else ""
        )
        raise FileNotFoundError(
            f"Incomplete IDX dataset in {directory}: missing "
            f"{', '.join(missing)}{hint}."
        )
    return found


def _read_idx_split(paths, images_role, labels_role):
    images = idx_lib.read_idx(paths[images_role])
    labels = idx_lib.read_idx(paths[labels_role])
    if images.ndim != 3 or images.dtype != np.uint8:
        raise ValueError(
            f"Invalid IDX file {paths[images_role]}: expected uint8 images of "
            f"shape (N, height, width). Found {images.dtype} of shape {images.shape}."
        )
    if labels.ndim != 1 or len(labels) != len(images):
        raise ValueError(
            f"Invalid IDX file {paths[labels_role]}: expected {len(images)} "
            f"labels, one per image of {paths[images_role]}. Found shape "
            f"{labels.shape}."
        )
    return images, labels


def _idx_directories(name, data_dir):
    # An explicit `data_dir` is the only place looked in: files found
    # elsewhere would silently stand in for the ones the caller pointed at.
    if data_dir is None:
        return list(IDX_SEARCH_DIRS.get(name, ()))
    return list(
        dict.fromkeys(
            [
                data_dir,
                os.path.join(data_dir, name.replace("_", "-")),
                os.path.join(data_dir, name),
            ]
        )
    )


def _check_data_dir(data_dir, download):
    """`data_dir` as a string; a file, or a missing folder nothing will
    create, is an error naming it."""
    if data_dir is None:
        return None
    data_dir = os.fspath(data_dir)
    if os.path.exists(data_dir) and not os.path.isdir(data_dir):
        raise ValueError(
            "Invalid value received for argument `data_dir`. Expected a folder "
            "(holding the IDX files, or tensorflow-datasets' data). Received: "
            f"data_dir={data_dir!r}, which is a file"
        )
    if not download and not os.path.exists(data_dir):
        raise FileNotFoundError(
            f"Invalid value received for argument `data_dir`. Expected an "
            f"existing folder. Received: data_dir={data_dir!r}, which does not "
            "exist"
        )
    return data_dir


def _looks_like_a_path(name):
    return name.startswith(("/", "./", "../", ".\\", "..\\")) or (
        os.sep != "/" and os.path.isabs(name)
    )


def _causes(error):
    """`error` and the exceptions it was raised from or while handling."""
    chain = []
    while error is not None and all(error is not e for e in chain):
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


def _is_network_error(error):
    # requests' and urllib3's errors are OSErrors, but so is a full disk: tell
    # them by their package.
    package = type(error).__module__.split(".")[0]
    return isinstance(
        error, (ConnectionError, TimeoutError, socket.gaierror, urllib.error.URLError)
    ) or (isinstance(error, OSError) and package in ("requests", "urllib3"))


def _tfds_error(name, data_dir, download, error):
    """The `DatasetError` naming why tensorflow-datasets could not give `name`.

    The causes, first match wins: a missing Python package (TFDS itself or one
    of its imports), an unknown dataset name, a failed download, data not
    prepared while `download=False`; else the TFDS error as it is.
    """
    causes = _causes(error)
    where = f"{name!r} through tensorflow-datasets"
    for cause in causes:
        if isinstance(cause, ImportError):
            module = (cause.name or "").split(".")[0]
            if module == "tensorflow_datasets":
                needed = "tensorflow-datasets is not installed"
            elif module:
                needed = f"the Python package {module!r}, which it needs, is missing"
            else:
                needed = "a package it needs is missing"
            return MissingPackageError(
                f"Cannot load {where}: {needed} ({type(cause).__name__}: "
                f"{cause}). Install it (`pip install {module or '...'}`), or "
                "reinstall keras-nasnet, which depends on what TFDS needs.",
                name=cause.name,
            )
    for cause in causes:
        if type(cause).__name__ == "DatasetNotFoundError":  # tensorflow-datasets'
            return UnknownDatasetError(
                f"Unknown dataset {name!r}: it is not fashion_mnist or mnist, not "
                "an existing folder of images, and tensorflow-datasets has no "
                f"dataset of that name{_suggestion(name)}. Image classification "
                "datasets of TFDS include cifar10, cifar100 and svhn_cropped."
            )
    for cause in causes:
        if _is_network_error(cause):
            return DatasetDownloadError(
                f"Cannot download {where} (data_dir={data_dir!r}): "
                f"{type(cause).__name__}: {str(cause).rstrip('.')}. TFDS "
                "downloads a dataset on first use, which needs a network; on an "
                "offline machine prepare it elsewhere and pass its `data_dir`."
            )
    if isinstance(error, AssertionError) and not download:
        # TFDS's "could not find data in ...; call download_and_prepare()".
        return DatasetError(
            f"Cannot load {where}: it is not prepared in data_dir={data_dir!r} "
            "and download=False. Allow the download, or pass the `data_dir` "
            "where it was prepared."
        )
    return DatasetError(
        f"Cannot load {where} (data_dir={data_dir!r}): "
        f"{type(error).__name__}: {str(error).rstrip('.')}."
    )


def _suggestion(name):
    """ ", did you mean 'cifar10'?" from TFDS's list of names, or ""."""
    try:
        import tensorflow_datasets as tfds

        names = tfds.list_builders()
    except Exception:  # a suggestion is a nicety: never fail on it
        return ""
    close = difflib.get_close_matches(_canonical(name), names, n=3)
    return f" (did you mean {' or '.join(map(repr, close))}?)" if close else ""


def _load_tfds(name, data_dir, download):
    """Arrays and metadata of a TFDS dataset: `(x, y, test, class_names)`.

    Raises:
        DatasetError: a subclass naming the cause (see `_tfds_error`), or a
            ValueError for a dataset that is not image classification.
    """
    try:
        import tensorflow_datasets as tfds

        builder = tfds.builder(name, data_dir=data_dir)
        if download:
            builder.download_and_prepare()
        info = builder.info
    except Exception as e:
        raise _tfds_error(name, data_dir, download, e) from e
    keys = info.supervised_keys
    if not keys or len(keys) != 2:
        raise ValueError(
            f"Invalid value received for argument `name`. Expected an image "
            f"classification dataset with (image, label) supervised keys. "
            f"Received: name={name!r} with supervised_keys={keys!r}"
        )
    image_key, label_key = keys
    shape = info.features[image_key].shape
    if shape is None or None in shape:
        raise ValueError(
            f"Invalid value received for argument `name`. Expected images of one "
            f"fixed size. Received: name={name!r} with image shape {shape}; "
            "resize them into a directory and use `load_image_directory` "
            "with `image_size`."
        )
    # Split names are unknown before the data are prepared (and when mocked):
    # then assume the usual "test".
    split_names = set(info.splits.keys()) or {"test"}
    test_split = next((s for s in ("test", "validation") if s in split_names), None)

    def arrays(split):
        # Batches of a fixed size rather than batch_size=-1: the latter needs
        # the split's size up front, which a mocked or partial dataset lacks.
        try:
            ds = builder.as_dataset(split=split, as_supervised=True).batch(4096)
            batches = list(tfds.as_numpy(ds))
        except Exception as e:  # e.g. not prepared, with download=False
            raise _tfds_error(name, data_dir, download, e) from e
        if not batches:
            raise ValueError(f"The {split!r} split of {name!r} is empty.")
        return (
            np.concatenate([b[0] for b in batches]),
            np.concatenate([b[1] for b in batches]),
        )

    x, y = arrays("train")
    test = arrays(test_split) if test_split else None
    label = info.features[label_key]
    class_names = tuple(label.names) if hasattr(label, "names") else None
    return x, y, test, class_names


def load(
    name,
    *,
    data_dir=None,
    validation_size=5000,
    seed=0,
    subset=None,
    dtype="float32",
    as_dataset=False,
    batch_size=32,
    download=True,
):
    """Loads an image classification dataset with a held-out validation split.

    Where the data come from:

    - `"fashion_mnist"` and `"mnist"`: local IDX files when found, so they
      load offline; otherwise through TFDS. With `data_dir`, only `data_dir`,
      `data_dir/fashion-mnist` and `data_dir/fashion_mnist` are searched;
      without it, `/usr/share/datasets/...` (where the Debian package
      `dataset-fashion-mnist` puts them), then the `keras.datasets` cache.
    - any other name: tensorflow-datasets (`cifar10`, `cifar100`,
      `svhn_cropped`, ...), with `data_dir` as its data directory. Its
      `train` split is the training data; `test` (or else `validation`) the
      test split.
    - the path of an existing directory: `load_image_directory(name)`.

    The validation split is always held out from the training data, never
    from the test split.

    Args:
        name: a dataset name (case and `-`/`_` do not matter) or a directory.
        data_dir: a folder with the four IDX files, or TFDS's data directory.
        validation_size: number of training images held out for validation
            (the NASNet paper's 5,000 by default), or a fraction in [0, 1);
            0 for none (final training on all training images).
        seed: seed of the held-out choice and of the training-subset choice.
        subset: keep at most this many training images, chosen at random
            after the validation split is drawn; None keeps all.
        dtype: `"float32"` (values in [0, 1]) or `"uint8"` (raw pixels).
        as_dataset: return batched `tf.data.Dataset`s instead of arrays
            (needs TensorFlow; the training split is shuffled with `seed`).
        batch_size: batch size of the datasets when `as_dataset`.
        download: let TFDS download and prepare the data if missing.

    Returns:
        A `Splits` (see its documentation for shapes and dtypes).

    Raises:
        FileNotFoundError: if MNIST/Fashion-MNIST files are neither found
            locally nor obtainable through TFDS, if `name` is the path of a
            folder that does not exist, or if `data_dir` does not exist and
            `download=False`.
        UnknownDatasetError: if `name` is no local dataset, no folder and no
            TFDS dataset (a `DatasetError` and a `ValueError`).
        MissingPackageError: if tensorflow-datasets, or a package it needs,
            is not installed (a `DatasetError` and an `ImportError`).
        DatasetDownloadError: if TFDS cannot download the data (a
            `DatasetError` and a `ConnectionError`).
        DatasetError: if TFDS cannot provide the dataset for another reason
            (not prepared with `download=False`, ...).
        ValueError: for invalid arguments (`data_dir` a file) or corrupt IDX
            files.
    """
    _check_dtype(dtype)
    _check_batch_size(batch_size)
    name = os.fspath(name)  # a pathlib.Path names a directory
    if name.startswith("~"):
        name = os.path.expanduser(name)
    data_dir = _check_data_dir(data_dir, download)
    if os.path.isdir(name):
        return load_image_directory(
            name,
            validation_size=validation_size,
            seed=seed,
            subset=subset,
            dtype=dtype,
            as_dataset=as_dataset,
            batch_size=batch_size,
        )
    if _looks_like_a_path(name):
        if os.path.exists(name):
            raise ValueError(
                "Invalid value received for argument `name`. Expected a dataset "
                f"name or a folder of images. Received: name={name!r}, which is "
                "a file"
            )
        raise FileNotFoundError(
            f"Image folder {name!r} does not exist. Expected a dataset name "
            "(fashion_mnist, cifar10, ...) or an existing folder with one "
            "sub-folder per class."
        )
    base = _base_name(name)
    common = dict(
        validation_size=validation_size,
        seed=seed,
        subset=subset,
        dtype=dtype,
        as_dataset=as_dataset,
        batch_size=batch_size,
        name=base,
        horizontal_flip=base not in _NO_FLIP,
    )
    if base in _IDX_CLASSES:
        searched = _idx_directories(base, data_dir)
        for directory in searched:
            paths = find_idx_files(directory) if os.path.isdir(directory) else None
            if paths:
                x, y = _read_idx_split(paths, "train_images", "train_labels")
                x_test, y_test = _read_idx_split(paths, "test_images", "test_labels")
                return load_arrays(
                    x,
                    y,
                    x_test=x_test,
                    y_test=y_test,
                    class_names=_IDX_CLASSES[base],
                    **common,
                )
    try:
        x, y, test, class_names = _load_tfds(name, data_dir, download)
    except DatasetError as e:
        if base not in _IDX_CLASSES:
            raise
        package = (
            " (Debian: `apt install dataset-fashion-mnist`)"
            if base == "fashion_mnist"
            else ""
        )
        raise FileNotFoundError(
            f"Cannot load {base!r}: no IDX files found in {searched}, and "
            f"tensorflow-datasets could not provide it ({type(e).__name__}: "
            f"{str(e).rstrip('.')}). Install the IDX files{package} or pass "
            "`data_dir=` a folder holding train-images-idx3-ubyte.gz, "
            "train-labels-idx1-ubyte.gz, t10k-images-idx3-ubyte.gz and "
            "t10k-labels-idx1-ubyte.gz."
        ) from e
    x_test, y_test = test if test is not None else (None, None)
    return load_arrays(
        x, y, x_test=x_test, y_test=y_test, class_names=class_names, **common
    )


def _class_folders(directory):
    return sorted(
        d for d in os.listdir(directory) if os.path.isdir(os.path.join(directory, d))
    )


def _read_folder(directory, class_names, image_size, color_mode):
    import keras

    images, labels, first = [], [], None
    for label, class_name in enumerate(class_names):
        folder = os.path.join(directory, class_name)
        files = (
            sorted(
                f for f in os.listdir(folder) if f.lower().endswith(_IMAGE_EXTENSIONS)
            )
            if os.path.isdir(folder)
            else []
        )
        for file in files:
            path = os.path.join(folder, file)
            img = keras.utils.load_img(
                path, color_mode=color_mode, target_size=image_size
            )
            array = np.asarray(img, dtype=np.uint8).reshape(
                img.size[1], img.size[0], -1
            )
            if first is None:
                first = (path, array.shape)
            elif array.shape != first[1]:
                raise ValueError(
                    f"Image {path} has shape {array.shape} but {first[0]} has "
                    f"{first[1]}. Pass `image_size=(height, width)` to resize "
                    "all images to one size."
                )
            images.append(array)
            labels.append(label)
    return images, labels


def load_image_directory(
    directory,
    *,
    validation_size=0.1,
    test_size=0,
    seed=0,
    subset=None,
    image_size=None,
    color_mode="rgb",
    dtype="float32",
    as_dataset=False,
    batch_size=32,
    horizontal_flip=True,
):
    """Loads a folder of images, one sub-folder per class, as `Splits`.

    Two layouts are recognised: `directory/<class>/<image>`, and
    `directory/train/<class>/<image>` with `directory/test/<class>/<image>`
    (a given test split). Classes are the sub-folder names in sorted order;
    images are PNG, JPEG, BMP or GIF files, read with `keras.utils.load_img`
    (which needs Pillow).

    Args:
        directory: the folder.
        validation_size: number or fraction of the training images held out
            for validation.
        test_size: number or fraction of the images held out as the test
            split when there is no `test/` folder; 0 (default) for none.
        seed: seed of the held-out choices.
        subset: keep at most this many training images; None keeps all.
        image_size: `(height, width)` to resize every image to; None requires
            all images to share one size.
        color_mode: `"grayscale"`, `"rgb"` or `"rgba"`.
        dtype: `"float32"` (values in [0, 1]) or `"uint8"` (raw pixels).
        as_dataset: return batched `tf.data.Dataset`s (needs TensorFlow).
        batch_size: batch size of the datasets when `as_dataset`.
        horizontal_flip: whether mirroring an image keeps its label.

    Returns:
        A `Splits`.

    Raises:
        ValueError: if the folder holds no images, images differ in size and
            `image_size` is None, or the `test/` classes differ from `train/`.
    """
    directory = os.fspath(directory)
    if color_mode not in _COLOR_MODES:
        raise ValueError(
            "Invalid value received for argument `color_mode`. Expected one of "
            f"{list(_COLOR_MODES)}. Received: color_mode={color_mode!r}"
        )
    if not os.path.isdir(directory):
        raise ValueError(
            "Invalid value received for argument `directory`. Expected an "
            f"existing folder. Received: directory={directory!r}"
        )
    image_size = None if image_size is None else tuple(image_size)
    top = _class_folders(directory)
    split_layout = "train" in top and "test" in top
    train_dir = os.path.join(directory, "train") if split_layout else directory
    class_names = _class_folders(train_dir)
    images, labels = _read_folder(train_dir, class_names, image_size, color_mode)
    if not images:
        raise ValueError(
            f"No images found in {train_dir}. Expected one sub-folder per class "
            f"holding {'/'.join(_IMAGE_EXTENSIONS)} files."
        )
    x_test = y_test = None
    if split_layout:
        test_dir = os.path.join(directory, "test")
        test_classes = _class_folders(test_dir)
        if test_classes != class_names:
            raise ValueError(
                f"The class folders of {test_dir} ({test_classes}) differ from "
                f"those of {train_dir} ({class_names})."
            )
        test_images, y_test = _read_folder(
            test_dir, class_names, image_size, color_mode
        )
        x_test = np.stack(test_images) if test_images else None
        y_test = np.asarray(y_test) if test_images else None
    x = np.stack(images)
    if x_test is not None and x_test.shape[1:] != x.shape[1:]:
        raise ValueError(
            f"Test images have shape {x_test.shape[1:]} but training images "
            f"{x.shape[1:]}. Pass `image_size=(height, width)`."
        )
    return load_arrays(
        x,
        np.asarray(labels),
        x_test=x_test,
        y_test=y_test,
        class_names=class_names,
        validation_size=validation_size,
        test_size=test_size,
        seed=seed,
        subset=subset,
        dtype=dtype,
        as_dataset=as_dataset,
        batch_size=batch_size,
        name=os.path.basename(os.path.normpath(directory)),
        horizontal_flip=horizontal_flip,
    )
