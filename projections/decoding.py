"""The events-view rows of stored notifications and of handed events: the runner's decoding.

A negotiation event's row comes from its stored JSON (``StoredRows``), or else through the
ledger's mapper (``event_row``, the definition); a handed event (``projections.handoff``)
is already decoded. Events carry only their negotiation's id: its slug comes from the
opening, kept in a bounded cache.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import cast
from uuid import UUID

from eventsourcing.persistence import ApplicationRecorder, Mapper, Notification
from eventsourcing.utils import get_topic

from domain.negotiation import Negotiation
from projections.views import EventRow, event_row
from projections.views.stored import StoredRows, Unreadable

SLUG_CACHE_SIZE = 10_000
NEGOTIATION_TOPICS = frozenset(get_topic(cls) for cls in Negotiation.EVENT_CLASSES.values())
OPENED = get_topic(Negotiation.NegotiationOpened)


class RowDecoder:
    """Makes events-view rows of one store's notifications and events."""

    def __init__(self, recorder: ApplicationRecorder, mapper: Mapper[UUID]) -> None:
        self.recorder = recorder
        self.mapper = mapper
        self._stored = StoredRows(mapper)
        self._slugs: OrderedDict[int, str] = OrderedDict()
        """By the id's integer: a UUID hashes and compares in Python, an int in C."""
        self._last_slug: tuple[int, str] | None = None

    def rows(self, notifications: Sequence[Notification]) -> list[EventRow]:
        """The rows of the negotiation events among them (anything else is passed over)."""
        return [self.row_of(n) for n in notifications if n.topic in NEGOTIATION_TOPICS]

    def row_of_event(self, position: int, event: Negotiation.Event) -> EventRow:
        opened = event.slug if isinstance(event, Negotiation.NegotiationOpened) else None
        return event_row(position, self._slug_of(event.originator_id, opened), event)

    def row_of(self, notification: Notification) -> EventRow:
        """The row of a negotiation event: from its stored JSON, or else through the mapper."""
        nid = cast(UUID, notification.originator_id)
        if self._stored.usable:
            try:
                state = self._stored.state(notification)
                slug = self._slug_of(
                    nid, state.get("slug") if notification.topic == OPENED else None
                )
                return self._stored.row(notification.id, slug, notification, state)
            except Unreadable:
                pass
        event = self.mapper.to_domain_event(notification)
        if not isinstance(event, Negotiation.Event):
            msg = f"notification {notification.id} is not a negotiation event"
            raise TypeError(msg)
        return self.row_of_event(notification.id, event)

    def _slug_of(self, nid: UUID, opened: str | None) -> str:
        """The slug of an event's negotiation (``opened``: the slug an opening carries).

        Events carry only the aggregate id.
        """
        last = self._last_slug
        if last is not None and last[0] == nid.int:
            # A negotiation's events mostly come in runs: no cache bookkeeping for those.
            return last[1]
        slug = self._lookup_slug(nid, opened)
        self._last_slug = (nid.int, slug)
        return slug

    def _lookup_slug(self, nid: UUID, opened: str | None) -> str:
        key = nid.int
        known = self._slugs.get(key)
        if opened is not None:
            slug = opened
        elif known is not None:
            self._slugs.move_to_end(key)
            return known
        else:
            stored = self.recorder.select_events(nid, lte=1, limit=1)
            first = self.mapper.to_domain_event(stored[0])
            if not isinstance(first, Negotiation.NegotiationOpened):
                msg = f"the first event of {nid} is not an opening"
                raise TypeError(msg)
            slug = first.slug
        self._slugs[key] = slug
        if len(self._slugs) > SLUG_CACHE_SIZE:
            self._slugs.popitem(last=False)
        return slug
