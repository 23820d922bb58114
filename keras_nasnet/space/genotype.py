"""`Block`, `Cell` and `Genotype`: what a NASNet architecture IS.

Immutable, hashable, validated values with one text form and one JSON form.
No Keras here: `keras_nasnet.layers` builds them.

State indices follow the released NASNet code: state 0 is h_i (the previous
cell's output), state 1 is h_{i-1} (the one before), and block `b` (0-based)
outputs state `2 + b`. Block `b` may take any of the states `0 .. 1 + b`.

Text form (`str(genotype)` and `Genotype.parse`), one line per cell:

    normal: sep_conv_5x5(0) + sep_conv_3x3(1), ..., sep_conv_3x3(0) + identity(0) -> [1, 2, 3, 4, 5, 6]
    reduction: sep_conv_5x5(0) + sep_conv_7x7(1), ...

A block is `op_a(input_a) + op_b(input_b)` when its outputs are added and
`op_a(input_a) || op_b(input_b)` when they are concatenated along channels.
Blocks are separated by commas. The optional `-> [i, j, ...]` gives the cell's
output concat explicitly; without it the concat is derived: every block output
that no block takes as an input, in order. Cells may also be separated by `;`
instead of a newline, so a genotype fits on a command line.

JSON form (`to_json` / `from_json`):

    {"normal": {"blocks": [{"inputs": [0, 1], "ops": ["sep_conv_5x5",
     "sep_conv_3x3"], "combine": "add"}, ...], "concat": [1, 2, 3, 4, 5, 6]},
     "reduction": {...}}

`"concat"` is `null` (or absent) when derived.
"""

import dataclasses
import json
import re
import reprlib

from keras_nasnet.space import ops as ops_lib

_COMBINE_SYMBOLS = {ops_lib.ADD: "+", ops_lib.CONCAT: "||"}
_SYMBOL_COMBINES = {v: k for k, v in _COMBINE_SYMBOLS.items()}
_OP_RE = re.compile(r"^\s*([A-Za-z0-9_]+)\s*\(\s*(-?\d+)\s*\)\s*$")

# Bad input is quoted in error messages cut to a readable size: a JSON value
# may be huge or nested deeper than `repr` can go.
_REPR = reprlib.Repr()
_REPR.maxlevel = 3
_REPR.maxstring = 60
_REPR.maxother = 60


def _short(value):
    """`repr(value)`, shortened; safe for any nesting depth."""
    return _REPR.repr(value)


def _keys(data):
    """A dict's keys for a message, sorted when they are all strings."""
    keys = list(data)
    if all(isinstance(k, str) for k in keys):
        keys.sort()
    return _short(keys)


def _check_index(value, name):
    # bool is an int subclass; `True` as a state index is a bug in the caller.
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(
            f"Invalid value received for `{name}`. Expected an integer state "
            f"index. Received: {name}={_short(value)}"
        )
    return value


@dataclasses.dataclass(frozen=True)
class Block:
    """One block of a cell: two (op, input) pairs and how they are combined.

    Args:
        input_a: index of the hidden state op A is applied to.
        input_b: index of the hidden state op B is applied to.
        op_a: name of op A (see `keras_nasnet.space.ops`).
        op_b: name of op B.
        combine: `"add"` or `"concat"`.

    Example:

    >>> Block(0, 1, "sep_conv_5x5", "sep_conv_3x3")
    Block(input_a=0, input_b=1, op_a='sep_conv_5x5', op_b='sep_conv_3x3', combine='add')
    """

    input_a: int
    input_b: int
    op_a: str
    op_b: str
    combine: str = ops_lib.ADD

    def __post_init__(self):
        _check_index(self.input_a, "input_a")
        _check_index(self.input_b, "input_b")
        ops_lib.check_op(self.op_a)
        ops_lib.check_op(self.op_b)
        ops_lib.check_combine(self.combine)

    @property
    def inputs(self):
        return (self.input_a, self.input_b)

    @property
    def ops(self):
        return (self.op_a, self.op_b)

    def __str__(self):
        sym = _COMBINE_SYMBOLS[self.combine]
        return f"{self.op_a}({self.input_a}) {sym} {self.op_b}({self.input_b})"

    def to_dict(self):
        return {
            "inputs": [self.input_a, self.input_b],
            "ops": [self.op_a, self.op_b],
            "combine": self.combine,
        }

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ValueError(f"A block must be a JSON object. Received: {_short(data)}")
        unknown = set(data) - {"inputs", "ops", "combine"}
        if unknown:
            raise ValueError(f"Unknown block keys {_keys(unknown)} in {_short(data)}.")
        inputs, ops = data.get("inputs"), data.get("ops")
        for key, value in (("inputs", inputs), ("ops", ops)):
            if not isinstance(value, list) or len(value) != 2:
                raise ValueError(
                    f"A block's `{key}` must be a list of two values. "
                    f"Received: {key}={_short(value)}"
                )
        if not all(isinstance(op, str) for op in ops):
            raise ValueError(
                f"A block's `ops` must be strings. Received: {_short(ops)}"
            )
        combine = data.get("combine", ops_lib.ADD)
        if not isinstance(combine, str):
            raise ValueError(
                f"A block's `combine` must be a string. Received: {_short(combine)}"
            )
        return cls(inputs[0], inputs[1], ops[0], ops[1], combine)


@dataclasses.dataclass(frozen=True)
class Cell:
    """A cell: blocks in order, and which states its output concatenates.

    Args:
        blocks: a sequence of `Block`s. Block `b` may use states `0 .. 1 + b`.
        concat: the states concatenated into the cell's output, or `None` to
            derive them (every block output no block uses as an input; the
            paper's rule). The released genotypes give it explicitly.

    Raises:
        ValueError: on an empty cell, an input index pointing at the block
            itself or a later state, or a bad concat list.
    """

    blocks: tuple
    concat: tuple = None

    def __post_init__(self):
        if isinstance(self.blocks, (str, bytes)) or not hasattr(
            self.blocks, "__iter__"
        ):
            raise ValueError(
                f"A cell's blocks must be a sequence of `Block`s. Received: "
                f"blocks={_short(self.blocks)}"
            )
        blocks = tuple(self.blocks)
        if not blocks:
            raise ValueError("A cell needs at least one block. Received: blocks=()")
        for b, block in enumerate(blocks):
            if not isinstance(block, Block):
                raise ValueError(
                    f"Block {b} is not a `Block`. Received: {_short(block)}"
                )
            for slot, index in zip("ab", block.inputs, strict=True):
                if not 0 <= index <= 1 + b:
                    raise ValueError(
                        f"Block {b} input {slot} is state {index}, but block {b} "
                        f"can only use states 0..{1 + b} (the two cell inputs "
                        "and earlier blocks' outputs)."
                    )
        object.__setattr__(self, "blocks", blocks)
        if self.concat is not None:
            if isinstance(self.concat, (str, bytes)) or not hasattr(
                self.concat, "__iter__"
            ):
                raise ValueError(
                    "A cell's concat must be a sequence of state indices or "
                    f"None. Received: concat={_short(self.concat)}"
                )
            concat = tuple(self.concat)
            num_states = 2 + len(blocks)
            if not concat:
                raise ValueError("A cell's explicit concat list is empty.")
            for index in concat:
                _check_index(index, "concat")
                if not 0 <= index < num_states:
                    raise ValueError(
                        f"Concat index {index} is out of range: a cell of "
                        f"{len(blocks)} blocks has states 0..{num_states - 1}."
                    )
            if len(set(concat)) != len(concat):
                raise ValueError(f"Concat list {list(concat)} repeats a state.")
            object.__setattr__(self, "concat", concat)

    @property
    def num_blocks(self):
        return len(self.blocks)

    @property
    def output_states(self):
        """The states concatenated into the output: explicit or derived."""
        if self.concat is not None:
            return self.concat
        used = {i for block in self.blocks for i in block.inputs}
        return tuple(2 + b for b in range(len(self.blocks)) if 2 + b not in used)

    @property
    def live_states(self):
        """The states the output depends on, in order.

        The concatenated states, and every state a block reads whose own
        state is live, found backwards from the output. A state outside them
        is computed for nothing: an input no live block reads, or (with an
        explicit concat list) a block that nothing reads. `NASNetCell` builds
        no layers for those.

        Example:

        >>> Cell.parse("identity(0) + sep_conv_3x3(0), "
        ...            "avg_pool_3x3(2) + identity(0) -> [3]").live_states
        (0, 2, 3)
        """
        live = set(self.output_states)
        for b in reversed(range(len(self.blocks))):
            if 2 + b in live:
                live.update(self.blocks[b].inputs)
        return tuple(sorted(live))

    def __str__(self):
        text = ", ".join(str(block) for block in self.blocks)
        if self.concat is not None:
            text += " -> [" + ", ".join(str(i) for i in self.concat) + "]"
        return text

    @classmethod
    def parse(cls, text):
        """Parses a cell from its text form (see the module docstring)."""
        if not isinstance(text, str):
            raise ValueError(f"Cell text must be a string. Received: {_short(text)}")
        text = text.strip()
        concat = None
        if "->" in text:
            text, _, tail = text.partition("->")
            tail = tail.strip()
            if not (tail.startswith("[") and tail.endswith("]")):
                raise ValueError(
                    f"Expected the concat as `-> [i, j, ...]`. Received: -> {tail}"
                )
            items = [s.strip() for s in tail[1:-1].split(",") if s.strip()]
            try:
                concat = tuple(int(s) for s in items)
            except ValueError:
                raise ValueError(f"Concat indices must be integers: {tail}") from None
        blocks = []
        for b, block_text in enumerate(text.split(",")):
            block_text = block_text.strip()
            if not block_text:
                raise ValueError(f"Block {b} is empty in cell text {text!r}.")
            for symbol in ("||", "+"):
                if symbol in block_text:
                    left, _, right = block_text.partition(symbol)
                    break
            else:
                raise ValueError(
                    f"Block {b} {block_text!r} has no combine symbol: expected "
                    "`op(i) + op(j)` (add) or `op(i) || op(j)` (concat)."
                )
            pairs = []
            for part in (left, right):
                match = _OP_RE.match(part)
                if not match:
                    raise ValueError(
                        f"Block {b}: expected `op_name(state_index)`. "
                        f"Received: {part.strip()!r}"
                    )
                pairs.append((match.group(1), int(match.group(2))))
            (op_a, in_a), (op_b, in_b) = pairs
            blocks.append(Block(in_a, in_b, op_a, op_b, _SYMBOL_COMBINES[symbol]))
        return cls(tuple(blocks), concat)

    def to_dict(self):
        return {
            "blocks": [block.to_dict() for block in self.blocks],
            "concat": None if self.concat is None else list(self.concat),
        }

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ValueError(f"A cell must be a JSON object. Received: {_short(data)}")
        unknown = set(data) - {"blocks", "concat"}
        if unknown:
            raise ValueError(f"Unknown cell keys {_keys(unknown)}.")
        blocks = data.get("blocks")
        if not isinstance(blocks, list):
            raise ValueError(
                f"A cell's `blocks` must be a list. Received: {_short(blocks)}"
            )
        concat = data.get("concat")
        if concat is not None and not isinstance(concat, list):
            raise ValueError(
                f"A cell's `concat` must be a list or null. Received: {_short(concat)}"
            )
        return cls(tuple(Block.from_dict(b) for b in blocks), concat)


@dataclasses.dataclass(frozen=True)
class Genotype:
    """A NASNet architecture: one normal cell and one reduction cell.

    Args:
        normal: the `Cell` stacked N times between reductions.
        reduction: the `Cell` that halves the spatial size.

    Example:

    >>> g = Genotype.parse(
    ...     "normal: sep_conv_3x3(0) + identity(1), avg_pool_3x3(2) + identity(0)\\n"
    ...     "reduction: max_pool_3x3(0) + sep_conv_5x5(1), identity(2) + max_pool_3x3(0)"
    ... )
    >>> g.normal.output_states
    (3,)
    >>> Genotype.from_json(g.to_json()) == g
    True
    """

    normal: Cell
    reduction: Cell

    def __post_init__(self):
        for name in ("normal", "reduction"):
            if not isinstance(getattr(self, name), Cell):
                raise ValueError(
                    f"`{name}` must be a `Cell`. Received: {_short(getattr(self, name))}"
                )

    def cells(self):
        """Returns `(("normal", cell), ("reduction", cell))`."""
        return (("normal", self.normal), ("reduction", self.reduction))

    def __str__(self):
        return f"normal: {self.normal}\nreduction: {self.reduction}"

    @classmethod
    def parse(cls, text):
        """Parses the text form. Raises ValueError naming what is wrong."""
        if not isinstance(text, str):
            raise ValueError(
                f"Genotype text must be a string. Received: {_short(text)}"
            )
        lines = [line.strip() for line in re.split(r"[\n;]", text) if line.strip()]
        cells = {}
        for line in lines:
            name, sep, body = line.partition(":")
            name = name.strip().lower()
            if not sep or name not in ("normal", "reduction"):
                raise ValueError(
                    "Each cell line must start with `normal:` or `reduction:`. "
                    f"Received: {line!r}"
                )
            if name in cells:
                raise ValueError(f"The {name} cell is given twice.")
            try:
                cells[name] = Cell.parse(body)
            except ValueError as e:
                raise ValueError(f"In the {name} cell: {e}") from None
        missing = [n for n in ("normal", "reduction") if n not in cells]
        if missing:
            raise ValueError(
                f"Genotype text has no {' and no '.join(missing)} cell. "
                "Expected two lines, `normal: ...` and `reduction: ...`."
            )
        return cls(cells["normal"], cells["reduction"])

    def to_dict(self):
        return {"normal": self.normal.to_dict(), "reduction": self.reduction.to_dict()}

    @classmethod
    def from_dict(cls, data):
        if not isinstance(data, dict):
            raise ValueError(
                f"A genotype must be a JSON object. Received: {_short(data)}"
            )
        unknown = set(data) - {"normal", "reduction"}
        missing = {"normal", "reduction"} - set(data)
        if unknown or missing:
            raise ValueError(
                "A genotype object needs exactly the keys `normal` and "
                f"`reduction`. Received keys: {_keys(data)}"
            )
        cells = {}
        for name in ("normal", "reduction"):
            try:
                cells[name] = Cell.from_dict(data[name])
            except ValueError as e:
                raise ValueError(f"In the {name} cell: {e}") from None
        return cls(**cells)

    def to_json(self, **kwargs):
        """Returns the JSON form as a string (`kwargs` go to `json.dumps`)."""
        return json.dumps(self.to_dict(), **kwargs)

    @classmethod
    def from_json(cls, text):
        """Parses the JSON form. Raises ValueError naming what is wrong."""
        if not isinstance(text, (str, bytes, bytearray)):
            raise ValueError(
                f"Genotype JSON must be a string. Received: {_short(text)}"
            )
        try:
            data = json.loads(text)
        except ValueError as e:  # JSONDecodeError, UnicodeDecodeError
            raise ValueError(f"Genotype JSON is not valid JSON: {e}") from None
        except RecursionError:
            raise ValueError(
                "Genotype JSON is nested too deeply to be a genotype (a genotype "
                "is 4 levels deep)."
            ) from None
        return cls.from_dict(data)
