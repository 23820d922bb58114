"""Parameters and multiply-adds of a NASNet network, from its genotype alone.

`network_cost(genotype, cells_per_stack, filters=..., ...)` walks the network
that `keras_nasnet.models.NASNet` would build for the same arguments, layer by
layer, with the builder's rules, and tallies:

- `params`: every weight, as Keras's `model.count_params()` counts them (the
  BatchNormalization moving statistics included, as in the published
  5,326,716 of NASNet-A mobile);
- `trainable_params`: the weights training updates (what the papers quote);
- `macs`: multiply-adds of one inference on one image: those of every
  convolution (regular, depthwise and pointwise) and dense layer, as the
  NASNet paper's "mult-adds". BatchNormalization, ReLU, pooling, additions and
  the classifier's bias are not counted.

Nothing is built, so it takes about a millisecond for a search-size child, and
it imports no Keras: an oracle may call it on a chief without Keras.
`params` and `macs` are its two halves. They are exact for the builder: the
parameter count equals the built model's `count_params()`, and the MACs equal
`keras_nasnet.models.measure.count_macs` of the built model's layers.

Where the builder computes more than the genotype asks for, so does this count:
a dilated op with stride 2 (`dil_conv_3x3`, `dil_sep_conv_3x3` on a reduction
cell's inputs) runs the stride-1 dilated convolution and subsamples, so its
MACs are those of the full-size convolution (Keras cannot stride and dilate at
once; see `keras_nasnet.layers.ops`).

The builder's rules this module encodes are marked `# Rule:`; each mirrors one
place of `keras_nasnet.layers` or `keras_nasnet.models.nasnet`, and a change
there is a change of that line here (the tests compare against built models).

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition" (mult-adds, table 2); Tan et al. 2019, "MnasNet:
Platform-Aware Neural Architecture Search for Mobile" (multiply-adds and
latency as search costs).
"""

import dataclasses

from keras_nasnet import _validation
from keras_nasnet.space import ops as ops_lib
from keras_nasnet.space.genotype import Genotype

STEMS = ("cifar", "imagenet")
# stem -> default stem_multiplier, as `NASNet` (models/nasnet.py _STEM_DEFAULTS).
_STEM_MULTIPLIERS = {"cifar": 3.0, "imagenet": 1.0}
# stem -> the smallest `filters` `NASNet` accepts (the ImageNet stem cells run
# at F // 4 and F // 2).
_MIN_FILTERS = {"cifar": 2, "imagenet": 8}
# The auxiliary head's widths (layers/aux_head.py).
_AUX_PROJECTION = 128
_AUX_FEATURES = 768


@dataclasses.dataclass(frozen=True)
class Cost:
    """What one network costs, known before it is built.

    Attributes:
        params: every weight, as Keras's `count_params()` (BN moving
            statistics included).
        trainable_params: the trainable weights (the papers' count).
        macs: multiply-adds of convolutions and dense layers for one
            inference on one image.
    """

    params: int
    trainable_params: int
    macs: int


class _Tally:
    """Adds up weights and multiply-adds as the walk meets layers."""

    def __init__(self):
        self.trainable = 0
        self.frozen = 0
        self.macs = 0

    def conv(self, kernel, c_in, c_out, out):
        """A Conv2D without bias; `kernel` is `(kh, kw)`, `out` `(h, w)`."""
        weights = kernel[0] * kernel[1] * c_in * c_out
        self.trainable += weights
        self.macs += weights * out[0] * out[1]

    def separable_conv(self, kernel, c_in, c_out, out):
        """A SeparableConv2D, depth multiplier 1, without bias."""
        weights = kernel * kernel * c_in + c_in * c_out
        self.trainable += weights
        self.macs += weights * out[0] * out[1]

    def batch_norm(self, channels):
        self.trainable += 2 * channels  # gamma, beta
        self.frozen += 2 * channels  # moving mean, moving variance

    def dense(self, c_in, c_out):
        self.trainable += c_in * c_out + c_out
        self.macs += c_in * c_out


def _same(size, stride):
    # SAME padding: the stride alone sets the size.
    return -(-size // stride)


def _strided(shape, strides, channels):
    h, w, _ = shape
    return (_same(h, strides), _same(w, strides), channels)


# Each function below mirrors one layer of keras_nasnet.layers.ops: it tallies
# the layer's weights and MACs for an input of `shape` (h, w, c) and returns
# its output shape.


def _relu_conv_bn(tally, shape, filters, strides=1):
    # ReLUConvBN(filters, 1, strides)
    out = _strided(shape, strides, filters)
    tally.conv((1, 1), shape[2], filters, out)
    tally.batch_norm(filters)
    return out


def _factorized_reduction(tally, shape, filters, strides):
    # FactorizedReduction(filters, strides)
    if strides == 1:
        out = shape[:2] + (filters,)
        tally.conv((1, 1), shape[2], filters, out)
    else:
        # Rule: an odd `filters` gives `filters - 1` channels (two paths of
        # filters // 2), as layers/ops.py FactorizedReduction on main.
        half = filters // 2
        out = _strided(shape, 2, 2 * half)
        tally.conv((1, 1), shape[2], half, out)
        tally.conv((1, 1), shape[2], half, out)
    tally.batch_norm(out[2])
    return out


def _separable_stack(tally, shape, filters, kernel, strides, num_layers, dilation):
    # SeparableConvStack: [ReLU -> sep conv -> BN] x num_layers, the stride in
    # the first. Rule: a dilated conv cannot stride in Keras, so it runs at
    # stride 1 and is subsampled: its MACs are the full-size conv's.
    out = _strided(shape, strides, filters)
    for i in range(num_layers):
        c_in = shape[2] if i == 0 else filters
        computed = shape if (i == 0 and dilation > 1) else out
        tally.separable_conv(kernel, c_in, filters, computed)
        tally.batch_norm(filters)
    return out


def _bottleneck(tally, shape, filters, conv_type, strides):
    # BottleneckConv: [1x1 (reduced) -> BN] -> inner conv(s) -> BN -> [1x1 -> BN].
    # Rule: the bottleneck is F/4 (3F/8 for 1x3-3x1), skipped when it is 0.
    reduced = 3 * filters // 8 if conv_type == "1x3_3x1" else filters // 4
    inner = reduced if reduced >= 1 else filters
    h, w, c = shape
    if reduced >= 1:
        tally.conv((1, 1), c, reduced, (h, w))
        tally.batch_norm(reduced)
        c = reduced
    out = _strided(shape, strides, inner)
    if conv_type == "3x3":
        tally.conv((3, 3), c, inner, out)
    elif conv_type == "dilated_3x3":
        tally.conv((3, 3), c, inner, (h, w))  # stride 1, then subsampled
    else:
        k = int(conv_type[2])
        tally.conv((1, k), c, inner, (h, out[1]))
        tally.batch_norm(inner)
        tally.conv((k, 1), inner, inner, out)
    tally.batch_norm(inner)
    if reduced >= 1:
        tally.conv((1, 1), inner, filters, out)
        tally.batch_norm(filters)
    return out[:2] + (filters,)


def _identity(tally, shape, filters, strides):
    # IdentityOp: a no-op, or ReLU -> 1x1 conv(stride) -> BN.
    if strides > 1 or shape[2] != filters:
        return _relu_conv_bn(tally, shape, filters, strides)
    return shape


def _pool(tally, shape, filters, strides):
    # PoolOp: pooling (no weights), then 1x1 conv -> BN if the channels differ.
    out = _strided(shape, strides, shape[2])
    if shape[2] != filters:
        tally.conv((1, 1), shape[2], filters, out)
        tally.batch_norm(filters)
        out = out[:2] + (filters,)
    return out


def _sep(kernel, num_layers=2, dilation=1):
    def op(tally, shape, filters, strides):
        return _separable_stack(
            tally, shape, filters, kernel, strides, num_layers, dilation
        )

    return op


def _bottleneck_op(conv_type):
    def op(tally, shape, filters, strides):
        return _bottleneck(tally, shape, filters, conv_type, strides)

    return op


# op name -> f(tally, input shape, filters, strides) -> output shape, as
# layers/ops.py _OP_FACTORIES.
_OPS = {
    ops_lib.IDENTITY: _identity,
    ops_lib.CONV_1X3_3X1: _bottleneck_op("1x3_3x1"),
    ops_lib.CONV_1X7_7X1: _bottleneck_op("1x7_7x1"),
    ops_lib.DIL_CONV_3X3: _bottleneck_op("dilated_3x3"),
    ops_lib.AVG_POOL_3X3: _pool,
    ops_lib.MAX_POOL_3X3: _pool,
    ops_lib.MAX_POOL_5X5: _pool,
    ops_lib.MAX_POOL_7X7: _pool,
    ops_lib.CONV_1X1: _relu_conv_bn,
    ops_lib.CONV_3X3: _bottleneck_op("3x3"),
    ops_lib.SEP_CONV_3X3: _sep(3),
    ops_lib.SEP_CONV_5X5: _sep(5),
    ops_lib.SEP_CONV_7X7: _sep(7),
    ops_lib.DIL_SEP_CONV_3X3: _sep(3, num_layers=1, dilation=2),
}
assert set(_OPS) == set(ops_lib.ALL_OPS)


def _built_states(cell):
    """The states whose layers the builder builds (layers/cell.py)."""
    # Rule: only the states the output depends on (`Cell.live_states`, which
    # `NASNetCell` also follows).
    return frozenset(cell.live_states)


def _cell(tally, cell, filters, reduction, h, prev):
    """Tallies one NASNetCell on inputs of shapes `h`, `prev` (or None).

    Returns the cell's output shape. Mirrors layers/cell.py `NASNetCell.build`.
    """
    built = _built_states(cell)
    discard = _Tally()

    def tally_for(state):
        return tally if state in built else discard

    # Inputs: h_i -> ReLU -> 1x1 conv -> BN; h_{i-1}: factorized reduction if
    # its size differs, 1x1 conv if its channels differ, else unchanged; a
    # cell without h_{i-1} uses h_i, unprepared, as state 1.
    states = [_relu_conv_bn(tally_for(0), h, filters)]
    if prev is None:
        states.append(h)
    elif prev[:2] != h[:2]:
        states.append(_factorized_reduction(tally_for(1), prev, filters, 2))
    elif prev[2] != filters:
        states.append(_relu_conv_bn(tally_for(1), prev, filters))
    else:
        states.append(prev)

    for b, block in enumerate(cell.blocks):
        outputs = []
        for op, index in zip(block.ops, block.inputs, strict=True):
            # Rule: in a reduction cell, only ops on the cell inputs stride.
            strides = 2 if reduction and index < 2 else 1
            outputs.append(_OPS[op](tally_for(2 + b), states[index], filters, strides))
        a, c = outputs
        if block.combine == ops_lib.CONCAT:
            states.append(a[:2] + (a[2] + c[2],))
        else:
            states.append(a)

    # Output: each concatenated state is brought to the last block's size and
    # channels by a factorized reduction (stride 2 if the size differs).
    final = states[-1]
    channels = 0
    for index in cell.output_states:
        shape = states[index]
        if shape != final:
            strides = 2 if shape[:2] != final[:2] else 1
            shape = _factorized_reduction(tally, shape, final[2], strides)
        channels += shape[2]
    return final[:2] + (channels,)


def _aux_head(tally, shape, num_classes):
    # AuxiliaryHead: ReLU -> avg pool (5x5, or the map if smaller) / 3 VALID ->
    # 1x1 conv 128 -> BN -> ReLU -> conv over the whole map to 768 -> BN ->
    # ReLU -> dense.
    h, w, c = shape
    pooled = ((h - min(5, h)) // 3 + 1, (w - min(5, w)) // 3 + 1)
    tally.conv((1, 1), c, _AUX_PROJECTION, pooled)
    tally.batch_norm(_AUX_PROJECTION)
    tally.conv(pooled, _AUX_PROJECTION, _AUX_FEATURES, (1, 1))
    tally.batch_norm(_AUX_FEATURES)
    tally.dense(_AUX_FEATURES, num_classes)


def penultimate_multiplier(genotype):
    """Penultimate channels per unit of `filters` for `genotype`.

    The last normal cell runs at 4F and concatenates its output states, each
    brought to the width of its last block's output (F, or 2F when that block
    concatenates): `4 * len(concat) * (2 if the last block concatenates else
    1)`. `keras_nasnet.models.penultimate_multiplier` is the same rule.

    Example:

    >>> from keras_nasnet.genotypes import AMOEBANET_A, NASNET_A
    >>> penultimate_multiplier(NASNET_A), penultimate_multiplier(AMOEBANET_A)
    (24, 16)
    """
    genotype = _check_genotype(genotype)
    width = 2 if genotype.normal.blocks[-1].combine == ops_lib.CONCAT else 1
    return 4 * len(genotype.normal.output_states) * width


def _check_genotype(genotype):
    if not isinstance(genotype, Genotype):
        _validation.fail(
            "genotype",
            "a `keras_nasnet.space.Genotype` (parse text or JSON with "
            "`Genotype.parse` / `Genotype.from_json`)",
            genotype,
        )
    return genotype


def _check_size(
    genotype,
    cells_per_stack,
    filters,
    penultimate_filters,
    stem,
    stem_multiplier,
    num_classes,
    input_shape,
):
    """Validates the size arguments as `NASNet` does; returns them resolved."""
    genotype = _check_genotype(genotype)
    cells_per_stack = _validation.check_int("cells_per_stack", cells_per_stack, 1)
    if stem not in STEMS:
        _validation.fail("stem", f"one of {STEMS}", stem)
    if (filters is None) == (penultimate_filters is None):
        _validation.fail(
            "filters",
            "exactly one of `filters` and `penultimate_filters` to be given",
            filters,
        )
    if penultimate_filters is not None:
        multiplier = penultimate_multiplier(genotype)
        if not _validation.is_int(penultimate_filters) or (
            penultimate_filters < multiplier or penultimate_filters % multiplier
        ):
            _validation.fail(
                "penultimate_filters",
                f"a positive multiple of {multiplier} for this genotype "
                f"(penultimate = filters * {multiplier})",
                penultimate_filters,
            )
        filters = int(penultimate_filters) // multiplier
    filters = _validation.check_int("filters", filters, _MIN_FILTERS[stem])
    if stem_multiplier is None:
        stem_multiplier = _STEM_MULTIPLIERS[stem]
    if not _validation.is_real(stem_multiplier) or not stem_multiplier > 0:
        _validation.fail("stem_multiplier", "a positive number", stem_multiplier)
    num_classes = _validation.check_int("num_classes", num_classes, 1)
    shape = tuple(input_shape) if isinstance(input_shape, (list, tuple)) else None
    # The ImageNet stem's VALID 3x3 conv needs 3 pixels.
    least = 3 if stem == "imagenet" else 1
    if (
        shape is None
        or len(shape) != 3
        or not all(_validation.is_int(s) and s >= 1 for s in shape)
        or min(shape[:2]) < least
    ):
        _validation.fail(
            "input_shape",
            f"(height, width, channels) as positive integers (height and "
            f"width >= {least} for the {stem} stem)",
            input_shape,
        )
    shape = tuple(int(s) for s in shape)
    return genotype, cells_per_stack, filters, stem_multiplier, num_classes, shape


def network_cost(
    genotype,
    cells_per_stack,
    filters=None,
    penultimate_filters=None,
    stem="cifar",
    stem_multiplier=None,
    skip_reduction_layer_input=False,
    num_classes=10,
    input_shape=(32, 32, 3),
    auxiliary_head=False,
    stem_strides=1,
):
    """The `Cost` of `NASNet(genotype, ...)` with the same size arguments.

    The arguments are `keras_nasnet.models.NASNet`'s that set its size (those
    that do not, such as `dropout` or `weight_decay`, change no count).

    Args:
        genotype: a `keras_nasnet.space.Genotype`.
        cells_per_stack: N, the number of normal cells per stack.
        filters: F, the width of the first stack's cells.
        penultimate_filters: P, the width of the last cell's output; give
            exactly one of `filters` and `penultimate_filters`.
        stem: `"cifar"` or `"imagenet"`.
        stem_multiplier: stem width factor; defaults to 3 (CIFAR) or 1
            (ImageNet).
        skip_reduction_layer_input: NASNet-A large's wiring (see `NASNet`).
        num_classes: number of classes.
        input_shape: `(height, width, channels)`.
        auxiliary_head: count the auxiliary head too (a training-time cost;
            the deployed model has none).
        stem_strides: stride of the CIFAR stem's conv, 1 (the papers') or 2
            (`keras_nasnet.training.SEARCH_PROXY`'s, a quarter of the MACs).

    Returns:
        A `Cost(params, trainable_params, macs)`.

    Raises:
        ValueError: on an invalid argument, naming it.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A, NASNET_A_MOBILE
    >>> mobile = network_cost(NASNET_A, **NASNET_A_MOBILE)  # 4@1056, 224 px
    >>> mobile.params
    5326716
    >>> round(mobile.macs / 1e6)
    564
    """
    genotype, n, f, stem_multiplier, num_classes, input_shape = _check_size(
        genotype,
        cells_per_stack,
        filters,
        penultimate_filters,
        stem,
        stem_multiplier,
        num_classes,
        input_shape,
    )
    if not _validation.is_int(stem_strides) or stem_strides not in (1, 2):
        _validation.fail("stem_strides", "1 or 2", stem_strides)
    if stem == "imagenet" and stem_strides != 1:
        _validation.fail("stem_strides", "1 with the imagenet stem", stem_strides)
    s = int(stem_strides)
    tally = _Tally()
    h, w, c = input_shape
    # Stem: 3x3 conv -> BN. ImageNet: stride 2 VALID to 32 x multiplier;
    # CIFAR: stride `stem_strides` SAME to F x multiplier (models/nasnet.py).
    if stem == "imagenet":
        x = ((h - 3) // 2 + 1, (w - 3) // 2 + 1, int(32 * stem_multiplier))
    else:
        x = (-(-h // s), -(-w // s), int(f * stem_multiplier))
    tally.conv((3, 3), c, x[2], x)
    tally.batch_norm(x[2])

    # (kind, width, is a stem cell, feeds the auxiliary head), in order.
    plan = []
    if stem == "imagenet":
        plan += [("reduction", f // 4, True, False), ("reduction", f // 2, True, False)]
    for stack in range(3):
        width = f * 2**stack
        if stack:
            plan.append(("reduction", width, False, False))
        for i in range(n):
            # The auxiliary head reads the last normal cell of the second stack.
            plan.append(("normal", width, False, stack == 1 and i == n - 1))

    h_shape, prev = x, None
    for kind, width, is_stem, feeds_aux in plan:
        reduction = kind == "reduction"
        cell = genotype.reduction if reduction else genotype.normal
        out = _cell(tally, cell, width, reduction, h_shape, prev)
        # Skipping: the next cell's h_{i-1} is this reduction cell's own.
        skip = skip_reduction_layer_input and reduction and not is_stem
        h_shape, prev = out, (prev if skip else h_shape)
        if auxiliary_head and feeds_aux:
            _aux_head(tally, out, num_classes)

    # Head: ReLU -> global average pool -> (dropout) -> dense.
    tally.dense(h_shape[2], num_classes)
    return Cost(
        params=tally.trainable + tally.frozen,
        trainable_params=tally.trainable,
        macs=tally.macs,
    )


def params(genotype, cells_per_stack, **kwargs):
    """Parameters of `NASNet(genotype, cells_per_stack, **kwargs)`, unbuilt.

    Equal to the built model's `count_params()` (BN moving statistics
    included). `kwargs` are `network_cost`'s.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A
    >>> params(NASNET_A, 6, penultimate_filters=768)  # CIFAR NASNet-A 6@768
    3383786
    """
    return network_cost(genotype, cells_per_stack, **kwargs).params


def macs(genotype, cells_per_stack, **kwargs):
    """Multiply-adds of one inference of `NASNet(genotype, ...)` on one image.

    Convolutions and dense layers only (the NASNet paper's mult-adds); no
    auxiliary head unless `auxiliary_head=True`. `kwargs` are
    `network_cost`'s.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A
    >>> round(macs(NASNET_A, 6, penultimate_filters=768) / 1e6)
    544
    """
    return network_cost(genotype, cells_per_stack, **kwargs).macs
