"""The ops of the NASNet search space as Keras layers, wired as the released code.

Every op maps its input to `filters` channels (the cell's width), so the two op
outputs of a block can be added. `make_op(name, filters, strides)` builds the
layer for any name in `keras_nasnet.space.ops.ALL_OPS`:

| op                     | layer                                                  |
|------------------------|--------------------------------------------------------|
| `identity`             | `IdentityOp`: no-op, or ReLU -> 1x1 conv(stride) -> BN  |
|                        | when strided or the channels differ                    |
| `sep_conv_KxK`         | `SeparableConvStack`: [ReLU -> sep conv -> BN] x 2,     |
|                        | the stride only in the first                           |
| `dil_sep_conv_3x3`     | `SeparableConvStack`: ReLU -> sep conv (rate 2) -> BN  |
| `avg_pool_3x3`,        | `PoolOp`: pooling (SAME, strided), then 1x1 conv -> BN  |
| `max_pool_KxK`         | when the channels differ                               |
| `conv_1x1`             | `ReLUConvBN`: ReLU -> 1x1 conv(stride) -> BN            |
| `conv_3x3`,            | `BottleneckConv`: the TPU AmoebaNet code's ReLU -> 1x1  |
| `conv_1x3_3x1`,        | (F/4; 3F/8 for 1x3-3x1) -> BN -> ReLU -> conv -> BN ->  |
| `conv_1x7_7x1`,        | ReLU -> 1x1 (F) -> BN                                   |
| `dil_conv_3x3`         |                                                        |

Convs have no bias and use the released code's initializer,
`VarianceScaling(2.0, "fan_out", "truncated_normal")`; `weight_decay` is slim's
`wd * sum(w ** 2) / 2`, i.e. `keras.regularizers.L2(weight_decay / 2)`. Tensors
are channels-last.

Keras convs cannot combine a stride with a dilation, so the dilated ops compute
the stride-1 dilated conv and keep every second pixel (the same output size as a
SAME strided conv; the sampling grid starts at pixel 0).

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition" (tensorflow/models research/slim/nets/nasnet/nasnet_utils.py);
Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
Search" (tensorflow/tpu models/official/amoeba_net/network_utils.py).
"""

import math

import keras
from keras import ops

from keras_nasnet._validation import fail as _fail
from keras_nasnet.space import ops as space_ops

_POOL_TYPES = ("avg", "max")
_BOTTLENECK_TYPES = ("3x3", "1x3_3x1", "1x7_7x1", "dilated_3x3")


def kernel_initializer():
    """A new instance of the released code's conv/dense initializer."""
    return keras.initializers.VarianceScaling(2.0, "fan_out", "truncated_normal")


def kernel_regularizer(weight_decay):
    """`L2(weight_decay / 2)` (slim's convention), or None when it is 0."""
    if not weight_decay:
        return None
    return keras.regularizers.L2(weight_decay / 2.0)


# What `tf.nn.fused_batch_norm` takes; Keras's layer computes float64 inputs
# in float64.
_FUSED_DTYPES = ("float16", "bfloat16", "float32")


@keras.saving.register_keras_serializable(package="keras_nasnet")
class FusedBatchNormalization(keras.layers.BatchNormalization):
    """Keras's `BatchNormalization`, as one fused op on TensorFlow.

    On the TensorFlow backend (no mask, channels last, no renorm, not
    synchronized), in training the batch moments, the normalization and the
    moving averages are one `tf.nn.fused_batch_norm` op (and its gradient one
    more) instead of Keras's twenty-odd, and at inference the normalization
    by the moving averages is one op instead of six: a NASNet is mostly batch
    normalizations, so its training step traces about a third faster and its
    test step (a search trial's validation) about 1.5 s faster, and a short
    search trial is mostly those traces. On other backends it is Keras's
    layer; everywhere it has Keras's weights and config, and its outputs up
    to float rounding.

    One difference in training: the fused op updates the moving variance with
    the batch's unbiased variance (times n / (n - 1), n the pixels of the
    batch), as TF-slim's batch norm did; Keras's layer uses the biased one.

    Example:

    >>> import numpy as np
    >>> bn = FusedBatchNormalization(momentum=0.9, epsilon=1e-5)
    >>> y = bn(np.ones((2, 4, 4, 3), "float32"), training=True)
    >>> tuple(y.shape)
    (2, 4, 4, 3)
    """

    def _fuses(self, inputs, mask):
        return (
            keras.backend.backend() == "tensorflow"
            and mask is None
            and keras.backend.standardize_dtype(inputs.dtype) in _FUSED_DTYPES
            and len(inputs.shape) == 4
            and self.axis in (-1, 3)
            and self.center
            and self.scale
            and not self.renorm
            and not self.synchronized
        )

    def call(self, inputs, training=None, mask=None):
        if not self._fuses(inputs, mask):
            return super().call(inputs, training=training, mask=mask)
        import tensorflow as tf

        # Keras's own rule: a frozen layer normalizes by its moving averages.
        training = bool(training) and self.trainable
        y, mean, variance = tf.compat.v1.nn.fused_batch_norm(
            tf.cast(inputs, "float32"),
            tf.cast(self.gamma, "float32"),
            tf.cast(self.beta, "float32"),
            mean=tf.cast(self.moving_mean, "float32"),
            variance=tf.cast(self.moving_variance, "float32"),
            epsilon=self.epsilon,
            is_training=training,
            exponential_avg_factor=1.0 - self.momentum if training else 1.0,
        )
        if training:
            self.moving_mean.assign(mean)
            self.moving_variance.assign(variance)
        return tf.cast(y, self.compute_dtype)


def _same_size(size, stride):
    return None if size is None else math.ceil(size / stride)


def _check_positive_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a "
            f"positive integer. Received: {name}={value!r}"
        )
    return value


def _build_chain(layers, shape):
    # Builds `layers` in order and returns the last output shape.
    for layer in layers:
        layer.build(shape)
        shape = layer.compute_output_shape(shape)
    return shape


class _ConvBNLayer(keras.layers.Layer):
    """Base of the op layers: the conv and BN settings they all share."""

    def __init__(
        self,
        filters,
        strides=1,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        weight_decay=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.filters = _check_positive_int(filters, "filters")
        self.strides = _check_positive_int(strides, "strides")
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.weight_decay = float(weight_decay)

    def _conv(self, filters, kernel_size, strides=1, dilation_rate=1, name=None):
        return keras.layers.Conv2D(
            filters,
            kernel_size,
            strides=strides,
            dilation_rate=dilation_rate,
            padding="same",
            use_bias=False,
            kernel_initializer=kernel_initializer(),
            kernel_regularizer=kernel_regularizer(self.weight_decay),
            dtype=self.dtype_policy,
            name=name,
        )

    def _separable_conv(self, kernel_size, strides=1, dilation_rate=1, name=None):
        return keras.layers.SeparableConv2D(
            self.filters,
            kernel_size,
            strides=strides,
            dilation_rate=dilation_rate,
            depth_multiplier=1,
            padding="same",
            use_bias=False,
            depthwise_initializer=kernel_initializer(),
            pointwise_initializer=kernel_initializer(),
            depthwise_regularizer=kernel_regularizer(self.weight_decay),
            pointwise_regularizer=kernel_regularizer(self.weight_decay),
            dtype=self.dtype_policy,
            name=name,
        )

    def _bn(self, name=None):
        return FusedBatchNormalization(
            axis=-1,
            momentum=self.bn_momentum,
            epsilon=self.bn_epsilon,
            dtype=self.dtype_policy,
            name=name,
        )

    def get_config(self):
        return {
            **super().get_config(),
            "filters": self.filters,
            "strides": self.strides,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "weight_decay": self.weight_decay,
        }

    def compute_output_shape(self, input_shape):
        # Every op keeps SAME padding: the stride alone sets the spatial size.
        b, h, w, _ = input_shape
        return (
            b,
            _same_size(h, self.strides),
            _same_size(w, self.strides),
            self.filters,
        )


@keras.saving.register_keras_serializable(package="keras_nasnet")
class ReLUConvBN(_ConvBNLayer):
    """ReLU -> conv (no bias) -> BN, the released code's conv unit.

    Args:
        filters: output channels.
        kernel_size: an integer or a `(height, width)` pair.
        strides: 1 or 2.
        dilation_rate: conv dilation. With `strides > 1` the stride-1 dilated
            conv is subsampled (Keras convs cannot do both).
        bn_momentum: BatchNormalization momentum.
        bn_epsilon: BatchNormalization epsilon.
        weight_decay: slim-style weight decay (`L2(weight_decay / 2)`).
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Reference: Zoph et al. 2018 (slim `nasnet_utils.py`).

    Example:

    >>> ReLUConvBN(8, 1, strides=2).compute_output_shape((None, 9, 9, 3))
    (None, 5, 5, 8)
    """

    def __init__(self, filters, kernel_size=1, strides=1, dilation_rate=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        self.kernel_size = (
            tuple(kernel_size)
            if isinstance(kernel_size, (list, tuple))
            else kernel_size
        )
        self.dilation_rate = _check_positive_int(dilation_rate, "dilation_rate")
        # Keras convs cannot stride and dilate at once: subsample after.
        self._subsample = self.strides if self.dilation_rate > 1 else 1

    def build(self, input_shape):
        conv_strides = 1 if self._subsample > 1 else self.strides
        self.conv = self._conv(
            self.filters, self.kernel_size, conv_strides, self.dilation_rate, "conv"
        )
        self.bn = self._bn("bn")
        self.conv.build(input_shape)
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        x = self.conv(ops.relu(inputs))
        if self._subsample > 1:
            x = x[:, :: self._subsample, :: self._subsample, :]
        return self.bn(x, training=training)

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "dilation_rate": self.dilation_rate,
        }


@keras.saving.register_keras_serializable(package="keras_nasnet")
class SeparableConvStack(_ConvBNLayer):
    """[ReLU -> separable conv -> BN] x `num_layers`, the stride only in the first.

    The released NASNet code's `sep_conv_KxK` is this with `num_layers=2`: each
    separable conv has depth multiplier 1, and nothing sits between its
    depthwise and pointwise halves.

    Args:
        filters: output channels of every separable conv.
        kernel_size: the depthwise kernel size.
        strides: 1 or 2, applied by the first separable conv.
        num_layers: how many [ReLU -> sep conv -> BN] units.
        dilation_rate: depthwise dilation (see `ReLUConvBN` for strides).
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Reference: Zoph et al. 2018 (slim `nasnet_utils._stacked_separable_conv`).

    Example:

    >>> layer = SeparableConvStack(8, 3)
    >>> layer.build((None, 4, 4, 8))
    >>> layer.count_params()  # 2 x (3*3*8 + 8*8 + 4*8)
    336
    """

    def __init__(
        self, filters, kernel_size, strides=1, num_layers=2, dilation_rate=1, **kwargs
    ):
        super().__init__(filters, strides, **kwargs)
        self.kernel_size = _check_positive_int(kernel_size, "kernel_size")
        self.num_layers = _check_positive_int(num_layers, "num_layers")
        self.dilation_rate = _check_positive_int(dilation_rate, "dilation_rate")
        self._subsample = self.strides if self.dilation_rate > 1 else 1

    def build(self, input_shape):
        self.convs = []
        self.bns = []
        shape = input_shape
        for i in range(self.num_layers):
            strides = self.strides if i == 0 and self._subsample == 1 else 1
            conv = self._separable_conv(
                self.kernel_size, strides, self.dilation_rate, f"separable_{i + 1}"
            )
            bn = self._bn(f"bn_{i + 1}")
            conv.build(shape)
            shape = conv.compute_output_shape(shape)
            if i == 0 and self._subsample > 1:
                b, h, w, c = shape
                shape = (
                    b,
                    _same_size(h, self._subsample),
                    _same_size(w, self._subsample),
                    c,
                )
            bn.build(shape)
            self.convs.append(conv)
            self.bns.append(bn)

    def call(self, inputs, training=None):
        x = inputs
        for i, (conv, bn) in enumerate(zip(self.convs, self.bns, strict=True)):
            x = conv(ops.relu(x))
            if i == 0 and self._subsample > 1:
                x = x[:, :: self._subsample, :: self._subsample, :]
            x = bn(x, training=training)
        return x

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "num_layers": self.num_layers,
            "dilation_rate": self.dilation_rate,
        }


@keras.saving.register_keras_serializable(package="keras_nasnet")
class IdentityOp(_ConvBNLayer):
    """The identity op: unchanged, unless it must stride or change channels.

    When `strides == 1` and the input already has `filters` channels this is a
    no-op without weights; otherwise ReLU -> 1x1 conv(strides) -> BN (the
    released code's choice, not a factorized reduction).

    Args:
        filters: output channels.
        strides: 1 or 2.
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Reference: Zoph et al. 2018 (slim `nasnet_utils._apply_conv_operation`).

    Example:

    >>> op = IdentityOp(8)
    >>> op.build((None, 4, 4, 8))
    >>> op.count_params()
    0
    """

    def build(self, input_shape):
        if self.strides > 1 or input_shape[-1] != self.filters:
            self.projection = ReLUConvBN(
                self.filters,
                1,
                self.strides,
                bn_momentum=self.bn_momentum,
                bn_epsilon=self.bn_epsilon,
                weight_decay=self.weight_decay,
                dtype=self.dtype_policy,
                name="projection",
            )
            self.projection.build(input_shape)
        else:
            self.projection = None

    def call(self, inputs, training=None):
        if self.projection is None:
            return inputs
        return self.projection(inputs, training=training)


@keras.saving.register_keras_serializable(package="keras_nasnet")
class PoolOp(_ConvBNLayer):
    """Average or max pooling (SAME, strided), then 1x1 conv -> BN if needed.

    The 1x1 conv -> BN (no ReLU) follows only when the input does not have
    `filters` channels. Average pooling does not count the padding.

    Args:
        pool_type: `"avg"` or `"max"`.
        pool_size: the (square) window size.
        filters: output channels.
        strides: 1 or 2.
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Reference: Zoph et al. 2018 (slim `nasnet_utils._pooling`).

    Example:

    >>> PoolOp("max", 3, 8, strides=2).compute_output_shape((None, 7, 7, 8))
    (None, 4, 4, 8)
    """

    def __init__(self, pool_type, pool_size, filters, strides=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        if pool_type not in _POOL_TYPES:
            raise ValueError(
                "Invalid value received for argument `pool_type`. Expected one "
                f"of {_POOL_TYPES}. Received: pool_type={pool_type!r}"
            )
        self.pool_type = pool_type
        self.pool_size = _check_positive_int(pool_size, "pool_size")

    def build(self, input_shape):
        pool_class = (
            keras.layers.AveragePooling2D
            if self.pool_type == "avg"
            else keras.layers.MaxPooling2D
        )
        self.pool = pool_class(
            self.pool_size,
            strides=self.strides,
            padding="same",
            dtype=self.dtype_policy,
            name="pool",
        )
        shape = self.pool.compute_output_shape(input_shape)
        if input_shape[-1] != self.filters:
            self.conv = self._conv(self.filters, 1, name="conv")
            self.bn = self._bn("bn")
            _build_chain([self.conv, self.bn], shape)
        else:
            self.conv = None
            self.bn = None

    def call(self, inputs, training=None):
        x = self.pool(inputs)
        if self.conv is not None:
            x = self.bn(self.conv(x), training=training)
        return x

    def get_config(self):
        return {
            **super().get_config(),
            "pool_type": self.pool_type,
            "pool_size": self.pool_size,
        }


@keras.saving.register_keras_serializable(package="keras_nasnet")
class BottleneckConv(_ConvBNLayer):
    """A plain conv op in a 1x1 bottleneck, as the TPU AmoebaNet code builds it.

    ReLU -> 1x1 conv (`r` channels) -> BN -> ReLU -> inner conv (`r`, strided)
    -> BN -> ReLU -> 1x1 conv (`filters`) -> BN, with `r = int(filters / 4)`
    (`int(3 * filters / 8)` for `1x3_3x1`). When `r < 1` there is no
    bottleneck: ReLU -> inner conv (`filters`) -> BN. The inner conv is a 3x3
    conv (`"3x3"`), a 3x3 conv with dilation 2 (`"dilated_3x3"`), or a 1xK conv
    -> BN -> ReLU -> Kx1 conv (`"1x3_3x1"`, `"1x7_7x1"`), whose stride is split
    between the two halves.

    Args:
        filters: output channels.
        conv_type: one of `"3x3"`, `"1x3_3x1"`, `"1x7_7x1"`, `"dilated_3x3"`.
        strides: 1 or 2.
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Reference: Real et al. 2019 (tensorflow/tpu
    `amoeba_net/network_utils.BaseCell._apply_operation`).

    Example:

    >>> BottleneckConv(8, "1x7_7x1", strides=2).compute_output_shape((None, 8, 8, 4))
    (None, 4, 4, 8)
    """

    def __init__(self, filters, conv_type, strides=1, **kwargs):
        super().__init__(filters, strides, **kwargs)
        if conv_type not in _BOTTLENECK_TYPES:
            raise ValueError(
                "Invalid value received for argument `conv_type`. Expected one "
                f"of {_BOTTLENECK_TYPES}. Received: conv_type={conv_type!r}"
            )
        self.conv_type = conv_type

    def _bottleneck_filters(self):
        if self.conv_type == "1x3_3x1":
            return int(3 * self.filters / 8)
        return int(self.filters / 4)

    def build(self, input_shape):
        reduced = self._bottleneck_filters()
        self._use_bottleneck = reduced >= 1
        inner_filters = reduced if self._use_bottleneck else self.filters
        s = self.strides
        if self._use_bottleneck:
            self.pre_conv = self._conv(reduced, 1, name="pre_1x1")
            self.pre_bn = self._bn("pre_bn")
            shape = _build_chain([self.pre_conv, self.pre_bn], input_shape)
        else:
            self.pre_conv = self.pre_bn = None
            shape = input_shape
        if self.conv_type == "3x3":
            inner = [self._conv(inner_filters, 3, s, name="3x3")]
        elif self.conv_type == "dilated_3x3":
            inner = [
                self._conv(inner_filters, 3, 1, dilation_rate=2, name="dilated_3x3")
            ]
        else:
            k = int(self.conv_type[2])
            inner = [
                self._conv(inner_filters, (1, k), (1, s), name=f"1x{k}"),
                self._bn(f"bn_1x{k}_{k}x1"),
                self._conv(inner_filters, (k, 1), (s, 1), name=f"{k}x1"),
            ]
        self.inner = inner
        self.inner_bn = self._bn("bn")
        for layer in inner:
            layer.build(shape)
            shape = layer.compute_output_shape(shape)
        if self.conv_type == "dilated_3x3" and s > 1:
            b, h, w, c = shape
            shape = (b, _same_size(h, s), _same_size(w, s), c)
        self.inner_bn.build(shape)
        if self._use_bottleneck:
            self.post_conv = self._conv(self.filters, 1, name="post_1x1")
            self.post_bn = self._bn("post_bn")
            _build_chain([self.post_conv, self.post_bn], shape)
        else:
            self.post_conv = self.post_bn = None

    def call(self, inputs, training=None):
        x = ops.relu(inputs)
        if self.pre_conv is not None:
            x = ops.relu(self.pre_bn(self.pre_conv(x), training=training))
        if len(self.inner) == 1:
            x = self.inner[0](x)
            if self.conv_type == "dilated_3x3" and self.strides > 1:
                x = x[:, :: self.strides, :: self.strides, :]
        else:
            first, mid_bn, second = self.inner
            x = second(ops.relu(mid_bn(first(x), training=training)))
        x = self.inner_bn(x, training=training)
        if self.post_conv is not None:
            x = self.post_bn(self.post_conv(ops.relu(x)), training=training)
        return x

    def get_config(self):
        return {**super().get_config(), "conv_type": self.conv_type}


@keras.saving.register_keras_serializable(package="keras_nasnet")
class FactorizedReduction(_ConvBNLayer):
    """Halves the spatial size without dropping pixels, or projects channels.

    With `strides=2`: path 1 keeps the even pixels (a 1x1 average pool of
    stride 2) -> 1x1 conv to `filters // 2`; path 2 shifts the input by one
    pixel (pad bottom/right, crop top/left), keeps the even pixels -> 1x1 conv
    to `filters // 2`; the two are concatenated, then BN. With `strides=1`:
    1x1 conv -> BN. No ReLU here: callers add it where the released code does.
    With stride 2, `filters` must be even: the two halves could not add up to
    an odd width (the released code asserts it; an odd width would silently
    give `filters - 1` channels).

    Args:
        filters: output channels; even with `strides=2`.
        strides: 1 or 2.
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments.

    Call arguments:
        inputs: `[batch, height, width, channels]`.
        training: passed to BatchNormalization.

    Raises:
        ValueError: for `strides` other than 1 or 2, or an odd `filters` with
            `strides=2`.

    Reference: Zoph et al. 2018 (slim `nasnet_utils.factorized_reduction`);
    Real et al. 2019 (tensorflow/tpu `amoeba_net/network_utils.py`
    `factorized_reduction`: "Need even number of filters when using this
    factorized reduction.").

    Example:

    >>> FactorizedReduction(8).compute_output_shape((None, 9, 9, 16))
    (None, 5, 5, 8)
    """

    def __init__(self, filters, strides=2, **kwargs):
        super().__init__(filters, strides, **kwargs)
        if self.strides not in (1, 2):
            raise ValueError(
                "Invalid value received for argument `strides`. Expected 1 or "
                f"2. Received: strides={strides!r}"
            )
        if self.strides == 2 and self.filters % 2:
            # The two paths have filters // 2 channels each.
            _fail(
                "filters",
                "an even number with strides=2 (a factorized reduction "
                "concatenates two paths of filters / 2 channels)",
                filters,
            )

    def build(self, input_shape):
        if self.strides == 1:
            self.path_convs = [self._conv(self.filters, 1, name="path_conv")]
            self.path_convs[0].build(input_shape)
        else:
            b, h, w, c = input_shape
            half = (b, _same_size(h, 2), _same_size(w, 2), c)
            self.path_convs = [
                self._conv(self.filters // 2, 1, name="path1_conv"),
                self._conv(self.filters // 2, 1, name="path2_conv"),
            ]
            for conv in self.path_convs:
                conv.build(half)
        self.bn = self._bn("final_path_bn")
        self.bn.build(self.compute_output_shape(input_shape))

    def call(self, inputs, training=None):
        if self.strides == 1:
            x = self.path_convs[0](inputs)
        else:
            path1 = self.path_convs[0](inputs[:, ::2, ::2, :])
            shifted = ops.pad(inputs, [[0, 0], [0, 1], [0, 1], [0, 0]])
            path2 = self.path_convs[1](shifted[:, 1::2, 1::2, :])
            x = ops.concatenate([path1, path2], axis=-1)
        return self.bn(x, training=training)

    def compute_output_shape(self, input_shape):
        b, h, w, _ = input_shape
        if self.strides == 1:
            return (b, h, w, self.filters)
        return (b, _same_size(h, 2), _same_size(w, 2), self.filters)


def _sep(kernel_size, num_layers=2, dilation_rate=1):
    def factory(filters, strides, **kwargs):
        return SeparableConvStack(
            filters, kernel_size, strides, num_layers, dilation_rate, **kwargs
        )

    return factory


def _pool(pool_type, pool_size):
    def factory(filters, strides, **kwargs):
        return PoolOp(pool_type, pool_size, filters, strides, **kwargs)

    return factory


def _bottleneck(conv_type):
    def factory(filters, strides, **kwargs):
        return BottleneckConv(filters, conv_type, strides, **kwargs)

    return factory


# op name -> factory(filters, strides, **kwargs) -> Layer
_OP_FACTORIES = {
    space_ops.IDENTITY: IdentityOp,
    space_ops.CONV_1X3_3X1: _bottleneck("1x3_3x1"),
    space_ops.CONV_1X7_7X1: _bottleneck("1x7_7x1"),
    space_ops.DIL_CONV_3X3: _bottleneck("dilated_3x3"),
    space_ops.AVG_POOL_3X3: _pool("avg", 3),
    space_ops.MAX_POOL_3X3: _pool("max", 3),
    space_ops.MAX_POOL_5X5: _pool("max", 5),
    space_ops.MAX_POOL_7X7: _pool("max", 7),
    space_ops.CONV_1X1: lambda filters, strides, **kw: ReLUConvBN(
        filters, 1, strides, **kw
    ),
    space_ops.CONV_3X3: _bottleneck("3x3"),
    space_ops.SEP_CONV_3X3: _sep(3),
    space_ops.SEP_CONV_5X5: _sep(5),
    space_ops.SEP_CONV_7X7: _sep(7),
    space_ops.DIL_SEP_CONV_3X3: _sep(3, num_layers=1, dilation_rate=2),
}
assert set(_OP_FACTORIES) == set(space_ops.ALL_OPS)


def make_op(op, filters, strides=1, **kwargs):
    """Builds the Keras layer for the op named `op`.

    Args:
        op: an op name from `keras_nasnet.space.ops.ALL_OPS`.
        filters: output channels.
        strides: 1, or 2 for ops on a reduction cell's inputs.
        **kwargs: `bn_momentum`, `bn_epsilon`, `weight_decay` and
            `keras.layers.Layer` arguments (`name` becomes the layer name).

    Returns:
        A `keras.layers.Layer` mapping `[B, H, W, C]` to
        `[B, ceil(H / strides), ceil(W / strides), filters]`.

    Raises:
        ValueError: for an unknown op name.

    Example:

    >>> op = make_op("sep_conv_3x3", 16, strides=2)
    >>> type(op).__name__, op.compute_output_shape((None, 8, 8, 4))
    ('SeparableConvStack', (None, 4, 4, 16))
    """
    space_ops.check_op(op)
    return _OP_FACTORIES[op](filters, strides, **kwargs)
