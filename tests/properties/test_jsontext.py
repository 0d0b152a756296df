"""``projections.jsontext.compact`` writes what the standard encoder writes, for any JSON value the views hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.jsontext import compact, kept, parsed

# What the views hold: no binary floats (the domain refuses them), integers of any size.
values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


@settings(max_examples=500, deadline=None)
@given(value=values)
def test_compact_is_the_standard_encoders_text(value: Any) -> None:
    assert compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def test_what_orjson_refuses_is_written_by_the_standard_encoder() -> None:
    for value in ({"big": 2**70}, {1: "non-text key"}, ["\ud800"], {"nested": [-(2**64)]}):
        assert compact(value) == json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def same_json(x: Any, y: Any) -> bool:
    """Equal, and of the same types all the way down (``1 == True``, ``[] == ()`` are not)."""
    if type(x) is not type(y):
        return False
    if isinstance(x, dict):
        return list(x) == list(y) and all(same_json(x[k], y[k]) for k in x)
    if isinstance(x, list):
        return len(x) == len(y) and all(same_json(a, b) for a, b in zip(x, y, strict=True))
    return bool(x == y)


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_parsed_is_the_standard_decoders_value_for_any_text(value: Any) -> None:
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    for _ in range(2):  # decoded, then remembered
        assert same_json(parsed(text), json.loads(text))


@settings(max_examples=300, deadline=None)
@given(value=values)
def test_a_kept_values_text_parses_to_it(value: Any) -> None:
    text = kept(value)
    assert text == compact(value)
    assert same_json(parsed(text), json.loads(text))


def test_integers_beyond_64_bits_stay_integers() -> None:
    for value in ({"big": 2**70}, [-(2**64), 10**30]):
        text = compact(value)
        assert same_json(parsed(text), value)
