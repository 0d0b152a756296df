"""The canonical encoding of a recorded event, and its SHA-256 hash (see docs/ledger-format.md)."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

from domain.facts import FACT_TYPES, Fact, fact_of, field_names
from domain.verify import (
    FORMAT_KEY,
    GENESIS_HASH,
    LEDGER_FORMATS,
    MAX_SAFE_INTEGER,
    document_bytes,
)

__all__ = ["FORMAT_KEY", "GENESIS_HASH", "LEDGER_FORMAT", "LEDGER_FORMATS", "MAX_SAFE_INTEGER"]

LEDGER_FORMAT = 2
"""The ledger format of new events: RFC 8785 bytes, ``ledger_format`` hashed in the document.

Format 1 (events recorded before it) hashed Python's sorted compact JSON; those events keep
their format and hash forever, and every reader hashes each event in its own format.
"""

FACT_COMMON_FIELDS = ("occurred_at", "sources", "note")


def to_json(value: Any) -> Any:
    """Plain JSON data for a domain value: decimals as strings, dates as ISO 8601.

    The value types events carry are told apart by their exact type first (an isinstance
    chain, walked for every value of every event hashed, was a visible share of an append);
    any other value, subclasses included, takes the chain (``_to_json_any``), so the answer
    is the same either way (tests/properties/test_canonical_fast.py holds them equal).
    """
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is dict:
        return {str(k): to_json(v) for k, v in value.items()}
    if kind is tuple or kind is list:
        return [to_json(v) for v in value]
    if kind is date or kind is datetime:
        return value.isoformat()
    if kind is UUID:
        return str(value)
    names = _DATACLASS_NAMES.get(kind)
    if names is not None:
        return {name: to_json(getattr(value, name)) for name in names}
    return _to_json_any(value)


_DATACLASS_NAMES: dict[type[Any], tuple[str, ...]] = {}
"""The field names of each dataclass ``_to_json_any`` has met (their fields never change)."""


def _to_json_any(value: Any) -> Any:
    """``to_json`` of any value, by the isinstance chain that defines it."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        names = field_names(type(value))
        _DATACLASS_NAMES[type(value)] = names
        return {name: to_json(getattr(value, name)) for name in names}
    if isinstance(value, Mapping):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [to_json(v) for v in value]
    msg = f"no canonical JSON form for {type(value).__name__}"
    raise TypeError(msg)


def fact_fields(fact_type: type[Fact]) -> tuple[str, ...]:
    """The payload fields of a fact type, beyond the fields every fact has."""
    found = _FACT_FIELDS.get(fact_type)
    if found is None:
        own = [name for name in field_names(fact_type) if name not in FACT_COMMON_FIELDS]
        base = set(field_names(Fact))
        found = _FACT_FIELDS[fact_type] = tuple(name for name in own if name not in base)
    return found


_FACT_FIELDS: dict[type[Any], tuple[str, ...]] = {}


@functools.cache
def _payload_names(fact_type: str) -> tuple[str, ...]:
    """The fields ``payload_of`` reads of a fact type, in order."""
    common = [name for name in field_names(Fact) if name != "occurred_at"]
    return (*common, *fact_fields(FACT_TYPES[fact_type]))


def payload_of(fact: Fact, ledger_format: int = LEDGER_FORMAT) -> dict[str, Any]:
    """The contract's payload of a fact (or of a stored event: its metadata is left out).

    In ledger format 1 a party is ``{id, name}``: the actor code came with format 2, and a
    format-1 event never has one.
    """
    payload = {name: to_json(getattr(fact, name)) for name in _payload_names(fact.TYPE)}
    party = payload.get("party") if fact.TYPE == "party_joined" else None
    if ledger_format == 1 and isinstance(party, dict) and party.pop("actor_code", None):
        msg = "ledger format 1 has no actor codes"
        raise ValueError(msg)
    return payload


def format_recorded_at(recorded_at: datetime) -> str:
    return recorded_at.astimezone(UTC).isoformat(timespec="microseconds")


def canonical_document(
    *,
    fact: Fact,
    negotiation: str,
    version: int,
    event_id: UUID | str,
    recorded_at: datetime,
    recorded_by: str,
    prev_hash: str,
    ledger_format: int = LEDGER_FORMAT,
) -> dict[str, Any]:
    """The hashed document of an event; format 2 adds ``ledger_format``, format 1 has none."""
    document: dict[str, Any] = {
        "event_id": str(event_id),
        "negotiation": negotiation,
        "occurred_at": fact.occurred_at.isoformat(),
        "payload": payload_of(fact, ledger_format),
        "prev_hash": prev_hash,
        "recorded_at": format_recorded_at(recorded_at),
        "recorded_by": recorded_by,
        "type": fact.TYPE,
        "version": version,
    }
    if ledger_format != 1:
        document[FORMAT_KEY] = ledger_format
    return document


class StoredEvent(Protocol):
    """What the document of a stored event is made of, beside its fact (``Negotiation.Event``)."""

    originator_version: int
    event_id: UUID
    timestamp: datetime
    recorded_by: str
    prev_hash: str
    ledger_format: int


def stored_document(
    event: StoredEvent, negotiation: str, fact: Fact | None = None
) -> dict[str, Any]:
    """The hashed document of an event as stored in ``negotiation``, in its own format.

    Its payload is ``fact``, or else the fact the event records (``facts.fact_of``).
    """
    return canonical_document(
        fact=fact_of(event) if fact is None else fact,
        negotiation=negotiation,
        version=event.originator_version,
        event_id=event.event_id,
        recorded_at=event.timestamp,
        recorded_by=event.recorded_by,
        prev_hash=event.prev_hash,
        ledger_format=event.ledger_format,
    )


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes of a document in its ledger format: RFC 8785 (2), or sorted compact JSON (1)."""
    return document_bytes(document)


def event_hash(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


_ASTRAL = re.compile("[\U00010000-\U0010ffff]")


def built_bytes(document: dict[str, Any]) -> bytes:
    """``canonical_bytes`` of a document ``canonical_document`` built, made faster.

    Its values are ``to_json``'s: strings, integers, booleans, None, lists and dicts, never
    a float. For such data the json module's sorted compact non-ASCII encoding *is* RFC 8785
    (the same string escapes, integers as written) as long as no key orders differently by
    code point than by UTF-16 code unit, which takes a character beyond U+FFFF: a text
    without one is returned as is, any other goes through ``document_bytes``. Format 1 is
    that json encoding by definition.
    """
    text = json.dumps(
        document, ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False
    )
    # isascii() first: searching the text for astral characters cost more than hashing it.
    if FORMAT_KEY in document and not text.isascii() and _ASTRAL.search(text):
        return document_bytes(document)
    return text.encode("utf-8")


def built_hash(document: dict[str, Any]) -> str:
    """``event_hash`` of a document ``canonical_document`` built (see ``built_bytes``)."""
    return hashlib.sha256(built_bytes(document)).hexdigest()
