"""Fixtures shared by the test modules.

- `FASHION_DIR`: the committed real subset of Fashion-MNIST (IDX files made by
  `tests/data/make_subset.py`), so tests load real images offline.
- `fashion`: loads that subset as `(train, validation)` array pairs, cached
  per size for the whole session (loading is cheap, but dozens of tests ask).
"""

import functools
import os

import pytest

TESTS_DIR = os.path.dirname(os.path.abspath(__file__))
DATA_DIR = os.path.join(TESTS_DIR, "data")
FASHION_DIR = os.path.join(DATA_DIR, "fashion-mnist")


@functools.cache
def _fashion(subset, validation_size):
    from keras_nasnet import data

    splits = data.load(
        "fashion_mnist",
        data_dir=FASHION_DIR,
        validation_size=validation_size,
        subset=subset,
        download=False,
    )
    return splits.train, splits.validation


@pytest.fixture(scope="session")
def fashion():
    """`fashion(subset, validation_size)` -> `((x, y), (x_val, y_val))`."""
    return _fashion
