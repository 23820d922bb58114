"""The NASNet cell: any genotype `Cell`, normal or reduction, as one Keras layer.

Wiring, as in the released code (slim `nasnet_utils.NasNetABaseCell`):

1. Input preparation. State 0 is h_i -> ReLU -> 1x1 conv(F) -> BN. State 1 is
   h_{i-1}: when its spatial size differs from h_i's, ReLU -> factorized
   reduction to F; else, when its channels differ from F, ReLU -> 1x1 conv ->
   BN; else unchanged. A cell called on h_i alone (the first cell, which has
   no h_{i-1}) uses h_i itself, unprepared, as state 1.
2. Blocks. Block b applies its two ops to two earlier states and adds (or
   concatenates) the results into state 2 + b. In a reduction cell only the
   ops reading state 0 or 1 have stride 2. Every op output except identity's
   goes through `ScheduledDropPath` (when `drop_path_keep_prob < 1`).
3. Output. Each state of the cell's concat list whose spatial size or channels
   differ from the last block's output goes through a factorized reduction to
   the last block's channels (stride 2 if the size differs, else a 1x1 conv ->
   BN), then the states are concatenated along channels.

Only what the output depends on is built: a searched cell may leave an input
unread (no block reads h_{i-1}), or, with an explicit concat list, a block
whose state nothing reads. The released code builds their layers anyway; here
they are left out, so that every weight gets a gradient (Keras warns about
"Gradients do not exist for variables" otherwise) and none is counted as a
parameter (`Cell.live_states` names the states kept). The published
genotypes read every state: their parameter counts are the released ones.

Every op maps its input to F channels, so an "add" block outputs F channels
and a "concat" block 2F; later ops (identity and pooling included) project a
2F input back to F, and step 3 brings the concatenated states to a common
width.

Reference: Zoph et al. 2018, "Learning Transferable Architectures for Scalable
Image Recognition", section 3 and figure 4.
"""

import keras
from keras import ops

from keras_nasnet._validation import check_int, fail
from keras_nasnet.layers.drop_path import ScheduledDropPath
from keras_nasnet.layers.ops import FactorizedReduction, ReLUConvBN, make_op
from keras_nasnet.space import Cell
from keras_nasnet.space import ops as space_ops


def _as_cell(cell):
    if isinstance(cell, Cell):
        return cell
    if isinstance(cell, dict):
        return Cell.from_dict(cell)
    if isinstance(cell, str):
        return Cell.parse(cell)
    fail("cell", "a `keras_nasnet.space.Cell`, its JSON dict or its text form", cell)


def _split_input_shapes(input_shape):
    # A single shape (h_i alone) or a list of two (h_i, h_{i-1}).
    if len(input_shape) and isinstance(input_shape[0], (list, tuple)):
        if len(input_shape) != 2:
            raise ValueError(
                "A NASNet cell takes h_i or [h_i, h_{i-1}]. Received "
                f"{len(input_shape)} inputs with shapes {input_shape}."
            )
        return tuple(input_shape[0]), tuple(input_shape[1])
    return tuple(input_shape), None


@keras.saving.register_keras_serializable(package="keras_nasnet")
class NASNetCell(keras.layers.Layer):
    """A NASNet cell built from a genotype `Cell` (see the module docstring).

    Args:
        cell: a `keras_nasnet.space.Cell`, its JSON dict or its text form.
        filters: the cell's width F (channels of every op output).
        reduction: whether this is a reduction cell (ops on the two cell
            inputs have stride 2).
        cell_index: this cell's 0-based position in the network, counting
            every cell (for the drop path schedule).
        total_cells: number of cells in the network.
        drop_path_keep_prob: the final keep probability of the network's last
            cell; 1 adds no drop path layers.
        bn_momentum: BatchNormalization momentum.
        bn_epsilon: BatchNormalization epsilon.
        weight_decay: slim-style weight decay (`L2(weight_decay / 2)`).
        **kwargs: forwarded to `keras.layers.Layer`.

    Call arguments:
        inputs: h_i, or `[h_i, h_{i-1}]`, channels-last with static spatial
            sizes. h_{i-1} may be h_i's size or about twice it.
        training: enables BatchNormalization statistics and drop path.

    Reference: Zoph et al. 2018, "Learning Transferable Architectures for
    Scalable Image Recognition", section 3.

    Example:

    >>> from keras_nasnet.genotypes import NASNET_A
    >>> cell = NASNetCell(NASNET_A.reduction, filters=8, reduction=True)
    >>> h = keras.Input((16, 16, 24))
    >>> cell([h, h]).shape
    (None, 8, 8, 32)
    """

    def __init__(
        self,
        cell,
        filters,
        reduction=False,
        cell_index=0,
        total_cells=1,
        drop_path_keep_prob=1.0,
        bn_momentum=0.9,
        bn_epsilon=1e-5,
        weight_decay=0.0,
        **kwargs,
    ):
        super().__init__(**kwargs)
        self.cell = _as_cell(cell)
        filters = check_int("filters", filters, 1)
        if not 0.0 < drop_path_keep_prob <= 1.0:
            fail("drop_path_keep_prob", "a probability in (0, 1]", drop_path_keep_prob)
        self.filters = filters
        self.reduction = bool(reduction)
        self.cell_index = int(cell_index)
        self.total_cells = int(total_cells)
        self.drop_path_keep_prob = float(drop_path_keep_prob)
        self.bn_momentum = float(bn_momentum)
        self.bn_epsilon = float(bn_epsilon)
        self.weight_decay = float(weight_decay)

    def _common(self):
        return {
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "weight_decay": self.weight_decay,
            "dtype": self.dtype_policy,
        }

    def build(self, input_shape):
        h_shape, prev_shape = _split_input_shapes(input_shape)
        if len(h_shape) != 4 or h_shape[1] is None or h_shape[2] is None:
            raise ValueError(
                "A NASNet cell needs channels-last 4D inputs with static "
                f"spatial sizes. Received: input_shape={input_shape}"
            )
        f = self.filters
        common = self._common()
        live = set(self.cell.live_states)

        # Every state gets its shape (the output fix-ups are sized by the
        # last block's, live or not), only live ones get built layers.
        self.h_prep = None
        h_prep = ReLUConvBN(f, 1, name="h_prep", **common)
        states = [h_prep.compute_output_shape(h_shape)]
        if 0 in live:
            self.h_prep = h_prep
            self.h_prep.build(h_shape)

        # h_{i-1}: factorized reduction if the size differs, else 1x1 if the
        # channels differ (slim `_reduce_prev_layer`).
        self.prev_prep = None
        if prev_shape is None:
            states.append(h_shape)
        else:
            prev_prep = None
            if prev_shape[1:3] != h_shape[1:3]:
                expected = tuple(-(-s // 2) for s in prev_shape[1:3])
                if expected != tuple(h_shape[1:3]):
                    raise ValueError(
                        "h_{i-1} must have h_i's spatial size or about twice "
                        f"it. Received: h_i {h_shape}, h_{{i-1}} {prev_shape}."
                    )
                prev_prep = FactorizedReduction(f, 2, name="prev_prep", **common)
            elif prev_shape[-1] != f:
                prev_prep = ReLUConvBN(f, 1, name="prev_prep", **common)
            if prev_prep is None:
                states.append(prev_shape)
            else:
                states.append(prev_prep.compute_output_shape(prev_shape))
                if 1 in live:
                    self.prev_prep = prev_prep
                    self.prev_prep.build(prev_shape)

        self.block_ops = []
        self.drop_paths = []
        # One entry per op (2 per block): its index in `block_ops` and in
        # `drop_paths`, or -1 where it has none.
        op_slots = []
        drop_slots = []
        for b, block in enumerate(self.cell.blocks):
            outputs = []
            for slot, (op_name, index) in enumerate(
                zip(block.ops, block.inputs, strict=True)
            ):
                strides = 2 if self.reduction and index < 2 else 1
                op = make_op(
                    op_name,
                    f,
                    strides,
                    name=f"block{b}_{'ab'[slot]}_{op_name}",
                    **common,
                )
                outputs.append(op.compute_output_shape(states[index]))
                if 2 + b not in live:
                    op_slots.append(-1)
                    drop_slots.append(-1)
                    continue
                op.build(states[index])
                op_slots.append(len(self.block_ops))
                self.block_ops.append(op)
                if op_name != space_ops.IDENTITY and self.drop_path_keep_prob < 1.0:
                    drop_slots.append(len(self.drop_paths))
                    self.drop_paths.append(
                        ScheduledDropPath(
                            self.drop_path_keep_prob,
                            self.cell_index,
                            self.total_cells,
                            name=f"block{b}_{'ab'[slot]}_drop_path",
                            dtype=self.dtype_policy,
                        )
                    )
                else:
                    drop_slots.append(-1)
            a, c = outputs
            if a[1:3] != c[1:3]:
                # Cannot happen with the stride rule above; guard the invariant.
                raise ValueError(f"Block {b} combines maps of sizes {a} and {c}.")
            if block.combine == space_ops.CONCAT:
                states.append(a[:3] + (a[3] + c[3],))
            else:
                states.append(a)
        self._op_slots = tuple(op_slots)
        self._drop_slots = tuple(drop_slots)

        # Bring the concatenated states to the last block's size and width
        # (slim `_combine_unused_states`).
        final = states[-1]
        self.output_fixups = []
        fixup_slots = []
        for index in self.cell.output_states:
            shape = states[index]
            if shape[1:] == final[1:]:
                fixup_slots.append(-1)
                continue
            strides = 2 if shape[1:3] != final[1:3] else 1
            fixup = FactorizedReduction(
                final[-1], strides, name=f"state{index}_fixup", **common
            )
            fixup.build(shape)
            fixup_slots.append(len(self.output_fixups))
            self.output_fixups.append(fixup)
        self._fixup_slots = tuple(fixup_slots)
        channels = 0
        for index, slot in zip(self.cell.output_states, fixup_slots, strict=True):
            if slot >= 0:
                shape = self.output_fixups[slot].compute_output_shape(states[index])
            else:
                shape = states[index]
            channels += shape[-1]
        self._output_shape = final[1:3] + (channels,)

    def call(self, inputs, training=None):
        if isinstance(inputs, (list, tuple)):
            h, prev = inputs
        else:
            h, prev = inputs, None
        states = [None if self.h_prep is None else self.h_prep(h, training=training)]
        if prev is None:
            states.append(h)
        elif self.prev_prep is not None:
            states.append(self.prev_prep(ops.relu(prev), training=training))
        else:
            # Unprepared: either it needs no preparation or nobody reads it.
            states.append(prev)

        for b, block in enumerate(self.cell.blocks):
            if self._op_slots[2 * b] < 0:
                states.append(None)
                continue
            outputs = []
            for slot, index in enumerate(block.inputs):
                k = 2 * b + slot
                x = self.block_ops[self._op_slots[k]](states[index], training=training)
                if self._drop_slots[k] >= 0:
                    x = self.drop_paths[self._drop_slots[k]](x, training=training)
                outputs.append(x)
            if block.combine == space_ops.CONCAT:
                states.append(ops.concatenate(outputs, axis=-1))
            else:
                states.append(ops.add(outputs[0], outputs[1]))

        outputs = []
        for index, slot in zip(self.cell.output_states, self._fixup_slots, strict=True):
            x = states[index]
            if slot >= 0:
                x = self.output_fixups[slot](x, training=training)
            outputs.append(x)
        if len(outputs) == 1:
            return outputs[0]
        return ops.concatenate(outputs, axis=-1)

    def compute_output_shape(self, input_shape):
        # Known once built; saves tracing `call` to get the output spec.
        h_shape, _ = _split_input_shapes(input_shape)
        if not self.built:
            self.build(input_shape)
        return (h_shape[0],) + self._output_shape

    def get_config(self):
        return {
            **super().get_config(),
            "cell": self.cell.to_dict(),
            "filters": self.filters,
            "reduction": self.reduction,
            "cell_index": self.cell_index,
            "total_cells": self.total_cells,
            "drop_path_keep_prob": self.drop_path_keep_prob,
            "bn_momentum": self.bn_momentum,
            "bn_epsilon": self.bn_epsilon,
            "weight_decay": self.weight_decay,
        }
