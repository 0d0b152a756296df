"""Events handed to the runner by the process that saved them, so that it need not read them back.

After each save the library calls the application's ``_notify`` with what it stored: every
event with its log position (``Recording``). The runner keeps them here, and takes them only
as an unbroken run of positions starting right after the views' tracked position: log
positions are unique, so such a run is exactly what the store holds there, and nobody else's
event can hide in it. Anything else (a gap left by another process's write, by a
rolled-back PostgreSQL sequence value or by a hand-off that never came because the process
died between its save and the hand-off, events handed out of order, a full buffer) and the
runner reads the store, as it does without hand-offs. The views and their tracking row still
commit in one transaction, so each event still lands once.

Bounded: past ``HAND_OFF_LIMIT`` held events the lowest are dropped, which is only a gap.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import Recording

from domain.negotiation import Negotiation

HAND_OFF_LIMIT = 5_000
"""Events held at most; a runner that falls this far behind reads the store."""

Handed = tuple[int, Negotiation.Event | None]
"""A saved event's log position and the event (None: not a negotiation event, no row)."""


class HandOff:
    """The saved events handed over, by log position, until the runner takes them."""

    def __init__(self, limit: int = HAND_OFF_LIMIT) -> None:
        self.limit = limit
        self._lock = threading.Lock()
        self._held: dict[int, Negotiation.Event | None] = {}
        self.dropped = 0
        """Events dropped because the buffer was full (each is a gap: read from the store)."""

    def put(self, saved: Iterable[tuple[int | None, Any]]) -> None:
        """Holds saved events ``(log position, domain event)``; unknown positions are left out."""
        with self._lock:
            held = self._held
            for position, event in saved:
                if position is None:
                    continue
                held[position] = event if isinstance(event, Negotiation.Event) else None
            if len(held) > self.limit:
                excess = len(held) - self.limit
                for position in sorted(held)[:excess]:
                    del held[position]
                self.dropped += excess

    def take(self, after: int, limit: int) -> list[Handed]:
        """The unbroken run of held positions right after ``after`` (at most ``limit``).

        Empty when ``after + 1`` is not held. Forgets what lies at or below ``after`` (the
        views have it already) and what it returns.
        """
        with self._lock:
            held = self._held
            if not held:
                return []
            for stale in [p for p in held if p <= after]:
                del held[stale]
            run: list[Handed] = []
            position = after + 1
            while len(run) < limit and position in held:
                run.append((position, held.pop(position)))
                position += 1
            return run

    def __len__(self) -> int:
        with self._lock:
            return len(self._held)


_attaching = threading.Lock()


def attach(app: Application[UUID], buffer: HandOff) -> None:
    """Hands every save of ``app`` from now on to ``buffer`` too (until ``detach``).

    The hook is the library's ``Application._notify``, called with the recordings of each
    save once it has committed; it is wrapped on this instance once, then shared by every
    buffer attached to it.
    """
    with _attaching:
        buffers: list[HandOff] | None = app.__dict__.get("_parley_hand_offs")
        if buffers is None:
            buffers = []
            notify = app._notify

            def hand_off(recordings: list[Recording[UUID]]) -> None:
                notify(recordings)
                for each in tuple(buffers):
                    each.put((r.notification.id, r.domain_event) for r in recordings)

            app._notify = hand_off  # type: ignore[method-assign]
            app.__dict__["_parley_hand_offs"] = buffers
        if buffer not in buffers:
            buffers.append(buffer)


def detach(app: Application[UUID], buffer: HandOff) -> None:
    """Stops handing ``app``'s saves to ``buffer``."""
    with _attaching:
        buffers: list[HandOff] = app.__dict__.get("_parley_hand_offs", [])
        if buffer in buffers:
            buffers.remove(buffer)
