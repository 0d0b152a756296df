"""Materialised read views, kept with tracking records written in the same transaction.

Three views, each tracked under its own name (eventsourcing's ``Tracking``):

- ``parley_view_events``: one row per stored negotiation event, keyed by its log position
  (the notification id). ``retracted_by`` is filled when the retraction is applied.
- ``parley_view_negotiations``: one row per negotiation (title, status, parties, terms,
  counts…), for the list and the summaries.
- ``parley_view_merkle``: the RFC 9162 Merkle tree over the global log (``domain.merkle``),
  in two tables: ``…_leaves`` (one row per event: a gap-free ``leaf_index`` counted from 0,
  its log position, event id, negotiation, version and hash; PostgreSQL may skip log
  positions, leaves never skip) and ``…_nodes`` (``level, idx, hash``: every complete
  subtree, written once and never changed). The tree's size is the number of leaves.

A batch of events is applied to a view and its tracking row advanced in one transaction.
Before writing, the transaction locks the view's tracking row and checks that it still
holds the position the runner started from; the library's tracking insert (which only
moves forward) is the second guard. So a batch that another runner has already applied
fails and rolls back: each event lands once, and a restart resumes from the tracked
position. Views live next to the events: the same SQLite file, the same PostgreSQL
schema; on ``memory://`` an in-process store keeps the same interface.

Rebuild writes fresh tables (``<view>_new``) from zero, then, in one transaction, applies
whatever arrived meanwhile, drops the old table, renames the new one into place and sets
its tracking position; readers keep reading the old table until that commit.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import hashlib
import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, ClassVar, cast

from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    OperationalError,
    PersistenceError,
    Tracking,
)
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from domain import merkle
from domain.canonical import fact_fields, format_recorded_at, to_json
from domain.facts import FACT_TYPES, Fact
from domain.negotiation import Negotiation
from domain.values import sort_key

EVENTS_VIEW = "parley_view_events"
INDEX_VIEW = "parley_view_negotiations"
MERKLE_VIEW = "parley_view_merkle"
VIEWS: tuple[str, ...] = (EVENTS_VIEW, INDEX_VIEW, MERKLE_VIEW)
REBUILD_SUFFIX = "_new"
POSTGRES_TRACKING_TABLE = "parley_view_tracking"
POSTGRES_CREATE_LOCK = 0x7061726C6576  # serialises creating the view tables across processes

#: Parameters per ``IN (…)`` list, well under SQLite's limit.
IN_CHUNK = 500

ReadBatch = Callable[[int], tuple[list["EventRow"], int]]
"""``after position -> (rows, last position read)``: how a rebuild catches up at the swap."""


class ViewMovedError(IntegrityError):
    """The view's tracked position is not where this batch started: someone else applied it."""


def merkle_tables(name: str) -> tuple[str, str]:
    """The leaves and nodes tables of the Merkle view kept under ``name``."""
    return name + "_leaves", name + "_nodes"


def table_names(view: str, name: str) -> tuple[str, ...]:
    """The tables of a view kept under ``name`` (its own name, or its rebuild's)."""
    return merkle_tables(name) if view == MERKLE_VIEW else (name,)


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete subtrees that make up a tree of ``size`` leaves: all that appending reads."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def merkle_append(
    known: Mapping[tuple[int, int], bytes], size: int, event_hashes: Sequence[str]
) -> list[tuple[int, int, bytes]]:
    """``domain.merkle.append`` for a batch, as ``(level, index, hash)`` rows to insert.

    ``known`` holds the tree's ``frontier(size)``. The left sibling of every node a leaf
    completes is the last node stored at its level: the frontier's, or one made in this
    batch. So one dict by level replaces the node store (this runs for every event).
    """
    last: dict[int, bytes] = {}
    for level, index in frontier(size):
        if (level, index) not in known:
            msg = f"the tree of {size} leaves lacks its node ({level}, {index})"
            raise merkle.MissingNodeError(msg)
        last[level] = known[level, index]
    sha256 = hashlib.sha256
    leaf_prefix, node_prefix = merkle.LEAF_PREFIX, merkle.NODE_PREFIX
    fromhex = bytes.fromhex
    fresh: list[tuple[int, int, bytes]] = []
    append = fresh.append
    for index, event_hash in enumerate(event_hashes, size):
        data = fromhex(event_hash)
        if len(data) != merkle.HASH_SIZE:
            msg = f"an event hash is {2 * merkle.HASH_SIZE} hex digits, got {len(event_hash)}"
            raise ValueError(msg)
        level, current = 0, sha256(leaf_prefix + data).digest()
        append((0, index, current))
        while index & 1:
            current = sha256(node_prefix + last[level] + current).digest()
            level, index = level + 1, index >> 1
            append((level, index, current))
        last[level] = current
    return fresh


def check_views(views: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(views)
    unknown = [v for v in chosen if v not in VIEWS]
    if unknown or not chosen:
        msg = f"unknown view(s) {unknown}; the views are {', '.join(VIEWS)}"
        raise ValueError(msg)
    return chosen


# ------------------------------------------------------------------------------ rows


@dataclass(frozen=True)
class EventRow:
    """One stored negotiation event, as the events view keeps it."""

    position: int
    negotiation: str
    version: int
    event_id: str
    type: str
    occurred_at: str
    """As given: an ISO date or a datetime with its offset."""
    sort_key: str
    recorded_at: datetime
    recorded_by: str
    party: str | None
    payload: dict[str, Any]
    """The contract's payload (``domain.canonical.payload_of``): decimals as strings."""
    hash: str
    prev_hash: str
    retracted_by: str | None = None


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


@dataclass(frozen=True)
class LeafRow:
    """One leaf of the Merkle view: the ``leaf_index``-th event of the global log."""

    leaf_index: int
    position: int
    event_id: str
    negotiation: str
    version: int
    hash: str
    """The event's own hash (hex); the leaf hash is ``domain.merkle.event_leaf`` of it."""


def leaf_rows(size: int, rows: Sequence[EventRow]) -> list[LeafRow]:
    """The leaves that events (in log order) add to a tree of ``size`` leaves."""
    return [
        LeafRow(size + i, r.position, r.event_id, r.negotiation, r.version, r.hash)
        for i, r in enumerate(rows)
    ]


@functools.cache
def _payload_names(event_type: type[Any]) -> tuple[str, ...]:
    """The payload's field names of a stored event class, in ``payload_of`` order."""
    fact_type = FACT_TYPES[event_type.TYPE]
    common = [f.name for f in dataclasses.fields(Fact) if f.name != "occurred_at"]
    return (*common, *fact_fields(fact_type))


def _plain(value: Any) -> Any:
    """``to_json`` for the value types events carry, without its isinstance chain.

    Exact types only: anything else (subclasses, datetimes, UUIDs) goes to ``to_json``,
    so the result is always the same as its.
    """
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _plain(v) for v in value]
    if kind is date:
        return value.isoformat()
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    names = _DATACLASS_FIELDS.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _DATACLASS_FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
        return _plain(value)
    return to_json(value)


_DATACLASS_FIELDS: dict[type[Any], tuple[str, ...]] = {}
"""The field names of each value dataclass met so far."""
_SCALARS = frozenset({str, int, bool, type(None)})


def event_row(position: int, slug: str, event: Negotiation.Event) -> EventRow:
    """The events-view row of a stored event at a log position.

    The payload is ``payload_of(fact)`` without building the fact first (this runs for
    every event on every rebuild); the tests hold the two equal.
    """
    fact = cast(Fact, event)
    party = getattr(event, "party", None)
    if party is not None and not isinstance(party, str):
        party = party.id  # party_joined carries the whole party
    if party is None:
        raised_by = getattr(event, "raised_by", None)
        party = raised_by if isinstance(raised_by, str) else None
    occurred_at = fact.occurred_at
    fields = {
        "position": position,
        "negotiation": slug,
        "version": event.originator_version,
        "event_id": str(event.event_id),
        "type": fact.TYPE,
        "occurred_at": occurred_at.isoformat(),
        "sort_key": _sort_key(occurred_at),
        "recorded_at": event.timestamp.astimezone(UTC),
        "recorded_by": event.recorded_by,
        "party": party,
        "payload": {
            name: value if type(value) in _SCALARS else _plain(value)
            for name in _payload_names(type(event))
            for value in (getattr(event, name),)
        },
        "hash": event.hash,
        "prev_hash": event.prev_hash,
        "retracted_by": None,
    }
    # What the frozen dataclass's __init__ does (it has no __post_init__), without its
    # object.__setattr__ per field: a quarter of building a row. Every field is set.
    row = object.__new__(EventRow)
    row.__dict__.update(fields)
    return row


_sort_key = functools.lru_cache(maxsize=4096)(sort_key)
"""Events of a negotiation share their days: the key of each is worked out once."""


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


# ----------------------------------------------------------------------- interface


class Views(ABC):
    """The read views of one store, their tracking positions, and their rebuild."""

    kind: ClassVar[str] = ""
    poll_interval: float = 1.0
    """How long the runner waits for new events before looking again (a bounded poll)."""
    coalesce: float = 0.0
    """How long the runner lets events gather after a wake before applying them."""

    @abstractmethod
    def create_tables(self) -> None:
        """Creates the view tables and tracking rows (idempotent)."""

    @abstractmethod
    def tracked_positions(self) -> dict[str, int]:
        """Each view's tracked log position (0 before any event)."""

    def tracked_position(self, view: str) -> int:
        return self.tracked_positions()[check_views([view])[0]]

    @abstractmethod
    def apply(self, rows: Sequence[EventRow], start: Mapping[str, int], end: int) -> int:
        """Applies the rows after ``start[view]`` to each view, tracking ``end``, in one transaction.

        Raises ``IntegrityError`` (``ViewMovedError``) when a view is no longer at ``start``;
        nothing is then written. Returns how many rows were applied (to any view).
        """

    # Reading.

    @abstractmethod
    def events_of(
        self, slug: str, after_version: int = 0, limit: int | None = None
    ) -> list[EventRow]:
        """A negotiation's events in recorded order (by version)."""

    @abstractmethod
    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        """A negotiation's events by occurred_at, ties in recording order."""

    @abstractmethod
    def negotiation_row(self, slug: str) -> NegotiationRow | None: ...

    @abstractmethod
    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        """Negotiations in the order they were opened, after a cursor (an opened position)."""

    @abstractmethod
    def event_rows(self, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
        """Rows of the events view by position, a page at a time."""

    @abstractmethod
    def row_count(self, view: str) -> int: ...

    # Reading the Merkle view.

    @abstractmethod
    def tree_size(self) -> int:
        """How many leaves the Merkle view holds: the size of the tree it can prove."""

    @abstractmethod
    def merkle_nodes(self, addresses: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        """The stored nodes at those ``(level, index)`` addresses, in one read."""

    @abstractmethod
    def leaf_of(self, event_id: str) -> LeafRow | None:
        """The leaf of an event, by its id."""

    @abstractmethod
    def leaves(self, start: int = 0, limit: int = 1000) -> list[LeafRow]:
        """Leaves from ``leaf_index`` ``start`` on, in order, a page at a time."""

    @abstractmethod
    def node_rows(self) -> list[merkle.Node]:
        """Every stored node by level and index (for comparing trees in tests)."""

    def node_store(self, addresses: Iterable[tuple[int, int]]) -> merkle.DictNodeStore:
        """A node store holding the named nodes, fetched in one read (what a proof needs)."""
        found = self.merkle_nodes(addresses)
        return merkle.DictNodeStore(merkle.Node(lv, ix, h) for (lv, ix), h in found.items())

    def dump(self, view: str) -> list[Any]:
        """The whole content of a view, in key order (for comparing views in tests)."""
        if check_views([view])[0] == MERKLE_VIEW:
            leaves: list[LeafRow] = []
            while page3 := self.leaves(len(leaves), 1000):
                leaves.extend(page3)
            return [*leaves, *self.node_rows()]
        if view == EVENTS_VIEW:
            rows: list[EventRow] = []
            while page := self.event_rows(rows[-1].position if rows else 0, 1000):
                rows.extend(page)
            return rows
        found: list[NegotiationRow] = []
        while page2 := self.list_negotiations(found[-1].opened_position if found else 0, 1000):
            found.extend(page2)
        return found

    # Rebuilding.

    @abstractmethod
    def start_rebuild(self, views: Sequence[str]) -> None:
        """Creates empty fresh tables for the views."""

    @abstractmethod
    def apply_rebuild(self, views: Sequence[str], rows: Sequence[EventRow]) -> None:
        """Applies rows to the fresh tables (no tracking: nobody reads them yet)."""

    @abstractmethod
    def finish_rebuild(self, views: Sequence[str], position: int, read: ReadBatch) -> int:
        """Catches the fresh tables up and swaps them in with their tracking; returns the position."""

    def listen(self, wake: threading.Event) -> Callable[[], None]:
        """Sets ``wake`` when new events may have arrived; returns how to stop listening."""
        return lambda: None


def open_views(recorder: ApplicationRecorder, *, create_tables: bool = True) -> Views:
    """The views of the store the ledger's recorder writes to."""
    from eventsourcing.popo import POPOApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    views: Views
    if isinstance(recorder, POPOApplicationRecorder):
        views = MemoryViews(recorder)
    elif isinstance(recorder, SQLiteApplicationRecorder):
        views = SQLiteViews(recorder.datastore)
    else:
        from eventsourcing.postgres import PostgresApplicationRecorder

        if not isinstance(recorder, PostgresApplicationRecorder):
            msg = f"no views for a {type(recorder).__name__}"
            raise TypeError(msg)
        views = cast(Any, postgres_views_class())(recorder.datastore, channel=recorder.channel_name)
    if create_tables:
        views.create_tables()
    return views


# -------------------------------------------------------------------------- memory


@dataclass
class _MemoryTables:
    events: dict[int, EventRow] = dataclasses.field(default_factory=dict)
    by_event_id: dict[str, int] = dataclasses.field(default_factory=dict)
    by_slug: dict[str, list[int]] = dataclasses.field(default_factory=dict)
    negotiations: dict[str, NegotiationRow] = dataclasses.field(default_factory=dict)
    ids: dict[str, str] = dataclasses.field(default_factory=dict)
    leaves: list[LeafRow] = dataclasses.field(default_factory=list)
    leaf_by_event_id: dict[str, int] = dataclasses.field(default_factory=dict)
    nodes: merkle.DictNodeStore = dataclasses.field(default_factory=merkle.DictNodeStore)


class MemoryViews(Views):
    """The views of a ``memory://`` store, in this process, fed by the same runner loop."""

    kind = "memory"
    poll_interval = 1.0

    def __init__(self, recorder: Any = None) -> None:
        self._recorder = recorder
        self._lock = threading.RLock()
        self._live = _MemoryTables()
        self._fresh: _MemoryTables | None = None
        self._tracking: dict[str, int] = dict.fromkeys(VIEWS, 0)

    def create_tables(self) -> None:
        return

    def tracked_positions(self) -> dict[str, int]:
        with self._lock:
            return dict(self._tracking)

    def apply(self, rows: Sequence[EventRow], start: Mapping[str, int], end: int) -> int:
        with self._lock:
            names = [v for v in check_views(start) if start[v] < end]
            for name in names:
                if self._tracking[name] != start[name]:
                    msg = f"{name} is at {self._tracking[name]}, not {start[name]}"
                    raise ViewMovedError(msg)
            applied: set[int] = set()
            for name in names:
                chosen = [r for r in rows if r.position > start[name]]
                self._apply(self._live, [name], chosen)
                applied.update(r.position for r in chosen)
            for name in names:
                self._tracking[name] = end
            return len(applied)

    def _apply(self, tables: _MemoryTables, views: Sequence[str], rows: Sequence[EventRow]) -> None:
        if EVENTS_VIEW in views:
            for row in rows:
                if row.event_id in tables.by_event_id or row.position in tables.events:
                    msg = f"event {row.event_id} at {row.position} is already in the view"
                    raise IntegrityError(msg)
            for row in rows:
                tables.events[row.position] = row
                tables.by_event_id[row.event_id] = row.position
                tables.by_slug.setdefault(row.negotiation, []).append(row.position)
                if row.type == "event_retracted":
                    target = tables.by_event_id.get(row.payload["retracted_event_id"])
                    if target is not None:
                        old = tables.events[target]
                        tables.events[target] = dataclasses.replace(old, retracted_by=row.event_id)
        if INDEX_VIEW in views:
            for row in rows:
                if row.type == "negotiation_opened":
                    tables.ids[row.negotiation] = _negotiation_id(row)
            fold_negotiations(tables.negotiations, rows, tables.ids)
        if MERKLE_VIEW in views and rows:
            size = len(tables.leaves)
            fresh = leaf_rows(size, rows)
            if any(leaf.event_id in tables.leaf_by_event_id for leaf in fresh):
                msg = "an event is already a leaf of the Merkle view"
                raise IntegrityError(msg)
            nodes = merkle.append(tables.nodes, size, [merkle.event_leaf(r.hash) for r in rows])
            tables.nodes.put_many(nodes)
            tables.leaves.extend(fresh)
            tables.leaf_by_event_id.update((leaf.event_id, leaf.leaf_index) for leaf in fresh)

    def events_of(
        self, slug: str, after_version: int = 0, limit: int | None = None
    ) -> list[EventRow]:
        with self._lock:
            tables = self._live
            found = [tables.events[p] for p in tables.by_slug.get(slug, ())]
        found = [r for r in found if r.version > after_version]
        return found if limit is None else found[:limit]

    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        return sorted(self.events_of(slug), key=lambda r: (r.sort_key, r.version))

    def negotiation_row(self, slug: str) -> NegotiationRow | None:
        with self._lock:
            return self._live.negotiations.get(slug)

    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        with self._lock:
            rows = list(self._live.negotiations.values())
        found = sorted((r for r in rows if r.opened_position > after_position), key=_opened)
        return found[:limit]

    def event_rows(self, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
        with self._lock:
            rows = list(self._live.events.values())
        return [r for r in rows if r.position > after_position][:limit]

    def row_count(self, view: str) -> int:
        with self._lock:
            if check_views([view])[0] == EVENTS_VIEW:
                return len(self._live.events)
            if view == MERKLE_VIEW:
                return len(self._live.leaves)
            return len(self._live.negotiations)

    def tree_size(self) -> int:
        with self._lock:
            return len(self._live.leaves)

    def merkle_nodes(self, addresses: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self._lock:
            stored = self._live.nodes.nodes
            return {a: stored[a] for a in addresses if a in stored}

    def leaf_of(self, event_id: str) -> LeafRow | None:
        with self._lock:
            index = self._live.leaf_by_event_id.get(event_id)
            return None if index is None else self._live.leaves[index]

    def leaves(self, start: int = 0, limit: int = 1000) -> list[LeafRow]:
        with self._lock:
            return self._live.leaves[max(start, 0) : max(start, 0) + limit]

    def node_rows(self) -> list[merkle.Node]:
        with self._lock:
            stored = dict(self._live.nodes.nodes)
        return [merkle.Node(lv, ix, h) for (lv, ix), h in sorted(stored.items())]

    def start_rebuild(self, views: Sequence[str]) -> None:
        check_views(views)
        with self._lock:
            self._fresh = _MemoryTables()

    def apply_rebuild(self, views: Sequence[str], rows: Sequence[EventRow]) -> None:
        with self._lock:
            if self._fresh is None:
                msg = "start_rebuild() first"
                raise RuntimeError(msg)
            self._apply(self._fresh, check_views(views), rows)

    def finish_rebuild(self, views: Sequence[str], position: int, read: ReadBatch) -> int:
        chosen = check_views(views)
        with self._lock:
            fresh = self._fresh
            if fresh is None:
                msg = "start_rebuild() first"
                raise RuntimeError(msg)
            while True:
                rows, last = read(position)
                if last == position:
                    break
                self._apply(fresh, chosen, rows)
                position = last
            live = self._live
            if EVENTS_VIEW in chosen:
                live.events, live.by_event_id, live.by_slug = (
                    fresh.events,
                    fresh.by_event_id,
                    fresh.by_slug,
                )
            if INDEX_VIEW in chosen:
                live.negotiations, live.ids = fresh.negotiations, fresh.ids
            if MERKLE_VIEW in chosen:
                live.leaves, live.leaf_by_event_id, live.nodes = (
                    fresh.leaves,
                    fresh.leaf_by_event_id,
                    fresh.nodes,
                )
            for name in chosen:
                self._tracking[name] = max(self._tracking[name], position)
            self._fresh = None
            return position

    def listen(self, wake: threading.Event) -> Callable[[], None]:
        recorder = self._recorder
        if recorder is None or not hasattr(recorder, "listen"):
            return lambda: None
        recorder.listen(wake)
        return lambda: recorder.unlisten(wake)


def _opened(row: NegotiationRow) -> int:
    return row.opened_position


def _negotiation_id(row: EventRow) -> str:
    from domain.negotiation import negotiation_id

    return str(negotiation_id(row.negotiation))


# ----------------------------------------------------------------------------- SQL


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_dumps = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
"""One encoder for every row: ``json.dumps`` with options builds a new one per call."""


EVENT_COLUMNS = (
    "position",
    "negotiation",
    "version",
    "event_id",
    "type",
    "occurred_at",
    "sort_key",
    "recorded_at",
    "recorded_by",
    "party",
    "payload",
    "hash",
    "prev_hash",
    "retracted_by",
)
INDEX_COLUMNS = (
    "slug",
    "negotiation_id",
    "title",
    "subject",
    "status",
    "parties",
    "terms",
    "counts",
    "version",
    "last_occurred_at",
    "last_occurred_key",
    "last_recorded_at",
    "opened_position",
    "status_changes",
)


def _format_recorded_at(recorded_at: datetime) -> str:
    # Rows carry UTC already (event_row); the conversion is for rows made elsewhere.
    if recorded_at.tzinfo is UTC:
        return recorded_at.isoformat(timespec="microseconds")
    return format_recorded_at(recorded_at)


def _event_params(row: EventRow) -> tuple[Any, ...]:
    return (
        row.position,
        row.negotiation,
        row.version,
        row.event_id,
        row.type,
        row.occurred_at,
        row.sort_key,
        _format_recorded_at(row.recorded_at),
        row.recorded_by,
        row.party,
        _dumps(row.payload),
        row.hash,
        row.prev_hash,
        row.retracted_by,
    )


def _event_from(found: Mapping[str, Any]) -> EventRow:
    return EventRow(
        position=int(found["position"]),
        negotiation=found["negotiation"],
        version=int(found["version"]),
        event_id=found["event_id"],
        type=found["type"],
        occurred_at=found["occurred_at"],
        sort_key=found["sort_key"],
        recorded_at=datetime.fromisoformat(found["recorded_at"]),
        recorded_by=found["recorded_by"],
        party=found["party"],
        payload=json.loads(found["payload"]),
        hash=found["hash"],
        prev_hash=found["prev_hash"],
        retracted_by=found["retracted_by"],
    )


def _index_params(row: NegotiationRow) -> tuple[Any, ...]:
    return (
        row.slug,
        row.negotiation_id,
        row.title,
        row.subject,
        row.status,
        _dumps(row.parties),
        _dumps(row.terms),
        _dumps(row.counts),
        row.version,
        row.last_occurred_at,
        row.last_occurred_key,
        format_recorded_at(row.last_recorded_at),
        row.opened_position,
        _dumps(row.status_changes),
    )


def _index_from(found: Mapping[str, Any]) -> NegotiationRow:
    return NegotiationRow(
        slug=found["slug"],
        negotiation_id=found["negotiation_id"],
        title=found["title"],
        subject=found["subject"],
        status=found["status"],
        parties=json.loads(found["parties"]),
        terms=json.loads(found["terms"]),
        counts=json.loads(found["counts"]),
        version=int(found["version"]),
        last_occurred_at=found["last_occurred_at"],
        last_occurred_key=found["last_occurred_key"],
        last_recorded_at=datetime.fromisoformat(found["last_recorded_at"]),
        opened_position=int(found["opened_position"]),
        status_changes=json.loads(found["status_changes"]),
    )


LEAVES_TABLE = merkle_tables(MERKLE_VIEW)[0]
DEFERRED: dict[str, tuple[tuple[int, str], ...]] = {
    EVENTS_VIEW: (
        (2, "event_id"),
        (3, "negotiation, version"),
        # (negotiation, version) is unique, so this is too: the occurred-order index.
        (4, "negotiation, sort_key, version"),
    ),
    LEAVES_TABLE: ((2, "position"), (3, "event_id")),
}
"""The unique constraints a rebuild adds after its bulk load, by live table: ``(number, columns)``.

Random event ids make every insert into an index on them a random B-tree write, which slows
the load as the table grows; one sort at the end is far cheaper, and checks uniqueness.
"""


def table_ddl(
    view: str,
    table: str,
    quote: Callable[[str], str],
    big: str,
    binary: str = "BLOB",
    *,
    bulk: bool = False,
) -> list[str]:
    """The statements that create a view's tables under a name (constraints named after them).

    Every index is a named constraint, so a rebuilt table carries its indexes through the
    rename (SQLite renames its automatic indexes; PostgreSQL constraints are renamed).
    ``bulk`` leaves out the ``DEFERRED`` constraints: a rebuild adds them after loading.
    """
    name, ident = quote(table), _ident

    def unique(created: str, live: str) -> str:
        if bulk:
            return ""
        return "".join(
            f", CONSTRAINT {ident(created + f'_c{i}')} UNIQUE ({columns})"
            for i, columns in DEFERRED[live]
        )

    if view == MERKLE_VIEW:
        leaves, nodes = merkle_tables(table)
        return [
            f"CREATE TABLE IF NOT EXISTS {quote(leaves)} ("
            f"leaf_index {big} NOT NULL, "
            f"position {big} NOT NULL, "
            "event_id TEXT NOT NULL, "
            "negotiation TEXT NOT NULL, "
            f"version {big} NOT NULL, "
            "hash TEXT NOT NULL, "
            f"CONSTRAINT {ident(leaves + '_c1')} PRIMARY KEY (leaf_index)"
            f"{unique(leaves, LEAVES_TABLE)})",
            f"CREATE TABLE IF NOT EXISTS {quote(nodes)} ("
            "level INTEGER NOT NULL, "
            f"idx {big} NOT NULL, "
            f"hash {binary} NOT NULL, "
            f"CONSTRAINT {ident(nodes + '_c1')} PRIMARY KEY (level, idx))",
        ]
    if view == EVENTS_VIEW:
        return [
            f"CREATE TABLE IF NOT EXISTS {name} ("
            f"position {big} NOT NULL, "
            "negotiation TEXT NOT NULL, "
            f"version {big} NOT NULL, "
            "event_id TEXT NOT NULL, "
            "type TEXT NOT NULL, "
            "occurred_at TEXT NOT NULL, "
            "sort_key TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, "
            "recorded_by TEXT NOT NULL, "
            "party TEXT, "
            "payload TEXT NOT NULL, "
            "hash TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, "
            "retracted_by TEXT, "
            f"CONSTRAINT {ident(table + '_c1')} PRIMARY KEY (position)"
            f"{unique(table, EVENTS_VIEW)})"
        ]
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ("
        "slug TEXT NOT NULL, "
        "negotiation_id TEXT NOT NULL, "
        "title TEXT NOT NULL, "
        "subject TEXT, "
        "status TEXT NOT NULL, "
        "parties TEXT NOT NULL, "
        "terms TEXT NOT NULL, "
        "counts TEXT NOT NULL, "
        f"version {big} NOT NULL, "
        "last_occurred_at TEXT NOT NULL, "
        "last_occurred_key TEXT NOT NULL, "
        "last_recorded_at TEXT NOT NULL, "
        f"opened_position {big} NOT NULL, "
        "status_changes TEXT NOT NULL, "
        f"CONSTRAINT {ident(table + '_c1')} PRIMARY KEY (slug), "
        f"CONSTRAINT {ident(table + '_c2')} UNIQUE (opened_position), "
        f"CONSTRAINT {ident(table + '_c3')} UNIQUE (negotiation_id))"
    ]


CONSTRAINTS = {
    EVENTS_VIEW: 4,
    INDEX_VIEW: 3,
    merkle_tables(MERKLE_VIEW)[0]: 3,
    merkle_tables(MERKLE_VIEW)[1]: 1,
}
LEAF_COLUMNS = ("leaf_index", "position", "event_id", "negotiation", "version", "hash")


def _leaf_from(found: Mapping[str, Any]) -> LeafRow:
    return LeafRow(
        leaf_index=int(found["leaf_index"]),
        position=int(found["position"]),
        event_id=found["event_id"],
        negotiation=found["negotiation"],
        version=int(found["version"]),
        hash=found["hash"],
    )


def _nodes_where(addresses: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """A WHERE clause matching exactly those node addresses (each term uses the primary key)."""
    clause = " OR ".join(["(level = %s AND idx = %s)"] * len(addresses))
    return clause, [part for address in addresses for part in address]


class SQLViews(Views):
    """What the SQLite and PostgreSQL views share: the statements and the apply logic."""

    placeholder = "%s"

    @abstractmethod
    def quote(self, name: str) -> str:
        """A table name, quoted and qualified as the store needs."""

    @abstractmethod
    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction's cursor (serialised with other writers)."""

    @abstractmethod
    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        """A read-only transaction's cursor."""

    @abstractmethod
    def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        """Locks the named tracking rows until commit; returns their positions."""

    @abstractmethod
    def _track(self, cursor: Any, name: str, position: int) -> None:
        """Advances a tracking row (the library's insert: fails unless it moves forward)."""

    @abstractmethod
    def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
        """Sets a tracking row to a position (the rebuild's swap)."""

    @abstractmethod
    def _rename(self, cursor: Any, view: str, fresh: str) -> None:
        """Drops the live table and renames the fresh one (and its constraints) into place."""

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "%s" else statement.replace("%s", self.placeholder)

    def ddl(self, view: str, table: str, *, bulk: bool = False) -> list[str]:
        return table_ddl(view, table, self.quote, self.big_integer, self.binary, bulk=bulk)

    big_integer = "INTEGER"
    binary = "BLOB"

    # Writing.

    def apply(self, rows: Sequence[EventRow], start: Mapping[str, int], end: int) -> int:
        names = [v for v in check_views(start) if start[v] < end]
        if not names:
            return 0
        with self._writing() as cursor:
            current = self._lock_tracking(cursor, names)
            for name in names:
                if current[name] != start[name]:
                    msg = f"{name} is at {current[name]}, not {start[name]}"
                    raise ViewMovedError(msg)
            applied: set[int] = set()
            for name in names:
                chosen = [r for r in rows if r.position > start[name]]
                self._apply(cursor, {name: name}, chosen)
                applied.update(r.position for r in chosen)
                self._track(cursor, name, end)
            return len(applied)

    def _apply(
        self,
        cursor: Any,
        tables: Mapping[str, str],
        rows: Sequence[EventRow],
        *,
        bulk: bool = False,
    ) -> None:
        """Applies rows to the tables named for each view (``{view: table}``).

        ``bulk``: a rebuild's load, whose events table has no index on ``event_id`` yet;
        retractions are marked by ``_load_done`` once it has.
        """
        if not rows:
            return
        events = tables.get(EVENTS_VIEW)
        if events is not None:
            table = self.quote(events)
            marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
            cursor.executemany(
                self._sql(f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"),  # noqa: S608
                [_event_params(r) for r in rows],
            )
            retractions = [
                (r.event_id, r.payload["retracted_event_id"])
                for r in rows
                if r.type == "event_retracted"
            ]
            if retractions and not bulk:
                cursor.executemany(
                    self._sql(f"UPDATE {table} SET retracted_by = %s WHERE event_id = %s"),  # noqa: S608
                    retractions,
                )
        index = tables.get(INDEX_VIEW)
        if index is not None:
            table = self.quote(index)
            slugs = sorted({r.negotiation for r in rows})
            current: dict[str, NegotiationRow] = {}
            for at in range(0, len(slugs), IN_CHUNK):
                chunk = slugs[at : at + IN_CHUNK]
                marks = ", ".join(["%s"] * len(chunk))
                cursor.execute(
                    self._sql(f"SELECT * FROM {table} WHERE slug IN ({marks})"),  # noqa: S608
                    chunk,
                )
                current.update((found["slug"], _index_from(found)) for found in cursor.fetchall())
            ids = {
                r.negotiation: _negotiation_id(r) for r in rows if r.type == "negotiation_opened"
            }
            changed = fold_negotiations(current, rows, ids)
            marks = ", ".join(["%s"] * len(INDEX_COLUMNS))
            updates = ", ".join(f"{c} = excluded.{c}" for c in INDEX_COLUMNS[1:])
            cursor.executemany(
                self._sql(
                    f"INSERT INTO {table} ({', '.join(INDEX_COLUMNS)}) VALUES ({marks}) "  # noqa: S608
                    f"ON CONFLICT (slug) DO UPDATE SET {updates}"
                ),
                [_index_params(current[s]) for s in sorted(changed)],
            )
        tree = tables.get(MERKLE_VIEW)
        if tree is not None:
            self._apply_merkle(cursor, tree, rows)

    def _apply_merkle(self, cursor: Any, name: str, rows: Sequence[EventRow]) -> None:
        """Adds the rows as leaves and stores the subtrees they complete.

        Appending reads only the frontier of the tree so far (at most log2 n nodes, one
        query); every other node it needs is one it is writing.
        """
        leaves, nodes = (self.quote(t) for t in merkle_tables(name))
        cursor.execute(f"SELECT MAX(leaf_index) AS last FROM {leaves}")  # noqa: S608
        last = cursor.fetchone()["last"]
        size = 0 if last is None else int(last) + 1
        known = self._fetch_nodes(cursor, nodes, frontier(size))
        fresh = merkle_append(known, size, [r.hash for r in rows])
        marks = ", ".join(["%s"] * len(LEAF_COLUMNS))
        cursor.executemany(
            self._sql(f"INSERT INTO {leaves} ({', '.join(LEAF_COLUMNS)}) VALUES ({marks})"),  # noqa: S608
            [
                (x.leaf_index, x.position, x.event_id, x.negotiation, x.version, x.hash)
                for x in leaf_rows(size, rows)
            ],
        )
        cursor.executemany(
            self._sql(f"INSERT INTO {nodes} (level, idx, hash) VALUES (%s, %s, %s)"),  # noqa: S608
            fresh,
        )

    def _fetch_nodes(
        self, cursor: Any, table: str, addresses: Iterable[tuple[int, int]]
    ) -> dict[tuple[int, int], bytes]:
        chosen = sorted(set(addresses))
        found: dict[tuple[int, int], bytes] = {}
        for at in range(0, len(chosen), IN_CHUNK // 2):
            clause, params = _nodes_where(chosen[at : at + IN_CHUNK // 2])
            cursor.execute(
                self._sql(f"SELECT level, idx, hash FROM {table} WHERE {clause}"),  # noqa: S608
                params,
            )
            found.update(
                ((int(r["level"]), int(r["idx"])), bytes(r["hash"])) for r in cursor.fetchall()
            )
        return found

    # Reading.

    def _select(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self._reading() as cursor:
            cursor.execute(self._sql(statement), params)
            return list(cursor.fetchall())

    def events_of(
        self, slug: str, after_version: int = 0, limit: int | None = None
    ) -> list[EventRow]:
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE negotiation = %s AND version > %s ORDER BY version"
        )
        params: list[Any] = [slug, after_version]
        if limit is not None:
            statement += " LIMIT %s"
            params.append(limit)
        return [_event_from(r) for r in self._select(statement, params)]

    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE negotiation = %s ORDER BY sort_key, version"
        )
        return [_event_from(r) for r in self._select(statement, [slug])]

    def negotiation_row(self, slug: str) -> NegotiationRow | None:
        statement = f"SELECT * FROM {self.quote(INDEX_VIEW)} WHERE slug = %s"  # noqa: S608
        found = self._select(statement, [slug])
        return _index_from(found[0]) if found else None

    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        statement = (
            f"SELECT * FROM {self.quote(INDEX_VIEW)} "  # noqa: S608
            "WHERE opened_position > %s ORDER BY opened_position LIMIT %s"
        )
        return [_index_from(r) for r in self._select(statement, [after_position, limit])]

    def event_rows(self, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE position > %s ORDER BY position LIMIT %s"
        )
        return [_event_from(r) for r in self._select(statement, [after_position, limit])]

    def row_count(self, view: str) -> int:
        table = self.quote(table_names(check_views([view])[0], view)[0])
        return int(self._select(f"SELECT COUNT(*) AS n FROM {table}", [])[0]["n"])  # noqa: S608

    def tree_size(self) -> int:
        leaves = self.quote(merkle_tables(MERKLE_VIEW)[0])
        found = self._select(f"SELECT MAX(leaf_index) AS last FROM {leaves}", [])  # noqa: S608
        last = found[0]["last"]
        return 0 if last is None else int(last) + 1

    def merkle_nodes(self, addresses: Iterable[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
        with self._reading() as cursor:
            return self._fetch_nodes(cursor, self.quote(merkle_tables(MERKLE_VIEW)[1]), addresses)

    def leaf_of(self, event_id: str) -> LeafRow | None:
        leaves = self.quote(merkle_tables(MERKLE_VIEW)[0])
        found = self._select(f"SELECT * FROM {leaves} WHERE event_id = %s", [event_id])  # noqa: S608
        return _leaf_from(found[0]) if found else None

    def leaves(self, start: int = 0, limit: int = 1000) -> list[LeafRow]:
        statement = (
            f"SELECT * FROM {self.quote(merkle_tables(MERKLE_VIEW)[0])} "  # noqa: S608
            "WHERE leaf_index >= %s ORDER BY leaf_index LIMIT %s"
        )
        return [_leaf_from(r) for r in self._select(statement, [start, limit])]

    def node_rows(self) -> list[merkle.Node]:
        statement = (
            f"SELECT level, idx, hash FROM {self.quote(merkle_tables(MERKLE_VIEW)[1])} "  # noqa: S608
            "ORDER BY level, idx"
        )
        return [
            merkle.Node(int(r["level"]), int(r["idx"]), bytes(r["hash"]))
            for r in self._select(statement, [])
        ]

    # Rebuilding.

    def start_rebuild(self, views: Sequence[str]) -> None:
        with self._writing() as cursor:
            for view in check_views(views):
                fresh = view + REBUILD_SUFFIX
                for table in table_names(view, fresh):
                    cursor.execute(f"DROP TABLE IF EXISTS {self.quote(table)}")
                for statement in self.ddl(view, fresh, bulk=True):
                    cursor.execute(statement)

    def apply_rebuild(self, views: Sequence[str], rows: Sequence[EventRow]) -> None:
        tables = {v: v + REBUILD_SUFFIX for v in check_views(views)}
        with self._writing() as cursor:
            self._apply(cursor, tables, rows, bulk=True)

    @abstractmethod
    def _add_unique(self, cursor: Any, live: str, fresh: str, number: int, columns: str) -> None:
        """Adds a deferred unique constraint to a fresh table (so that it survives the swap)."""

    def _load_done(self, views: Sequence[str]) -> None:
        """Adds the fresh tables' deferred constraints, then marks the loaded retractions.

        A duplicate event id (or version, or position) fails here, before anything is swapped.
        """
        with self._writing() as cursor:
            for view in views:
                for live, fresh in zip(
                    table_names(view, view), table_names(view, view + REBUILD_SUFFIX), strict=True
                ):
                    for number, columns in DEFERRED.get(live, ()):
                        self._add_unique(cursor, live, fresh, number, columns)
            if EVENTS_VIEW in views:
                self._mark_retractions(cursor, self.quote(EVENTS_VIEW + REBUILD_SUFFIX))

    def _mark_retractions(self, cursor: Any, table: str) -> None:
        """What the load left out: each retracted event's ``retracted_by``, in log order."""
        after = 0
        while True:
            cursor.execute(
                self._sql(
                    f"SELECT position, event_id, payload FROM {table} "  # noqa: S608
                    "WHERE position > %s AND type = 'event_retracted' "
                    "ORDER BY position LIMIT %s"
                ),
                (after, IN_CHUNK),
            )
            found = cursor.fetchall()
            if not found:
                return
            after = int(found[-1]["position"])
            cursor.executemany(
                self._sql(f"UPDATE {table} SET retracted_by = %s WHERE event_id = %s"),  # noqa: S608
                [(r["event_id"], json.loads(r["payload"])["retracted_event_id"]) for r in found],
            )

    def finish_rebuild(self, views: Sequence[str], position: int, read: ReadBatch) -> int:
        chosen = check_views(views)
        tables = {v: v + REBUILD_SUFFIX for v in chosen}
        self._load_done(chosen)
        with self._writing() as cursor:
            # The tracking rows stay locked until the swap commits: a live runner waits, then
            # finds its view moved on and resumes from the rebuilt position.
            self._lock_tracking(cursor, chosen)
            while True:
                rows, last = read(position)
                if last == position:
                    break
                self._apply(cursor, tables, rows)
                position = last
            for view in chosen:
                live = table_names(view, view)
                for table, fresh in zip(live, table_names(view, tables[view]), strict=True):
                    self._rename(cursor, table, fresh)
                self._set_tracking(cursor, view, position)
        return position


# -------------------------------------------------------------------------- SQLite


@contextlib.contextmanager
def sqlite_write_transaction(datastore: Any) -> Iterator[SQLiteCursor]:
    """A write transaction on the library's SQLite datastore that takes the lock first.

    BEGIN IMMEDIATE waits for the write lock up front: a deferred transaction that reads
    and then writes fails with SQLITE_BUSY when another process wrote in between.
    """
    with datastore.get_connection(commit=True) as conn:
        cursor = conn.cursor()
        try:
            cursor.execute("BEGIN IMMEDIATE")
            try:
                yield cursor
            except BaseException:
                conn.rollback()
                raise
            conn.commit()
        except sqlite3.IntegrityError as e:
            raise IntegrityError(e) from e
        except sqlite3.OperationalError as e:
            raise OperationalError(e) from e
        except sqlite3.Error as e:
            raise PersistenceError(e) from e


class SQLiteViews(SQLViews, SQLiteTrackingRecorder):
    """The views in the ledger's SQLite file, tracked in the library's ``tracking`` table."""

    kind = "sqlite"
    placeholder = "?"
    poll_interval = 0.05
    coalesce = 0.01

    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__(datastore)

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        for view in VIEWS:
            statements += self.ddl(view, view)
        return statements

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        for name in VIEWS:
            c.execute(
                "INSERT INTO tracking (application_name, notification_id) VALUES (?, 0) "
                "ON CONFLICT (application_name) DO NOTHING",
                (name,),
            )

    def create_tables(self) -> None:
        # The library's create_table(), but under BEGIN IMMEDIATE: its deferred BEGIN reads
        # the schema, then fails at once (SQLITE_BUSY_SNAPSHOT, no waiting for the lock) when
        # a runner of another app on the file commits before its tracking insert.
        try:
            migration = self.max_tracking_id(self.table_migration_identifier)
        except OperationalError:
            pass
        else:
            self.tracking_migration_current = self.tracking_migration_previous = migration
            self.tracking_table_exists = True
        with self._writing() as cursor:
            self._create_table(cursor)

    def _writing(self) -> contextlib.AbstractContextManager[SQLiteCursor]:
        return sqlite_write_transaction(self.datastore)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[SQLiteCursor]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def tracked_positions(self) -> dict[str, int]:
        marks = ", ".join("?" * len(VIEWS))
        found = self._select(
            f"SELECT application_name, notification_id FROM tracking "  # noqa: S608
            f"WHERE application_name IN ({marks})",
            VIEWS,
        )
        positions = dict.fromkeys(VIEWS, 0)
        positions.update({r["application_name"]: int(r["notification_id"]) for r in found})
        return positions

    def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        # BEGIN IMMEDIATE already holds the database's only write lock.
        marks = ", ".join("?" * len(names))
        cursor.execute(
            "SELECT application_name, notification_id FROM tracking "  # noqa: S608
            f"WHERE application_name IN ({marks})",
            list(names),
        )
        positions = dict.fromkeys(names, 0)
        positions.update(
            {r["application_name"]: int(r["notification_id"]) for r in cursor.fetchall()}
        )
        return positions

    def _track(self, cursor: Any, name: str, position: int) -> None:
        self._insert_tracking(cast(SQLiteCursor, cursor), Tracking(name, position))

    def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
        cursor.execute(
            "INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id",
            (name, position),
        )

    def _rename(self, cursor: Any, view: str, fresh: str) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {self.quote(view)}")
        cursor.execute(f"ALTER TABLE {self.quote(fresh)} RENAME TO {self.quote(view)}")

    def _add_unique(self, cursor: Any, live: str, fresh: str, number: int, columns: str) -> None:
        # SQLite cannot add a constraint to a table, and keeps an index's name through a
        # rename: the index is named after the live table, in whichever of two spellings
        # the live table's own index (if it came from a rebuild too) does not hold.
        name = f"{live}_c{number}"
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
        if cursor.fetchone() is not None:
            name += "b"
        cursor.execute(f"CREATE UNIQUE INDEX {self.quote(name)} ON {self.quote(fresh)} ({columns})")


# ---------------------------------------------------------------------- PostgreSQL


@functools.cache
def postgres_views_class() -> type[SQLViews]:
    """The PostgreSQL views (built on first use: psycopg is an optional dependency)."""
    import psycopg
    from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
    from psycopg.sql import SQL, Identifier

    class PostgresViews(SQLViews, PostgresTrackingRecorder):
        """The views in the ledger's PostgreSQL schema, tracked in ``parley_view_tracking``."""

        kind = "postgres"
        big_integer = "BIGINT"
        binary = "BYTEA"
        poll_interval = 1.0
        """LISTEN wakes the runner; the bounded poll covers a lost NOTIFY."""
        coalesce = 0.025
        """A NOTIFY per insert would otherwise cost a batch (~3 ms of CPU) per event."""

        def __init__(self, datastore: PostgresDatastore, *, channel: str) -> None:
            super().__init__(datastore, tracking_table_name=POSTGRES_TRACKING_TABLE)
            self.channel = channel
            self.schema = datastore.schema
            for view in VIEWS:
                self.sql_create_statements += [SQL(s).format() for s in self.ddl(view, view)]

        def quote(self, name: str) -> str:
            def ident(part: str) -> str:
                return '"' + part.replace('"', '""') + '"'

            return ident(self.schema) + "." + ident(name)

        def _create_table(self, curs: Any) -> None:
            # CREATE TABLE IF NOT EXISTS races between processes; the lock serialises it.
            curs.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_CREATE_LOCK,))
            super()._create_table(curs)
            for name in VIEWS:
                curs.execute(
                    f"INSERT INTO {self.quote(self.tracking_table_name)} "  # noqa: S608
                    "(application_name, notification_id) VALUES (%s, 0) "
                    "ON CONFLICT (application_name) DO NOTHING",
                    (name,),
                )

        def create_tables(self) -> None:
            try:
                self.create_table()
            except IntegrityError:
                # Another process created the tracking table between our check and our
                # lock, and its migration row is already there: the tables exist now.
                self.create_table()

        @contextlib.contextmanager
        def _writing(self) -> Iterator[Any]:
            with self.datastore.transaction(commit=True) as cursor:
                yield cursor

        @contextlib.contextmanager
        def _reading(self) -> Iterator[Any]:
            with self.datastore.transaction(commit=False) as cursor:
                yield cursor

        def tracked_positions(self) -> dict[str, int]:
            found = self._select(
                "SELECT application_name, notification_id FROM "  # noqa: S608
                f"{self.quote(self.tracking_table_name)} WHERE application_name = ANY(%s)",
                [list(VIEWS)],
            )
            positions = dict.fromkeys(VIEWS, 0)
            positions.update({r["application_name"]: int(r["notification_id"]) for r in found})
            return positions

        def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
            cursor.execute(
                "SELECT application_name, notification_id FROM "  # noqa: S608
                f"{self.quote(self.tracking_table_name)} WHERE application_name = ANY(%s) "
                "ORDER BY application_name FOR UPDATE",
                [list(names)],
            )
            positions = dict.fromkeys(names, 0)
            positions.update(
                {r["application_name"]: int(r["notification_id"]) for r in cursor.fetchall()}
            )
            return positions

        def _track(self, cursor: Any, name: str, position: int) -> None:
            self._insert_tracking(cursor, Tracking(name, position))

        def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
            cursor.execute(
                f"INSERT INTO {self.quote(self.tracking_table_name)} "  # noqa: S608
                "(application_name, notification_id) VALUES (%s, %s) "
                "ON CONFLICT (application_name) DO UPDATE "
                "SET notification_id = excluded.notification_id",
                (name, position),
            )

        def _rename(self, cursor: Any, view: str, fresh: str) -> None:
            cursor.execute(f"DROP TABLE IF EXISTS {self.quote(view)}")
            cursor.execute(
                SQL("ALTER TABLE {} RENAME TO {}").format(
                    SQL(self.quote(fresh)),
                    Identifier(view),
                )
            )
            for i in range(1, CONSTRAINTS[view] + 1):
                cursor.execute(
                    SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                        SQL(self.quote(view)),
                        Identifier(f"{fresh}_c{i}"),
                        Identifier(f"{view}_c{i}"),
                    )
                )

        def _add_unique(
            self, cursor: Any, live: str, fresh: str, number: int, columns: str
        ) -> None:
            cursor.execute(
                SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})").format(
                    SQL(self.quote(fresh)),
                    Identifier(f"{fresh}_c{number}"),
                    SQL(columns),
                )
            )

        def listen(self, wake: threading.Event) -> Callable[[], None]:
            stopping = threading.Event()

            def run() -> None:
                while not stopping.is_set():
                    try:
                        with self.datastore.get_connection() as conn:
                            conn.execute(SQL("LISTEN {}").format(Identifier(self.channel)))
                            while not stopping.is_set():
                                for _ in conn.notifies(timeout=0.2, stop_after=1):
                                    wake.set()
                    except (PersistenceError, psycopg.Error):
                        # The bounded poll keeps the runner going; listen again shortly.
                        stopping.wait(1.0)

            thread = threading.Thread(target=run, name="parley-views-listen", daemon=True)
            thread.start()

            def stop() -> None:
                stopping.set()
                thread.join(timeout=5)

            return stop

    return PostgresViews
