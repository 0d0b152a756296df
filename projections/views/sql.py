"""What the SQLite and PostgreSQL views share: the apply logic and the rebuild.

A batch of events is applied to a view and its tracking row advanced in one transaction.
Before writing, the transaction locks the view's tracking row and checks that it still
holds the position the runner started from; the library's tracking insert (which only
moves forward) is the second guard. So a batch that another runner has already applied
fails and rolls back: each event lands once, and a restart resumes from the tracked
position. Views live next to the events: the same SQLite file, the same PostgreSQL schema.

Rebuild writes fresh tables (``<view>_new``) from zero, then, in one transaction, applies
whatever arrived meanwhile, drops the old table, renames the new one into place and sets
its tracking position; readers keep reading the old table until that commit. The reads
they share are ``projections.views.sql_reads``.
"""

from __future__ import annotations

import contextlib
import functools
import threading
from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from projections.views.analytics import SQLSpace, write_analytics
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    INDEX_VIEW,
    MERKLE_VIEW,
    REBUILD_SUFFIX,
    ViewMovedError,
    check_views,
    merkle_tables,
    table_names,
)
from projections.views.events import EventRow, mark_retractions, write_events
from projections.views.index import write_index
from projections.views.interface import ReadBatch, catch_up
from projections.views.merkle import write_merkle
from projections.views.plan import Deferred, OverlaySpace, Remembered
from projections.views.schema import DEFERRED, table_ddl
from projections.views.sql_reads import SQLReads


class SQLViews(SQLReads):
    """What the SQLite and PostgreSQL views share: the statements and the apply logic."""

    @abstractmethod
    def _writing(self) -> contextlib.AbstractContextManager[Any]:
        """A write transaction's cursor (serialised with other writers)."""

    @abstractmethod
    def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        """Locks the named tracking rows until commit; returns their positions."""

    @abstractmethod
    def _track(self, cursor: Any, name: str, position: int) -> None:
        """Advances a tracking row (the library's insert: fails unless it moves forward)."""

    def _track_all(self, cursor: Any, names: Sequence[str], position: int) -> None:
        """``_track`` of each of those views (distinct) to one position."""
        for name in names:
            self._track(cursor, name, position)

    @abstractmethod
    def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
        """Sets a tracking row to a position (the rebuild's swap)."""

    @abstractmethod
    def _rename(self, cursor: Any, view: str, fresh: str) -> None:
        """Drops the live table and renames the fresh one (and its constraints) into place."""

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
        if not self.plans_ahead:
            return self._write(chosen, start, end, None)
        # One batch at a time uses what the last one left (``Remembered``); another, at once.
        memo = self._remembered if self._remembering.acquire(blocking=False) else None
        try:
            planned = self._plan(chosen, start, memo)
            applied = self._write(chosen, start, end, planned)
        except BaseException:
            if memo is not None:
                memo.forget()
            raise
        finally:
            if memo is not None:
                self._remembering.release()
        return applied

    def _write(
        self,
        chosen: Mapping[str, Sequence[EventRow]],
        start: Mapping[str, int],
        end: int,
        planned: tuple[Any, dict[str, Deferred], Remembered | None] | None,
    ) -> int:
        names = list(chosen)
        with self._writing() as cursor:
            current = self._lock_tracking(cursor, names)
            for name in names:
                if current[name] != start[name]:
                    msg = f"{name} is at {current[name]}, not {start[name]}"
                    raise ViewMovedError(msg)
            if planned is not None and planned[0] != self._schema_version(cursor):
                # A rebuild swapped tables in meanwhile: work it out again.
                if planned[2] is not None:
                    planned[2].forget()
                planned = None
            for name in names:
                if planned is not None:
                    planned[1][name].replay(cursor)
                else:
                    self._apply(cursor, {name: name}, chosen[name])
            self._track_all(cursor, names, end)
        if planned is not None and planned[2] is not None:
            planned[2].committed(planned[0], names, end)
        return len({r.position for found in chosen.values() for r in found})

    @functools.cached_property
    def _remembered(self) -> Remembered:
        return Remembered()

    @functools.cached_property
    def _remembering(self) -> threading.Lock:
        return threading.Lock()

    def _plan(
        self,
        chosen: Mapping[str, Sequence[EventRow]],
        start: Mapping[str, int],
        memo: Remembered | None,
    ) -> tuple[Any, dict[str, Deferred], Remembered | None]:
        """Each view's writes for its rows, worked out in one read snapshot.

        What the batches before left (``memo``) is used where it is still the table's: views
        tracked at ``start``.
        """
        with self._reading() as reader:
            version = self._schema_version(reader)
            if memo is not None:
                memo.check(version, start, list(chosen))
            planned = {}
            for name, rows in chosen.items():
                planned[name] = Deferred(reader)
                self._apply(planned[name], {name: name}, rows, space=OverlaySpace, memo=memo)
        return version, planned, memo

    def _apply(
        self,
        cursor: Any,
        tables: Mapping[str, str],
        rows: Sequence[EventRow],
        *,
        bulk: bool = False,
        space: type[SQLSpace] = SQLSpace,
        memo: Remembered | None = None,
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
            write_index(cursor, self._sql, self.quote(index), rows, memo)
        analytics = tables.get(ANALYTICS_VIEW)
        if analytics is not None:
            write_analytics(cursor, self._sql, self.quote(analytics), rows, space, memo)
        tree = tables.get(MERKLE_VIEW)
        if tree is not None:
            leaves, nodes = (self.quote(t) for t in merkle_tables(tree))
            write_merkle(cursor, self._sql, leaves, nodes, rows, memo)

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
            position = catch_up(read, position, lambda rows: self._apply(cursor, tables, rows))
            for view in chosen:
                live = table_names(view, view)
                for table, fresh in zip(live, table_names(view, tables[view]), strict=True):
                    self._rename(cursor, table, fresh)
                self._set_tracking(cursor, view, position)
        return position
