"""keras_nasnet.layers: ops, factorized reduction, cell and auxiliary head."""

import pathlib
import sys

import keras
import numpy as np
import pytest

from keras_nasnet import layers
from keras_nasnet.genotypes import AMOEBANET_C, NASNET_A
from keras_nasnet.space import ALL_OPS, Cell

sys.path.insert(0, str(pathlib.Path(__file__).parent))
from _layer_checks import check_layer, shape_only  # noqa: E402

# Keras's TF backend saves variables with np.array(), which numpy 2 flags.
pytestmark = pytest.mark.filterwarnings(
    "ignore:__array__ implementation doesn't accept a copy keyword:DeprecationWarning"
)

COMMON = {"bn_momentum": 0.9, "bn_epsilon": 1e-5, "weight_decay": 5e-4}

# Every public layer, in the configurations that build different sublayers.
# id -> (layer factory, input shape(s) without batch)
LAYER_CASES = {
    "relu_conv_bn": (lambda: layers.ReLUConvBN(6, 3, 2, **COMMON), (7, 7, 4)),
    "relu_conv_bn_dilated_strided": (
        lambda: layers.ReLUConvBN(6, 3, 2, dilation_rate=2, **COMMON),
        (7, 7, 4),
    ),
    "sep_conv": (lambda: layers.SeparableConvStack(6, 5, 2, **COMMON), (8, 8, 4)),
    "dil_sep_conv": (
        lambda: layers.SeparableConvStack(6, 3, 2, num_layers=1, dilation_rate=2),
        (8, 8, 4),
    ),
    "identity_noop": (lambda: layers.IdentityOp(4), (6, 6, 4)),
    "identity_projection": (lambda: layers.IdentityOp(6, 2, **COMMON), (6, 6, 4)),
    "avg_pool_projection": (lambda: layers.PoolOp("avg", 3, 6, 2), (6, 6, 4)),
    "max_pool": (lambda: layers.PoolOp("max", 5, 4), (6, 6, 4)),
    "bottleneck_3x3": (lambda: layers.BottleneckConv(8, "3x3", 2), (6, 6, 4)),
    "bottleneck_1x7_7x1": (lambda: layers.BottleneckConv(8, "1x7_7x1", 2), (6, 6, 4)),
    "bottleneck_1x3_3x1_narrow": (
        # 3 * 2 / 8 < 1: no bottleneck.
        lambda: layers.BottleneckConv(2, "1x3_3x1"),
        (6, 6, 4),
    ),
    "bottleneck_dilated": (
        lambda: layers.BottleneckConv(8, "dilated_3x3", 2),
        (7, 7, 4),
    ),
    "factorized_reduction": (
        lambda: layers.FactorizedReduction(6, **COMMON),
        (7, 7, 4),
    ),
    "factorized_reduction_1x1": (lambda: layers.FactorizedReduction(6, 1), (7, 7, 4)),
    "scheduled_drop_path": (
        lambda: layers.ScheduledDropPath(0.7, cell_index=1, total_cells=3, seed=3),
        (4, 4, 2),
    ),
    "normal_cell": (
        lambda: layers.NASNetCell(
            NASNET_A.normal, 4, cell_index=1, total_cells=3, drop_path_keep_prob=0.6
        ),
        [(6, 6, 8), (12, 12, 5)],
    ),
    "reduction_cell": (
        lambda: layers.NASNetCell(NASNET_A.reduction, 4, reduction=True, **COMMON),
        [(6, 6, 8), (6, 6, 8)],
    ),
    "first_cell_concat": (
        lambda: layers.NASNetCell(
            "sep_conv_3x3(0) || identity(1), identity(2) + avg_pool_3x3(1) -> [1, 3]",
            4,
        ),
        (6, 6, 12),
    ),
    "aux_head": (lambda: layers.AuxiliaryHead(3, **COMMON), (8, 8, 6)),
}


@pytest.mark.parametrize("case", sorted(LAYER_CASES))
def test_layer_config_save_load_and_fit(case, tmp_path):
    factory, shapes = LAYER_CASES[case]
    check_layer(factory(), shapes, tmp_path)


@pytest.mark.parametrize("strides", [1, 2])
@pytest.mark.parametrize("op", ALL_OPS)
def test_every_op_maps_to_filters_channels(op, strides):
    layer = layers.make_op(op, 6, strides)
    x = np.random.default_rng(0).standard_normal((1, 7, 7, 4)).astype("float32")
    y = keras.ops.convert_to_numpy(layer(x, training=True))
    expected = layer.compute_output_shape((1, 7, 7, 4))
    assert (
        y.shape
        == expected
        == (1, 4 if strides == 2 else 7, 4 if strides == 2 else 7, 6)
    )


def test_make_op_rejects_unknown_names():
    with pytest.raises(ValueError, match="Unknown op 'sep_conv_9x9'"):
        layers.make_op("sep_conv_9x9", 4)


def test_identity_is_a_noop_when_shapes_match():
    op = layers.IdentityOp(4)
    x = np.arange(2 * 3 * 3 * 4, dtype="float32").reshape(2, 3, 3, 4)
    y = op(x, training=True)
    assert op.count_params() == 0
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(y), x)


def test_pooling_projects_only_when_channels_differ():
    same = layers.PoolOp("avg", 3, 4)
    same.build((None, 5, 5, 4))
    other = layers.PoolOp("avg", 3, 4)
    other.build((None, 5, 5, 6))
    assert same.count_params() == 0
    assert other.count_params() == 6 * 4 + 4 * 4  # 1x1 conv, BN


def test_average_pool_ignores_padding():
    # SAME average pooling divides by the number of real pixels in the window.
    op = layers.PoolOp("avg", 3, 1)
    x = np.arange(9, dtype="float32").reshape(1, 3, 3, 1)
    y = keras.ops.convert_to_numpy(op(x))
    assert y[0, 0, 0, 0] == pytest.approx(np.mean([0, 1, 3, 4]))
    assert y[0, 1, 1, 0] == pytest.approx(4.0)


def test_separable_conv_strides_only_in_the_first_unit():
    layer = layers.SeparableConvStack(8, 3, strides=2)
    layer.build((None, 8, 8, 8))
    assert [conv.strides for conv in layer.convs] == [(2, 2), (1, 1)]
    assert [conv.depth_multiplier for conv in layer.convs] == [1, 1]
    # 2 x (depthwise 3*3*8 + pointwise 8*8 + BN 4*8), no biases.
    assert layer.count_params() == 2 * (72 + 64 + 32)


def test_fused_batch_normalization_matches_keras():
    # The same outputs, gradients and moving averages as Keras's layer, to
    # float precision (the moving variance up to TF's n / (n - 1)).
    x = np.random.default_rng(3).normal(2.0, 3.0, (4, 5, 5, 6)).astype("float32")
    fused = layers.FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    plain = keras.layers.BatchNormalization(momentum=0.9, epsilon=1e-5)
    for bn in (fused, plain):
        bn.build(x.shape)
        bn.gamma.assign(np.linspace(0.5, 1.5, 6).astype("float32"))
        bn.beta.assign(np.linspace(-1.0, 1.0, 6).astype("float32"))
    ys = [keras.ops.convert_to_numpy(bn(x, training=True)) for bn in (fused, plain)]
    np.testing.assert_allclose(ys[0], ys[1], rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(
        fused.moving_mean.numpy(), plain.moving_mean.numpy(), rtol=1e-5
    )
    n = 4 * 5 * 5
    np.testing.assert_allclose(
        fused.moving_variance.numpy() - 0.9,
        (plain.moving_variance.numpy() - 0.9) * n / (n - 1),
        rtol=1e-4,
    )
    # At inference both use the moving averages: the same function (on
    # TensorFlow the fused op's, up to float32 rounding).
    for bn in (fused, plain):
        bn.moving_variance.assign(np.full(6, 2.0, "float32"))
    np.testing.assert_allclose(
        keras.ops.convert_to_numpy(fused(x)),
        keras.ops.convert_to_numpy(plain(x)),
        rtol=1e-5,
        atol=1e-6,
    )
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        grads = []
        for bn in (fused, plain):
            inputs = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                loss = tf.reduce_sum(bn(inputs, training=True) ** 3)
            grads.append(
                [g.numpy() for g in tape.gradient(loss, [inputs, bn.gamma, bn.beta])]
            )
        for a, b in zip(*grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-3, atol=1e-3)
    assert (
        layers.FusedBatchNormalization.from_config(fused.get_config()).momentum == 0.9
    )


def _inference_batch_norms(moving_variance, dtype="float32"):
    x = np.random.default_rng(4).normal(2.0, 3.0, (4, 5, 5, 6)).astype(dtype)
    fused = layers.FusedBatchNormalization(epsilon=1e-3, dtype=dtype)
    plain = keras.layers.BatchNormalization(epsilon=1e-3, dtype=dtype)
    for bn in (fused, plain):
        bn.build(x.shape)
        bn.gamma.assign(np.linspace(0.5, 1.5, 6).astype("float32"))
        bn.beta.assign(np.linspace(-1.0, 1.0, 6).astype("float32"))
        bn.moving_mean.assign(np.linspace(1.0, 3.0, 6).astype("float32"))
        bn.moving_variance.assign(moving_variance)
    return x, fused, plain


@pytest.mark.skipif(
    keras.backend.backend() != "tensorflow", reason="the fused op is TensorFlow's"
)
def test_fused_batch_normalization_at_inference_is_one_op_with_keras_gradients():
    import tensorflow as tf

    variance = np.linspace(0.5, 4.0, 6).astype("float32")
    x, fused, plain = _inference_batch_norms(variance)
    # One op instead of Keras's rsqrt, multiplies and adds.
    graph = tf.function(lambda t: fused(t, training=False)).get_concrete_function(
        tf.TensorSpec((None, 5, 5, 6), "float32")
    )
    types = [op.type for op in graph.graph.get_operations()]
    assert types.count("FusedBatchNormV3") == 1 and "Rsqrt" not in types
    # Inference, and a frozen layer in training (Keras normalizes it by the
    # moving averages too): the same outputs and gradients as Keras's layer,
    # and neither touches the moving averages.
    for training, trainable in ((False, True), (True, False)):
        grads, outputs = [], []
        for bn in (fused, plain):
            bn.trainable = trainable
            inputs = tf.constant(x)
            with tf.GradientTape() as tape:
                tape.watch(inputs)
                y = bn(inputs, training=training)
                loss = tf.reduce_sum(y**3)
            outputs.append(y.numpy())
            grads.append(
                [g.numpy() for g in tape.gradient(loss, [inputs, bn.gamma, bn.beta])]
            )
        np.testing.assert_allclose(outputs[0], outputs[1], rtol=1e-5, atol=1e-5)
        for a, b in zip(*grads, strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-3)
        np.testing.assert_array_equal(fused.moving_variance.numpy(), variance)


def test_fused_batch_normalization_keeps_float64_in_float64():
    # The fused op takes at most float32: a float64 layer is Keras's.
    x, fused, plain = _inference_batch_norms(np.full(6, 2.0), dtype="float64")
    for training in (False, True):
        y = fused(x, training=training)
        assert keras.backend.standardize_dtype(y.dtype) == "float64"
        np.testing.assert_allclose(
            keras.ops.convert_to_numpy(y),
            keras.ops.convert_to_numpy(plain(x, training=training)),
            rtol=1e-12,
        )


def test_factorized_reduction_paths_match_numpy():
    c = 3
    layer = layers.FactorizedReduction(2 * c)
    x = np.random.default_rng(1).standard_normal((2, 5, 5, c)).astype("float32")
    layer.build(x.shape)
    eye = np.eye(c, dtype="float32").reshape(1, 1, c, c)
    for conv in layer.path_convs:
        conv.kernel.assign(eye)
    y = keras.ops.convert_to_numpy(layer(x, training=False))
    path1 = x[:, ::2, ::2]
    path2 = np.pad(x, [(0, 0), (0, 1), (0, 1), (0, 0)])[:, 1::2, 1::2]
    expected = np.concatenate([path1, path2], -1) / np.sqrt(1 + layer.bn_epsilon)
    np.testing.assert_allclose(y, expected, rtol=1e-5, atol=1e-6)


def test_factorized_reduction_with_odd_filters_is_an_error():
    # Two paths of filters // 2 cannot make an odd width; the released code
    # asserts an even one (it used to return filters - 1 channels silently).
    with pytest.raises(ValueError, match=r"`filters`. Expected an even number"):
        layers.FactorizedReduction(11)
    # Without the stride there are no paths: a 1x1 conv of any width.
    layer = layers.FactorizedReduction(11, strides=1)
    assert layer.compute_output_shape((None, 8, 8, 4)) == (None, 8, 8, 11)


def test_a_cell_that_needs_an_odd_factorized_reduction_fails_to_build():
    # AmoebaNet-C's reduction cell concatenates its input h_i, which has twice
    # the cell's output size: at an odd width that needs an odd reduction.
    cell = layers.NASNetCell(AMOEBANET_C.reduction, 5, reduction=True)
    with pytest.raises(ValueError, match="even number"):
        cell.build([(None, 8, 8, 5), (None, 8, 8, 5)])


@shape_only()
def test_reduction_cell_strides_only_ops_on_the_cell_inputs():
    cell = layers.NASNetCell(NASNET_A.reduction, 4, reduction=True)
    cell.build([(None, 8, 8, 12), (None, 8, 8, 12)])
    strides = [op.strides for op in cell.block_ops]
    inputs = [i for block in NASNET_A.reduction.blocks for i in block.inputs]
    assert strides == [2 if i < 2 else 1 for i in inputs]
    # identity(3) reads a block output of the right shape: no weights.
    identity = cell.block_ops[6]
    assert isinstance(identity, layers.IdentityOp) and identity.count_params() == 0


@shape_only()
def test_cell_input_preparation():
    # h_{i-1} twice as large: factorized reduction; same size, other width:
    # 1x1 conv; absent: h_i itself.
    cell = layers.NASNetCell(NASNET_A.normal, 4)
    cell.build([(None, 4, 4, 8), (None, 8, 8, 6)])
    assert isinstance(cell.prev_prep, layers.FactorizedReduction)
    cell = layers.NASNetCell(NASNET_A.normal, 4)
    cell.build([(None, 4, 4, 8), (None, 4, 4, 6)])
    assert isinstance(cell.prev_prep, layers.ReLUConvBN)
    cell = layers.NASNetCell(NASNET_A.normal, 4)
    cell.build([(None, 4, 4, 8), (None, 4, 4, 4)])
    assert cell.prev_prep is None
    cell = layers.NASNetCell(NASNET_A.normal, 4)
    cell.build((None, 4, 4, 12))
    assert cell.prev_prep is None
    # State 1 (12 channels) is in NASNet-A's concat: fixed up to 4 channels.
    assert len(cell.output_fixups) == 1
    assert cell.compute_output_shape((None, 4, 4, 12)) == (None, 4, 4, 24)


def test_cell_rejects_h_prev_of_an_unrelated_size():
    cell = layers.NASNetCell(NASNET_A.normal, 4)
    with pytest.raises(ValueError, match="about twice"):
        cell.build([(None, 4, 4, 8), (None, 16, 16, 8)])


def test_concat_cell_channels_and_fixups():
    # Block 0 concatenates (2F); block 1 adds (F). The output concat brings
    # every state to the last block's width F.
    cell = Cell.parse(
        "sep_conv_3x3(0) || conv_1x1(1), max_pool_3x3(2) + identity(0) -> [0, 2, 3]"
    )
    layer = layers.NASNetCell(cell, 4, reduction=True)
    h = np.random.default_rng(2).standard_normal((2, 8, 8, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(layer([h, h], training=True))
    assert y.shape == (2, 4, 4, 12)
    # State 0 (8x8) needs a stride-2 fix-up, state 2 (2F) a 1x1 one.
    assert [f.strides for f in layer.output_fixups] == [2, 1]


@shape_only()
def test_drop_path_follows_every_op_but_identity():
    cell = layers.NASNetCell(NASNET_A.normal, 4, drop_path_keep_prob=0.5)
    cell.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    non_identity = sum(op != "identity" for b in NASNET_A.normal.blocks for op in b.ops)
    assert len(cell.drop_paths) == non_identity == 8
    no_drop = layers.NASNetCell(NASNET_A.normal, 4)
    no_drop.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    assert no_drop.drop_paths == []


def test_cell_accepts_text_dict_or_cell():
    text = str(NASNET_A.normal)
    for cell in (text, NASNET_A.normal.to_dict(), NASNET_A.normal):
        assert layers.NASNetCell(cell, 4).cell == NASNET_A.normal
    with pytest.raises(ValueError, match="Expected a `keras_nasnet.space.Cell`"):
        layers.NASNetCell(3, 4)


def test_aux_head_shrinks_its_pool_on_small_maps():
    head = layers.AuxiliaryHead(4)
    assert head(keras.Input((3, 3, 8))).shape == (None, 4)
    # 8x8 -> pool 5/3 -> 2x2 -> conv 2x2 to 768.
    head = layers.AuxiliaryHead(4)
    head.build((None, 8, 8, 8))
    assert head.conv.kernel.shape == (2, 2, 128, 768)
