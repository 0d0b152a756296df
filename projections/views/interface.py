"""The ``Views`` interface: what a backend (memory, SQLite, PostgreSQL) offers the runner and the API.

A backend keeps the three views (``events``, ``index``, ``merkle``) of one store with their
tracking positions; the view modules say what each view holds and how its rows are built,
the backends where they are kept.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

from domain import merkle
from projections.index import NegotiationRow
from projections.views.base import ANALYTICS_VIEW, EVENTS_VIEW, MERKLE_VIEW, check_views
from projections.views.events import EventRow
from projections.views.merkle import LeafRow

ReadBatch = Callable[[int], tuple[list[EventRow], int]]
"""``after position -> (rows, last position read)``: how a rebuild catches up at the swap."""


def catch_up(read: ReadBatch, position: int, apply: Callable[[list[EventRow]], None]) -> int:
    """Reads batches after ``position`` and applies each until a read brings nothing new;
    returns the last position read (what every backend's ``finish_rebuild`` does at the swap)."""
    while True:
        rows, last = read(position)
        if last == position:
            return position
        apply(rows)
        position = last


@dataclass(frozen=True)
class TimelineQuery:
    """A page of one negotiation's timeline, as ``Views.timeline_rows`` asks for it."""

    after: tuple[str, int] | None
    """The ``(sort key, version)`` the page starts after; None: from the start."""
    limit: int
    low: str = ""
    high: str = "\uffff"
    types: tuple[str, ...] = ()
    """Only events of these types (none: every type)."""
    version: int | None = None
    """Only the first events, each ``retracted_by`` as it was then."""

    @property
    def start(self) -> tuple[str, int]:
        return self.after if self.after is not None else ("", 0)


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
    def recorded_prefix(self, slug: str, moment: datetime) -> int:
        """How many of a negotiation's first events were recorded at or before ``moment``:
        the first version recorded after it, less one (its head when none is; 0 when none
        was, or there is no such negotiation). ``Stream.recorded_by_time`` cuts the same."""

    @abstractmethod
    def events_in_occurred_order(self, slug: str) -> list[EventRow]:
        """A negotiation's events by occurred_at, ties in recording order."""

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
        """A page of a negotiation's events in occurred order after ``(sort key, version)``.

        Only sort keys in ``[low, high]`` and (when given) those types; each row with its
        payload as stored (JSON text), rows' own ``payload`` left empty. ``version``: only
        its first events, each ``retracted_by`` as it was then (None if retracted later).
        """
        query = TimelineQuery(after, limit, low, high, tuple(types), version)
        return self.timeline_page(slug, query)

    @abstractmethod
    def timeline_page(self, slug: str, query: TimelineQuery) -> list[tuple[EventRow, str]]:
        """``timeline_rows`` with its arguments in one value: what a backend implements."""

    @abstractmethod
    def occurred_span(
        self, slug: str, high: str = "\uffff", version: int | None = None
    ) -> tuple[str, str] | None:
        """The least and greatest sort keys, up to ``high``, of a negotiation's live events
        (neither retracted nor retractions): what a chart's time axis spans.

        ``version``: among its first events only, live as they were then (an event retracted
        later counts)."""

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

    # Reading the analytics view (``projections.analytics`` says what its keys hold).

    @abstractmethod
    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]:
        """A negotiation's analytics rows by key (absent keys are left out)."""

    @abstractmethod
    def analytics_scan(self, slug: str, prefix: str) -> list[tuple[str, str]]:
        """A negotiation's analytics rows whose key starts with ``prefix``, by key."""

    @abstractmethod
    def analytics_range(
        self, slug: str, low: str, high: str, *, last: bool = False
    ) -> list[tuple[str, str]]:
        """A negotiation's analytics rows with ``low <= key <= high``, by key (``last``: the
        last one only, found by the index)."""

    @abstractmethod
    def analytics_of(self, slugs: Sequence[str], key: str) -> dict[str, str]:
        """One key's row for each of several negotiations, in one read (the list's headlines)."""

    @abstractmethod
    def analytics_rows(self) -> list[tuple[str, str, str]]:
        """Every analytics row ``(negotiation, key, body)``, in order (for tests)."""

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
        if view == ANALYTICS_VIEW:
            return list(self.analytics_rows())
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
