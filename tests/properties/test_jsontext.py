"""``projections.jsontext.compact`` writes what the standard encoder writes, for any JSON value the views hold."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from projections.jsontext import compact

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
