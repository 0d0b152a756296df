"""The ledger as an eventsourcing application: its construction, its cache and its queries."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, ProcessingEvent
from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import JSONTranscoder, Recording
from eventsourcing.utils import get_topic

from domain import errors
from domain.ledger.clock import Clock, utc_now
from domain.ledger.snapshots import Snapshotting, project_negotiation
from domain.ledger.storage import translate_storage_errors
from domain.negotiation import IDEMPOTENCY_RETENTION, Negotiation, negotiation_id
from domain.transcodings import register_value_transcodings

IDEMPOTENCY_WINDOW = timedelta(hours=24)

MAX_PARTIES = 64
"""The most parties one negotiation holds (every pair of them is a gap per term)."""
MAX_TERMS = 64
"""The most terms one negotiation defines."""

PositionLookup = Callable[[UUID, int, int], dict[int, int]]
"""(aggregate id, first version, last version) -> {version: notification id}."""


class LedgerApplication(Clock, Snapshotting):
    """Builds the ledger, keeps its cache current, and answers what is stored."""

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] = uuid4,
        position_lookup: PositionLookup | None = None,
        idempotency_window: timedelta = IDEMPOTENCY_WINDOW,
        max_parties: int = MAX_PARTIES,
        max_terms: int = MAX_TERMS,
    ) -> None:
        if not timedelta(0) < idempotency_window <= IDEMPOTENCY_RETENTION:
            msg = (
                f"the idempotency window must be positive and at most {IDEMPOTENCY_RETENTION}"
                " (how long negotiations keep keys)"
            )
            raise ValueError(msg)
        super().__init__(env)
        self._idempotency_window = idempotency_window
        self.max_parties = max_parties
        self.max_terms = max_terms
        self._new_id = new_id
        self._position_lookup = position_lookup
        self._locks: dict[UUID, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._start_clock(clock)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_transcodings(transcoder)

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        """The library's ``save``, with a negotiation's events collected directly.

        The library tells aggregates from events with two runtime-checkable Protocol
        isinstance checks per save, which walk the protocols' members every time (a
        visible share of an append). A ``Negotiation`` is an aggregate that collects its
        events (tests/unit/test_ledger_save.py holds it so); anything else goes the
        library's way. The steps after collecting are the library's ``save``'s, in order.
        """
        if len(objs) != 1 or kwargs or type(objs[0]) is not Negotiation:
            return super().save(*objs, **kwargs)
        neg = objs[0]
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        processing_event.events.extend(neg.collect_events())
        processing_event.aggregates[neg.id] = neg
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # deprecated in the library; still its step
        return recordings

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Records, then caches the saved aggregates as they now stand.

        With fast-forwarding on, the library leaves the cache at the version loaded, so the
        next load of a negotiation read and replayed the event just saved (a visible share
        of an append). Writers of one negotiation take turns (``_writer_lock``), so the
        saved state is the latest this process knows; the next load still fast-forwards
        past whatever another process stored since.
        """
        recordings = super()._record(processing_event)
        cache = self.repository.cache
        if cache is not None and self.repository.fastforward:
            for nid, aggregate in processing_event.aggregates.items():
                cache.put(nid, aggregate)
        return recordings

    def set_position_lookup(self, lookup: PositionLookup) -> None:
        self._position_lookup = lookup

    # --------------------------------------------------------------- queries

    def get(self, slug: str, version: int | None = None) -> Negotiation:
        """The negotiation now, or after its first ``version`` events."""
        if version is not None:
            return self._load(slug, version)
        # Writers in this process change the cached aggregate under this lock; a reader
        # taking it too never sees one container a version ahead of another.
        with self._writer_lock(slug):
            return self._load(slug)

    def _load(self, slug: str, version: int | None = None) -> Negotiation:
        try:
            with translate_storage_errors():
                neg: Negotiation = self.repository.get(
                    negotiation_id(slug), version=version, projector_func=project_negotiation
                )
        except AggregateNotFoundError:
            raise errors.NegotiationNotFound(f"no negotiation {slug!r}") from None
        return neg

    def stream(
        self,
        slug: str,
        *,
        after_version: int = 0,
        up_to_version: int | None = None,
        limit: int | None = None,
    ) -> list[Negotiation.Event]:
        """The stored events of one negotiation, in recorded order."""
        with translate_storage_errors():
            found = self.events.get(
                negotiation_id(slug), gt=after_version, lte=up_to_version, limit=limit
            )
            events: list[Negotiation.Event] = list(found)  # type: ignore[arg-type]
        if not events and after_version == 0:
            raise errors.NegotiationNotFound(f"no negotiation {slug!r}")
        return events

    def opened_negotiations(
        self, after_position: int = 0, limit: int = 100
    ) -> list[tuple[int, str]]:
        """(position, slug) of negotiations in the order they were opened."""
        topic = get_topic(Negotiation.NegotiationOpened)
        with translate_storage_errors():
            notifications = self.recorder.select_notifications(
                start=after_position + 1, limit=limit, topics=[topic]
            )
        found = []
        for n in notifications:
            event = self.mapper.to_domain_event(n)
            found.append((n.id, event.slug))  # type: ignore[attr-defined]
        return found

    def positions(self, slug: str, first_version: int, last_version: int) -> dict[int, int]:
        """{version: log position} for a range of one negotiation's events."""
        return self._positions(negotiation_id(slug), first_version, last_version)

    def head_position(self) -> int:
        with translate_storage_errors():
            return self.recorder.max_notification_id() or 0

    def _positions(self, nid: UUID, first: int, last: int) -> dict[int, int]:
        if self._position_lookup is None:
            return {}
        with translate_storage_errors():
            return self._position_lookup(nid, first, last)

    # ------------------------------------------------------- locks and cache

    def _writer_lock(self, slug: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(negotiation_id(slug), threading.Lock())

    def _evict(self, nid: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(nid, evict=True)
