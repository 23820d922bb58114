"""The auxiliary classifier head NASNet and AmoebaNet train with, and its loss.

`AuxiliaryHead` is the head; `AuxiliaryLossMixin` gives a Keras model whose
training call returns `(predictions, aux_predictions)` the papers' loss:
the compiled loss of the predictions plus `aux_weight` times that of the
auxiliary predictions.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", appendix A (slim `nasnet._build_aux_head`); the idea is
Szegedy et al. 2015, "Going Deeper with Convolutions".
"""

import keras
from keras import ops

from keras_nasnet.layers.ops import (
    FusedBatchNormalization,
    kernel_initializer,
    kernel_regularizer,
)


@keras.saving.register_keras_serializable(package="keras_nasnet")
class AuxiliaryHead(keras.layers.Layer):
    """ReLU -> avg pool 5x5/3 -> 1x1 conv 128 -> BN -> ReLU -> conv 768 -> BN -> ReLU -> dense.

    The second conv covers the whole pooled map (VALID), so the output is one
    768-vector per example. On maps smaller than 5x5 the pool window shrinks
    to the map (the released code assumes at least 5x5; this keeps tiny
    search-time proxies buildable).

    Args:
        num_classes: number of output units.
        classifier_activation: activation of the dense layer (the main head's).
        bn_momentum: BatchNormalization momentum.
        bn_epsilon: BatchNormalization epsilon.
        weight_decay: slim-style weight decay (`L2(weight_decay / 2)`).
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        inputs: a cell output, `[batch, height, width, channels]` with static
            spatial sizes.
        training: passed to BatchNormalization.

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", appendix A.

    Example:

    >>> head = AuxiliaryHead(10)
    >>> head(keras.Input((8, 8, 64))).shape
    (None, 10)
    """

    def __init__(
        self,
        num_classes,
        classifier_activation="softmax",
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        weight_decay=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        if (
            isinstance(num_classes, bool)
            or not isinstance(num_classes, int)
            or num_classes < 1
        ):
            raise ValueError(
                "Invalid value received for argument `num_classes`. Expected a "
                f"positive integer. Received: num_classes={num_classes!r}"
            )
        self.num_classes = num_classes
        self.classifier_activation = classifier_activation
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.weight_decay = float(weight_decay)

    def build(self, input_shape):
        _, h, w, _ = input_shape
        if h is None or w is None:
            raise ValueError(
                "AuxiliaryHead needs static spatial sizes. Received: "
                f"input_shape={input_shape}"
            )
        pool = (min(5, h), min(5, w))

        def conv(filters, kernel_size, name):
            return keras.layers.Conv2D(
                filters,
                kernel_size,
                padding="valid",
                use_bias=False,
                kernel_initializer=kernel_initializer(),
                kernel_regularizer=kernel_regularizer(self.weight_decay),
                dtype=self.dtype_policy,
                name=name,
            )

        def bn(name):
            return FusedBatchNormalization(
                momentum=self.bn_momentum,
                epsilon=self.bn_epsilon,
                dtype=self.dtype_policy,
                name=name,
            )

        self.pool = keras.layers.AveragePooling2D(
            pool, strides=3, padding="valid", dtype=self.dtype_policy, name="pool"
        )
        shape = self.pool.compute_output_shape(input_shape)
        self.proj = conv(128, 1, "proj")
        self.proj.build(shape)
        shape = self.proj.compute_output_shape(shape)
        self.proj_bn = bn("proj_bn")
        self.proj_bn.build(shape)
        self.conv = conv(768, shape[1:3], "conv")
        self.conv.build(shape)
        shape = self.conv.compute_output_shape(shape)
        self.conv_bn = bn("conv_bn")
        self.conv_bn.build(shape)
        self.dense = keras.layers.Dense(
            self.num_classes,
            activation=self.classifier_activation,
            kernel_initializer=kernel_initializer(),
            kernel_regularizer=kernel_regularizer(self.weight_decay),
            dtype=self.dtype_policy,
            name="dense",
        )
        self.dense.build((shape[0], 768))

    def call(self, inputs, training=None):
        x = self.pool(ops.relu(inputs))
        x = ops.relu(self.proj_bn(self.proj(x), training=training))
        x = ops.relu(self.conv_bn(self.conv(x), training=training))
        x = ops.reshape(x, (-1, 768))
        return self.dense(x)

    def compute_output_shape(self, input_shape):
        return (input_shape[0], self.num_classes)

    def get_config(self):
        return {
            **super().get_config(),
            "num_classes": self.num_classes,
            "classifier_activation": keras.activations.serialize(
                keras.activations.get(self.classifier_activation)
            ),
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "weight_decay": self.weight_decay,
        }


class AuxiliaryLossMixin:
    """The loss of a model trained with an auxiliary head, written once.

    For a `keras.Model` subclass whose call in training returns
    `(predictions, aux_predictions)` and otherwise the predictions alone:
    `compute_loss` is the compiled loss of the predictions (with the
    model's regularization losses) plus `auxiliary_loss_weight()` times the
    compiled loss of the auxiliary predictions, and `compute_metrics` sees
    the predictions only. A single output is left to Keras.

    Subclasses define `auxiliary_loss_weight()`. Both papers' released code
    weigh the auxiliary loss 0.4 (TF-slim `nasnet`, tensorflow/tpu
    `amoeba_net/model_builder.py` `_build_loss`).
    """

    def auxiliary_loss_weight(self):
        """The weight of the auxiliary loss."""
        raise NotImplementedError

    def compute_loss(
        self, x=None, y=None, y_pred=None, sample_weight=None, training=True
    ):
        if not isinstance(y_pred, (list, tuple)):
            return super().compute_loss(x, y, y_pred, sample_weight, training=training)
        predictions, aux_predictions = y_pred
        loss = super().compute_loss(x, y, predictions, sample_weight, training=training)
        if self._compile_loss is not None:
            aux_loss = self._compile_loss(y, aux_predictions, sample_weight)
            if aux_loss is not None:
                weight = ops.cast(self.auxiliary_loss_weight(), loss.dtype)
                loss = loss + weight * aux_loss
        return loss

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        if isinstance(y_pred, (list, tuple)):
            y_pred = y_pred[0]
        return super().compute_metrics(x, y, y_pred, sample_weight=sample_weight)
