"""Response bodies of a negotiation's events (what was recorded, ledger entries, pages),
and the fingerprint of a request body that idempotent replays compare."""

from __future__ import annotations

import hashlib
import json
from datetime import date
from decimal import Decimal
from typing import Any
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from domain.canonical import format_recorded_at, payload_of
from domain.facts import fact_of
from domain.ledger import Recorded
from domain.negotiation import Negotiation


class RecordedEventPublic(BaseModel):
    event_id: str
    type: str
    version: int
    position: int | None
    recorded_at: str
    hash: str


class RecordedPublic(BaseModel):
    negotiation: str
    version: int
    events: list[RecordedEventPublic]


class EventPublic(BaseModel):
    """One ledger entry: the event's payload plus what the ledger knows about it."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    type: str
    version: int
    position: int | None
    occurred_at: str
    recorded_at: str
    recorded_by: str
    hash: str
    prev_hash: str
    retracted: bool
    retracted_by: str | None


class EventPage(BaseModel):
    negotiation: str
    events: list[EventPublic]
    next_after_version: int | None = Field(
        description="Pass as `after_version` for the next page; null at the end."
    )


def _as_json_text(value: Any) -> str:
    """What pydantic's JSON mode writes for the scalars its python mode keeps as objects."""
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be fingerprinted")


def fingerprint(data: Any) -> str:
    """SHA-256 of the canonical JSON of a parsed body: white space and key order do not count.

    Takes pydantic's python-mode dump as well as its JSON-mode one (the same digest): JSON
    mode encodes keys to UTF-8 and fails on a lone surrogate, which ASCII escapes keep here;
    the domain refuses it with a proper error once the request is decided.
    """
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_as_json_text
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def recorded_of(recorded: Recorded) -> RecordedPublic:
    return RecordedPublic(
        negotiation=recorded.negotiation,
        version=recorded.version,
        events=[
            RecordedEventPublic(
                event_id=str(e.event_id),
                type=e.type,
                version=e.version,
                position=e.position,
                recorded_at=format_recorded_at(e.recorded_at),
                hash=e.hash,
            )
            for e in recorded.events
        ],
    )


def entry_of(event: Any, neg: Negotiation, position: int | None) -> EventPublic:
    """A ledger entry: the contract payload plus the ledger's metadata and retraction status."""
    fact = fact_of(event)
    event_id = str(event.event_id)
    retracted_by = neg.retracted_by(event_id)
    return EventPublic(
        event_id=event_id,
        type=fact.TYPE,
        version=event.originator_version,
        position=position,
        occurred_at=fact.occurred_at.isoformat(),
        **payload_of(fact),
        recorded_at=format_recorded_at(event.timestamp),
        recorded_by=event.recorded_by,
        hash=event.hash,
        prev_hash=event.prev_hash,
        retracted=retracted_by is not None,
        retracted_by=retracted_by,
    )
