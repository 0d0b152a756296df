"""The ``recorded_at`` of new events: from the clock, but strictly increasing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import UUID

from eventsourcing.application import Application

from domain.ledger.storage import translate_storage_errors
from domain.negotiation import Negotiation

TICK = timedelta(microseconds=1)
"""How far a new ``recorded_at`` moves past the last stored one when the clock is not past it,
and past the previous event of the same command (recorded times strictly increase)."""


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


class Clock(Application[UUID]):
    """Stamps commands with ``recorded_at``, and tells how far the clock is behind."""

    _clock: Callable[[], datetime]
    clock_behind: timedelta | None
    """How far the clock was behind the last stored ``recorded_at`` at the last append
    (None while it is not): recorded times then move on by 1 µs per event."""

    def _start_clock(self, clock: Callable[[], datetime]) -> None:
        self._clock = clock
        self._stamp_guard = threading.Lock()
        self._last_stamp: datetime | None = None
        self._last_stamp_known = False
        self.clock_behind = None

    def _stamp(self, neg: Negotiation | None, count: int = 1) -> datetime:
        """``recorded_at`` of the first of a command's ``count`` events (each next is 1 µs later).

        The later of the clock and the last stored ``recorded_at`` plus 1 µs, so recorded
        times strictly increase (a tie with the clock moves on too). The last stored one is
        the negotiation's latest event (exact: a save is conditional on the version loaded)
        and the latest this process stored or found at the log's head when it first
        recorded. So recorded times never repeat nor go backwards within a negotiation, nor
        within the ledger as one process writes it; a clock set back shows in ``/health``.
        """
        now = self._clock()
        with self._stamp_guard:
            if not self._last_stamp_known:
                self._last_stamp = self._head_recorded_at()
                self._last_stamp_known = True
            floor = self._last_stamp
            if neg is not None and (floor is None or neg.modified_on > floor):
                floor = neg.modified_on
            self.clock_behind = floor - now if floor is not None and now < floor else None
            stamped = now if floor is None or now > floor else floor + TICK
            self._last_stamp = stamped + (count - 1) * TICK
        return stamped

    def _note_stamp(self, moment: datetime) -> None:
        with self._stamp_guard:
            if self._last_stamp is None or moment > self._last_stamp:
                self._last_stamp = moment

    def _head_recorded_at(self) -> datetime | None:
        """The ``recorded_at`` of the event at the log's head (None in an empty store)."""
        with translate_storage_errors():
            head = self.recorder.max_notification_id()
            if not head:
                return None
            found = self.recorder.select_notifications(start=head, limit=1)
        if not found:
            return None
        moment: datetime = self.mapper.to_domain_event(found[0]).timestamp  # type: ignore[attr-defined]
        return moment
