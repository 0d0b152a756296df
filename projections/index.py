"""Index: one summary line per negotiation, for listing them.

``status`` is the latest live ``status_changed`` by ``occurred_at`` (ties in recording order),
``open`` when there is none. ``events`` counts every recorded event, ``by_type`` per type and
``retracted`` those a retraction took back. ``last_occurred_at`` is the latest ``occurred_at``
among live events other than retractions (a retraction corrects the record, it is not
activity in the world); ``last_recorded_at`` is the latest ``recorded_at`` of any event.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from domain.canonical import format_recorded_at
from projections.records import Stream, live_records, retractions


def index_entry(stream: Stream) -> dict[str, Any] | None:
    """The summary of one negotiation; None before its opening event arrived."""
    opened = stream.opened
    if opened is None:
        return None
    live = live_records(stream.records)
    status = "open"
    parties = []
    for record in live:
        if record.type == "status_changed":
            status = record.get("status")
        elif record.type == "party_joined":
            party = record.get("party")
            parties.append({"id": party.id, "name": party.name})
    last_occurred = live[-1] if live else None
    last_recorded = max(stream.records, key=lambda r: r.recorded_at)
    return {
        "slug": opened.get("slug"),
        "title": opened.get("title"),
        "subject": opened.get("subject"),
        "status": status,
        "parties": parties,
        "version": stream.version,
        "events": len(stream.records),
        "by_type": dict(sorted(Counter(r.type for r in stream.records).items())),
        "retracted": len(retractions(stream.records)),
        "last_occurred_at": None
        if last_occurred is None
        else last_occurred.occurred_at.isoformat(),
        "last_recorded_at": format_recorded_at(last_recorded.recorded_at),
    }
