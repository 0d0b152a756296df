"""What the ledger answers a client after a command: the events stored, with their positions."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from domain.negotiation import Negotiation


@dataclass(frozen=True)
class RecordedEvent:
    """What the ledger tells a client about an event it has just stored."""

    event_id: UUID
    type: str
    version: int
    position: int | None
    recorded_at: datetime
    hash: str


@dataclass(frozen=True)
class Recorded:
    negotiation: str
    version: int
    events: tuple[RecordedEvent, ...]
    replayed: bool = False
    """True when an idempotent repeat answered with the first request's events."""

    @property
    def position(self) -> int:
        return max((e.position or 0) for e in self.events)


def recorded_from_stored(
    slug: str,
    version: int,
    stored: Iterable[Any],
    positions: Mapping[int, int],
    *,
    replayed: bool = False,
) -> Recorded:
    """The answer made of events read back from the store (their positions looked up)."""
    return Recorded(
        negotiation=slug,
        version=version,
        events=tuple(
            RecordedEvent(
                e.event_id,
                e.TYPE,
                e.originator_version,
                positions.get(e.originator_version),
                e.timestamp,
                e.hash,
            )
            for e in stored
        ),
        replayed=replayed,
    )


def recorded_from_recordings(
    neg: Negotiation, recordings: Sequence[Any], first_version: int
) -> Recorded:
    """The answer made of a save's recordings: this command's events, from ``first_version``."""
    stored = [r for r in recordings if isinstance(r.domain_event, Negotiation.Event)]
    return Recorded(
        negotiation=neg.slug,
        version=neg.version,
        events=tuple(
            RecordedEvent(
                r.domain_event.event_id,
                r.domain_event.TYPE,
                r.domain_event.originator_version,
                r.notification.id,
                r.domain_event.timestamp,
                r.domain_event.hash,
            )
            for r in stored
            if r.domain_event.originator_version >= first_version
        ),
    )
