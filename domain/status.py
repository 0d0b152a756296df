"""The negotiation-status rule, defined once.

A negotiation's status is that of its latest live ``status_changed`` by ``occurred_at``
(ties in recording order), ``open`` when there is none. The aggregate decides with it
(``Negotiation.status``, what is allowed after a close), and the projections show it (the
index row of ``GET /negotiations`` and ``parley negotiations``): both fold the same
:class:`StatusChange` values with these functions, so they cannot disagree.

Pure functions over plain values: projections import this module, never the aggregate.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from domain.facts import CLOSING_STATUSES

OPEN = "open"
"""The status of a negotiation without a live status change."""


class StatusChange(NamedTuple):
    """One live status change. A tuple: sorted by its fields in order, stored as a JSON array."""

    key: str
    """The sort key of its ``occurred_at`` (``domain.values.sort_key``)."""
    version: int
    """Its version in the stream: ties of ``key`` go in recording order."""
    status: str
    event_id: str

    @classmethod
    def of(cls, stored: Sequence[Any]) -> StatusChange:
        """A change from its stored array (``[key, version, status, event_id]``)."""
        key, version, status, event_id = stored
        return cls(key, version, status, event_id)


def with_change(changes: Iterable[Sequence[Any]], change: StatusChange) -> list[StatusChange]:
    """The live changes, sorted, once ``change`` is recorded."""
    return sorted([*(StatusChange.of(c) for c in changes), change])


def without_event(changes: Iterable[Sequence[Any]], event_id: str) -> list[StatusChange]:
    """The live changes once the change recorded as ``event_id`` is retracted."""
    return [c for c in (StatusChange.of(c) for c in changes) if c.event_id != event_id]


def status_now(changes: Sequence[Sequence[Any]]) -> str:
    """The status in effect after every change (``changes`` sorted, as kept)."""
    return str(changes[-1][2]) if changes else OPEN


def status_before(changes: Iterable[Sequence[Any]], key: str) -> str:
    """The status in effect just before ``key`` (``changes`` sorted, as kept)."""
    status = OPEN
    for change in changes:
        if change[0] >= key:
            break
        status = change[2]
    return str(status)


def is_closing(status: str) -> bool:
    """Whether ``status`` closes the negotiation (concluded, collapsed)."""
    return status in CLOSING_STATUSES


def closed_before(changes: Iterable[Sequence[Any]], key: str) -> bool:
    """Whether a closing status is in effect just before ``key``."""
    return is_closing(status_before(changes, key))
