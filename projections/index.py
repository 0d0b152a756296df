"""Index: one summary line per negotiation, for listing them.

``status`` is the latest live ``status_changed`` by ``occurred_at`` (ties in recording order),
``open`` when there is none. ``events`` counts every recorded event, ``by_type`` per type and
``retracted`` those a retraction took back. ``last_occurred_at`` is the latest ``occurred_at``
among live events other than retractions (a retraction corrects the record, it is not
activity in the world); ``last_recorded_at`` is the latest ``recorded_at`` of any event.

``fold_negotiation`` is the index view's fold (``projections.views``): the same line kept
event by event as the log grows, as a ``NegotiationRow``. It differs from ``index_entry``
where an event is retracted after it set ``last_occurred_at``, and orders parties as they
joined rather than by ``occurred_at``: the API's index reads the view, the terminal's list
reads this.
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.canonical import format_recorded_at
from projections.records import Stream, live_records, retractions

if TYPE_CHECKING:
    from projections.views.events import EventRow


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
            entry = {"id": party.id, "name": party.name}
            if party.actor_code is not None:
                entry["actor_code"] = party.actor_code
            parties.append(entry)
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


@dataclass(frozen=True)
class NegotiationRow:
    """One negotiation, as the index view keeps it."""

    slug: str
    negotiation_id: str
    title: str
    subject: str | None
    status: str
    """The latest live ``status_changed`` by occurred_at (ties by version); ``open`` without."""
    parties: list[dict[str, str]]
    """Live parties in joining order: ``{id, name, event_id}``."""
    terms: list[dict[str, str]]
    """Live terms in defining order: ``{id, name, unit, event_id}``."""
    counts: dict[str, int]
    """Recorded events by type (retracted ones and retractions included, like the aggregate)."""
    version: int
    last_occurred_at: str
    last_occurred_key: str
    last_recorded_at: datetime
    opened_position: int
    status_changes: list[list[Any]]
    """Live status changes, sorted: ``[sort key, version, status, event_id]``."""


def fold_negotiation(
    row: NegotiationRow | None, event: EventRow, negotiation_id: str
) -> NegotiationRow:
    """The index row after one more event of its negotiation (events arrive in log order)."""
    payload = event.payload
    if row is None:
        if event.type != "negotiation_opened":
            msg = f"{event.negotiation}: event {event.event_id} arrived before the opening"
            raise ValueError(msg)
        row = NegotiationRow(
            slug=event.negotiation,
            negotiation_id=negotiation_id,
            title=payload["title"],
            subject=payload.get("subject"),
            status="open",
            parties=[],
            terms=[],
            counts={},
            version=0,
            last_occurred_at=event.occurred_at,
            last_occurred_key=event.sort_key,
            last_recorded_at=event.recorded_at,
            opened_position=event.position,
            status_changes=[],
        )
    parties, terms, changes = row.parties, row.terms, row.status_changes
    if event.type == "party_joined":
        party = payload["party"]
        parties = [*parties, {"id": party["id"], "name": party["name"], "event_id": event.event_id}]
    elif event.type == "term_defined":
        term = payload["term"]
        entry = {"id": term["id"], "name": term["name"], "unit": term["unit"]}
        terms = [*terms, {**entry, "event_id": event.event_id}]
    elif event.type == "status_changed":
        change = [event.sort_key, event.version, payload["status"], event.event_id]
        changes = sorted([*changes, change])
    elif event.type == "event_retracted":
        target = payload["retracted_event_id"]
        parties = [p for p in parties if p["event_id"] != target]
        terms = [t for t in terms if t["event_id"] != target]
        changes = [c for c in changes if c[3] != target]
    # A retraction corrects the record; it is not activity in the world.
    later = event.sort_key > row.last_occurred_key and event.type != "event_retracted"
    # The constructor, not dataclasses.replace(): this runs once per event.
    return NegotiationRow(
        slug=row.slug,
        negotiation_id=row.negotiation_id,
        title=row.title,
        subject=row.subject,
        opened_position=row.opened_position,
        status=changes[-1][2] if changes else "open",
        parties=parties,
        terms=terms,
        status_changes=changes,
        counts={**row.counts, event.type: row.counts.get(event.type, 0) + 1},
        version=max(row.version, event.version),
        last_occurred_at=event.occurred_at if later else row.last_occurred_at,
        last_occurred_key=event.sort_key if later else row.last_occurred_key,
        last_recorded_at=max(row.last_recorded_at, event.recorded_at),
    )


SHAPING_TYPES = frozenset(
    {"negotiation_opened", "party_joined", "term_defined", "status_changed", "event_retracted"}
)
"""Events that change more of an index row than its counts, version and times."""


@dataclass
class _Run:
    """Other events of one negotiation, folded at once: what ``fold_negotiation`` does to each."""

    counts: dict[str, int]
    version: int
    latest: EventRow | None
    """The first event with the greatest sort key."""
    recorded_at: datetime

    def add(self, event: EventRow) -> None:
        self.counts[event.type] = self.counts.get(event.type, 0) + 1
        if event.version > self.version:
            self.version = event.version
        if self.latest is None or event.sort_key > self.latest.sort_key:
            self.latest = event
        if event.recorded_at > self.recorded_at:
            self.recorded_at = event.recorded_at

    def onto(self, row: NegotiationRow) -> NegotiationRow:
        counts = dict(row.counts)
        for kind, n in self.counts.items():
            counts[kind] = counts.get(kind, 0) + n
        later = self.latest is not None and self.latest.sort_key > row.last_occurred_key
        return dataclasses.replace(
            row,
            counts=counts,
            version=max(row.version, self.version),
            last_occurred_at=self.latest.occurred_at
            if later and self.latest
            else row.last_occurred_at,
            last_occurred_key=self.latest.sort_key
            if later and self.latest
            else row.last_occurred_key,
            last_recorded_at=max(row.last_recorded_at, self.recorded_at),
        )


def fold_negotiations(
    rows: dict[str, NegotiationRow],
    events: Iterable[EventRow],
    negotiation_ids: Mapping[str, str],
) -> set[str]:
    """Folds events into ``rows`` in place; returns the slugs it changed.

    The same as ``fold_negotiation`` event by event, but the events that only count (offers,
    statements…) are gathered per negotiation and folded in once: a batch costs a row
    per negotiation, not per event.
    """
    runs: dict[str, _Run] = {}

    def flush(slug: str) -> None:
        run = runs.pop(slug, None)
        if run is not None:
            rows[slug] = run.onto(rows[slug])

    changed: set[str] = set()
    for event in events:
        slug = event.negotiation
        changed.add(slug)
        if event.type in SHAPING_TYPES or slug not in rows:
            flush(slug)
            rows[slug] = fold_negotiation(rows.get(slug), event, negotiation_ids.get(slug, ""))
            continue
        run = runs.get(slug)
        if run is None:
            run = runs[slug] = _Run({}, 0, None, rows[slug].last_recorded_at)
        run.add(event)
    for slug in list(runs):
        flush(slug)
    return changed
