"""Shared checks for keras_nasnet layers and models (like keras's run_layer_test).

`check_layer` puts every public layer through the same tests: config round
trip, `.keras` save/load with identical outputs, and one training step.
`shape_only` builds without initializing variables, for structure and
parameter-count tests.
"""

import contextlib

import keras
import numpy as np


def check_layer(layer, input_shapes, tmp_path, seed=0):
    """Config round trip, `.keras` save/load and a train step for `layer`.

    Args:
        layer: an unbuilt layer instance.
        input_shapes: one shape (without batch) or a list of them, for a
            layer called on a list.
        tmp_path: a directory for the `.keras` file.

    Returns:
        The functional model wrapping `layer`.
    """
    config = layer.get_config()
    clone = layer.__class__.from_config(config)
    assert clone.get_config() == config, "get_config/from_config round trip"

    many = isinstance(input_shapes, list)
    shapes = input_shapes if many else [input_shapes]
    inputs = [keras.Input(shape) for shape in shapes]
    outputs = layer(inputs if many else inputs[0])
    model = keras.Model(inputs, outputs)

    rng = np.random.default_rng(seed)
    data = [rng.standard_normal((2, *shape)).astype("float32") for shape in shapes]
    x = data if many else data[0]
    # Eager calls: tracing `predict` costs more than these tiny models run.
    expected = keras.ops.convert_to_numpy(model(x, training=False))

    path = tmp_path / f"{layer.name}.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    actual = keras.ops.convert_to_numpy(reloaded(x, training=False))
    np.testing.assert_array_equal(actual, expected)
    reloaded_layer = reloaded.layers[-1]
    assert type(reloaded_layer) is type(layer)
    assert reloaded_layer.get_config() == layer.get_config()

    if model.trainable_weights:
        model.compile(optimizer="sgd", loss="mse", run_eagerly=True)
        model.fit(x, np.zeros_like(expected), batch_size=2, epochs=1, verbose=0)
    return model


@contextlib.contextmanager
def shape_only():
    """Builds layers and models without initializing their variables.

    Variables created in a `keras.StatelessScope` are deferred; building is
    then ~3x faster and parameter counts (shapes) are exact. Models built here
    must not be run. On exit the deferred variables are dropped so that no
    later scope initializes them.
    """
    from keras.src.backend.common import global_state

    try:
        with keras.StatelessScope(initialize_variables=False):
            yield
    finally:
        global_state.set_global_attribute("uninitialized_variables", [])


def trainable_count(model):
    """Trainable parameters (what the papers report: no BN moving stats)."""
    return sum(int(np.prod(v.shape)) for v in model.trainable_weights)
