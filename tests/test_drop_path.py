"""ScheduledDropPath: the pure functions, the layer and DropPathScheduler."""

import keras
import numpy as np
import pytest

from keras_nasnet.callbacks import DropPathScheduler, drop_path_layers
from keras_nasnet.layers import (
    NASNetCell,
    ScheduledDropPath,
    drop_path,
    drop_path_keep_prob,
)

N = 20_000  # examples per statistical test


def _np(x):
    if isinstance(x, keras.Variable):
        # numpy 2 warns on np.array(variable) with TF.
        return x.numpy()
    return keras.ops.convert_to_numpy(x)


def test_keep_prob_schedule():
    # keep_L = 1 - (i + 1) / T * (1 - p); keep = 1 - min(1, t) * (1 - keep_L).
    assert drop_path_keep_prob(3, 10, 0.0, 0.6) == 1.0
    assert drop_path_keep_prob(3, 10, 1.0, 0.6) == pytest.approx(1 - 0.4 * 0.4)
    assert drop_path_keep_prob(3, 10, 0.5, 0.6) == pytest.approx(1 - 0.5 * 0.16)
    assert drop_path_keep_prob(9, 10, 1.0, 0.6) == pytest.approx(0.6)  # last cell
    assert drop_path_keep_prob(9, 10, 7.0, 0.6) == pytest.approx(0.6)  # clamped
    tensor = drop_path_keep_prob(3, 10, keras.ops.convert_to_tensor(1.0), 0.6)
    assert float(_np(tensor)) == pytest.approx(0.84)


@pytest.mark.parametrize("keep", [0.9, 0.6, 0.3])
def test_drop_path_statistics(keep):
    x = np.ones((N, 2, 2, 1), "float32")
    y = _np(drop_path(x, keep, keras.random.SeedGenerator(7)))
    # One draw per example: the 4 pixels of an example agree.
    assert np.all(y == y[:, :1, :1, :])
    values = y[:, 0, 0, 0]
    dropped = np.mean(values == 0)
    # Binomial sd <= sqrt(0.25 / N) = 0.0035; the tolerances are > 4 sd.
    assert dropped == pytest.approx(1 - keep, abs=0.015)
    assert values.mean() == pytest.approx(1.0, abs=0.03 / keep)
    np.testing.assert_allclose(np.unique(values), [0.0, 1 / keep], rtol=1e-6)


def test_drop_path_with_keep_one_is_exact():
    x = np.random.default_rng(0).standard_normal((64, 3, 3, 2)).astype("float32")
    np.testing.assert_array_equal(
        _np(drop_path(x, 1.0, keras.random.SeedGenerator(0))), x
    )


def test_layer_keeps_everything_at_step_zero_and_at_inference():
    layer = ScheduledDropPath(0.5, cell_index=0, total_cells=1, seed=0)
    x = np.random.default_rng(1).standard_normal((256, 2, 2, 3)).astype("float32")
    assert float(_np(layer.progress)) == 0.0
    np.testing.assert_array_equal(_np(layer(x, training=True)), x)
    layer.progress.assign(1.0)
    np.testing.assert_array_equal(_np(layer(x, training=False)), x)
    np.testing.assert_array_equal(_np(layer(x)), x)
    assert np.any(_np(layer(x, training=True)) != x)


@pytest.mark.parametrize("cell_index", [0, 4, 9])
def test_layer_reaches_its_cell_keep_prob_at_the_end(cell_index):
    p, total = 0.6, 10
    layer = ScheduledDropPath(p, cell_index=cell_index, total_cells=total, seed=11)
    layer.progress.assign(1.0)
    keep = 1 - (cell_index + 1) / total * (1 - p)
    assert float(_np(layer.keep_prob())) == pytest.approx(keep)
    values = _np(layer(np.ones((N, 1, 1, 1), "float32"), training=True)).ravel()
    assert np.mean(values == 0) == pytest.approx(1 - keep, abs=0.015)
    assert values.mean() == pytest.approx(1.0, abs=0.03 / keep)
    layer.progress.assign(0.5)
    assert float(_np(layer.keep_prob())) == pytest.approx(1 - 0.5 * (1 - keep))


def test_amoebanet_schedule_ramps_by_time_only():
    # tensorflow/tpu amoeba_net `_apply_drop_path`, 'v1': every cell alike.
    for cell_index in (0, 3, 9):
        assert drop_path_keep_prob(cell_index, 10, 0.0, 0.7, "amoebanet") == 1.0
        assert drop_path_keep_prob(
            cell_index, 10, 0.5, 0.7, "amoebanet"
        ) == pytest.approx(0.85)
        assert drop_path_keep_prob(
            cell_index, 10, 3.0, 0.7, "amoebanet"
        ) == pytest.approx(0.7)
    # NASNet's scales the first cell's by its depth.
    assert drop_path_keep_prob(0, 10, 1.0, 0.7, "nasnet") == pytest.approx(0.97)
    with pytest.raises(ValueError, match="`schedule`. Expected one of"):
        drop_path_keep_prob(0, 10, 1.0, 0.7, "v1")


def test_layer_uses_its_schedule_and_keeps_it_in_its_config():
    layer = ScheduledDropPath(0.6, cell_index=0, total_cells=5, schedule="amoebanet")
    layer.progress.assign(1.0)
    assert float(_np(layer.keep_prob())) == pytest.approx(0.6)
    assert ScheduledDropPath.from_config(layer.get_config()).schedule == "amoebanet"
    assert ScheduledDropPath(0.6).schedule == "nasnet"
    with pytest.raises(ValueError, match="`schedule`"):
        ScheduledDropPath(0.6, schedule="tpu")


def test_nasnet_model_gives_every_drop_path_its_schedule():
    from keras_nasnet.models import NASNet

    model = NASNet(
        "nasnet_a",
        cells_per_stack=1,
        filters=4,
        input_shape=(8, 8, 1),
        drop_path_keep_prob=0.6,
        drop_path_schedule="amoebanet",
    )
    layers = drop_path_layers(model)
    assert layers and {layer.schedule for layer in layers} == {"amoebanet"}
    for layer in layers:
        layer.progress.assign(1.0)
    assert {round(float(_np(layer.keep_prob())), 6) for layer in layers} == {0.6}
    reloaded = NASNet.from_config(model.get_config())
    assert {layer.schedule for layer in drop_path_layers(reloaded)} == {"amoebanet"}
    with pytest.raises(ValueError, match="`drop_path_schedule`"):
        NASNet("nasnet_a", 1, filters=4, drop_path_schedule="v1")


def test_layer_validates_its_arguments():
    with pytest.raises(ValueError, match="drop_path_keep_prob"):
        ScheduledDropPath(0.0)
    with pytest.raises(ValueError, match="cell_index"):
        ScheduledDropPath(0.5, cell_index=3, total_cells=3)


def test_identity_ops_are_never_dropped():
    # A cell of identities only: nothing to drop, whatever the keep prob.
    cell = NASNetCell(
        "identity(0) + identity(1), identity(2) + identity(0)",
        4,
        drop_path_keep_prob=0.1,
    )
    cell.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    assert cell.drop_paths == []
    # In a mixed cell, the identity of block 2 has no drop path after it.
    mixed = NASNetCell("sep_conv_3x3(0) + identity(1)", 4, drop_path_keep_prob=0.1)
    mixed.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    assert len(mixed.drop_paths) == 1


class _RecordProgress(keras.callbacks.Callback):
    def __init__(self):
        super().__init__()
        self.seen = []

    def on_train_batch_begin(self, batch, logs=None):
        self.seen.append(float(_np(drop_path_layers(self.model)[0].progress)))


@pytest.mark.parametrize("total_steps", [None, 8])
def test_scheduler_feeds_step_over_total_steps(total_steps):
    inputs = keras.Input((2, 2, 1))
    outputs = ScheduledDropPath(0.5, seed=0)(keras.layers.Dense(1)(inputs))
    model = keras.Model(inputs, keras.layers.Flatten()(outputs))
    model.compile("sgd", "mse", run_eagerly=True)
    record = _RecordProgress()
    x, y = np.ones((4, 2, 2, 1)), np.ones((4, 4))
    model.fit(
        x,
        y,
        batch_size=2,
        epochs=2,
        verbose=0,
        callbacks=[DropPathScheduler(total_steps), record],
    )
    total = total_steps or 4
    assert record.seen == [step / total for step in range(4)]


def test_scheduler_needs_a_step_count():
    with pytest.raises(ValueError, match="total_steps"):
        DropPathScheduler(total_steps=0)
