"""Saving NASNet: `.keras` files and TF SavedModel export serve the same outputs."""

import keras
import numpy as np
import pytest

from keras_nasnet.callbacks import drop_path_layers
from keras_nasnet.models import NASNet

# Keras's TF backend saves variables with np.array(), which numpy 2 flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)


# Every op of NASNet-A (its three sep convs, both pools, identity) in two
# blocks per cell instead of five: what is saved is the same kinds of layers,
# at half the export's tracing.
GENOTYPE = (
    "normal: sep_conv_5x5(0) + sep_conv_3x3(1), avg_pool_3x3(0) + identity(1); "
    "reduction: sep_conv_7x7(0) + max_pool_3x3(1), avg_pool_3x3(2) + sep_conv_3x3(0)"
)


@pytest.fixture(scope="module")
def model_and_data():
    model = NASNet(
        GENOTYPE,
        cells_per_stack=1,
        filters=8,
        input_shape=(16, 16, 3),
        num_classes=5,
        auxiliary_head=True,
        drop_path_keep_prob=0.7,
        weight_decay=5e-4,
        name="tiny_nasnet",
    )
    # Move BN statistics and drop path state away from their initial values.
    for layer in model._flatten_layers():
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.moving_mean.assign(np.full(layer.moving_mean.shape, 0.1, "float32"))
    for layer in drop_path_layers(model):
        layer.progress.assign(0.3)
    x = np.random.default_rng(0).random((3, 16, 16, 3), "float32")
    return model, x, keras.ops.convert_to_numpy(model(x, training=False))


def test_keras_file_round_trip(model_and_data, tmp_path):
    model, x, expected = model_and_data
    path = tmp_path / "nasnet.keras"
    model.save(path)
    reloaded = keras.models.load_model(path)
    assert type(reloaded) is NASNet
    assert reloaded.get_config() == model.get_config()
    np.testing.assert_array_equal(
        keras.ops.convert_to_numpy(reloaded(x, training=False)), expected
    )
    progress = [layer.progress.numpy().item() for layer in drop_path_layers(reloaded)]
    # 3 normal cells x 3 non-identity ops + 2 reduction cells x 4.
    assert progress == pytest.approx([0.3] * 17)


@pytest.mark.slow
def test_saved_model_export_serves(model_and_data, tmp_path):
    if keras.backend.backend() != "tensorflow":
        pytest.skip("SavedModel export needs the TensorFlow backend")
    import tensorflow as tf

    model, x, expected = model_and_data
    path = str(tmp_path / "saved_model")
    model.export(path, format="tf_saved_model", verbose=False)
    served = tf.saved_model.load(path)
    np.testing.assert_allclose(
        served.serve(tf.constant(x)).numpy(), expected, rtol=1e-4, atol=1e-5
    )
    signature = served.signatures["serving_default"]
    (output,) = signature(tf.constant(x)).values()
    np.testing.assert_allclose(output.numpy(), expected, rtol=1e-4, atol=1e-5)
