"""The views of a ``memory://`` store: dicts in this process, behind the same interface."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from eventsourcing.persistence import IntegrityError

from domain import merkle
from projections.index import NegotiationRow, fold_negotiations
from projections.views.analytics import DictSpace, apply_in_memory
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    INDEX_VIEW,
    MERKLE_VIEW,
    VIEWS,
    ViewMovedError,
    check_views,
)
from projections.views.events import EventRow
from projections.views.index import negotiation_id_of, opened
from projections.views.interface import ReadBatch, TimelineQuery, Views, catch_up
from projections.views.merkle import LeafRow, leaf_rows


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
    analytics: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)


_TABLES_OF: dict[str, tuple[str, ...]] = {
    EVENTS_VIEW: ("events", "by_event_id", "by_slug"),
    INDEX_VIEW: ("negotiations", "ids"),
    ANALYTICS_VIEW: ("analytics",),
    MERKLE_VIEW: ("leaves", "leaf_by_event_id", "nodes"),
}
"""Each view's tables (``_MemoryTables`` fields): what a rebuild swaps in for it."""


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
                    tables.ids[row.negotiation] = negotiation_id_of(row)
            fold_negotiations(tables.negotiations, rows, tables.ids)
        if ANALYTICS_VIEW in views:
            apply_in_memory(tables.analytics, rows)
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
        found = [r for r in self._rows_of(slug) if r.version > after_version]
        return found if limit is None else found[:limit]

    def _rows_of(self, slug: str) -> list[EventRow]:
        """A negotiation's rows by version (what the SQL backends' indexes give the others)."""
        with self._lock:
            tables = self._live
            return [tables.events[p] for p in tables.by_slug.get(slug, ())]

    def recorded_prefix(self, slug: str, moment: datetime) -> int:
        rows = self._rows_of(slug)
        after = next((r.version for r in rows if r.recorded_at > moment), None)
        return (rows[-1].version if rows else 0) if after is None else after - 1

    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        return sorted(self._rows_of(slug), key=lambda r: (r.sort_key, r.version))

    def occurred_span(
        self, slug: str, high: str = "\uffff", version: int | None = None
    ) -> tuple[str, str] | None:
        rows = self._rows_of(slug)[:version]
        ids = {r.event_id for r in rows}
        keys = [
            r.sort_key
            for r in rows
            if r.sort_key <= high and r.retracted_by not in ids and r.type != "event_retracted"
        ]
        return (min(keys), max(keys)) if keys else None

    def timeline_page(self, slug: str, query: TimelineQuery) -> list[tuple[EventRow, str]]:
        start, chosen = query.start, set(query.types)
        rows = self._rows_of(slug)[: query.version]
        then = {r.event_id for r in rows}
        found = [
            (
                r if r.retracted_by in then else dataclasses.replace(r, retracted_by=None),
                json.dumps(r.payload, ensure_ascii=False, separators=(",", ":")),
            )
            for r in sorted(rows, key=lambda r: (r.sort_key, r.version))
            if (r.sort_key, r.version) > start
            and query.low <= r.sort_key <= query.high
            and (not chosen or r.type in chosen)
        ]
        return found[: query.limit]

    def negotiation_row(self, slug: str) -> NegotiationRow | None:
        with self._lock:
            return self._live.negotiations.get(slug)

    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        with self._lock:
            rows = list(self._live.negotiations.values())
        found = sorted((r for r in rows if r.opened_position > after_position), key=opened)
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
            if view == ANALYTICS_VIEW:
                return sum(len(keys) for keys in self._live.analytics.values())
            return len(self._live.negotiations)

    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]:
        with self._lock:
            return DictSpace(self._live.analytics.get(slug, {})).get(keys)

    def analytics_scan(self, slug: str, prefix: str) -> list[tuple[str, str]]:
        with self._lock:
            return DictSpace(self._live.analytics.get(slug, {})).scan(prefix)

    def analytics_range(
        self, slug: str, low: str, high: str, *, last: bool = False
    ) -> list[tuple[str, str]]:
        with self._lock:
            return DictSpace(self._live.analytics.get(slug, {})).range(low, high, last=last)

    def analytics_of(self, slugs: Sequence[str], key: str) -> dict[str, str]:
        with self._lock:
            tables = self._live.analytics
            return {s: tables[s][key] for s in slugs if key in tables.get(s, {})}

    def analytics_rows(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return sorted(
                (slug, key, body)
                for slug, keys in self._live.analytics.items()
                for key, body in keys.items()
            )

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
            self._apply(self._rebuilding(), check_views(views), rows)

    def finish_rebuild(self, views: Sequence[str], position: int, read: ReadBatch) -> int:
        chosen = check_views(views)
        with self._lock:
            fresh = self._rebuilding()
            position = catch_up(read, position, lambda rows: self._apply(fresh, chosen, rows))
            for view in chosen:
                for table in _TABLES_OF[view]:
                    setattr(self._live, table, getattr(fresh, table))
                self._tracking[view] = max(self._tracking[view], position)
            self._fresh = None
            return position

    def _rebuilding(self) -> _MemoryTables:
        """The fresh tables ``start_rebuild`` made."""
        if self._fresh is None:
            msg = "start_rebuild() first"
            raise RuntimeError(msg)
        return self._fresh

    def listen(self, wake: threading.Event) -> Callable[[], None]:
        recorder = self._recorder
        if recorder is None or not hasattr(recorder, "listen"):
            return lambda: None
        recorder.listen(wake)
        return lambda: recorder.unlisten(wake)
