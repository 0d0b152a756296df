"""What the SQLite and PostgreSQL views share: the apply logic, the reads and the rebuild.

A batch of events is applied to a view and its tracking row advanced in one transaction.
Before writing, the transaction locks the view's tracking row and checks that it still
holds the position the runner started from; the library's tracking insert (which only
moves forward) is the second guard. So a batch that another runner has already applied
fails and rolls back: each event lands once, and a restart resumes from the tracked
position. Views live next to the events: the same SQLite file, the same PostgreSQL schema.

Rebuild writes fresh tables (``<view>_new``) from zero, then, in one transaction, applies
whatever arrived meanwhile, drops the old table, renames the new one into place and sets
its tracking position; readers keep reading the old table until that commit.
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain import merkle
from domain.canonical import format_recorded_at
from projections.index import NegotiationRow
from projections.views.analytics import SQLSpace, write_analytics
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    IN_CHUNK,
    INDEX_VIEW,
    MERKLE_VIEW,
    REBUILD_SUFFIX,
    ViewMovedError,
    check_views,
    merkle_tables,
    table_names,
)
from projections.views.events import EventRow, event_from, mark_retractions, write_events
from projections.views.index import index_from, write_index
from projections.views.interface import ReadBatch, Views
from projections.views.merkle import LeafRow, fetch_nodes, leaf_from, write_merkle
from projections.views.plan import Deferred, OverlaySpace
from projections.views.schema import DEFERRED, table_ddl


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
        return table_ddl(
            view, table, self.quote, self.big_integer, self.binary, bulk=bulk, collate=self.collate
        )

    big_integer = "INTEGER"
    binary = "BLOB"
    collate = ""
    """How the analytics keys compare: byte order, so that a prefix is a key range."""

    # Writing.

    plans_ahead = False
    """Work a batch's writes out in a read snapshot before the write transaction
    (``projections.views.plan``): where writers queue for one lock, it is then held to write."""

    def _schema_version(self, cursor: Any) -> Any:
        """What a rebuild's swap changes (compared when ``plans_ahead``)."""
        return None

    def apply(self, rows: Sequence[EventRow], start: Mapping[str, int], end: int) -> int:
        names = [v for v in check_views(start) if start[v] < end]
        if not names:
            return 0
        chosen = {name: [r for r in rows if r.position > start[name]] for name in names}
        planned = self._plan(chosen) if self.plans_ahead else None
        with self._writing() as cursor:
            current = self._lock_tracking(cursor, names)
            for name in names:
                if current[name] != start[name]:
                    msg = f"{name} is at {current[name]}, not {start[name]}"
                    raise ViewMovedError(msg)
            if planned is not None and planned[0] != self._schema_version(cursor):
                planned = None  # a rebuild swapped tables in meanwhile: work it out again
            for name in names:
                if planned is not None:
                    planned[1][name].replay(cursor)
                else:
                    self._apply(cursor, {name: name}, chosen[name])
                self._track(cursor, name, end)
            return len({r.position for found in chosen.values() for r in found})

    def _plan(self, chosen: Mapping[str, Sequence[EventRow]]) -> tuple[Any, dict[str, Deferred]]:
        """Each view's writes for its rows, worked out in one read snapshot."""
        with self._reading() as reader:
            version = self._schema_version(reader)
            planned = {}
            for name, rows in chosen.items():
                planned[name] = Deferred(reader)
                self._apply(planned[name], {name: name}, rows, space=OverlaySpace)
        return version, planned

    def _apply(
        self,
        cursor: Any,
        tables: Mapping[str, str],
        rows: Sequence[EventRow],
        *,
        bulk: bool = False,
        space: type[SQLSpace] = SQLSpace,
    ) -> None:
        """Applies rows to the tables named for each view (``{view: table}``).

        ``bulk``: a rebuild's load, whose events table has no index on ``event_id`` yet;
        retractions are marked by ``_load_done`` once it has.
        """
        if not rows:
            return
        events = tables.get(EVENTS_VIEW)
        if events is not None:
            write_events(cursor, self._sql, self.quote(events), rows, bulk=bulk)
        index = tables.get(INDEX_VIEW)
        if index is not None:
            write_index(cursor, self._sql, self.quote(index), rows)
        analytics = tables.get(ANALYTICS_VIEW)
        if analytics is not None:
            write_analytics(cursor, self._sql, self.quote(analytics), rows, space)
        tree = tables.get(MERKLE_VIEW)
        if tree is not None:
            leaves, nodes = (self.quote(t) for t in merkle_tables(tree))
            write_merkle(cursor, self._sql, leaves, nodes, rows)

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
        return [event_from(r) for r in self._select(statement, params)]

    def recorded_prefix(self, slug: str, moment: datetime) -> int:
        # recorded_at is stored as fixed-width UTC ISO text: text order is time order. The
        # rows are walked by the (negotiation, version) index up to the first one after.
        events = self.quote(EVENTS_VIEW)
        after = self._select(
            f"SELECT version FROM {events} "  # noqa: S608
            "WHERE negotiation = %s AND recorded_at > %s ORDER BY version LIMIT 1",
            [slug, format_recorded_at(moment)],
        )
        if after:
            return int(after[0]["version"]) - 1
        head = self._select(
            f"SELECT MAX(version) AS head FROM {events} WHERE negotiation = %s",  # noqa: S608
            [slug],
        )
        return int(head[0]["head"] or 0) if head else 0

    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE negotiation = %s ORDER BY sort_key, version"
        )
        return [event_from(r) for r in self._select(statement, [slug])]

    def occurred_span(
        self, slug: str, high: str = "\uffff", version: int | None = None
    ) -> tuple[str, str] | None:
        events = self.quote(EVENTS_VIEW)
        live = "e.retracted_by IS NULL"
        params: list[Any] = [slug, high]
        if version is not None:
            # Live then: not retracted, or retracted by an event after the first N.
            live = (
                f"e.version <= %s AND (e.retracted_by IS NULL OR NOT EXISTS (SELECT 1 FROM "  # noqa: S608
                f"{events} r WHERE r.event_id = e.retracted_by AND r.version <= %s))"
            )
            params += [version, version]
        ends = []
        for direction in ("", " DESC"):
            statement = (
                f"SELECT e.sort_key FROM {events} e "  # noqa: S608
                f"WHERE e.negotiation = %s AND e.sort_key <= %s AND {live} "
                f"AND e.type <> 'event_retracted' ORDER BY e.sort_key{direction}, "
                f"e.version{direction} LIMIT 1"
            )
            found = self._select(statement, params)
            if not found:
                return None
            ends.append(str(found[0]["sort_key"]))
        return ends[0], ends[1]

    def timeline_rows(
        self,
        slug: str,
        after: tuple[str, int] | None,
        limit: int,
        low: str = "",
        high: str = "\uffff",
        types: Sequence[str] = (),
        version: int | None = None,
    ) -> list[tuple[EventRow, str]]:
        key, after_version = after if after is not None else ("", 0)
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE negotiation = %s AND sort_key >= %s AND sort_key <= %s "
            # A row value: both stores read it as one range of the (negotiation, sort_key,
            # version) index, so a page deep in the timeline costs what the first one does.
            "AND (sort_key, version) > (%s, %s)"
        )
        params: list[Any] = [slug, low, high, key, after_version]
        if types:
            statement += f" AND type IN ({', '.join(['%s'] * len(types))})"
            params += list(types)
        if version is not None:
            statement += " AND version <= %s"
            params.append(version)
        statement += " ORDER BY sort_key, version LIMIT %s"
        params.append(limit)
        found = []
        for r in self._select(statement, params):
            text = r["payload"]
            found.append((event_from({**r, "payload": "{}"}), text))
        if version is not None:
            found = self._retracted_then(slug, found, version)
        return found

    def _retracted_then(
        self, slug: str, rows: list[tuple[EventRow, str]], version: int
    ) -> list[tuple[EventRow, str]]:
        """The rows with ``retracted_by`` only where the retraction is among the first
        ``version`` events (one read by the event-id index)."""
        ids = sorted({r.retracted_by for r, _ in rows if r.retracted_by is not None})
        if not ids:
            return rows
        marks = ", ".join(["%s"] * len(ids))
        then = {
            r["event_id"]
            for r in self._select(
                f"SELECT event_id FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
                f"WHERE negotiation = %s AND version <= %s AND event_id IN ({marks})",
                [slug, version, *ids],
            )
        }
        return [
            (
                r
                if r.retracted_by is None or r.retracted_by in then
                else replace(r, retracted_by=None),
                text,
            )
            for r, text in rows
        ]

    def negotiation_row(self, slug: str) -> NegotiationRow | None:
        statement = f"SELECT * FROM {self.quote(INDEX_VIEW)} WHERE slug = %s"  # noqa: S608
        found = self._select(statement, [slug])
        return index_from(found[0]) if found else None

    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        statement = (
            f"SELECT * FROM {self.quote(INDEX_VIEW)} "  # noqa: S608
            "WHERE opened_position > %s ORDER BY opened_position LIMIT %s"
        )
        return [index_from(r) for r in self._select(statement, [after_position, limit])]

    def event_rows(self, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE position > %s ORDER BY position LIMIT %s"
        )
        return [event_from(r) for r in self._select(statement, [after_position, limit])]

    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]:
        with self._reading() as cursor:
            return SQLSpace(cursor, self._sql, self.quote(ANALYTICS_VIEW), slug).get(keys)

    def analytics_scan(self, slug: str, prefix: str) -> list[tuple[str, str]]:
        with self._reading() as cursor:
            return SQLSpace(cursor, self._sql, self.quote(ANALYTICS_VIEW), slug).scan(prefix)

    def analytics_range(
        self, slug: str, low: str, high: str, *, last: bool = False
    ) -> list[tuple[str, str]]:
        with self._reading() as cursor:
            space = SQLSpace(cursor, self._sql, self.quote(ANALYTICS_VIEW), slug)
            return space.range(low, high, last=last)

    def analytics_of(self, slugs: Sequence[str], key: str) -> dict[str, str]:
        found: dict[str, str] = {}
        chosen = list(dict.fromkeys(slugs))
        for at in range(0, len(chosen), IN_CHUNK):
            chunk = chosen[at : at + IN_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            statement = (
                f"SELECT negotiation, body FROM {self.quote(ANALYTICS_VIEW)} "  # noqa: S608
                f"WHERE key = %s AND negotiation IN ({marks})"
            )
            found.update(
                (r["negotiation"], r["body"]) for r in self._select(statement, [key, *chunk])
            )
        return found

    def analytics_rows(self) -> list[tuple[str, str, str]]:
        statement = (
            f"SELECT negotiation, key, body FROM {self.quote(ANALYTICS_VIEW)} "  # noqa: S608
            "ORDER BY negotiation, key"
        )
        return [(r["negotiation"], r["key"], r["body"]) for r in self._select(statement, [])]

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
            leaves, nodes = (self.quote(t) for t in merkle_tables(MERKLE_VIEW))
            return fetch_nodes(cursor, self._sql, nodes, addresses, leaves)

    def leaf_of(self, event_id: str) -> LeafRow | None:
        leaves = self.quote(merkle_tables(MERKLE_VIEW)[0])
        found = self._select(f"SELECT * FROM {leaves} WHERE event_id = %s", [event_id])  # noqa: S608
        return leaf_from(found[0]) if found else None

    def leaves(self, start: int = 0, limit: int = 1000) -> list[LeafRow]:
        statement = (
            f"SELECT * FROM {self.quote(merkle_tables(MERKLE_VIEW)[0])} "  # noqa: S608
            "WHERE leaf_index >= %s ORDER BY leaf_index LIMIT %s"
        )
        return [leaf_from(r) for r in self._select(statement, [start, limit])]

    def node_rows(self) -> list[merkle.Node]:
        leaves, nodes = (self.quote(t) for t in merkle_tables(MERKLE_VIEW))
        bottom = f"SELECT leaf_index, hash FROM {leaves} ORDER BY leaf_index"  # noqa: S608
        statement = (
            f"SELECT level, idx, hash FROM {nodes} "  # noqa: S608
            "WHERE level > 0 ORDER BY level, idx"
        )
        return [
            merkle.Node(0, int(r["leaf_index"]), merkle.event_leaf(r["hash"]))
            for r in self._select(bottom, [])
        ] + [
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
                mark_retractions(cursor, self._sql, self.quote(EVENTS_VIEW + REBUILD_SUFFIX))

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
