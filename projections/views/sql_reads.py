"""The reads the SQLite and PostgreSQL views share: one statement (or a few) per question.

Each read runs in a read-only transaction (``_reading``) of the backend; statements are
written with ``%s`` placeholders, turned into the backend's own (``_sql``).
"""

from __future__ import annotations

import contextlib
from abc import abstractmethod
from collections.abc import Iterable, Sequence
from dataclasses import replace
from datetime import datetime
from typing import Any

from domain import merkle
from domain.canonical import format_recorded_at
from projections.index import NegotiationRow
from projections.views.analytics import SQLSpace
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    IN_CHUNK,
    INDEX_VIEW,
    MERKLE_VIEW,
    check_views,
    merkle_tables,
    table_names,
)
from projections.views.events import EventRow, event_from
from projections.views.index import index_from
from projections.views.interface import TimelineQuery, Views
from projections.views.merkle import LeafRow, fetch_nodes, leaf_from


class SQLReads(Views):
    """The reads of the ``Views`` interface in SQL, over a backend's read transactions."""

    placeholder = "%s"

    @abstractmethod
    def quote(self, name: str) -> str:
        """A table name, quoted and qualified as the store needs."""

    @abstractmethod
    def _reading(self) -> contextlib.AbstractContextManager[Any]:
        """A read-only transaction's cursor."""

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "%s" else statement.replace("%s", self.placeholder)

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

    def timeline_page(self, slug: str, query: TimelineQuery) -> list[tuple[EventRow, str]]:
        key, after_version = query.start
        statement = (
            f"SELECT * FROM {self.quote(EVENTS_VIEW)} "  # noqa: S608
            "WHERE negotiation = %s AND sort_key >= %s AND sort_key <= %s "
            # A row value: both stores read it as one range of the (negotiation, sort_key,
            # version) index, so a page deep in the timeline costs what the first one does.
            "AND (sort_key, version) > (%s, %s)"
        )
        params: list[Any] = [slug, query.low, query.high, key, after_version]
        if query.types:
            statement += f" AND type IN ({', '.join(['%s'] * len(query.types))})"
            params += list(query.types)
        if query.version is not None:
            statement += " AND version <= %s"
            params.append(query.version)
        statement += " ORDER BY sort_key, version LIMIT %s"
        params.append(query.limit)
        found = []
        for r in self._select(statement, params):
            text = r["payload"]
            found.append((event_from({**r, "payload": "{}"}), text))
        if query.version is not None:
            found = self._retracted_then(slug, found, query.version)
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

    def _page(self, table: str, column: str, after: int, limit: int) -> list[Any]:
        """A table's rows by ``column``, the first ``limit`` after ``after`` (one index range)."""
        statement = (
            f"SELECT * FROM {self.quote(table)} "  # noqa: S608
            f"WHERE {column} > %s ORDER BY {column} LIMIT %s"
        )
        return self._select(statement, [after, limit])

    def list_negotiations(self, after_position: int = 0, limit: int = 100) -> list[NegotiationRow]:
        rows = self._page(INDEX_VIEW, "opened_position", after_position, limit)
        return [index_from(r) for r in rows]

    def event_rows(self, after_position: int = 0, limit: int = 1000) -> list[EventRow]:
        return [event_from(r) for r in self._page(EVENTS_VIEW, "position", after_position, limit)]

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
        # Leaf indexes are whole numbers: from ``start`` on is after ``start - 1``.
        rows = self._page(merkle_tables(MERKLE_VIEW)[0], "leaf_index", start - 1, limit)
        return [leaf_from(r) for r in rows]

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
