"""Tests for keras_nasnet.models._steps: each step traced once, as one function."""

import keras
import numpy as np
import pytest

from keras_nasnet import training
from keras_nasnet.layers import FusedBatchNormalization
from keras_nasnet.models import _steps

pytestmark = pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="TensorFlow's tracing"
)


class Tiny(_steps.SingleTraceMixin, keras.Model):
    def __init__(self):
        super().__init__()
        self.conv = keras.layers.Conv2D(3, 3, strides=2)
        self.bn = FusedBatchNormalization()
        self.pool = keras.layers.GlobalAveragePooling2D()
        self.dense = keras.layers.Dense(4)

    def call(self, inputs, training=None):
        x = self.bn(self.conv(inputs), training=training)
        return self.dense(self.pool(keras.ops.relu(x)))


def _data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, 9, 9, 2)).astype("float32"), rng.integers(0, 4, n)


def _compiled(**compile_args):
    keras.utils.set_random_seed(5)
    model = Tiny()
    model.compile(
        optimizer=keras.optimizers.SGD(0.1, momentum=0.9),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
        **compile_args,
    )
    # The optimizer's variables made before `fit`: a first step that makes
    # them traces twice (`training.build_training_state`).
    return training.build_training_state(model, input_shape=(9, 9, 2))


def _train(model):
    # 20 images in batches of 8 and 10 in batches of 8: both end on a
    # partial batch.
    history = model.fit(
        *_data(20, 0),
        validation_data=_data(10, 1),
        batch_size=8,
        epochs=2,
        shuffle=False,
        verbose=0,
    )
    return history.history, [v.numpy() for v in model.weights]


def test_fit_and_evaluate_match_keras_and_trace_each_step_once(monkeypatch):
    model = _compiled()
    history, weights = _train(model)
    # One trace each, though the last batches are smaller.
    assert model.train_function.traced.experimental_get_tracing_count() == 1
    assert model.test_function.traced.experimental_get_tracing_count() == 1
    evaluated = model.evaluate(*_data(10, 1), batch_size=8, verbose=0)

    # Keras's own nested functions, from the same seed: the same training.
    monkeypatch.setattr(_steps, "_single_trace", lambda model, step, keras_fn: keras_fn)
    reference = _compiled()
    keras_history, keras_weights = _train(reference)
    assert not hasattr(reference.train_function, "traced")
    assert history.keys() == keras_history.keys()
    for key in history:
        np.testing.assert_allclose(history[key], keras_history[key], rtol=1e-5)
    for ours, theirs in zip(weights, keras_weights, strict=True):
        np.testing.assert_allclose(ours, theirs, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(
        evaluated, reference.evaluate(*_data(10, 1), batch_size=8, verbose=0), rtol=1e-5
    )


def test_a_dataset_of_unknown_length_ends_each_epoch_on_its_last_batch():
    import tensorflow as tf

    x, y = _data(20, 2)
    dataset = tf.data.Dataset.from_tensor_slices((x, y)).filter(lambda a, b: True)
    assert dataset.cardinality() == tf.data.UNKNOWN_CARDINALITY
    batches = []
    counter = keras.callbacks.LambdaCallback(
        on_train_batch_end=lambda batch, logs: batches.append(batch)
    )
    model = _compiled()
    model.fit(dataset.batch(8), epochs=2, callbacks=[counter], verbose=0)
    assert batches == [0, 1, 2, 0, 1, 2]
    assert model.train_function.traced.experimental_get_tracing_count() == 1


@pytest.mark.parametrize(
    "compile_args", [{"steps_per_execution": 2}, {"run_eagerly": True}]
)
def test_keras_runs_what_one_function_per_step_does_not_cover(compile_args):
    model = _compiled(**compile_args)
    history, _ = _train(model)
    assert len(history["loss"]) == 2
    assert not hasattr(model.train_function, "traced")
    assert not hasattr(model.test_function, "traced")


def test_a_distribution_strategys_iterator_goes_to_keras():
    import tensorflow as tf

    with tf.distribute.OneDeviceStrategy("/cpu:0").scope():
        model = _compiled()
    history, _ = _train(model)
    assert len(history["val_loss"]) == 2
    # The strategy's iterator is not a `tf.data.Iterator`: Keras's function
    # ran every step, and ours was never traced.
    assert model.train_function.traced.experimental_get_tracing_count() == 0
