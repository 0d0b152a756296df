"""Timeline: every event of a negotiation in ``occurred_at`` order, ties in recording order.

Filters: ``types`` (any of), ``party`` (events naming that party: ``party``, ``raised_by``,
``initiated_by``, participants, readouts, delegations, a joining party), ``from``
(``occurred_at`` on or after it; a date from its 00:00 UTC) and ``to`` (on or before it; a
date includes the whole day). ``as_of`` keeps what had occurred by then, like ``to``.
Retracted events stay on the timeline, flagged, with the event that retracted them; a
retraction counts whatever ``as_of`` is, because it corrects the record.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any

from domain.canonical import format_recorded_at
from domain.values import OccurredAt, end_of_key, parse_occurred_at, sort_key
from projections.positions import format_at, parse_as_of
from projections.records import END_OF_TIME, Record, Stream, retractions, world_order


def entry_of(record: Record, retracted_by: Record | None) -> dict[str, Any]:
    return {
        "event_id": record.event_id,
        "type": record.type,
        "occurred_at": record.occurred_at.isoformat(),
        "version": record.version,
        "recorded_at": format_recorded_at(record.recorded_at),
        "recorded_by": record.recorded_by,
        "payload": record.payload(),
        "retracted": retracted_by is not None,
        "retracted_by": None if retracted_by is None else retracted_by.event_id,
    }


def timeline(
    stream: Stream,
    *,
    types: Collection[str] | None = None,
    party: str | None = None,
    from_: OccurredAt | str | None = None,
    to: OccurredAt | str | None = None,
    as_of: OccurredAt | str | None = None,
) -> dict[str, Any]:
    """The ``/timeline`` document: ``{negotiation, as_of, events: [...]}``."""
    if isinstance(types, str):
        types = {types}
    moment = parse_as_of(as_of)
    low = "" if from_ is None else sort_key(parse_occurred_at(from_, "from"))
    high = END_OF_TIME if to is None else end_of_key(parse_occurred_at(to, "to"))
    if moment is not None:
        high = min(high, end_of_key(moment))
    retracted = retractions(stream.records)
    events = [
        entry_of(record, retracted.get(record.event_id))
        for record in world_order(stream.records)
        if low <= record.key <= high
        and (not types or record.type in types)
        and (party is None or party in record.parties())
    ]
    return {"negotiation": stream.slug, "as_of": format_at(moment), "events": events}
