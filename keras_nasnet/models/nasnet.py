"""`NASNet`: the network for any genotype, on a CIFAR or an ImageNet stem.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition" (tensorflow/models research/slim/nets/nasnet/nasnet.py);
Real et al. 2019, "Regularized Evolution for Image Classifier Architecture
Search".
"""

import keras

from keras_nasnet import genotypes as genotypes_lib
from keras_nasnet._validation import fail as _fail
from keras_nasnet._validation import is_int as _is_int
from keras_nasnet.layers.aux_head import AuxiliaryHead, AuxiliaryLossMixin
from keras_nasnet.layers.cell import NASNetCell
from keras_nasnet.layers.drop_path import check_schedule
from keras_nasnet.layers.ops import (
    FusedBatchNormalization,
    kernel_initializer,
    kernel_regularizer,
)
from keras_nasnet.models._steps import SingleTraceMixin
from keras_nasnet.space import CONCAT, Genotype

STEMS = ("cifar", "imagenet")
# stem -> (stem_multiplier, bn_momentum, bn_epsilon), the released defaults.
_STEM_DEFAULTS = {
    "cifar": (3.0, 0.9, 1e-5),
    "imagenet": (1.0, 0.9997, 1e-3),
}


def _as_genotype(genotype):
    if isinstance(genotype, Genotype):
        return genotype
    if isinstance(genotype, dict):
        return Genotype.from_dict(genotype)
    if isinstance(genotype, str):
        text = genotype.strip()
        if text.startswith("{"):
            return Genotype.from_json(text)
        if ":" in text:
            return Genotype.parse(text)
        return genotypes_lib.get(text)
    raise ValueError(
        "Invalid value received for argument `genotype`. Expected a "
        "`Genotype`, its JSON dict or string, its text form, or a published "
        f"genotype's name. Received: genotype={genotype!r}"
    )


def _unread_cells(plan, sources, genotype, aux_cell):
    """Names of the cells whose output no later cell and no head reads.

    A searched cell may leave its h_i or h_{i-1} unread (legal in the NASNet
    space); when the next cell leaves h_i unread and the one after it
    h_{i-1}, a whole cell feeds nothing, and its weights get no gradient.
    Found backwards from the classifier (and the auxiliary head).
    """
    read = {len(plan) - 1}
    if aux_cell is not None:
        read.add(next(i for i, step in enumerate(plan) if step[0] == aux_cell))
    for index in reversed(range(len(plan))):
        if index not in read:
            continue
        kind = plan[index][1]
        live = (
            genotype.reduction if kind == "reduction" else genotype.normal
        ).live_states
        for state in (0, 1):
            if state in live:
                read.add(sources[index][state])
    return tuple(step[0] for i, step in enumerate(plan) if i not in read)


def penultimate_multiplier(genotype):
    """Penultimate channels per unit of `filters` for `genotype`.

    The last normal cell runs at 4F and concatenates its output states, each
    brought to the width of its last block's output (F, or 2F when that block
    concatenates), so `penultimate_filters = filters * 4 * len(concat) *
    (2 if the last block concatenates else 1)`. For NASNet-A (6 states, add)
    that is Keras's `filters = penultimate_filters // 24`.

    Example:

    >>> from keras_nasnet.genotypes import AMOEBANET_A, NASNET_A
    >>> penultimate_multiplier(NASNET_A), penultimate_multiplier(AMOEBANET_A)
    (24, 16)
    """
    genotype = _as_genotype(genotype)
    width = 2 if genotype.normal.blocks[-1].combine == CONCAT else 1
    return 4 * len(genotype.normal.output_states) * width


def _check_int(value, name, minimum):
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected an "
            f"integer >= {minimum}. Received: {name}={value!r}"
        )
    return value


def _check_fraction(value, name, low_open):
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    ok = ok and ((0.0 < value <= 1.0) if low_open else (0.0 <= value < 1.0))
    if not ok:
        interval = "(0, 1]" if low_open else "[0, 1)"
        raise ValueError(
            f"Invalid value received for argument `{name}`. Expected a number "
            f"in {interval}. Received: {name}={value!r}"
        )
    return float(value)


@keras.saving.register_keras_serializable(package="keras_nasnet")
class NASNet(AuxiliaryLossMixin, SingleTraceMixin, keras.Model):
    """A NASNet/AmoebaNet image classifier for any genotype.

    Macro structure ("N@P": N normal cells per stack, P channels at the
    penultimate layer):

    - `stem="cifar"`: 3x3 conv (stride 1, or `stem_strides`) to
      `stem_multiplier * F` channels -> BN; then N normal cells (F), a reduction cell (2F), N normal cells (2F),
      a reduction cell (4F), N normal cells (4F).
    - `stem="imagenet"`: 3x3 conv (stride 2, VALID) to `32 * stem_multiplier`
      channels -> BN; two reduction cells at `F // 4` and `F // 2`; then the
      same three stacks.
    - Head: ReLU -> global average pool -> dropout -> dense.

    Each cell takes the previous cell's output h_i and the one before,
    h_{i-1}; the first cell gets the stem output alone. With
    `skip_reduction_layer_input=True` (NASNet-A large), the cells right after a
    reduction cell get as h_{i-1} the reduction cell's own h_{i-1}.

    Width: give exactly one of `filters` (F) and `penultimate_filters` (P).
    `P = F * penultimate_multiplier(genotype)`, i.e. `F * 4 * len(concat)` for
    an add-combining normal cell: 24F for NASNet-A (Keras's
    `filters = penultimate_filters // 24`), 16F for AmoebaNet-A. A `P` that is
    not a multiple is an error.

    Auxiliary head: with `auxiliary_head=True` an `AuxiliaryHead` reads the
    last normal cell before the second reduction cell. Calling the model with
    `training=True` returns `(logits, aux_logits)`; otherwise (`predict`,
    `evaluate`, export, `model(x)`) only the main output. `compute_loss` adds
    `aux_weight *` the compiled loss of the auxiliary output to the compiled
    loss of the main output, and `compute_metrics` sees the main output only,
    so a plain `model.compile(loss=...)` and `model.fit(x, y)` train both
    heads, on every backend. The Functional graph itself has both outputs
    (`model.outputs`).

    Drop path: with `drop_path_keep_prob < 1`, every op output except
    identity's goes through a `ScheduledDropPath`; train with
    `keras_nasnet.callbacks.DropPathScheduler()` to advance its schedule
    (without it nothing is dropped). The schedule's length is the callback's
    `total_steps`, not a model argument; its shape is `drop_path_schedule`:
    NASNet's (keep less in deeper cells and later in training) or
    AmoebaNet's (later in training only).

    The model is a Functional model whose `get_config()` returns its
    constructor arguments (the genotype as its JSON dict) and whose
    `from_config` is `cls(**config)`, so `.keras` files reload.

    Args:
        genotype: a `Genotype`, its JSON dict or string, its text form, or the
            name of a published genotype (`"nasnet_a"`, `"amoebanet_a"`, ...).
        cells_per_stack: N, the number of normal cells per stack.
        filters: F, the width of the first stack's cells.
        penultimate_filters: P, the width of the last cell's output.
        stem: `"cifar"` or `"imagenet"`.
        stem_multiplier: stem width factor; defaults to 3 (CIFAR: 3F) or 1
            (ImageNet: 32; NASNet-A large uses 3).
        stem_strides: stride of the CIFAR stem's conv: 1 (the papers') or 2,
            which halves every feature map and cuts the compute about 4x
            (ours, for cheap search proxies on small images such as 28x28
            Fashion-MNIST; it adds no weights). Must be 1 with the ImageNet
            stem.
        skip_reduction_layer_input: see above (NASNet-A large: True).
        num_classes: number of classes.
        input_shape: `(height, width, channels)` with static sizes.
        auxiliary_head: add the auxiliary head for training.
        aux_weight: the auxiliary loss weight (0.4 in both papers' released
            code).
        drop_path_keep_prob: the keep probability of the last cell at the end
            of training (CIFAR 0.6, ImageNet large 0.7; 1 disables).
        drop_path_schedule: `"nasnet"` (TF-slim's "v3": scaled by the cell's
            depth and by time) or `"amoebanet"` (tensorflow/tpu's "v1": by
            time only); see `keras_nasnet.layers.drop_path_keep_prob`.
        dropout: dropout rate before the classifier.
        weight_decay: slim-style weight decay on conv and dense kernels,
            `L2(weight_decay / 2)` (the papers' 5e-4 on CIFAR).
        bn_momentum: BatchNormalization momentum; defaults to 0.9 (CIFAR) or
            0.9997 (ImageNet).
        bn_epsilon: BatchNormalization epsilon; defaults to 1e-5 (CIFAR) or
            1e-3 (ImageNet).
        classifier_activation: activation of the classifier(s); `"softmax"`
            as in `keras.applications`, or None for logits.
        name: the model name.
        **kwargs: forwarded to `keras.Model` (e.g. `trainable`, `dtype`).

    Raises:
        ValueError: on an invalid argument, naming it.

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", section 3 and appendix A.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A
    >>> model = NASNet(NASNET_A, cells_per_stack=1, penultimate_filters=96,
    ...                input_shape=(16, 16, 3), num_classes=10)
    >>> model.filters, model.output_shape
    (4, (None, 10))
    """

    def __init__(
        self,
        genotype,
        cells_per_stack,
        filters=None,
        penultimate_filters=None,
        stem="cifar",
        stem_multiplier=None,
        stem_strides=1,
        skip_reduction_layer_input=False,
        num_classes=10,
        input_shape=(32, 32, 3),
        auxiliary_head=False,
        aux_weight=0.4,
        drop_path_keep_prob=1.0,
        drop_path_schedule="nasnet",
        dropout=0.0,
        weight_decay=0.0,
        bn_momentum=None,
        bn_epsilon=None,
        classifier_activation="softmax",
        name="nasnet",
        **kwargs,
    ):
        config = {
            "genotype": None,
            "cells_per_stack": cells_per_stack,
            "filters": filters,
            "penultimate_filters": penultimate_filters,
            "stem": stem,
            "stem_multiplier": stem_multiplier,
            "stem_strides": stem_strides,
            "skip_reduction_layer_input": skip_reduction_layer_input,
            "num_classes": num_classes,
            "input_shape": None,
            "auxiliary_head": auxiliary_head,
            "aux_weight": aux_weight,
            "drop_path_keep_prob": drop_path_keep_prob,
            "drop_path_schedule": drop_path_schedule,
            "dropout": dropout,
            "weight_decay": weight_decay,
            "bn_momentum": bn_momentum,
            "bn_epsilon": bn_epsilon,
            "classifier_activation": classifier_activation,
        }
        genotype = _as_genotype(genotype)
        config["genotype"] = genotype.to_dict()
        if keras.config.image_data_format() != "channels_last":
            raise ValueError(
                "NASNet supports only the channels_last image data format. "
                f"Received: image_data_format={keras.config.image_data_format()!r}"
            )
        _check_int(cells_per_stack, "cells_per_stack", 1)
        if stem not in STEMS:
            raise ValueError(
                "Invalid value received for argument `stem`. Expected one of "
                f"{STEMS}. Received: stem={stem!r}"
            )
        multiplier = penultimate_multiplier(genotype)
        if (filters is None) == (penultimate_filters is None):
            raise ValueError(
                "Pass exactly one of `filters` and `penultimate_filters`. "
                f"Received: filters={filters!r}, "
                f"penultimate_filters={penultimate_filters!r}"
            )
        if penultimate_filters is not None:
            _check_int(penultimate_filters, "penultimate_filters", multiplier)
            if penultimate_filters % multiplier:
                raise ValueError(
                    "Invalid value received for argument `penultimate_filters`. "
                    f"Expected a multiple of {multiplier} for this genotype "
                    f"(penultimate = filters * {multiplier}). Received: "
                    f"penultimate_filters={penultimate_filters}"
                )
            filters = penultimate_filters // multiplier
        if not _is_int(stem_strides) or stem_strides not in (1, 2):
            _fail("stem_strides", "1 or 2", stem_strides)
        stem_strides = config["stem_strides"] = int(stem_strides)
        if stem == "imagenet" and stem_strides != 1:
            _fail(
                "stem_strides",
                "1 with stem='imagenet' (its stem conv already has stride 2)",
                stem_strides,
            )
        min_filters = 8 if stem == "imagenet" else 2
        _check_int(filters, "filters", min_filters)
        default_multiplier, default_momentum, default_epsilon = _STEM_DEFAULTS[stem]
        stem_multiplier = (
            default_multiplier if stem_multiplier is None else stem_multiplier
        )
        if not isinstance(stem_multiplier, (int, float)) or stem_multiplier <= 0:
            raise ValueError(
                "Invalid value received for argument `stem_multiplier`. "
                f"Expected a positive number. Received: stem_multiplier={stem_multiplier!r}"
            )
        bn_momentum = default_momentum if bn_momentum is None else float(bn_momentum)
        bn_epsilon = default_epsilon if bn_epsilon is None else float(bn_epsilon)
        _check_int(num_classes, "num_classes", 1)
        input_shape = tuple(input_shape)
        if len(input_shape) != 3 or any(
            isinstance(s, bool) or not isinstance(s, int) or s < 1 for s in input_shape
        ):
            raise ValueError(
                "Invalid value received for argument `input_shape`. Expected "
                "(height, width, channels) as positive integers. Received: "
                f"input_shape={input_shape!r}"
            )
        config["input_shape"] = list(input_shape)
        aux_weight = float(aux_weight)
        drop_path_keep_prob = _check_fraction(
            drop_path_keep_prob, "drop_path_keep_prob", low_open=True
        )
        check_schedule(drop_path_schedule, "drop_path_schedule")
        dropout = _check_fraction(dropout, "dropout", low_open=False)
        if weight_decay < 0:
            raise ValueError(
                "Invalid value received for argument `weight_decay`. Expected "
                f"a number >= 0. Received: weight_decay={weight_decay!r}"
            )

        common = {
            "bn_momentum": bn_momentum,
            "bn_epsilon": bn_epsilon,
            "weight_decay": float(weight_decay),
        }
        images = keras.Input(shape=input_shape, name="images")
        if stem == "imagenet":
            stem_filters, conv_strides, stem_padding = (
                int(32 * stem_multiplier),
                2,
                "valid",
            )
        else:
            stem_filters, conv_strides, stem_padding = (
                int(filters * stem_multiplier),
                stem_strides,
                "same",
            )
        x = keras.layers.Conv2D(
            stem_filters,
            3,
            strides=conv_strides,
            padding=stem_padding,
            use_bias=False,
            kernel_initializer=kernel_initializer(),
            kernel_regularizer=kernel_regularizer(weight_decay),
            name="stem_conv",
        )(images)
        x = FusedBatchNormalization(
            momentum=bn_momentum, epsilon=bn_epsilon, name="stem_bn"
        )(x)

        # (layer name, "normal" | "reduction", width, is a stem cell)
        plan = []
        if stem == "imagenet":
            plan += [("stem_cell_0", "reduction", filters // 4, True)]
            plan += [("stem_cell_1", "reduction", filters // 2, True)]
        for stack in range(3):
            width = filters * 2**stack
            if stack:
                plan.append((f"reduction_cell_{stack - 1}", "reduction", width, False))
            for i in range(cells_per_stack):
                plan.append(
                    (f"cell_{stack * cells_per_stack + i}", "normal", width, False)
                )
        # The auxiliary head reads the last normal cell before the second
        # (non-stem) reduction cell.
        aux_after = f"cell_{2 * cells_per_stack - 1}"

        h, h_prev = x, None
        # Where each cell's states 0 (h_i) and 1 (h_{i-1}) come from: the
        # index of the cell in `plan`, or -1 for the stem.
        h_source, prev_source, sources = -1, None, []
        aux_logits = None
        for cell_index, (cell_name, kind, width, is_stem) in enumerate(plan):
            cell = NASNetCell(
                genotype.reduction if kind == "reduction" else genotype.normal,
                width,
                reduction=kind == "reduction",
                cell_index=cell_index,
                total_cells=len(plan),
                drop_path_keep_prob=drop_path_keep_prob,
                name=cell_name,
                **common,
            )
            out = cell(h if h_prev is None else [h, h_prev])
            # NASNetCell builds its ScheduledDropPath layers with NASNet's
            # schedule; the layers read `schedule` when called in training.
            for layer in cell.drop_paths:
                layer.schedule = drop_path_schedule
            skip = skip_reduction_layer_input and kind == "reduction" and not is_stem
            # Skipping: the next cell's h_{i-1} is this reduction cell's own.
            h, h_prev = out, (h_prev if skip else h)
            sources.append((h_source, h_source if prev_source is None else prev_source))
            h_source, prev_source = (
                cell_index,
                (prev_source if skip else h_source),
            )
            if auxiliary_head and cell_name == aux_after:
                aux_logits = AuxiliaryHead(
                    num_classes,
                    classifier_activation=classifier_activation,
                    name="aux_head",
                    **common,
                )(out)

        x = keras.layers.ReLU(name="head_relu")(h)
        x = keras.layers.GlobalAveragePooling2D(name="avg_pool")(x)
        if dropout:
            x = keras.layers.Dropout(dropout, name="dropout")(x)
        logits = keras.layers.Dense(
            num_classes,
            activation=classifier_activation,
            kernel_initializer=kernel_initializer(),
            kernel_regularizer=kernel_regularizer(weight_decay),
            name="predictions",
        )(x)
        outputs = [logits, aux_logits] if auxiliary_head else logits
        super().__init__(inputs=images, outputs=outputs, name=name, **kwargs)

        self._nasnet_config = config
        self.unread_cells = _unread_cells(
            plan, sources, genotype, aux_after if auxiliary_head else None
        )
        self.genotype = genotype
        self.cells_per_stack = cells_per_stack
        self.filters = filters
        self.penultimate_filters = filters * multiplier
        self.stem = stem
        self.stem_multiplier = stem_multiplier
        self.stem_strides = stem_strides
        self.skip_reduction_layer_input = bool(skip_reduction_layer_input)
        self.num_classes = num_classes
        self.auxiliary_head = bool(auxiliary_head)
        self.aux_weight = aux_weight
        self.drop_path_keep_prob = drop_path_keep_prob
        self.drop_path_schedule = drop_path_schedule
        self.dropout = dropout
        self.weight_decay = float(weight_decay)
        self.bn_momentum = bn_momentum
        self.bn_epsilon = bn_epsilon
        self.classifier_activation = classifier_activation

    def call(self, inputs, training=None, mask=None):
        outputs = super().call(inputs, training=training, mask=mask)
        if self.auxiliary_head and not training:
            return outputs[0]
        return outputs

    def compute_output_spec(self, inputs, training=None, mask=None):
        spec = super().compute_output_spec(inputs, training=training, mask=mask)
        if self.auxiliary_head and not training:
            return spec[0]
        return spec

    def auxiliary_loss_weight(self):
        return self.aux_weight

    def get_config(self):
        return {
            **self._nasnet_config,
            "name": self.name,
            "trainable": self.trainable,
        }

    @classmethod
    def from_config(cls, config):
        return cls(**config)
