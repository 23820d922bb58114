"""AmoebaNet's mutations, as pure functions of a genotype and a random stream.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", section 3 (figure 2): exactly one mutation per child;
a hidden-state mutation rewires one input of one block to a different earlier
state, an op mutation replaces one op with a different op.

A cell with an explicit concat list (the published genotypes) keeps it through
a mutation, with any block output the mutation left unused added to it: such
a block would otherwise feed nothing (the paper's rule concatenates every
unused state).
"""

import dataclasses

import numpy as np

from keras_nasnet import _validation
from keras_nasnet.space import ops as ops_lib
from keras_nasnet.space.genotype import Cell

HIDDEN_STATE = "hidden_state"
OP = "op"
IDENTITY = "identity"

# The paper's identity-mutation probability.
DEFAULT_IDENTITY_PROB = 0.05


def _rng(rng):
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _pick(genotype, rng):
    # Which cell, which block, which of its two (input, op) pairs.
    cell_name = ("normal", "reduction")[int(rng.integers(2))]
    cell = getattr(genotype, cell_name)
    b = int(rng.integers(cell.num_blocks))
    slot = ("a", "b")[int(rng.integers(2))]
    return cell_name, cell, b, slot


def _replace_block(genotype, cell_name, cell, b, **changes):
    blocks = list(cell.blocks)
    blocks[b] = dataclasses.replace(blocks[b], **changes)
    concat = cell.concat
    if concat is not None:
        # An explicit list is derived again: a block output no block uses any
        # more joins it, instead of silently feeding nothing.
        used = {i for block in blocks for i in block.inputs}
        dangling = {2 + i for i in range(len(blocks))} - used - set(concat)
        concat = tuple(sorted(set(concat) | dangling))
    new_cell = Cell(tuple(blocks), concat)
    return dataclasses.replace(genotype, **{cell_name: new_cell})


def can_mutate_op(genotype, ops=ops_lib.NASNET_OPS):
    """Whether some op of `genotype` has a different op in `ops` to become."""
    ops = set(ops)
    return any(
        set(ops) - {op}
        for _, cell in genotype.cells()
        for block in cell.blocks
        for op in block.ops
    )


def mutate_hidden_state(genotype, rng=None):
    """Rewires one input of one block to a different earlier state.

    Block 0 always has two choices (states 0 and 1), so a different state
    always exists.
    """
    rng = _rng(rng)
    cell_name, cell, b, slot = _pick(genotype, rng)
    current = getattr(cell.blocks[b], f"input_{slot}")
    choices = [i for i in range(2 + b) if i != current]
    new = choices[int(rng.integers(len(choices)))]
    return _replace_block(genotype, cell_name, cell, b, **{f"input_{slot}": new})


def mutate_op(genotype, rng=None, ops=ops_lib.NASNET_OPS):
    """Replaces one op of one block with a different op from `ops`.

    Raises:
        ValueError: if no op of `genotype` has a different op in `ops` (see
            `can_mutate_op`).
    """
    rng = _rng(rng)
    ops = tuple(ops_lib.check_op(op) for op in ops)
    if len(set(ops)) >= 2:
        cell_name, cell, b, slot = _pick(genotype, rng)
    else:
        # Only the ops other than the one in `ops` can change: pick among them.
        slots = [
            (cell_name, cell, b, slot)
            for cell_name, cell in genotype.cells()
            for b, block in enumerate(cell.blocks)
            for slot in ("a", "b")
            if getattr(block, f"op_{slot}") not in ops
        ]
        if not slots:
            raise ValueError(
                f"Cannot mutate an op: `ops` has no op other than {ops!r}, and "
                "every op of the genotype is that op."
            )
        cell_name, cell, b, slot = slots[int(rng.integers(len(slots)))]
    current = getattr(cell.blocks[b], f"op_{slot}")
    choices = [op for op in ops if op != current]
    new = choices[int(rng.integers(len(choices)))]
    return _replace_block(genotype, cell_name, cell, b, **{f"op_{slot}": new})


def mutate(
    genotype,
    rng=None,
    ops=ops_lib.NASNET_OPS,
    identity_prob=DEFAULT_IDENTITY_PROB,
):
    """Applies exactly one AmoebaNet mutation.

    With probability `identity_prob` nothing changes; otherwise a hidden-state
    or an op mutation, with equal probability. When no op can change (`ops`
    has one op, that of every block), every mutation is a hidden-state one:
    a hidden-state mutation is always possible (block 0 chooses between two
    states).

    Returns:
        `(child, kind)`, `kind` one of `"identity"`, `"hidden_state"`, `"op"`.
    """
    _validation.check_real("identity_prob", identity_prob, 0, 1)
    rng = _rng(rng)
    if rng.random() < identity_prob:
        return genotype, IDENTITY
    if rng.random() < 0.5 or not can_mutate_op(genotype, ops):
        return mutate_hidden_state(genotype, rng), HIDDEN_STATE
    return mutate_op(genotype, rng, ops), OP
