"""Compact JSON text of the views' values: ``json.dumps(ensure_ascii=False, separators=(",", ":"))``.

Every view row and analytics body is written through ``compact``; a rebuild writes one per
event and more, so it uses orjson (several times faster than the standard encoder) and
falls back to the standard encoder for what orjson refuses (integers beyond 64 bits, keys
that are not strings, lone surrogates). The views hold no binary floats (the domain refuses
them: amounts are decimals, written as strings), the one kind of value the two would spell
differently; the tests hold the two equal for any other JSON value.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

_standard = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False)


def compact(value: Any) -> str:
    """``value`` as compact JSON text, exactly as the standard encoder writes it."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # orjson.JSONEncodeError is a TypeError
        return _standard.encode(value)
