"""Tests for keras_nasnet.data: IDX files, the four sources, splits, augmentation."""

import gzip
import os
import shutil
import sys

import keras
import numpy as np
import pytest

from keras_nasnet import data
from keras_nasnet.data import loaders

SUBSET_DIR = os.path.join(os.path.dirname(__file__), "data", "fashion-mnist")


def _rows(x):
    """The set of images as bytes, to test splits for overlap."""
    return {img.tobytes() for img in np.asarray(x)}


def _raw_subset():
    paths = data.find_idx_files(SUBSET_DIR)
    return (
        data.read_idx(paths["train_images"]),
        data.read_idx(paths["train_labels"]),
        data.read_idx(paths["test_images"]),
        data.read_idx(paths["test_labels"]),
    )


# --- IDX files ---------------------------------------------------------------


@pytest.mark.parametrize(
    "dtype", ["uint8", "int8", "int16", "int32", "float32", "float64"]
)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_idx_round_trip(tmp_path, dtype, suffix):
    array = (np.arange(2 * 3 * 5) - 7).reshape(2, 3, 5).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    data.write_idx(path, array)
    back = data.read_idx(path)
    assert back.dtype == np.dtype(dtype).newbyteorder("=")
    np.testing.assert_array_equal(back, array)


def test_committed_subset_is_real_fashion_mnist():
    x, y, x_test, y_test = _raw_subset()
    assert x.shape == (600, 28, 28) and x.dtype == np.uint8
    assert x_test.shape == (200, 28, 28)
    np.testing.assert_array_equal(np.bincount(y), [60] * 10)
    np.testing.assert_array_equal(np.bincount(y_test), [20] * 10)
    assert len(_rows(x)) == 600 and not _rows(x) & _rows(x_test)
    # Real photographs, not noise: dark background, many distinct grey levels.
    assert np.median(x[:, 0, 0]) == 0 and len(np.unique(x)) == 256


@pytest.mark.parametrize("compressed", [False, True])
def test_truncated_idx_raises_naming_the_file(tmp_path, compressed):
    source = os.path.join(SUBSET_DIR, "t10k-images-idx3-ubyte.gz")
    with open(source, "rb") as f:
        raw = f.read()
    if not compressed:
        raw = gzip.decompress(raw)
    path = tmp_path / ("cut-idx3-ubyte" + (".gz" if compressed else ""))
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="cut-idx3-ubyte") as info:
        data.read_idx(path)
    assert "truncated" in str(info.value)


@pytest.mark.parametrize(
    "payload, message",
    [
        (b"\x89PNG\r\n\x1a\n" + b"\x00" * 32, "bad magic number"),
        (bytes([0, 0, 0x07, 1, 0, 0, 0, 1, 5]), "bad magic number"),  # unknown type
        (bytes([0, 0, 0x08, 3, 0, 0]), "header declares 3 dimensions"),
        (bytes([0, 0, 0x08, 1, 0, 0, 0, 2, 1, 2, 3]), "trailing bytes"),
        (b"\x00\x00", "shorter than"),
    ],
)
def test_malformed_idx_raises_naming_the_file(tmp_path, payload, message):
    path = tmp_path / "weird-file"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message) as info:
        data.read_idx(path)
    assert str(path) in str(info.value)


def test_idx_images_of_wrong_rank_are_rejected(tmp_path):
    for name in os.listdir(SUBSET_DIR):
        shutil.copy(os.path.join(SUBSET_DIR, name), tmp_path / name)
    # Labels where images are expected: a valid IDX file of the wrong kind.
    data.write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros(600, "uint8"))
    with pytest.raises(ValueError, match="train-images-idx3-ubyte.gz"):
        data.load("fashion_mnist", data_dir=tmp_path, validation_size=10)


@pytest.mark.parametrize("spelling", ["-idx", ".idx"])
def test_uncompressed_idx_files_and_both_spellings(tmp_path, spelling):
    for name in os.listdir(SUBSET_DIR):
        with gzip.open(os.path.join(SUBSET_DIR, name)) as f:
            raw = f.read()
        target = name[: -len(".gz")].replace("-idx", spelling)
        (tmp_path / target).write_bytes(raw)
    splits = data.load("fashion_mnist", data_dir=tmp_path, validation_size=0)
    reference = data.load("fashion_mnist", data_dir=SUBSET_DIR, validation_size=0)
    np.testing.assert_array_equal(splits.train[0], reference.train[0])
    np.testing.assert_array_equal(splits.test[1], reference.test[1])


def test_incomplete_idx_directory_names_the_missing_files(tmp_path):
    data.write_idx(
        tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 2, 2), "uint8")
    )
    with pytest.raises(FileNotFoundError, match="t10k-labels-idx1-ubyte"):
        data.load("fashion_mnist", data_dir=tmp_path)


def _copy_subset(tmp_path):
    for name in os.listdir(SUBSET_DIR):
        shutil.copy(os.path.join(SUBSET_DIR, name), tmp_path / name)


def test_idx_labels_and_images_of_different_counts_are_rejected(tmp_path):
    _copy_subset(tmp_path)
    data.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", np.zeros(199, "uint8"))
    with pytest.raises(ValueError, match="t10k-labels-idx1-ubyte.gz") as info:
        data.load("fashion_mnist", data_dir=tmp_path, validation_size=10)
    assert "expected 200 labels" in str(info.value)


def test_truncated_idx_file_through_load_names_it(tmp_path):
    _copy_subset(tmp_path)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = gzip.decompress(path.read_bytes())
    path.write_bytes(gzip.compress(raw[:-5]))
    with pytest.raises(ValueError, match="train-labels-idx1-ubyte.gz.*truncated"):
        data.load("fashion_mnist", data_dir=tmp_path, validation_size=10)


def test_a_directory_where_an_idx_file_is_expected(tmp_path):
    _copy_subset(tmp_path)
    os.remove(tmp_path / "train-images-idx3-ubyte.gz")
    (tmp_path / "train-images-idx3-ubyte.gz").mkdir()
    with pytest.raises(FileNotFoundError, match="a directory where a file") as info:
        data.load("fashion_mnist", data_dir=tmp_path, validation_size=10)
    assert str(tmp_path / "train-images-idx3-ubyte.gz") in str(info.value)
    with pytest.raises(ValueError, match="is a directory, not a file"):
        data.read_idx(tmp_path / "train-images-idx3-ubyte.gz")
    with pytest.raises(FileNotFoundError, match="no-such-idx"):
        data.read_idx(tmp_path / "no-such-idx")


def test_an_empty_or_missing_data_dir_is_not_replaced_by_another(tmp_path):
    # /usr/share/datasets/fashion-mnist may exist: an explicit data_dir wins.
    with pytest.raises(FileNotFoundError) as info:
        data.load("fashion_mnist", data_dir=tmp_path, download=False)
    assert str(tmp_path) in str(info.value)
    assert "/usr/share" not in str(info.value)
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match="`data_dir`.*missing"):
        data.load("fashion_mnist", data_dir=missing, download=False)
    assert not missing.exists()


def test_a_file_as_data_dir_or_a_missing_image_folder(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("not a folder")
    with pytest.raises(ValueError, match="`data_dir`.*notes.txt.*a file"):
        data.load("fashion_mnist", data_dir=path)
    with pytest.raises(FileNotFoundError, match="nowhere.*does not exist"):
        data.load(str(tmp_path / "nowhere"))
    with pytest.raises(ValueError, match="`name`.*notes.txt"):
        data.load(str(path))


# --- load() from local IDX files ------------------------------------------------


def test_load_fashion_mnist_from_committed_subset():
    splits = data.load("Fashion-MNIST", data_dir=SUBSET_DIR, validation_size=100)
    x, y = splits.train
    assert x.shape == (500, 28, 28, 1) and x.dtype == np.float32
    assert y.shape == (500,) and y.dtype == np.int32
    assert splits.validation[0].shape == (100, 28, 28, 1)
    assert splits.test[0].shape == (200, 28, 28, 1)
    assert 0.0 <= x.min() and x.max() <= 1.0 and x.max() > 0.9
    assert splits.num_classes == 10 and splits.input_shape == (28, 28, 1)
    assert splits.class_names == data.FASHION_MNIST_CLASSES
    assert splits.class_names[9] == "Ankle boot"
    assert splits.name == "fashion_mnist" and splits.horizontal_flip


def test_validation_is_held_out_of_training_never_test():
    raw_x, raw_y, raw_test, _ = _raw_subset()
    splits = data.load(
        "fashion_mnist", data_dir=SUBSET_DIR, validation_size=0.25, dtype="uint8"
    )
    train, val, test = (
        _rows(s[0][..., 0]) for s in (splits.train, splits.validation, splits.test)
    )
    assert len(val) == 150 and len(train) == 450
    assert not train & val and not val & test and not train & test
    assert train | val == _rows(raw_x)
    assert test == _rows(raw_test)
    # Labels travel with their images.
    label_of = {img.tobytes(): label for img, label in zip(raw_x, raw_y, strict=True)}
    for img, label in zip(
        splits.validation[0][..., 0], splits.validation[1], strict=True
    ):
        assert label_of[img.tobytes()] == label


def test_seed_and_subset():
    def load(**kwargs):
        return data.load(
            "fashion_mnist", data_dir=SUBSET_DIR, validation_size=100, **kwargs
        )

    a, b, c = load(seed=1), load(seed=1), load(seed=2)
    np.testing.assert_array_equal(a.validation[0], b.validation[0])
    assert _rows(a.validation[0]) != _rows(c.validation[0])
    small = load(seed=1, subset=64)
    assert len(small.train[0]) == 64
    # The validation split does not depend on `subset`.
    np.testing.assert_array_equal(small.validation[0], a.validation[0])
    assert _rows(small.train[0]) <= _rows(a.train[0])


def test_data_dir_may_be_the_parent_folder():
    splits = data.load(
        "fashion_mnist", data_dir=os.path.dirname(SUBSET_DIR), validation_size=0
    )
    assert splits.validation is None and len(splits.train[0]) == 600


@pytest.mark.parametrize(
    "kwargs, argument",
    [
        ({"validation_size": 600}, "validation_size"),
        ({"validation_size": 601}, "validation_size"),
        ({"validation_size": 1.5}, "validation_size"),
        ({"validation_size": -1}, "validation_size"),
        ({"subset": 0, "validation_size": 10}, "subset"),
        ({"dtype": "float16"}, "dtype"),
        ({"batch_size": 0}, "batch_size"),
    ],
)
def test_invalid_arguments(kwargs, argument):
    with pytest.raises(
        ValueError, match=f"Invalid value received for argument `{argument}`"
    ):
        data.load("fashion_mnist", data_dir=SUBSET_DIR, **kwargs)


def test_missing_fashion_mnist_says_how_to_fix(tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "IDX_SEARCH_DIRS", {})
    with pytest.raises(FileNotFoundError) as info:
        data.load("fashion_mnist", data_dir=tmp_path, download=False)
    message = str(info.value)
    assert "dataset-fashion-mnist" in message and "data_dir" in message
    assert str(tmp_path) in message


def test_mean_std():
    splits = data.load("fashion_mnist", data_dir=SUBSET_DIR, validation_size=0)
    mean, std = splits.mean_std()
    x = splits.train[0]
    np.testing.assert_allclose(mean, [x.mean()], rtol=1e-4)
    np.testing.assert_allclose(std, [x.std()], rtol=1e-4)
    raw = data.load(
        "fashion_mnist", data_dir=SUBSET_DIR, validation_size=0, dtype="uint8"
    )
    np.testing.assert_allclose(raw.mean_std()[0], mean, rtol=1e-5)


# --- TFDS ------------------------------------------------------------------------


@pytest.fixture
def mock_tfds():
    tfds = pytest.importorskip("tensorflow_datasets")
    with tfds.testing.mock_data(num_examples=40):
        yield


def test_tfds_cifar10(mock_tfds):
    splits = data.load("cifar10", validation_size=8, seed=3)
    x, y = splits.train
    assert x.shape == (32, 32, 32, 3) and x.dtype == np.float32
    assert y.dtype == np.int32 and 0 <= y.min() and y.max() < 10
    assert splits.validation[0].shape == (8, 32, 32, 3)
    assert splits.test[0].shape == (40, 32, 32, 3)
    assert splits.num_classes == 10 and len(splits.class_names) == 10
    assert splits.input_shape == (32, 32, 3) and splits.horizontal_flip
    assert not _rows(x) & _rows(splits.validation[0])


def test_tfds_cifar100_and_digits(mock_tfds):
    assert data.load("cifar100", validation_size=0).num_classes == 100
    svhn = data.load("svhn_cropped", validation_size=0.5)
    assert not svhn.horizontal_flip and len(svhn.train[0]) == 20


def test_mnist_falls_back_to_tfds(mock_tfds, tmp_path, monkeypatch):
    monkeypatch.setattr(loaders, "IDX_SEARCH_DIRS", {})
    splits = data.load("mnist", data_dir=tmp_path, validation_size=10)
    assert (
        splits.input_shape == (28, 28, 1) and splits.class_names == data.MNIST_CLASSES
    )
    assert not splits.horizontal_flip


def test_as_dataset(mock_tfds):
    splits = data.load("cifar10", validation_size=8, as_dataset=True, batch_size=16)
    x, y = next(iter(splits.train))
    assert tuple(x.shape) == (16, 32, 32, 3) and x.dtype.name == "float32"
    assert sum(int(b[0].shape[0]) for b in splits.validation) == 8
    with pytest.raises(TypeError, match="numpy arrays"):
        splits.mean_std()


@pytest.fixture(scope="module")
def tiny_tfds_dataset():
    """The name of a TFDS dataset that prepares offline: 12 + 6 random 8x8 images.

    `mock_data` replaces `download_and_prepare` with a no-op, so it never runs
    the code that broke in the setup's environment (TFDS 4.9.10 importing
    `importlib_resources` to find its checksums); preparing a real builder,
    with nothing to download, does.
    """
    tfds = pytest.importorskip("tensorflow_datasets")

    class KerasNasnetTinyImages(tfds.core.GeneratorBasedBuilder):
        VERSION = tfds.core.Version("1.0.0")

        def _info(self):
            return self.dataset_info_from_configs(
                features=tfds.features.FeaturesDict(
                    {
                        "image": tfds.features.Image(shape=(8, 8, 1)),
                        "label": tfds.features.ClassLabel(num_classes=3),
                    }
                ),
                supervised_keys=("image", "label"),
            )

        def _split_generators(self, dl_manager):
            return {
                "train": self._generate_examples(12, 0),
                "test": self._generate_examples(6, 1),
            }

        def _generate_examples(self, count, seed):
            rng = np.random.default_rng(seed)
            for i in range(count):
                image = rng.integers(0, 256, (8, 8, 1), dtype=np.uint8)
                yield i, {"image": image, "label": i % 3}

    return KerasNasnetTinyImages.name


def test_tfds_download_and_prepare_in_this_environment(tiny_tfds_dataset, tmp_path):
    splits = data.load(tiny_tfds_dataset, data_dir=tmp_path, validation_size=4)
    assert splits.train[0].shape == (8, 8, 8, 1) and splits.test[0].shape == (
        6,
        8,
        8,
        1,
    )
    assert splits.num_classes == 3 and splits.validation[0].shape == (4, 8, 8, 1)
    # Prepared once: it loads again with downloads off.
    again = data.load(
        tiny_tfds_dataset, data_dir=tmp_path, validation_size=4, download=False
    )
    np.testing.assert_array_equal(again.test[0], splits.test[0])


def _builder_failing_with(error):
    """A stand-in for `tfds.builder` whose `download_and_prepare` raises `error`."""

    class Builder:
        def download_and_prepare(self):
            raise error

    return lambda name, data_dir=None: Builder()


@pytest.mark.parametrize(
    "error, kind, words",
    [
        (
            ModuleNotFoundError(
                "No module named 'importlib_resources'", name="importlib_resources"
            ),
            data.MissingPackageError,
            ["'importlib_resources'", "pip install importlib_resources"],
        ),
        (
            OSError(-2, "Name or service not known"),
            data.DatasetError,
            ["Name or service not known"],
        ),
        (
            ConnectionError("Failed to resolve 'www.cs.toronto.edu'"),
            data.DatasetDownloadError,
            ["Cannot download", "needs a network", "www.cs.toronto.edu"],
        ),
    ],
    ids=["missing-package", "other-os-error", "no-network"],
)
def test_tfds_errors_name_the_cause(monkeypatch, tmp_path, error, kind, words):
    tfds = pytest.importorskip("tensorflow_datasets")
    monkeypatch.setattr(tfds, "builder", _builder_failing_with(error))
    with pytest.raises(data.DatasetError) as info:
        data.load("cifar10", data_dir=tmp_path)
    assert type(info.value) is kind and info.value.__cause__ is error
    assert all(word in str(info.value) for word in words), str(info.value)


def test_tfds_network_errors_are_found_in_the_chain(monkeypatch, tmp_path):
    tfds = pytest.importorskip("tensorflow_datasets")
    requests = pytest.importorskip("requests")
    # What TFDS raised here, offline: requests' error (an OSError), wrapped.
    cause = requests.exceptions.ConnectionError("Max retries exceeded")
    error = RuntimeError("download failed")
    error.__context__ = cause
    monkeypatch.setattr(tfds, "builder", _builder_failing_with(error))
    with pytest.raises(data.DatasetDownloadError, match="Max retries exceeded"):
        data.load("cifar10", data_dir=tmp_path)


def test_unknown_and_uninstalled_tfds(monkeypatch, tmp_path):
    pytest.importorskip("tensorflow_datasets")
    with pytest.raises(data.UnknownDatasetError) as info:
        data.load("cifar_10", data_dir=tmp_path)
    message = str(info.value)
    assert "Unknown dataset 'cifar_10'" in message and "'cifar10'" in message
    assert isinstance(info.value, ValueError) and "Available datasets" not in message
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
    with pytest.raises(data.MissingPackageError, match="tensorflow-datasets is not"):
        data.load("cifar10", data_dir=tmp_path)


# --- image directories and arrays ---------------------------------------------------


def _write_images(root, classes, per_class, size=(6, 5), mode="RGB"):
    PIL = pytest.importorskip("PIL.Image")
    for c, name in enumerate(classes):
        os.makedirs(root / name, exist_ok=True)
        for i in range(per_class):
            # Encode (class, index) in the pixels to check labels and overlap.
            value = 40 * c + i
            shape = (size[1], size[0]) + (() if mode == "L" else (len(mode),))
            PIL.fromarray(np.full(shape, value, "uint8"), mode).save(
                root / name / f"{i}.png"
            )


def test_image_directory_with_train_and_test(tmp_path):
    _write_images(tmp_path / "train", ["cat", "dog", "emu"], per_class=10)
    _write_images(tmp_path / "test", ["cat", "dog", "emu"], per_class=2)
    splits = data.load(tmp_path, validation_size=6)  # a Path works too
    assert splits.class_names == ("cat", "dog", "emu")
    assert splits.train[0].shape == (24, 5, 6, 3)
    assert splits.validation[0].shape == (6, 5, 6, 3) and splits.test[0].shape == (
        6,
        5,
        6,
        3,
    )
    for x, y in (splits.train, splits.validation, splits.test):
        np.testing.assert_array_equal(np.round(x[:, 0, 0, 0] * 255) // 40, y)
    assert not _rows(splits.train[0]) & _rows(splits.validation[0])


def test_image_directory_single_folder_grayscale_and_resize(tmp_path):
    _write_images(tmp_path, ["a", "b"], per_class=5, mode="L")
    splits = data.load_image_directory(
        tmp_path,
        color_mode="grayscale",
        image_size=(4, 4),
        validation_size=2,
        test_size=0.2,
        dtype="uint8",
    )
    assert splits.train[0].shape == (6, 4, 4, 1) and splits.train[0].dtype == np.uint8
    assert len(splits.validation[0]) == 2 and len(splits.test[0]) == 2
    seen = _rows(splits.train[0]) | _rows(splits.validation[0]) | _rows(splits.test[0])
    assert len(seen) == 10


def test_image_directory_errors(tmp_path):
    _write_images(tmp_path, ["a"], per_class=2)
    _write_images(tmp_path, ["b"], per_class=1, size=(7, 7))
    with pytest.raises(ValueError, match=r"b[/\\]0\.png.*image_size"):
        data.load_image_directory(tmp_path)
    with pytest.raises(ValueError, match="No images found"):
        data.load_image_directory(tmp_path / "a")
    with pytest.raises(ValueError, match="color_mode"):
        data.load_image_directory(tmp_path, color_mode="cmyk")


def test_load_arrays_splits_partition_the_data():
    n = 200
    x = np.arange(n, dtype="float32")[:, None, None, None] * np.ones(
        (1, 3, 3, 2), "float32"
    )
    y = np.arange(n) % 7
    splits = data.load_arrays(
        x, y, validation_size=0.2, test_size=30, seed=5, subset=100
    )
    ids = [
        s[0][:, 0, 0, 0].astype(int)
        for s in (splits.train, splits.validation, splits.test)
    ]
    assert [len(i) for i in ids] == [100, 34, 30]
    assert len(np.unique(np.concatenate(ids))) == 164
    for i, (_, labels) in zip(
        ids, (splits.train, splits.validation, splits.test), strict=True
    ):
        np.testing.assert_array_equal(labels, i % 7)
    assert splits.num_classes == 7 and splits.input_shape == (3, 3, 2)


def test_load_arrays_with_test_and_errors():
    x = np.zeros((20, 4, 4), "uint8")
    splits = data.load_arrays(
        x, np.arange(20) % 2, x_test=x[:5], y_test=np.ones(5, int)
    )
    assert splits.test[0].shape == (5, 4, 4, 1) and len(splits.validation[0]) == 2
    with pytest.raises(ValueError, match="`y`"):
        data.load_arrays(x, np.arange(19))
    with pytest.raises(ValueError, match="`x_test` and `y_test`"):
        data.load_arrays(x, np.arange(20), x_test=x)
    with pytest.raises(ValueError, match="`class_names`"):
        data.load_arrays(x, np.arange(20) % 3, class_names=["a", "b"])
    with pytest.raises(ValueError, match="`x`"):
        data.load_arrays(np.zeros((20, 4)), np.arange(20))


# --- augmentation ---------------------------------------------------------------------


def _images():
    return data.load("fashion_mnist", data_dir=SUBSET_DIR, validation_size=0).train[0][
        :16
    ]


def test_augmentation_changes_pixels_in_training_only():
    x = _images()
    aug = data.augmentation((28, 28, 1), pad=4, flip=True, cutout=8, seed=0)
    train = keras.ops.convert_to_numpy(aug(x, training=True))
    assert train.shape == x.shape
    assert not np.allclose(train, x)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(aug(x, training=False)), x)


def _shifts(image):
    """Every zero-filled integer shift of `image` by at most 4 pixels, flipped or not."""
    h, w = image.shape[:2]
    padded = np.pad(image, ((4, 4), (4, 4), (0, 0)))
    for dy in range(9):
        for dx in range(9):
            crop = padded[dy : dy + h, dx : dx + w]
            yield crop
            yield crop[:, ::-1]


def test_pad_crop_and_flip_are_per_example_shifts():
    x = _images()
    aug = data.augmentation((28, 28, 1), pad=4, flip=True, cutout=None, seed=1)
    out = keras.ops.convert_to_numpy(aug(x, training=True))
    for before, after in zip(x, out, strict=True):
        assert any(np.array_equal(after, s) for s in _shifts(before))
    # Each example gets its own crop: not all moved the same way.
    offsets = set()
    for before, after in zip(x, out, strict=True):
        offsets.add(
            next(k for k, s in enumerate(_shifts(before)) if np.array_equal(after, s))
        )
    assert len(offsets) > 3


def test_random_pad_crop_offsets_are_uniform():
    # A single bright pixel in the middle shows each example's offset.
    x = np.zeros((2000, 9, 9, 1), "float32")
    x[:, 4, 4] = 1.0
    out = keras.ops.convert_to_numpy(data.RandomPadCrop(2, seed=3)(x, training=True))
    rows, cols = (
        np.nonzero(out[..., 0].max(axis=2))[1],
        np.nonzero(out[..., 0].max(axis=1))[1],
    )
    counts = np.bincount(rows - 4 + 2, minlength=5)
    assert len(rows) == len(cols) == 2000
    assert counts.min() > 300 and counts.max() < 500  # 400 expected each


def test_cutout_zeroes_one_clipped_square():
    x = np.ones((500, 12, 12, 3), "float32")
    out = keras.ops.convert_to_numpy(data.Cutout(4, seed=0)(x, training=True))
    zeros = (out == 0).all(axis=-1).sum(axis=(1, 2))
    assert zeros.max() == 16 and zeros.min() >= 4  # clipped at corners: 2x2
    assert np.mean(zeros == 16) > 0.5  # centre away from the border most often
    assert set(np.unique(out)) <= {0.0, 1.0}


@pytest.mark.parametrize(
    "layer", [data.RandomPadCrop(3, seed=7), data.Cutout(5, seed=7)]
)
def test_layer_config_round_trip(layer):
    config = layer.get_config()
    clone = keras.saving.deserialize_keras_object(
        keras.saving.serialize_keras_object(layer)
    )
    assert type(clone) is type(layer) and clone.get_config() == config


# Keras's TensorFlow backend trips NumPy 2's `__array__(copy=...)` deprecation
# when saving; not ours.
@pytest.mark.filterwarnings("ignore:__array__ implementation:DeprecationWarning")
def test_augmentation_in_a_saved_model(tmp_path):
    inputs = keras.Input((28, 28, 1))
    outputs = keras.layers.Dense(2)(
        keras.layers.Flatten()(data.augmentation((28, 28, 1), cutout=8, seed=0)(inputs))
    )
    model = keras.Model(inputs, outputs)
    path = tmp_path / "m.keras"
    model.save(path)
    x = _images()
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(keras.saving.load_model(path)(x)),
        keras.ops.convert_to_numpy(model(x)),
        rtol=1e-6,
    )


def test_normalization():
    layer = data.normalization([0.5, 0.25], [0.5, 2.0])
    out = keras.ops.convert_to_numpy(layer(np.array([[[[1.0, 0.25]]]], "float32")))
    np.testing.assert_allclose(out, [[[[1.0, 0.0]]]], atol=1e-6)
    with pytest.raises(ValueError, match="`std`"):
        data.normalization([0.0], [0.0])
    with pytest.raises(ValueError, match="`pad`"):
        data.augmentation((8, 8, 1), pad=-1)


@pytest.mark.parametrize("cause", ["no-network", "missing-package"])
def test_the_cli_says_why_a_dataset_cannot_be_had_in_one_line(
    cause, monkeypatch, tmp_path, capsys
):
    # `keras-nasnet train --dataset cifar10` without a network, or without
    # tensorflow-datasets: one line naming the cause and exit status 2, not a
    # traceback.
    tfds = pytest.importorskip("tensorflow_datasets")
    from keras_nasnet import cli

    if cause == "no-network":
        error = ConnectionError("Failed to resolve 'www.cs.toronto.edu'")
        monkeypatch.setattr(tfds, "builder", _builder_failing_with(error))
        words = ("Cannot download", "www.cs.toronto.edu")
    else:
        monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)
        words = ("tensorflow-datasets is not",)
    status = cli.main(
        ["train", "nasnet_a", "--dataset", "cifar10", "--data-dir", str(tmp_path)]
    )
    err = capsys.readouterr().err.strip()
    assert status == 2
    assert err.startswith("keras-nasnet train: error: ")
    assert all(word in err for word in words) and "\n" not in err, err
