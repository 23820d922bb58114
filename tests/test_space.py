"""Tests of the search space: genotype values, text/JSON forms, sampling, mutations."""

import json

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from keras_nasnet import genotypes
from keras_nasnet.space import (
    ADD,
    ALL_OPS,
    AMOEBANET_OPS,
    CONCAT,
    NASNET_OPS,
    Block,
    Cell,
    Genotype,
    mutate,
    mutate_hidden_state,
    mutate_op,
    random_genotype,
    search_space_size,
)

KNOWN = list(genotypes.KNOWN_GENOTYPES.items())


def test_op_vocabulary():
    assert len(NASNET_OPS) == 13
    assert len(set(NASNET_OPS)) == 13
    assert len(AMOEBANET_OPS) == 8
    assert set(AMOEBANET_OPS) <= set(ALL_OPS)
    assert "dil_sep_conv_3x3" in ALL_OPS and "dil_sep_conv_3x3" not in NASNET_OPS


@pytest.mark.parametrize("name,genotype", KNOWN)
def test_known_genotypes_round_trip(name, genotype):
    assert Genotype.parse(str(genotype)) == genotype
    assert Genotype.from_json(genotype.to_json()) == genotype
    assert genotypes.get(name.upper().replace("_", "-")) is genotype
    assert hash(Genotype.parse(str(genotype))) == hash(genotype)


def test_nasnet_a_matches_the_released_code():
    normal, reduction = genotypes.NASNET_A.normal, genotypes.NASNET_A.reduction
    assert normal.blocks[0] == Block(0, 1, "sep_conv_5x5", "sep_conv_3x3")
    assert normal.blocks[2] == Block(0, 1, "avg_pool_3x3", "identity")
    assert normal.output_states == (1, 2, 3, 4, 5, 6)
    assert reduction.blocks[3] == Block(3, 2, "identity", "avg_pool_3x3")
    assert reduction.output_states == (3, 4, 5, 6)
    assert genotypes.AMOEBANET_A.normal.output_states == (1, 3, 4, 6)
    assert genotypes.AMOEBANET_C.reduction.output_states == (0, 2, 3, 4, 5, 6)
    assert genotypes.AMOEBANET_A.reduction.blocks[3].op_b == "conv_1x7_7x1"


def test_derived_concat_is_unused_block_outputs():
    cell = Cell(
        (
            Block(0, 1, "identity", "identity"),
            Block(2, 0, "identity", "identity"),
            Block(0, 1, "identity", "identity"),
        )
    )
    # Block 0's output (state 2) is used by block 1; states 3 and 4 are not.
    assert cell.output_states == (3, 4)
    assert cell.concat is None
    assert "->" not in str(cell)


def test_values_are_immutable_and_hashable():
    g = genotypes.NASNET_A
    with pytest.raises(AttributeError):
        g.normal = g.reduction
    assert len({g, Genotype.parse(str(g)), genotypes.AMOEBANET_A}) == 2


def test_concat_combine_in_text_and_json():
    g = random_genotype(3, combines=(ADD, CONCAT))
    combines = {b.combine for _, c in g.cells() for b in c.blocks}
    assert combines == {ADD, CONCAT}
    assert "||" in str(g)
    assert Genotype.parse(str(g)) == g
    assert Genotype.from_json(g.to_json()) == g


def test_semicolon_separates_cells_on_one_line():
    text = str(genotypes.AMOEBANET_A).replace("\n", "; ")
    assert Genotype.parse(text) == genotypes.AMOEBANET_A


@pytest.mark.parametrize(
    "text,message",
    [
        (
            "normal: bad_op(0) + identity(1)\nreduction: identity(0) + identity(1)",
            "bad_op",
        ),
        (
            "normal: identity(2) + identity(1)\nreduction: identity(0) + identity(1)",
            "block 0 can only use states 0..1",
        ),
        ("normal: identity(0) + identity(1)", "no reduction cell"),
        (
            "normal: identity(0) * identity(1)\nreduction: identity(0) + identity(1)",
            "no combine symbol",
        ),
        (
            "normal: identity(0) + identity(1) -> [0, 5]\nreduction: identity(0) + identity(1)",
            "out of range",
        ),
        (
            "normal: identity(0) + identity(1) -> [2, 2]\nreduction: identity(0) + identity(1)",
            "repeats",
        ),
        (
            "normal: identity(0) + identity\nreduction: identity(0) + identity(1)",
            "op_name(state_index)",
        ),
        (
            "cell: identity(0) + identity(1)\nreduction: identity(0) + identity(1)",
            "must start with",
        ),
        ("", "no normal and no reduction"),
    ],
)
def test_parse_errors_name_the_problem(text, message):
    with pytest.raises(
        ValueError,
        match=message.replace("(", r"\(").replace(")", r"\)").replace("[", r"\["),
    ):
        Genotype.parse(text)


@pytest.mark.parametrize(
    "data,message",
    [
        ({"normal": {"blocks": []}, "reduction": {"blocks": []}}, "at least one block"),
        (
            {"normal": {"blocks": [{"inputs": [0, 1], "ops": ["identity", "nope"]}]}},
            "keys",
        ),
        (
            {
                "normal": {
                    "blocks": [{"inputs": [0], "ops": ["identity", "identity"]}]
                },
                "reduction": {"blocks": []},
            },
            "two values",
        ),
        (
            {
                "normal": {
                    "blocks": [{"inputs": [0, "1"], "ops": ["identity", "identity"]}]
                },
                "reduction": {"blocks": []},
            },
            "input_b",
        ),
        (
            {
                "normal": {
                    "blocks": [
                        {
                            "inputs": [0, 1],
                            "ops": ["identity", "identity"],
                            "combine": "mul",
                        }
                    ]
                },
                "reduction": {"blocks": []},
            },
            "combine method 'mul'",
        ),
    ],
)
def test_json_errors_name_the_problem(data, message):
    with pytest.raises(ValueError, match=message):
        Genotype.from_json(json.dumps(data))


def test_invalid_json_text():
    with pytest.raises(ValueError, match="not valid JSON"):
        Genotype.from_json("{normal:")


def test_random_genotypes_are_seeded_and_valid():
    a = [random_genotype(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert random_genotype(1) != random_genotype(2)
    rng = np.random.default_rng(0)
    seen_inputs = set()
    for _ in range(200):
        g = random_genotype(rng, ops=AMOEBANET_OPS, num_blocks=3)
        for _, cell in g.cells():
            assert cell.num_blocks == 3
            for b, block in enumerate(cell.blocks):
                assert set(block.ops) <= set(AMOEBANET_OPS)
                assert max(block.inputs) <= 1 + b
                seen_inputs.add((b, block.input_a))
    # Every legal input of every block is reached.
    assert seen_inputs == {(b, i) for b in range(3) for i in range(2 + b)}


def test_search_space_size():
    # Per cell: prod over blocks of (2+b)^2 * 13^2; two cells.
    per_cell = 1
    for b in range(5):
        per_cell *= (2 + b) ** 2 * 13**2
    assert search_space_size() == per_cell**2
    assert search_space_size(combines=(ADD, CONCAT)) == per_cell**2 * 2**10
    with pytest.raises(ValueError, match="num_blocks"):
        search_space_size(num_blocks=0)


def _diff(a, b):
    # (cell, block, field) of every decision that differs.
    out = []
    for (name, ca), (_, cb) in zip(a.cells(), b.cells(), strict=True):
        for i, (x, y) in enumerate(zip(ca.blocks, cb.blocks, strict=True)):
            for field in ("input_a", "input_b", "op_a", "op_b", "combine"):
                if getattr(x, field) != getattr(y, field):
                    out.append((name, i, field))
    return out


def test_hidden_state_mutation_changes_exactly_one_input():
    rng = np.random.default_rng(0)
    for _ in range(100):
        g = random_genotype(rng)
        child = mutate_hidden_state(g, rng)
        diff = _diff(g, child)
        assert len(diff) == 1 and diff[0][2].startswith("input_")


def test_op_mutation_changes_exactly_one_op():
    rng = np.random.default_rng(1)
    for _ in range(100):
        g = random_genotype(rng, ops=AMOEBANET_OPS)
        child = mutate_op(g, rng, ops=AMOEBANET_OPS)
        diff = _diff(g, child)
        assert len(diff) == 1 and diff[0][2].startswith("op_")
        name, b, field = diff[0]
        assert getattr(getattr(child, name).blocks[b], field) in AMOEBANET_OPS


def test_mutate_kinds_follow_the_paper_probabilities():
    rng = np.random.default_rng(2)
    g = genotypes.NASNET_A
    kinds = [mutate(g, rng)[1] for _ in range(4000)]
    frac = {k: kinds.count(k) / len(kinds) for k in set(kinds)}
    assert abs(frac["identity"] - 0.05) < 0.015
    assert abs(frac["hidden_state"] - 0.475) < 0.03
    assert abs(frac["op"] - 0.475) < 0.03
    child, kind = mutate(g, 0, identity_prob=1.0)
    assert kind == "identity" and child == g
    # Explicit concat lists survive a mutation.
    assert mutate(g, 0, identity_prob=0.0)[0].normal.concat == g.normal.concat


def test_mutate_op_needs_an_alternative():
    with pytest.raises(ValueError, match="no op other than"):
        mutate_op(random_genotype(0, ops=["identity"]), 0, ops=["identity"])


# Fuzzing: text and JSON input never raises anything but a ValueError.
@settings(max_examples=300, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(
            list("normalreduction:;,+|()->[]0123456789 _\nidentysepcov")
        ),
        max_size=120,
    )
)
def test_parse_fuzz_only_value_errors(text):
    try:
        Genotype.parse(text)
    except ValueError as e:
        assert str(e)


_json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-3, 8)
    | st.sampled_from(ALL_OPS + ("add", "concat", "x")),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(
                ["normal", "reduction", "blocks", "concat", "inputs", "ops", "combine"]
            ),
            children,
            max_size=4,
        )
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(_json_values)
def test_json_fuzz_only_value_errors(data):
    try:
        Genotype.from_json(json.dumps(data))
    except ValueError as e:
        assert str(e)
