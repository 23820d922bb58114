"""Datasets, held-out splits and augmentation for architecture search.

See `docs/data.md`.
"""

from keras_nasnet.data.augment import (
    Cutout,
    RandomPadCrop,
    augmentation,
    normalization,
)
from keras_nasnet.data.errors import (
    DatasetDownloadError,
    DatasetError,
    MissingPackageError,
    UnknownDatasetError,
)
from keras_nasnet.data.feeding import array_dataset
from keras_nasnet.data.idx import read_idx, write_idx
from keras_nasnet.data.loaders import (
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    find_idx_files,
    load,
    load_arrays,
    load_image_directory,
)
from keras_nasnet.data.splits import Splits

__all__ = [
    "FASHION_MNIST_CLASSES",
    "MNIST_CLASSES",
    "Cutout",
    "DatasetDownloadError",
    "DatasetError",
    "MissingPackageError",
    "RandomPadCrop",
    "Splits",
    "UnknownDatasetError",
    "array_dataset",
    "augmentation",
    "find_idx_files",
    "load",
    "load_arrays",
    "load_image_directory",
    "normalization",
    "read_idx",
    "write_idx",
]
