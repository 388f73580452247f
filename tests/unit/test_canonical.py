"""The canonical JSON that is signed: the fast path writes exactly what RFC 8785 (the ``rfc8785`` package)
writes, for every JSON value, and refuses what it refuses."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from shared.wire.canonical import MAX_SAFE_INTEGER, _plain, canonical_json

# Text from all of Unicode, control characters, quotes, backslashes and astral characters included.
TEXT = st.text(st.characters(codec="utf-8"), max_size=12) | st.sampled_from(
    ["", '"', "\\", "\b\f\n\r\t", "\x00\x1f\x7f", "\u2028\u2029", "😀", "\ue000", "Қазақ", "/"]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**60), max_value=2**60)
    | st.sampled_from([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, MAX_SAFE_INTEGER + 1, 0])
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    SCALARS, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4), max_leaves=20
)


def outcome(encode: Any, value: Any) -> tuple[str, Any]:
    try:
        return "bytes", encode(value)
    except Exception as exc:  # the two must refuse the same values, with the same kind of error
        return "error", type(exc)


@settings(max_examples=600, deadline=None)
@given(JSON)
def test_fast_canonical_json_is_rfc8785(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value)


@pytest.mark.parametrize(
    "value",
    [
        {"b": 1, "a": [True, None, "x"], "\ue000": 1, "😀": 2},  # UTF-16 order differs from code-point order
        {"text": "\ud800"},  # a lone surrogate
        {"n": 1.0, "m": 1e21, "k": -0.0},  # ECMAScript number formatting
        {"big": 2**53},
        {"tuple": (1, 2)},
        {1: "integer key"},
    ],
)
def test_values_off_the_fast_path_are_rfc8785s_to_decide(value: Any) -> None:
    assert outcome(canonical_json, value) == outcome(rfc8785.dumps, value)


def test_an_envelope_like_value_is_written_by_the_fast_path() -> None:
    value = {"payload": {"iin": "850315300019", "name": 'Әлия "Қ"\n', "n": 3}, "id": "x", "ok": True, "c": None}
    assert _plain(value)
    assert canonical_json(value) == rfc8785.dumps(value)
    assert canonical_json(value).startswith(b'{"c":null,"id":"x","ok":true,"payload":{"iin":')
