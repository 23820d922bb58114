"""AmoebaNet's mutations, as pure functions of a genotype and a random stream.

Reference: Real et al. 2019, "Regularized Evolution for Image Classifier
Architecture Search", section 3 (figure 2): exactly one mutation per child;
a hidden-state mutation rewires one input of one block to a different earlier
state, an op mutation replaces one op with a different op.
"""

import dataclasses

import numpy as np

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
    new_cell = Cell(tuple(blocks), cell.concat)
    return dataclasses.replace(genotype, **{cell_name: new_cell})


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
    """Replaces one op of one block with a different op from `ops`."""
    rng = _rng(rng)
    ops = tuple(ops_lib.check_op(op) for op in ops)
    cell_name, cell, b, slot = _pick(genotype, rng)
    current = getattr(cell.blocks[b], f"op_{slot}")
    choices = [op for op in ops if op != current]
    if not choices:
        raise ValueError(
            f"Cannot mutate an op: `ops` has no op other than {current!r}."
        )
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
    or an op mutation, with equal probability.

    Returns:
        `(child, kind)`, `kind` one of `"identity"`, `"hidden_state"`, `"op"`.
    """
    if not 0.0 <= identity_prob <= 1.0:
        raise ValueError(
            "Invalid value received for argument `identity_prob`. Expected a "
            f"probability in [0, 1]. Received: identity_prob={identity_prob!r}"
        )
    rng = _rng(rng)
    if rng.random() < identity_prob:
        return genotype, IDENTITY
    if rng.random() < 0.5:
        return mutate_hidden_state(genotype, rng), HIDDEN_STATE
    return mutate_op(genotype, rng, ops), OP
