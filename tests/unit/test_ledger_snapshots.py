"""Snapshots speed up loading; a failure to take one never fails the command that triggered it."""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from domain import facts
from domain.ledger import SNAPSHOT_INTERVAL, Ledger, snapshot_due
from domain.values import Party


def _statements(n: int) -> list[facts.Fact]:
    return [
        facts.StatementMade(occurred_at=date(2020, 1, 1), party="ROK", speaker="s", summary=f"#{i}")
        for i in range(n)
    ]


@pytest.mark.parametrize("failure", [IntegrityError, OperationalError])
def test_append_that_reaches_a_snapshot_succeeds_even_when_the_snapshot_cannot_be_stored(
    failure: type[Exception],
) -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.open_negotiation(
        facts.NegotiationOpened(occurred_at=date(2019, 9, 24), slug="sma", title="SMA"),
        [Party("ROK", "Republic of Korea")],
    )
    assert ledger.snapshots is not None

    def refuse(*_: Any, **__: Any) -> None:
        raise failure("snapshot store refused")

    ledger.snapshots.put = refuse  # type: ignore[method-assign]
    recorded = ledger.record("sma", _statements(SNAPSHOT_INTERVAL))

    assert recorded.version == SNAPSHOT_INTERVAL + 2
    assert len(recorded.events) == SNAPSHOT_INTERVAL
    assert ledger.get("sma").version == SNAPSHOT_INTERVAL + 2
    assert len(ledger.stream("sma")) == SNAPSHOT_INTERVAL + 2


def test_a_batch_crossing_a_snapshot_point_stores_one_snapshot_of_the_saved_state() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.open_negotiation(
        facts.NegotiationOpened(occurred_at=date(2019, 9, 24), slug="sma", title="SMA"),
        [Party("ROK", "Republic of Korea")],
    )
    ledger.record("sma", _statements(SNAPSHOT_INTERVAL))
    assert ledger.snapshots is not None
    neg = ledger.get("sma")
    stored = list(ledger.snapshots.get(neg.id))
    assert [s.originator_version for s in stored] == [SNAPSHOT_INTERVAL + 2]
    loaded = stored[0].mutate(None)
    assert {k: v for k, v in vars(loaded).items() if k != "_pending_events"} == {
        k: v for k, v in vars(neg).items() if k != "_pending_events"
    }


def test_snapshots_thin_out_as_a_negotiation_grows() -> None:
    due = [v for v in range(1, 20_001) if snapshot_due(v - 1, v)]
    assert due[:3] == [SNAPSHOT_INTERVAL, 2 * SNAPSHOT_INTERVAL, 3 * SNAPSHOT_INTERVAL]
    gaps = [b - a for a, b in itertools.pairwise(due)]
    assert all(gap <= max(SNAPSHOT_INTERVAL, v // 8) for gap, v in zip(gaps, due[1:], strict=True))
    assert len(due) < 20_000 // SNAPSHOT_INTERVAL
