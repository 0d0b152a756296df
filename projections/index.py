"""Index: one summary line per negotiation, for listing them.

``fold_negotiation`` is the one definition: the index view (``projections.views``) keeps its
output event by event as the log grows, as a ``NegotiationRow``, and ``GET /negotiations``
reads it; the terminal's list (``parley negotiations``) folds a negotiation's records with
the same function (``index_entry``). Both show a row as ``entry_of`` spells it.

``status`` is the latest live ``status_changed`` by ``occurred_at`` (ties in recording order),
``open`` when there is none: the rule of ``domain.status``, which the aggregate decides with. ``counts`` counts every recorded event per type (retracted ones
and retractions included). ``last_occurred_at`` is the latest ``occurred_at`` folded so far
of events other than retractions (a retraction corrects the record, it is not activity in
the world); ``last_recorded_at`` the latest ``recorded_at`` of any event.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.canonical import format_recorded_at
from domain.status import OPEN, StatusChange, status_now, with_change, without_event
from projections.records import Record, Stream

if TYPE_CHECKING:
    from projections.views.events import EventRow


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
    """Live parties in joining order: ``{id, name, event_id}`` (and ``actor_code`` if any)."""
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
    """Live status changes, sorted: ``domain.status.StatusChange`` as stored (JSON arrays)."""


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
            status=OPEN,
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
        joined = {"id": party["id"], "name": party["name"], "event_id": event.event_id}
        if party.get("actor_code") is not None:
            joined["actor_code"] = party["actor_code"]
        parties = [*parties, joined]
    elif event.type == "term_defined":
        term = payload["term"]
        entry = {"id": term["id"], "name": term["name"], "unit": term["unit"]}
        terms = [*terms, {**entry, "event_id": event.event_id}]
    elif event.type == "status_changed":
        change = StatusChange(event.sort_key, event.version, payload["status"], event.event_id)
        changes = [list(c) for c in with_change(changes, change)]
    elif event.type == "event_retracted":
        target = payload["retracted_event_id"]
        parties = [p for p in parties if p["event_id"] != target]
        terms = [t for t in terms if t["event_id"] != target]
        changes = [list(c) for c in without_event(changes, target)]
    # A retraction corrects the record; it is not activity in the world.
    later = event.sort_key > row.last_occurred_key and event.type != "event_retracted"
    # The constructor, not dataclasses.replace(): this runs once per event.
    return NegotiationRow(
        slug=row.slug,
        negotiation_id=row.negotiation_id,
        title=row.title,
        subject=row.subject,
        opened_position=row.opened_position,
        status=status_now(changes),
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
        latest = self.latest
        later = latest is not None and latest.sort_key > row.last_occurred_key
        # The constructor, not dataclasses.replace(): this runs once per negotiation a batch
        # touches.
        return NegotiationRow(
            slug=row.slug,
            negotiation_id=row.negotiation_id,
            title=row.title,
            subject=row.subject,
            status=row.status,
            parties=row.parties,
            terms=row.terms,
            counts=counts,
            version=max(row.version, self.version),
            last_occurred_at=latest.occurred_at if later and latest else row.last_occurred_at,
            last_occurred_key=latest.sort_key if later and latest else row.last_occurred_key,
            last_recorded_at=max(row.last_recorded_at, self.recorded_at),
            opened_position=row.opened_position,
            status_changes=row.status_changes,
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


def entry_of(row: NegotiationRow) -> dict[str, Any]:
    """A row as the list shows it: ``GET /negotiations`` items (less their gaps) and the CLI."""
    return {
        "slug": row.slug,
        "title": row.title,
        "subject": row.subject,
        "status": row.status,
        "version": row.version,
        "parties": [
            {"id": p["id"], "name": p["name"], "actor_code": p.get("actor_code")}
            for p in row.parties
        ],
        "terms": [{"id": t["id"], "name": t["name"], "unit": t["unit"]} for t in row.terms],
        "counts": dict(sorted(row.counts.items())),
        "last_occurred_at": row.last_occurred_at,
        "updated_at": format_recorded_at(row.last_recorded_at),
    }


def row_of_record(slug: str, record: Record) -> EventRow:
    """The events-view row of a record, as far as the index fold reads one."""
    from projections.views.events import EventRow

    occurred_at = record.occurred_at
    return EventRow(
        position=record.version,
        negotiation=slug,
        version=record.version,
        event_id=record.event_id,
        type=record.type,
        occurred_at=occurred_at.isoformat(),
        sort_key=record.key,
        recorded_at=record.recorded_at,
        recorded_by=record.recorded_by,
        party=record.party,
        payload=record.payload(),
        hash=record.hash or "",
        prev_hash=record.prev_hash or "",
    )


def index_entry(stream: Stream) -> dict[str, Any] | None:
    """A negotiation's list entry from its records (``fold_negotiation``); None before its opening."""
    opened = stream.opened
    if opened is None:
        return None
    slug = opened.get("slug")
    row: NegotiationRow | None = None
    for record in sorted(stream.records, key=lambda r: r.version):
        row = fold_negotiation(row, row_of_record(slug, record), "")
    return None if row is None else entry_of(row)
