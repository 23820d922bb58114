"""Fuzzing where bad input enters: genotype text and JSON, IDX files.

Whatever they are given, the parsers either return a value or raise a
`ValueError` with a message; never a `TypeError`, `KeyError`, `IndexError`,
`RecursionError` or anything else.
"""

import json
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from keras_nasnet import genotypes
from keras_nasnet.data import idx
from keras_nasnet.space import Block, Cell, Genotype

_SETTINGS = settings(
    max_examples=250,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
_VALID_TEXT = str(genotypes.NASNET_A)
_VALID_JSON = genotypes.NASNET_A.to_json()
# Characters the text form is made of, so that mutations stay near-valid.
_ALPHABET = st.sampled_from(sorted(set(_VALID_TEXT + _VALID_JSON + "-|;:\n\t é٣")))


def _parses_or_value_error(parse, value):
    try:
        result = parse(value)
    except ValueError as e:
        assert str(e).strip(), f"empty message for {value!r}"
        return None
    assert isinstance(result, Genotype)
    # Whatever parses round-trips through both forms.
    assert Genotype.parse(str(result)) == result
    assert Genotype.from_json(result.to_json()) == result
    return result


@st.composite
def _mutations(draw, source):
    """`source` with a few characters deleted, inserted or replaced."""
    text = source
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        kind = draw(st.sampled_from(["delete", "insert", "replace", "cut"]))
        char = draw(_ALPHABET)
        if kind == "delete":
            text = text[:i] + text[i + 1 :]
        elif kind == "insert":
            text = text[:i] + char + text[i:]
        elif kind == "replace":
            text = text[:i] + char + text[i + 1 :]
        else:
            text = text[:i]
    return text


_json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(-3, 12)
    | st.integers()
    | st.floats(allow_nan=True)
    | st.sampled_from(["add", "concat", "sep_conv_3x3", "identity", "normal", ""])
    | st.text(max_size=8)
)
_json_keys = st.sampled_from(
    ["normal", "reduction", "blocks", "concat", "inputs", "ops", "combine"]
) | st.text(max_size=6)
_json_values = st.recursive(
    _json_scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(_json_keys, children, max_size=4)
    ),
    max_leaves=25,
)


@_SETTINGS
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    _parses_or_value_error(Genotype.parse, text)
    _parses_or_value_error(Genotype.from_json, text)


@_SETTINGS
@given(_mutations(_VALID_TEXT))
def test_mutated_genotype_text(text):
    _parses_or_value_error(Genotype.parse, text)


@_SETTINGS
@given(_mutations(_VALID_JSON))
def test_mutated_genotype_json(text):
    _parses_or_value_error(Genotype.from_json, text)


@_SETTINGS
@given(_json_values)
def test_arbitrary_json_structures(value):
    _parses_or_value_error(Genotype.from_dict, value)
    _parses_or_value_error(Genotype.from_json, json.dumps(value))


@_SETTINGS
@given(
    st.sampled_from(["normal", "reduction"]),
    st.integers(0, 4),
    st.sampled_from(["inputs", "ops", "combine", "concat", "blocks"]),
    _json_values,
)
def test_one_field_of_a_valid_genotype_replaced(cell, block, field, value):
    data = json.loads(_VALID_JSON)
    if field in ("concat", "blocks"):
        data[cell][field] = value
    else:
        data[cell]["blocks"][block][field] = value
    _parses_or_value_error(Genotype.from_dict, data)
    _parses_or_value_error(Genotype.from_json, json.dumps(data))


@pytest.mark.parametrize(
    "value",
    [
        b"\xff\xfe not utf-8",
        None,
        42,
        ["normal: identity(0) + identity(1)"],
        "[" * 100_000,
        '{"normal": ' * 100_000,
        "normal: identity(99999999999999999999999) + identity(0)\nreduction: x",
        "normal: identity(" + "9" * 5000 + ") + identity(0)\nreduction: x",
        "normal: identity(0) + identity(1) -> [" + "9" * 5000 + "]",
        "normal: identity(٣) + identity(0)\nreduction: identity(0) + identity(1)",
    ],
)
def test_hostile_inputs(value):
    for parse in (Genotype.parse, Genotype.from_json):
        _parses_or_value_error(parse, value)


def test_deeply_nested_structures_and_odd_keys():
    deep = []
    for _ in range(5000):
        deep = [deep]
    for value in (
        {"normal": deep, "reduction": deep},
        {"normal": {"blocks": deep}, "reduction": {}},
        {1: "a", "b": 2},
        {("t",): 1},
        {
            "normal": {
                "blocks": [{"inputs": [0, 1], "ops": ["identity", "identity"]}],
                "concat": [[1]],
            },
            "reduction": {},
        },
    ):
        _parses_or_value_error(Genotype.from_dict, value)
    with pytest.raises(ValueError):
        Cell.parse(None)
    with pytest.raises(ValueError):
        Block.from_dict([0, 1])


@_SETTINGS
@given(st.binary(max_size=64))
def test_arbitrary_idx_bytes(tmp_path, raw):
    path = os.path.join(tmp_path, "fuzz-idx")
    with open(path, "wb") as f:
        f.write(raw)
    try:
        array = idx.read_idx(path)
    except ValueError as e:
        assert path in str(e)
    else:
        assert isinstance(array, np.ndarray)
