"""The projection runner: applies the notification log to the views, a batch at a time.

One loop for every store. A batch starts right after the views' tracked position: from the
events this process just saved, when handed over unbroken from there (``projections.handoff``),
else read from the store (``select_notifications``, or PostgreSQL's subscription,
``projections.subscription``) and decoded (``projections.decoding``); it is applied to the views
with their tracking position in one transaction. At the head it waits: the memory store and
PostgreSQL (LISTEN) wake it, the API ``nudge()``s it after an append, and a short bounded poll
covers the rest (a lost NOTIFY, another process writing to a SQLite file).

It runs in a background thread (``start()``/``stop()``, or as a context manager) inside
``parley serve``, or in the foreground (``run_forever()``) as ``parley project``. Runners may
race on one store: the views refuse a batch another runner has applied (``projections.views``),
and the loser resumes from the tracked position. Rebuilding from zero: ``projections.rebuild``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Self
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import (
    ApplicationRecorder,
    IntegrityError,
    InterfaceError,
    Mapper,
    Notification,
    OperationalError,
)

from projections.decoding import RowDecoder
from projections.handoff import HandOff, attach, detach
from projections.rebuild import Progress, rebuild_views
from projections.subscription import SubscriptionFeed
from projections.views import VIEWS, EventRow, Views, open_views

__all__ = ["BATCH_SIZE", "REBUILD_BATCH_SIZE", "Progress", "ProjectionRunner", "open_runner"]

log = logging.getLogger(__name__)

BATCH_SIZE = 500
REBUILD_BATCH_SIZE = 5000
RETRY_AFTER_ERROR = 1.0
"""Seconds before trying again when the store is unavailable."""
STREAMING_GAP = 0.005
"""A wake this soon after the last catch-up means appends are streaming: coalesce them."""


class ProjectionRunner:
    """Keeps the read views up to date with the ledger's notification log."""

    def __init__(
        self,
        app: Application[UUID],
        views: Views | None = None,
        *,
        batch_size: int = BATCH_SIZE,
        poll_interval: float | None = None,
        coalesce: float | None = None,
        on_batch: Callable[[int, int], None] | None = None,
    ) -> None:
        """``on_batch(position, applied)`` is called after each committed batch.

        ``coalesce``: seconds the runner lets more events arrive after a wake (a NOTIFY, a
        ``nudge(coalesce=True)``) while appends stream in, before it catches up (default: the
        views'), so that steady appends are applied in batches rather than one per wake; a
        plain ``nudge()`` and a reader's ``wait_for`` skip it.
        """
        self.app = app
        self.recorder: ApplicationRecorder = app.recorder
        self.mapper: Mapper[UUID] = app.mapper
        self.decoder = RowDecoder(self.recorder, self.mapper)
        self.views = views if views is not None else open_views(self.recorder)
        self.batch_size = batch_size
        self.poll_interval = (
            poll_interval if poll_interval is not None else self.views.poll_interval
        )
        self.coalesce = coalesce if coalesce is not None else self.views.coalesce
        self.on_batch = on_batch
        self.applied = 0
        """Events this runner applied (committed), across all batches."""
        self.conflicts = 0
        """Batches refused because another runner had moved the views on."""
        self.error: BaseException | None = None
        self._positions: dict[str, int] | None = None
        self._wake = threading.Event()
        self._urgent = threading.Event()
        """Set by a plain ``nudge()`` and by a reader's ``wait_for``: catch up without delay."""
        self._last_read = 0
        """How many notifications the last ``read_batch`` found."""
        self._stopping = threading.Event()
        self._progress = threading.Condition()
        self._thread: threading.Thread | None = None
        self._feed: SubscriptionFeed | None = None
        """While ``run_forever`` runs on a store that can subscribe: where batches come from."""
        self._from_feed = False
        self._next_subscribe = 0.0
        self._was_subscribed = False
        self.read_from_subscription = 0
        """Notifications that reached the views through the library's subscription."""
        self.handed = HandOff()
        """Events this process saved, handed over by the app (see ``take_hand_offs``)."""
        self.read_from_hand_off = 0
        """Events that reached the views from ``handed``, not read back from the store."""

    # ------------------------------------------------------------------ reading

    def read_batch(self, after: int, limit: int | None = None) -> tuple[list[EventRow], int]:
        """The rows of the notifications after ``after``, and the last position read."""
        notifications: Sequence[Notification]
        if self._feed is not None and self._from_feed:
            notifications = self._feed.drain(after, limit or self.batch_size)
            self.read_from_subscription += len(notifications)
        if self._feed is None or not self._from_feed or not notifications:
            # Also when the subscription has nothing: it may have missed a NOTIFY or stopped,
            # and a reader waiting for its write must not depend on it.
            notifications = self.recorder.select_notifications(
                start=after + 1, limit=limit or self.batch_size
            )
        self._last_read = len(notifications)
        if not notifications:
            return [], after
        # Only negotiation events make rows; anything else is passed over (and tracked).
        return self.decoder.rows(notifications), notifications[-1].id

    def read_handed(self, after: int, limit: int | None = None) -> tuple[list[EventRow], int]:
        """``read_batch`` from the events handed over, when they run unbroken from ``after``.

        ``(rows, after)`` when they do not: the caller reads the store.
        """
        run = self.handed.take(after, limit or self.batch_size)
        if not run:
            return [], after
        self._last_read = len(run)
        self.read_from_hand_off += len(run)
        end = run[-1][0]
        if self._feed is not None:
            self._feed.skip(end)
        row_of = self.decoder.row_of_event
        return [row_of(p, event) for p, event in run if event is not None], end

    def take_hand_offs(self) -> None:
        """Holds the events the app saves from now on (``handed``), until ``stop()``.

        The next batch starts from them instead of reading them back from the store, when
        they follow on from the views' position (``projections.handoff``).
        """
        attach(self.app, self.handed)

    def head(self) -> int:
        return self.recorder.max_notification_id() or 0

    # ----------------------------------------------------------------- applying

    def positions(self, *, refresh: bool = False) -> dict[str, int]:
        if self._positions is None or refresh:
            self._positions = self.views.tracked_positions()
        return dict(self._positions)

    def step(self) -> int | None:
        """Applies one batch; returns how many events it applied, or None at the head."""
        start = self.positions()
        after = min(start.values())
        rows, end = self.read_handed(after)
        if end == after:
            rows, end = self.read_batch(after)
        if end == after:
            return None
        try:
            applied = self.views.apply(rows, start, end)
        except IntegrityError:
            # Another runner (or a rebuild) moved the views on: resume from where they are.
            if self.positions(refresh=True) == start:
                raise  # nobody moved them: the views disagree with their tracking
            self.conflicts += 1
            return 0
        self._positions = {name: max(start[name], end) for name in start}
        self.applied += applied
        with self._progress:
            self._progress.notify_all()
        if self.on_batch is not None:
            self.on_batch(end, applied)
        return applied

    def catch_up(self, *, streaming: bool = False) -> int:
        """Applies batches until the views reach the head; returns how many events it applied.

        ``streaming``: stop after a batch that found fewer events than a batch holds, rather
        than chase the events that trickled in while it was applied (one batch each): the
        loop in ``run_forever`` lets them gather first.
        """
        total = 0
        while not self._stopping.is_set():
            conflicts = self.conflicts
            applied = self.step()
            if applied is None:
                break
            total += applied
            if streaming and self.conflicts == conflicts and self._last_read < self.batch_size:
                break
        return total

    # ------------------------------------------------------------------ running

    def run_forever(self) -> None:
        """Keeps the views up to date until ``stop()``; store outages are waited out."""
        subscribes = self.views.kind == "postgres"
        if subscribes:
            # The library's subscription feeds the batches; the bounded poll below still
            # reads the store itself, which covers a NOTIFY the subscription missed.
            self._subscribe()
            stop_listening: Callable[[], None] = self._unsubscribe
        else:
            stop_listening = self.views.listen(self._wake)
        woke = False
        try:
            while not self._stopping.is_set():
                if subscribes and (self._feed is None or self._feed.failed):
                    self._subscribe()  # after the store came back: LISTEN again
                self._wake.clear()
                self._from_feed = woke and self._feed is not None
                try:
                    self.catch_up(streaming=self.coalesce > 0)
                except (OperationalError, InterfaceError) as e:
                    log.warning("projections: the store is unavailable (%s); retrying", e)
                    self._positions = None
                    self._stopping.wait(RETRY_AFTER_ERROR)
                    continue
                idle = time.monotonic()
                woke = self._wake.wait(timeout=self.poll_interval)
                if woke and self.coalesce > 0 and time.monotonic() - idle < STREAMING_GAP:
                    # Appends are streaming in: let the next ones arrive, so that one batch
                    # applies them all (a batch per event costs more than the append). A
                    # lone append after a quiet spell is applied at once.
                    self._urgent.wait(timeout=self.coalesce)
                # Cleared before catching up: a reader who asks later is served next turn.
                self._urgent.clear()
        finally:
            self._from_feed = False
            stop_listening()
            self._feed = None

    def _subscribe(self) -> None:
        """(Re)subscribes to the log; on failure, polls until the next turn tries again.

        The subscription starts at the head: the backlog is read from the store by the next
        catch-up. ``subscribed`` says whether it is listening (``/health``).
        """
        now = time.monotonic()
        if now < self._next_subscribe:
            return
        self._next_subscribe = now + RETRY_AFTER_ERROR
        self._unsubscribe()
        try:
            self._feed = SubscriptionFeed(self.recorder, self.head(), self._wake)
        except (OperationalError, InterfaceError) as e:
            log.warning("projections: cannot subscribe (%s); polling, trying again", e)
            self._feed = None
        else:
            if self._was_subscribed:
                log.warning("projections: subscribed to the log again")
            self._was_subscribed = True

    def _unsubscribe(self) -> None:
        feed, self._feed = self._feed, None
        if feed is not None:
            try:
                feed.close()
            except (OperationalError, InterfaceError) as e:
                log.warning("projections: closing a lost subscription: %s", e)

    @property
    def subscribed(self) -> bool | None:
        """On a store that can subscribe (PostgreSQL), whether the runner is listening."""
        if self.views.kind != "postgres" or not self.running:
            return None
        feed = self._feed
        return feed is not None and not feed.failed

    def _run_in_thread(self) -> None:
        try:
            self.run_forever()
        except BaseException as e:
            self.error = e
            log.exception("projections: the runner stopped")
            with self._progress:
                self._progress.notify_all()

    def start(self) -> Self:
        """Runs in a background thread."""
        if self._thread is not None:
            msg = "the runner is already started"
            raise RuntimeError(msg)
        self._stopping.clear()
        self.take_hand_offs()
        self._thread = threading.Thread(
            target=self._run_in_thread, name="parley-projections", daemon=True
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        self._wake.set()
        self._urgent.set()
        detach(self.app, self.handed)
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def nudge(self, *, coalesce: bool = False) -> None:
        """Tells the runner new events are there (the API calls this after an append).

        The runner applies them at once. ``coalesce``: it may first let more arrive (up to
        ``self.coalesce`` seconds) when appends are streaming in, as it does for a NOTIFY, so
        that one batch applies many; a reader's ``wait_for`` still cuts that short.
        """
        if not coalesce:
            self._urgent.set()
        self._wake.set()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ---------------------------------------------------------------- observing

    def wait_for(self, position: int | None = None, timeout: float = 5.0) -> bool:
        """Whether every view reached ``position`` (default: the head now) within ``timeout``.

        Polls the tracked positions (another process may be the runner); a batch committed
        by this runner wakes the wait at once.
        """
        target = self.head() if position is None else position
        deadline = time.monotonic() + timeout
        delay = 0.002
        while True:
            known = self._positions
            if known is not None and min(known.values()) >= target:
                return True
            if min(self.positions(refresh=True).values()) >= target:
                return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self.nudge()
            with self._progress:
                self._progress.wait(timeout=min(delay, remaining))
            delay = min(delay * 2, 0.05)

    def wait_batch(self, timeout: float) -> None:
        """Returns when this runner commits its next batch, or after ``timeout`` seconds."""
        with self._progress:
            self._progress.wait(timeout=timeout)

    def lag(self) -> dict[str, int]:
        """For each view: how many log positions it is behind the head."""
        positions = self.positions(refresh=True)
        head = self.head()
        return {name: max(0, head - positions[name]) for name in VIEWS}

    # ---------------------------------------------------------------- rebuilding

    def rebuild(
        self,
        view: str | Sequence[str] | None = None,
        progress: Progress | None = None,
        *,
        batch_size: int = REBUILD_BATCH_SIZE,
    ) -> dict[str, int]:
        """Rebuilds views from zero and swaps them in: ``projections.rebuild.rebuild_views``."""
        return rebuild_views(self, view, progress, batch_size=batch_size)

    def views_moved(self) -> None:
        """The views were moved on from outside the loop (a rebuild): reread, wake waiters."""
        self.positions(refresh=True)
        with self._progress:
            self._progress.notify_all()


def open_runner(app: Application[UUID], **kwargs: Any) -> ProjectionRunner:
    """A runner over the views of the app's store (tables created if missing)."""
    return ProjectionRunner(app, open_views(app.recorder), **kwargs)
