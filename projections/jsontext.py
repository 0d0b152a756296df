"""Compact JSON text of the views' values: ``json.dumps(ensure_ascii=False, separators=(",", ":"))``.

Every view row and analytics body is written through ``compact``; a rebuild writes one per
event and more, so it uses orjson (several times faster than the standard encoder) and
falls back to the standard encoder for what orjson refuses (integers beyond 64 bits, keys
that are not strings, lone surrogates). The views hold no binary floats (the domain refuses
them: amounts are decimals, written as strings), the one kind of value the two would spell
differently; the tests hold the two equal for any other JSON value.

The runner reads back, batch after batch, the small rows it wrote the batch before (a
negotiation's ``order``, ``positions``, tips, pairs). ``kept`` writes a value and remembers
it under its text, and ``parsed`` answers a text with the value remembered under it (else
the standard decoder's, never orjson's: it reads integers beyond 64 bits as floats), so a
row this process wrote is not decoded again. The values are shared: whoever takes one never
changes it, nor a value after handing it to ``kept``.
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


KEPT_LIMIT = 2048
"""Texts remembered at most (then all are forgotten: the next reads decode again)."""
KEPT_MAX_CHARS = 8192
"""Longer texts are not remembered (a pair's history, a checkpoint: read seldom), so what is
remembered stays under 16 MB; a negotiation's tips and pair rows are a few hundred bytes."""
_kept: dict[str, Any] = {}
_absent = object()


def kept(value: Any) -> str:
    """``compact(value)``, remembering ``value`` as what the text decodes to (see ``parsed``).

    ``value`` must be plain JSON (lists, not tuples; no floats) and is never changed after.
    """
    text = compact(value)
    _keep(text, value)
    return text


def parsed(text: str) -> Any:
    """``json.loads(text)``: the value ``kept`` or ``parsed`` remembered under it, if any.

    Shared: the caller never changes it (copies what it changes).
    """
    found = _kept.get(text, _absent)
    if found is _absent:
        found = json.loads(text)
        _keep(text, found)
    return found


def _keep(text: str, value: Any) -> None:
    if len(text) > KEPT_MAX_CHARS:
        return
    if len(_kept) >= KEPT_LIMIT:
        _kept.clear()
    _kept[text] = value
