"""How a genotype is spelled as keras-tuner hyperparameters, and back.

Part of the search space (it imports no Keras and no keras-tuner: `declare_cells`
takes any object with keras-tuner's `Choice` method). Shared by `NASNetHyperModel` (which declares the decisions) and `NASOracle`
(which recognizes a NASNet space and mutates it the AmoebaNet way).

Names are stable and readable: `<cell>/block_<b>/<slot>` with `<cell>` in
`normal`, `reduction`; `b` 0-based; `<slot>` one of `input_a`, `input_b`,
`op_a`, `op_b`, `combine` (the paper's decision order within a block).
`combine` is declared only when it is searched; otherwise blocks add.
"""

import re

from keras_nasnet.space import ops as ops_lib
from keras_nasnet.space.genotype import Block, Cell, Genotype

CELL_NAMES = ("normal", "reduction")
SLOTS = ("input_a", "input_b", "op_a", "op_b", "combine")
_NAME_RE = re.compile(
    r"^(normal|reduction)/block_(\d+)/(input_a|input_b|op_a|op_b|combine)$"
)


def hp_name(cell, block, slot):
    """Returns the hyperparameter name of one decision."""
    return f"{cell}/block_{block}/{slot}"


def parse_hp_name(name):
    """Returns `(cell, block, slot)` for a cell decision's name, else `None`."""
    match = _NAME_RE.match(name)
    if not match:
        return None
    return match.group(1), int(match.group(2)), match.group(3)


def declare_cells(hp, ops=ops_lib.NASNET_OPS, num_blocks=5, search_combine=False):
    """Declares the cell decisions on `hp`, in the paper's order.

    Args:
        hp: a `keras_tuner.HyperParameters`.
        ops: op names to choose from.
        num_blocks: blocks per cell (B).
        search_combine: whether each block also chooses add or concat.

    Returns:
        The genotype the current values of `hp` describe.
    """
    ops = [ops_lib.check_op(op) for op in ops]
    for cell in CELL_NAMES:
        for b in range(num_blocks):
            states = list(range(2 + b))
            hp.Choice(hp_name(cell, b, "input_a"), states)
            hp.Choice(hp_name(cell, b, "input_b"), states)
            hp.Choice(hp_name(cell, b, "op_a"), ops)
            hp.Choice(hp_name(cell, b, "op_b"), ops)
            if search_combine:
                hp.Choice(hp_name(cell, b, "combine"), list(ops_lib.COMBINES))
    return decode(hp.values)


def num_blocks_in(values):
    """Number of blocks per cell spelled in `values` (0 if none)."""
    blocks = [p[1] for p in map(parse_hp_name, values) if p and p[0] == "normal"]
    return max(blocks) + 1 if blocks else 0


def decode(values):
    """Builds the `Genotype` that a dict of hyperparameter values spells.

    Raises:
        ValueError: if a decision is missing or invalid.
    """
    num_blocks = num_blocks_in(values)
    if num_blocks == 0:
        raise ValueError(
            "These hyperparameters spell no cell: expected names like "
            f"{hp_name('normal', 0, 'input_a')!r}."
        )
    cells = {}
    for cell in CELL_NAMES:
        blocks = []
        for b in range(num_blocks):

            def get(slot, b=b, cell=cell):
                name = hp_name(cell, b, slot)
                if name not in values:
                    raise ValueError(f"Missing cell decision {name!r}.")
                return values[name]

            combine = values.get(hp_name(cell, b, "combine"), ops_lib.ADD)
            blocks.append(
                Block(
                    int(get("input_a")),
                    int(get("input_b")),
                    get("op_a"),
                    get("op_b"),
                    combine,
                )
            )
        cells[cell] = Cell(tuple(blocks))
    return Genotype(**cells)


def encode(genotype, search_combine=None):
    """Returns the hyperparameter values that spell `genotype`'s decisions.

    Explicit concat lists are not decisions of the space and are dropped.
    `search_combine=None` writes `combine` values only for blocks that concat.
    """
    values = {}
    for cell_name, cell in genotype.cells():
        for b, block in enumerate(cell.blocks):
            values[hp_name(cell_name, b, "input_a")] = block.input_a
            values[hp_name(cell_name, b, "input_b")] = block.input_b
            values[hp_name(cell_name, b, "op_a")] = block.op_a
            values[hp_name(cell_name, b, "op_b")] = block.op_b
            if search_combine or (
                search_combine is None and block.combine != ops_lib.ADD
            ):
                values[hp_name(cell_name, b, "combine")] = block.combine
    return values


def is_cell_space(hyperparameters):
    """Whether a `keras_tuner.HyperParameters` declares a full NASNet space."""
    names = {hp.name for hp in hyperparameters.space}
    num_blocks = num_blocks_in(names)
    if num_blocks == 0:
        return False
    return all(
        hp_name(cell, b, slot) in names
        for cell in CELL_NAMES
        for b in range(num_blocks)
        for slot in SLOTS[:4]
    )
