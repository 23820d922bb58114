"""Seeded random genotypes and the size of the search space.

Reference: Zoph et al. 2018, section 3 (the space); random search is the
baseline both papers compare against.
"""

import math

import numpy as np

from keras_nasnet.space import ops as ops_lib
from keras_nasnet.space.genotype import Block, Cell, Genotype

DEFAULT_NUM_BLOCKS = 5


def _rng(seed):
    # Accept a Generator (shared stream) or anything default_rng accepts.
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(seed)


def _check_choices(ops, combines, num_blocks):
    ops = tuple(ops_lib.check_op(op) for op in ops)
    combines = tuple(ops_lib.check_combine(c) for c in combines)
    if not ops:
        raise ValueError("Invalid value received for `ops`: it is empty.")
    if not combines:
        raise ValueError("Invalid value received for `combines`: it is empty.")
    if (
        isinstance(num_blocks, bool)
        or not isinstance(num_blocks, int)
        or num_blocks < 1
    ):
        raise ValueError(
            "Invalid value received for argument `num_blocks`. Expected an "
            f"integer >= 1. Received: num_blocks={num_blocks!r}"
        )
    return ops, combines


def random_cell(
    rng=None,
    ops=ops_lib.NASNET_OPS,
    num_blocks=DEFAULT_NUM_BLOCKS,
    combines=(ops_lib.ADD,),
):
    """Samples a cell uniformly: every decision independent and uniform.

    Args:
        rng: a `numpy.random.Generator` or a seed.
        ops: the op names to choose from.
        num_blocks: blocks per cell (the paper's B = 5).
        combines: the combine methods to choose from.

    Returns:
        A `Cell` with a derived concat.
    """
    rng = _rng(rng)
    ops, combines = _check_choices(ops, combines, num_blocks)
    blocks = []
    for b in range(num_blocks):
        input_a, input_b = (int(i) for i in rng.integers(0, 2 + b, size=2))
        op_a, op_b = (ops[int(i)] for i in rng.integers(0, len(ops), size=2))
        combine = combines[int(rng.integers(0, len(combines)))]
        blocks.append(Block(input_a, input_b, op_a, op_b, combine))
    return Cell(tuple(blocks))


def random_genotype(
    rng=None,
    ops=ops_lib.NASNET_OPS,
    num_blocks=DEFAULT_NUM_BLOCKS,
    combines=(ops_lib.ADD,),
):
    """Samples a genotype (normal cell, then reduction cell) uniformly.

    Example:

    >>> random_genotype(0) == random_genotype(0)
    True
    """
    rng = _rng(rng)
    normal = random_cell(rng, ops, num_blocks, combines)
    reduction = random_cell(rng, ops, num_blocks, combines)
    return Genotype(normal, reduction)


def search_space_size(
    ops=ops_lib.NASNET_OPS,
    num_blocks=DEFAULT_NUM_BLOCKS,
    combines=(ops_lib.ADD,),
):
    """Number of distinct decision sequences for a genotype (both cells).

    Counts decisions, not functionally distinct networks (swapping the two
    halves of a block gives the same network but a different sequence).

    Example:

    >>> search_space_size(ops=["identity"], num_blocks=1)
    16
    """
    ops, combines = _check_choices(ops, combines, num_blocks)
    per_cell = math.prod(
        (2 + b) ** 2 * len(ops) ** 2 * len(combines) for b in range(num_blocks)
    )
    return per_cell**2
