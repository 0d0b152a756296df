"""The ledger as a feed: entries of the events view in log order, and their live subscribers.

One ``EventHub`` per process follows the events view's tracked position (woken by this
process's runner, and polling for runners elsewhere, e.g. beside several workers on
PostgreSQL) and hands each new page of rows to every subscription. A subscription catches
up from the view itself, then takes the hub's rows: it knows the position the hub had
reached when it subscribed, so the two meet without a gap or a repeat. Its buffer is
bounded: a subscriber that falls that far behind is ended, to resume from its last id.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError

from domain.canonical import format_recorded_at
from projections.runner import ProjectionRunner
from projections.views import EVENTS_VIEW, EventRow, Views

log = logging.getLogger(__name__)

PAGE = 500
"""Rows read from the events view at a time, by the hub and by a catching-up subscriber."""


def entry_of_row(row: EventRow) -> dict[str, Any]:
    """A row as a ledger entry (as ``GET /negotiations/{slug}/events`` has it) plus ``negotiation``."""
    return {
        "negotiation": row.negotiation,
        "event_id": row.event_id,
        "type": row.type,
        "version": row.version,
        "position": row.position,
        "occurred_at": row.occurred_at,
        **row.payload,
        "recorded_at": format_recorded_at(row.recorded_at),
        "recorded_by": row.recorded_by,
        "hash": row.hash,
        "prev_hash": row.prev_hash,
        "retracted": row.retracted_by is not None,
        "retracted_by": row.retracted_by,
    }


def rows_after(views: Views, after: int, limit: int, *, upto: int | None = None) -> list[EventRow]:
    """Rows of the whole log after a position (and at most ``upto``), in log order."""
    rows = views.event_rows(after, limit)
    return rows if upto is None else [r for r in rows if r.position <= upto]


def negotiation_rows_after(
    views: Views, slug: str, after: int, *, upto: int | None = None, limit: int = PAGE
) -> list[EventRow]:
    """A negotiation's rows after a log position (its versions rise with their positions)."""
    found: list[EventRow] = []
    version = 0
    while len(found) < limit:
        page = views.events_of(slug, after_version=version, limit=PAGE)
        if not page:
            break
        version = page[-1].version
        for row in page:
            if upto is not None and row.position > upto:
                return found
            if row.position > after:
                found.append(row)
                if len(found) == limit:
                    return found
    return found


class Subscription:
    """One subscriber's buffer of live rows; filled by the hub's thread, read on the event loop."""

    def __init__(
        self, slug: str | None, capacity: int, loop: asyncio.AbstractEventLoop, start: int
    ) -> None:
        self.slug = slug
        self.capacity = capacity
        self.start = start
        """The hub's position when this subscribed: later rows come through ``take``."""
        self.overflowed = False
        self.closed = False
        self._rows: deque[EventRow] = deque()
        self._lock = threading.Lock()
        self._loop = loop
        self._ready = asyncio.Event()
        self.ended = asyncio.Event()
        """Set when the subscriber must stop: its buffer overflowed, or the server is stopping."""

    @property
    def buffered(self) -> int:
        return len(self._rows)

    def offer(self, rows: Sequence[EventRow]) -> None:
        """Called by the hub: keeps the rows this subscription wants, or gives up on it."""
        slug = self.slug
        wanted = rows if slug is None else [r for r in rows if r.negotiation == slug]
        if not wanted or self.overflowed or self.closed:
            return
        with self._lock:
            if len(self._rows) + len(wanted) > self.capacity:
                # Too far behind: drop what it holds, so its memory is released now.
                self.overflowed = True
                self._rows.clear()
            else:
                self._rows.extend(wanted)
        self._signal(end=self.overflowed)

    def close(self) -> None:
        self.closed = True
        self._signal(end=True)

    def _signal(self, *, end: bool) -> None:
        def wake() -> None:
            self._ready.set()
            if end:
                self.ended.set()

        # RuntimeError: its event loop has closed, so nobody is waiting any more.
        with contextlib.suppress(RuntimeError):
            self._loop.call_soon_threadsafe(wake)

    def take(self) -> list[EventRow]:
        with self._lock:
            rows = list(self._rows)
            self._rows.clear()
        return rows

    async def wait(self, timeout: float) -> bool:
        """Whether rows (or the end) came within ``timeout`` seconds."""
        try:
            await asyncio.wait_for(self._ready.wait(), timeout)
        except TimeoutError:
            return False
        self._ready.clear()
        return True


class EventHub:
    """Follows the events view and fans its new rows out to the subscriptions of this process."""

    def __init__(
        self,
        runner: ProjectionRunner,
        *,
        capacity: int = 1000,
        poll_interval: float = 0.02,
    ) -> None:
        self.runner = runner
        self.views = runner.views
        self.capacity = capacity
        self.poll_interval = poll_interval
        self.position: int | None = None
        """The last log position handed to the subscriptions (None before the first one)."""
        self._subscriptions: set[Subscription] = set()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._someone = threading.Event()
        self._thread: threading.Thread | None = None
        self.dispatched = 0
        """Rows handed out (one per row, however many subscribers took it)."""

    @property
    def subscribers(self) -> int:
        return len(self._subscriptions)

    @property
    def closing(self) -> bool:
        return self._closing.is_set()

    def subscribe(self, slug: str | None, loop: asyncio.AbstractEventLoop) -> Subscription:
        """A new subscription; rows after its ``start`` reach it (blocking: reads the view once)."""
        with self._lock:
            if self.position is None:
                self.position = self.views.tracked_position(EVENTS_VIEW)
            subscription = Subscription(slug, self.capacity, loop, self.position)
            if self._closing.is_set():
                subscription.close()
                return subscription
            self._subscriptions.add(subscription)
            self._someone.set()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="parley-feed", daemon=True)
                self._thread.start()
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscriptions.discard(subscription)
            if not self._subscriptions:
                self._someone.clear()

    def close(self) -> None:
        """Ends every subscription (the server is stopping); safe from a signal handler."""
        self._closing.set()
        self._someone.set()
        for subscription in list(self._subscriptions):
            subscription.close()

    def join(self, timeout: float = 5.0) -> None:
        self.close()
        if self._thread is not None:
            self._thread.join(timeout)

    def step(self) -> int:
        """Hands out the rows the view holds beyond ``position``; returns how many."""
        assert self.position is not None  # noqa: S101 - set by the first subscribe
        tracked = self.views.tracked_position(EVENTS_VIEW)
        handed = 0
        while self.position < tracked and not self._closing.is_set():
            rows = rows_after(self.views, self.position, PAGE, upto=tracked)
            with self._lock:
                self.position = rows[-1].position if rows else tracked
                for subscription in self._subscriptions:
                    subscription.offer(rows)
            handed += len(rows)
            if not rows:
                break
        self.dispatched += handed
        return handed

    def _run(self) -> None:
        wait_batch: Callable[[float], None] = self.runner.wait_batch
        while not self._closing.is_set():
            if not self._someone.wait(timeout=1.0):
                continue
            try:
                self.step()
            except (OperationalError, InterfaceError) as e:
                log.warning("feed: the store is unavailable (%s); retrying", e)
                self._closing.wait(1.0)
                continue
            except Exception:
                log.exception("feed: stopped")
                self.close()
                raise
            # A batch committed by this process's runner wakes it at once; one committed
            # elsewhere (another worker's, `parley project`'s) is seen at the next poll.
            wait_batch(self.poll_interval)


async def frames(
    hub: EventHub,
    subscription: Subscription,
    catch_up: Callable[[int, int], list[EventRow]],
    after: int,
    heartbeat: float,
    run_sync: Callable[..., Any],
) -> AsyncIterator[bytes]:
    """The SSE frames of a subscription from ``after`` on: catch-up, then live, then its end."""
    last = after
    try:
        yield b"retry: 1000\n\n"
        while last < subscription.start and not subscription.ended.is_set():
            rows = await run_sync(catch_up, last, subscription.start)
            if not rows:
                break
            for row in rows:
                yield frame(row)
            last = rows[-1].position
        while not subscription.ended.is_set():
            rows = subscription.take()
            for row in rows:
                if row.position > last:
                    yield frame(row)
                    last = row.position
            if not rows and not await subscription.wait(heartbeat):
                yield b": heartbeat\n\n"
        if subscription.overflowed:
            yield b": too far behind; reconnect with Last-Event-ID\n\n"
    finally:
        hub.unsubscribe(subscription)


def frame(row: EventRow) -> bytes:
    """One SSE message: ``id`` the log position, ``event`` the type, ``data`` the entry."""
    data = json.dumps(entry_of_row(row), separators=(",", ":"), ensure_ascii=False)
    return f"id: {row.position}\nevent: {row.type}\ndata: {data}\n\n".encode()
