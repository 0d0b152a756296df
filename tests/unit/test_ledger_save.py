"""The ledger saves a negotiation as the library's ``Application.save`` would.

``LedgerApplication.save`` collects a negotiation's events itself, without the library's
two runtime Protocol checks; everything it stores, snapshots, caches and notifies must be
what the library's own ``save`` gives for the same commands.
"""

from __future__ import annotations

import itertools
import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.application import Application, ProcessingEvent
from eventsourcing.domain import CollectEventsProtocol, DomainEventProtocol
from eventsourcing.persistence import Recording, StoredEvent
from support import memory_ledger

from domain import facts
from domain.ledger import SNAPSHOT_INTERVAL, Ledger
from domain.negotiation import negotiation_id
from domain.values import Party, Quantity, Term

AT = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


class NotifiedLedger(Ledger):
    """Remembers what each save notified."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.notified: list[list[tuple[int | None, int]]] = []
        self.notified_events: list[list[int]] = []

    def _notify(self, recordings: list[Recording[UUID]]) -> None:
        self.notified.append(
            [(r.notification.id, r.domain_event.originator_version) for r in recordings]
        )

    def notify(self, new_events: list[Any]) -> None:
        self.notified_events.append([e.originator_version for e in new_events])


class LibrarySaving(NotifiedLedger):
    """Saves through the library's ``Application.save``, as the ledger did before."""

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        return Application.save(self, *objs, **kwargs)


def _ledger(cls: type[NotifiedLedger]) -> NotifiedLedger:
    """An in-memory ledger of ``cls`` whose event ids are UUID(1), UUID(2), ..."""
    counter = itertools.count(1)
    return cls(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=lambda: AT,
        new_id=lambda: UUID(int=next(counter)),
    )


def _commands(ledger: Ledger) -> list[Any]:
    """Opens a negotiation and records past a snapshot point, one event and a batch at a time."""
    answers: list[Any] = [
        ledger.open_negotiation(
            facts.NegotiationOpened(occurred_at=date(2019, 9, 24), slug="sma", title="SMA"),
            [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
            [Term("price", "Price", "USD")],
        )
    ]
    for i in range(SNAPSHOT_INTERVAL + 10):
        offer = facts.OfferMade(
            occurred_at=date(2020, 1, 1),
            party="ROK" if i % 2 else "USA",
            kind="offer",
            values={"price": Quantity(Decimal(f"{100 + i}.5"), "USD")},
        )
        answers.append(ledger.record("sma", [offer]))
    batch = [
        facts.StatementMade(occurred_at=date(2020, 1, 2), party="ROK", speaker="s", summary=f"{i}")
        for i in range(3)
    ]
    answers.append(ledger.record("sma", batch, recorded_by="alice", idempotency_key="k"))
    return answers


def _untimed(snapshot: StoredEvent) -> tuple[Any, ...]:
    """A stored snapshot without its timestamp: the wall-clock time it was taken."""
    state = json.loads(snapshot.state)
    del state["timestamp"]
    return (snapshot.originator_id, snapshot.originator_version, snapshot.topic, state)


def _stored(ledger: Ledger) -> dict[str, Any]:
    nid = negotiation_id("sma")
    assert ledger.snapshots is not None
    cache = ledger.repository.cache
    assert cache is not None
    cached = cache.get(nid)
    return {
        "events": list(ledger.recorder.select_events(nid)),
        "log": list(ledger.recorder.select_notifications(start=1, limit=10_000)),
        "snapshots": [_untimed(s) for s in ledger.snapshots.recorder.select_events(nid)],
        "cached": (cached.version, cached.head_hash, sorted(cached.entries)),
    }


def test_a_negotiation_is_an_aggregate_that_collects_its_events() -> None:
    """What the library's collect_events asks of an object; the fast path assumes it."""
    ledger = memory_ledger(lambda: AT)
    _commands(ledger)
    neg = ledger.get("sma")
    assert not isinstance(neg, DomainEventProtocol)
    assert isinstance(neg, CollectEventsProtocol)


def test_saving_stores_snapshots_caches_and_notifies_as_the_library_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    library = _ledger(LibrarySaving)
    library_answers = _commands(library)

    collected: list[object] = []
    original = ProcessingEvent.collect_events

    def counting(self: ProcessingEvent[UUID], *objs: Any, **kwargs: Any) -> None:
        collected.append(objs)
        original(self, *objs, **kwargs)

    monkeypatch.setattr(ProcessingEvent, "collect_events", counting)
    fast = _ledger(NotifiedLedger)
    fast_answers = _commands(fast)

    assert collected == []  # the fast path was taken
    assert fast_answers == library_answers
    assert _stored(fast) == _stored(library)
    assert len(_stored(fast)["snapshots"]) == 1
    assert fast.notified == library.notified
    assert fast.notified_events == library.notified_events


def test_anything_but_one_negotiation_is_saved_the_library_way() -> None:
    ledger = memory_ledger(lambda: AT)
    _commands(ledger)
    neg = ledger.get("sma")
    assert ledger.save() == []
    assert ledger.save(None) == []
    assert ledger.save(neg) == []  # nothing pending
    assert ledger.get("sma").version == neg.version
