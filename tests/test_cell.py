"""keras_nasnet.layers.cell: only what a cell's output depends on is built."""

import warnings

import keras
import numpy as np
import pytest

from keras_nasnet import layers
from keras_nasnet.genotypes import AMOEBANET_A, AMOEBANET_C, NASNET_A
from keras_nasnet.models import NASNet
from keras_nasnet.space import Cell, Genotype

# No block reads state 1 (h_{i-1}): legal in the NASNet space.
NO_PREV = Cell.parse(
    "sep_conv_3x3(0) + identity(0), avg_pool_3x3(2) + sep_conv_5x5(0), "
    "identity(3) + max_pool_3x3(2), sep_conv_3x3(4) + identity(0), "
    "identity(5) + avg_pool_3x3(3)"
)
# Block 1 (state 3) is in no concat list and read by no block: dead.
DEAD_BLOCK = Cell.parse(
    "sep_conv_3x3(0) + identity(1), sep_conv_5x5(1) + max_pool_3x3(0), "
    "identity(2) + avg_pool_3x3(1) -> [2, 4]"
)


def test_live_states():
    assert NO_PREV.live_states == (0, 2, 3, 4, 5, 6)
    assert DEAD_BLOCK.live_states == (0, 1, 2, 4)
    # The published genotypes read every state: nothing is left out, so their
    # parameter counts stay the released ones (tests/test_model.py).
    for genotype in (NASNET_A, AMOEBANET_A, AMOEBANET_C):
        for cell in (genotype.normal, genotype.reduction):
            assert cell.live_states == tuple(range(2 + len(cell.blocks)))


def test_an_unread_input_gets_no_preparation():
    cell = layers.NASNetCell(NO_PREV, 4)
    # h_{i-1} is twice as large: it would need a factorized reduction.
    cell.build([(None, 4, 4, 8), (None, 8, 8, 6)])
    assert cell.prev_prep is None and cell.h_prep is not None
    h = np.random.default_rng(0).random((2, 4, 4, 8)).astype("float32")
    prev = np.random.default_rng(1).random((2, 8, 8, 6)).astype("float32")
    y = keras.ops.convert_to_numpy(cell([h, prev]))
    assert y.shape == cell.compute_output_shape((2, 4, 4, 8)) == (2, 4, 4, 4)
    other = keras.ops.convert_to_numpy(cell([h, np.zeros_like(prev)]))
    np.testing.assert_array_equal(y, other)


def test_a_dead_block_gets_no_ops_and_keeps_the_output_width():
    live = layers.NASNetCell(DEAD_BLOCK, 4)
    live.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    # Blocks 0 and 2 only: 4 ops, the sep convs of block 1 are not built.
    assert [op.name for op in live.block_ops] == [
        "block0_a_sep_conv_3x3",
        "block0_b_identity",
        "block2_a_identity",
        "block2_b_avg_pool_3x3",
    ]
    assert live.compute_output_shape((None, 4, 4, 4)) == (None, 4, 4, 8)
    # The same cell with block 1 concatenated builds its two ops on top.
    concat = DEAD_BLOCK.to_dict()
    concat["concat"] = [2, 3, 4]
    full = layers.NASNetCell(Cell.from_dict(concat), 4)
    full.build([(None, 4, 4, 4), (None, 4, 4, 4)])
    assert len(full.block_ops) == 6 and full.count_params() > live.count_params()


def _gradient_warnings(genotype):
    model = NASNet(
        genotype,
        cells_per_stack=1,
        filters=4,
        input_shape=(8, 8, 3),
        num_classes=3,
        drop_path_keep_prob=0.8,
    )
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True
    )
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, np.array([0, 2]), batch_size=2, epochs=1, verbose=0)
    return [
        str(w.message) for w in caught if "Gradients do not exist" in str(w.message)
    ]


@pytest.mark.parametrize(
    "normal", [NO_PREV, DEAD_BLOCK], ids=["unread-input", "dead-block"]
)
def test_no_gradients_warning_for_cells_that_leave_states_unread(normal):
    assert _gradient_warnings(Genotype(normal, NASNET_A.reduction)) == []


# The normal cell never reads h_i (state 0) and the reduction cell never reads
# h_{i-1} (state 1): with N=1, both reduction cells feed nothing (the one
# after reduction_cell_0 reads it as h_i, the one after that as h_{i-1}).
UNREAD_H = Cell.parse("sep_conv_3x3(1) + identity(1), sep_conv_3x3(2) + identity(1)")
UNREAD_PREV = Cell.parse(
    "sep_conv_3x3(0) + max_pool_3x3(0), sep_conv_3x3(2) + identity(0)"
)


def test_whole_cells_that_no_later_cell_reads_are_named():
    genotype = Genotype(UNREAD_H, UNREAD_PREV)
    model = NASNet(genotype, cells_per_stack=1, filters=4, input_shape=(8, 8, 3))
    assert model.unread_cells == ("reduction_cell_0", "reduction_cell_1")
    # A cell read only as a later cell's h_{i-1} is read: cell_0 feeds
    # reduction_cell_0 nothing, but cell_1 reads it.
    model = NASNet(
        Genotype(NASNET_A.normal, UNREAD_PREV),
        cells_per_stack=1,
        filters=4,
        input_shape=(8, 8, 3),
    )
    assert model.unread_cells == ()
    for name in ("nasnet_a", "amoebanet_a"):
        assert NASNet(name, cells_per_stack=1, filters=4).unread_cells == ()


def test_training_an_unread_cell_warns_in_one_line():
    from keras_nasnet import training

    genotype = Genotype(UNREAD_H, UNREAD_PREV)
    model = NASNet(genotype, cells_per_stack=1, filters=4, input_shape=(8, 8, 3))
    model.compile(
        optimizer="sgd", loss="sparse_categorical_crossentropy", run_eagerly=True
    )
    x = np.random.default_rng(0).random((2, 8, 8, 3)).astype("float32")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with training.unread_cells_explained(model):
            model.fit(x, np.array([0, 2]), batch_size=2, epochs=1, verbose=0)
    messages = [str(w.message) for w in caught]
    assert not [m for m in messages if "Gradients do not exist" in m]
    (note,) = [m for m in messages if "no later cell reads" in m]
    weights = sum(
        model.get_layer(n).count_params()
        for n in ("reduction_cell_0", "reduction_cell_1")
    )
    assert note.startswith("reduction_cell_0, reduction_cell_1: ")
    assert f"{weights:,} weights get no gradient" in note
    assert "\n" not in note
    # Outside the block, Keras's own warning is back (the cells are built).
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        model.fit(x, np.array([0, 2]), batch_size=2, epochs=1, verbose=0)
    assert any("Gradients do not exist" in str(w.message) for w in caught)
