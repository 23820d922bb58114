"""Tests for keras_nasnet.data.feeding: arrays batched without autotuning."""

import keras
import numpy as np
import pytest

from keras_nasnet.data import feeding

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="a tf.data pipeline"
)


def _arrays(n=10):
    x = np.arange(n * 4, dtype="float32").reshape(n, 2, 2, 1)
    y = np.arange(n, dtype="int32")
    return x, y


def _batches(dataset):
    return [tuple(np.asarray(t) for t in batch) for batch in dataset]


def test_array_dataset_batches_in_order_with_the_rest_last():
    x, y = _arrays(10)
    batches = _batches(feeding.array_dataset(x, y, batch_size=4))
    assert [len(b[1]) for b in batches] == [4, 4, 2]
    np.testing.assert_array_equal(np.concatenate([b[0] for b in batches]), x)
    np.testing.assert_array_equal(np.concatenate([b[1] for b in batches]), y)


def test_array_dataset_without_targets():
    x, _ = _arrays(5)
    batches = [np.asarray(b) for b in feeding.array_dataset(x, batch_size=2)]
    assert [len(b) for b in batches] == [2, 2, 1]
    np.testing.assert_array_equal(np.concatenate(batches), x)


def test_array_dataset_reshuffles_each_pass_and_keeps_pairs():
    x, y = _arrays(64)
    dataset = feeding.array_dataset(x, y, batch_size=8, shuffle=True, seed=3)
    passes = []
    for _ in range(2):
        batches = _batches(dataset)
        xs = np.concatenate([b[0] for b in batches])
        ys = np.concatenate([b[1] for b in batches])
        np.testing.assert_array_equal(xs, x[ys])  # each image with its label
        assert sorted(ys.tolist()) == list(range(64))  # each example once
        passes.append(ys)
    assert not np.array_equal(passes[0], y)  # shuffled
    assert not np.array_equal(passes[0], passes[1])  # again at each pass
    again = feeding.array_dataset(x, y, batch_size=8, shuffle=True, seed=3)
    np.testing.assert_array_equal(
        np.concatenate([b[1] for b in _batches(again)]), passes[0]
    )


def test_array_dataset_seed_comes_from_numpys_generator():
    x, y = _arrays(64)

    def order():
        keras.utils.set_random_seed(5)
        dataset = feeding.array_dataset(x, y, batch_size=64, shuffle=True)
        return _batches(dataset)[0][1]

    np.testing.assert_array_equal(order(), order())


def test_array_dataset_has_no_autotuning():
    x, y = _arrays(4)
    options = feeding.array_dataset(x, y, batch_size=2).options()
    assert options.autotune.enabled is False


def test_array_dataset_refuses_bad_arguments():
    x, y = _arrays(4)
    with pytest.raises(ValueError, match="batch_size"):
        feeding.array_dataset(x, y, batch_size=0)
    with pytest.raises(ValueError, match="4 and 3"):
        feeding.array_dataset(x, y[:3], batch_size=2)


def test_as_datasets_swaps_training_and_validation_arrays():
    x, y = _arrays(10)
    xv, yv = _arrays(6)
    kwargs = dict(batch_size=4, epochs=2, validation_data=(xv, yv), verbose=0)
    args, new = feeding.as_datasets((x, y), kwargs)
    assert kwargs == dict(batch_size=4, epochs=2, validation_data=(xv, yv), verbose=0)
    (dataset,) = args
    assert "batch_size" not in new and new["shuffle"] is False
    assert new["epochs"] == 2 and new["verbose"] == 0
    assert [len(b[1]) for b in _batches(dataset)] == [4, 4, 2]
    validation = _batches(new["validation_data"])
    assert [len(b[1]) for b in validation] == [4, 2]
    np.testing.assert_array_equal(np.concatenate([b[1] for b in validation]), yv)


def test_as_datasets_takes_keywords_and_validation_batch_size():
    x, y = _arrays(10)
    args, new = feeding.as_datasets(
        (),
        dict(
            x=x,
            y=y,
            batch_size=4,
            shuffle=False,
            validation_data=(x, y),
            validation_batch_size=5,
        ),
    )
    assert "x" not in new and "y" not in new and "validation_batch_size" not in new
    np.testing.assert_array_equal(
        np.concatenate([b[1] for b in _batches(args[0])]), y
    )  # shuffle=False: in order
    assert [len(b[1]) for b in _batches(new["validation_data"])] == [5, 5]


@pytest.mark.parametrize(
    "extra",
    [
        {"sample_weight": np.ones(10)},
        {"class_weight": {0: 1.0}},
        {"validation_split": 0.2},
        {"steps_per_epoch": 2},
        {"shuffle": "batch"},
    ],
)
def test_as_datasets_leaves_what_keras_does_for_arrays_only(extra):
    x, y = _arrays(10)
    kwargs = dict(batch_size=4, **extra)
    args, new = feeding.as_datasets((x, y), kwargs)
    assert args[0] is x and args[1] is y and new is kwargs


def test_as_datasets_leaves_datasets_and_other_backends(monkeypatch):
    x, y = _arrays(10)
    dataset = feeding.array_dataset(x, y, batch_size=4)
    assert feeding.as_datasets((dataset,), {}) == ((dataset,), {})
    monkeypatch.setattr(keras.backend, "backend", lambda: "jax")
    args, kwargs = feeding.as_datasets((x, y), {"batch_size": 4})
    assert args[0] is x and kwargs == {"batch_size": 4}


def test_as_datasets_for_evaluate_has_no_shuffle():
    x, y = _arrays(10)
    args, kwargs = feeding.as_datasets((x, y), {"batch_size": 3}, method="evaluate")
    assert kwargs == {}
    np.testing.assert_array_equal(np.concatenate([b[1] for b in _batches(args[0])]), y)
    with pytest.raises(ValueError, match="method"):
        feeding.as_datasets((x, y), {}, method="predict")


def test_fit_on_swapped_arrays_trains_the_steps_keras_would():
    x = np.random.default_rng(0).random((20, 4), dtype="float32")
    y = (x.sum(axis=1) > 2).astype("int32")
    model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2)])
    model.compile(
        "sgd",
        keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    args, kwargs = feeding.as_datasets(
        (x, y), dict(batch_size=6, epochs=2, validation_data=(x, y), verbose=0)
    )
    history = model.fit(*args, **kwargs)
    assert int(model.optimizer.iterations.numpy()) == 2 * 4  # ceil(20 / 6) a pass
    assert len(history.history["val_accuracy"]) == 2
