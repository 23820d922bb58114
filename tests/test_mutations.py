"""AmoebaNet's mutations on genotypes with an explicit concat list, and on op
sets that leave no op mutation (issue 10: a stale concat list; an exception
under the oracle's lock)."""

import numpy as np
import pytest

from keras_nasnet import genotypes
from keras_nasnet.space import Block, Cell, Genotype, mutations, random_genotype


def _dangling(cell):
    """Block outputs that feed neither a block nor the cell's output."""
    used = {i for block in cell.blocks for i in block.inputs}
    outputs = {2 + b for b in range(cell.num_blocks)}
    return outputs - used - set(cell.output_states)


@pytest.mark.parametrize("name", sorted(genotypes.KNOWN_GENOTYPES))
def test_mutating_a_published_genotype_leaves_no_block_unused(name):
    parent = genotypes.get(name)
    rng = np.random.default_rng(0)
    for _ in range(300):
        child = mutations.mutate_hidden_state(parent, rng)
        for cell_name, cell in child.cells():
            old = getattr(parent, cell_name).concat
            assert not _dangling(cell), (str(child), cell_name)
            # The published list is kept, and only grows.
            assert set(old) <= set(cell.concat)


def test_a_mutation_that_frees_a_block_output_adds_it_to_the_concat():
    # AmoebaNet-A's normal cell: block 3 (state 5) feeds only block 4, and 5
    # is not in the concat [1, 3, 4, 6]. Rewiring block 4's first input from
    # 5 to 0 would leave block 3 computing for nothing.
    parent = genotypes.AMOEBANET_A
    assert parent.normal.blocks[4].input_a == 5 and 5 not in parent.normal.concat
    rng = np.random.default_rng(0)
    for _ in range(2000):
        child = mutations.mutate_hidden_state(parent, rng)
        block = child.normal.blocks[4]
        if block.input_a != 5 and block.inputs != parent.normal.blocks[4].inputs:
            break
    else:
        pytest.fail("the rewiring was never drawn")
    assert child.normal.concat == (1, 3, 4, 5, 6)


def test_op_mutations_keep_an_explicit_concat_unchanged():
    parent = genotypes.NASNET_A
    rng = np.random.default_rng(1)
    for _ in range(50):
        child = mutations.mutate_op(parent, rng)
        assert child.normal.concat == parent.normal.concat
        assert child.reduction.concat == parent.reduction.concat


def test_derived_concats_stay_derived():
    parent = random_genotype(3)
    child, _ = mutations.mutate(parent, 4, identity_prob=0.0)
    assert child.normal.concat is None and child.reduction.concat is None


def test_with_one_op_every_mutation_rewires_a_hidden_state():
    ops = ("sep_conv_3x3",)
    parent = random_genotype(5, ops=ops, num_blocks=2)
    assert not mutations.can_mutate_op(parent, ops)
    rng = np.random.default_rng(6)
    kinds = {
        mutations.mutate(parent, rng, ops, identity_prob=0.0)[1] for _ in range(50)
    }
    assert kinds == {mutations.HIDDEN_STATE}


def test_with_one_op_only_the_other_ops_can_change():
    # A genotype with an op outside a one-op set: that op is the only one an
    # op mutation can change.
    block = Block(0, 1, "sep_conv_3x3", "sep_conv_3x3")
    odd = Block(0, 1, "max_pool_3x3", "sep_conv_3x3")
    parent = Genotype(Cell((odd,)), Cell((block,)))
    ops = ("sep_conv_3x3",)
    assert mutations.can_mutate_op(parent, ops)
    child = mutations.mutate_op(parent, 0, ops)
    assert child.normal.blocks[0].op_a == "sep_conv_3x3"
    assert child.reduction == parent.reduction
