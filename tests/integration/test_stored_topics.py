"""Events and snapshots stored before ``domain/negotiation.py`` became a package load, on every store.

``tests/fixtures/stored-topics-20c86b1.jsonl`` holds the stored records of one negotiation as
Parley wrote them at commit 20c86b1 (``tests/fixtures/make_stored_topics.py``): 208 events under
the topics ``domain.negotiation:Negotiation.<Event>``, and a snapshot at version 207 holding the
aggregate's state in that release's plain shape. They are put into an empty store as they are.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from eventsourcing.persistence import StoredEvent
from eventsourcing.utils import get_topic
from store_histories import check_chain, statements

from domain.ledger import Ledger, project_negotiation
from domain.negotiation import Negotiation, negotiation_id
from projections.runner import ProjectionRunner

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "stored-topics-20c86b1.jsonl"
SLUG = "sma-topics"
SNAPSHOT_VERSION = 207
LAST_VERSION = 208


def fixture_records() -> list[dict[str, Any]]:
    return [json.loads(line) for line in FIXTURE.read_text(encoding="utf-8").splitlines()]


def stored(record: dict[str, Any]) -> StoredEvent:
    return StoredEvent(
        originator_id=UUID(record["originator_id"]),
        originator_version=record["originator_version"],
        topic=record["topic"],
        state=record["state"].encode("utf-8"),
    )


def without_pending(neg: Negotiation) -> dict[str, Any]:
    return {k: v for k, v in vars(neg).items() if k != "_pending_events"}


@pytest.fixture
def old_store(ledger_factory: Callable[[], Ledger], clock: Any) -> Ledger:
    """A store holding the fixture's records exactly as the old release wrote them."""
    # Within the idempotency window of the fixture's last keyed request.
    clock.now = datetime(2021, 1, 4, 7, 0, tzinfo=UTC)
    ledger = ledger_factory()
    records = fixture_records()
    ledger.recorder.insert_events([stored(r) for r in records if r["table"] == "events"])
    assert ledger.snapshots is not None
    ledger.snapshots.recorder.insert_events(
        [stored(r) for r in records if r["table"] == "snapshots"]
    )
    return ledger


def test_the_fixture_holds_the_old_topics_and_an_old_snapshot() -> None:
    records = fixture_records()
    events = [r for r in records if r["table"] == "events"]
    (snapshot,) = [r for r in records if r["table"] == "snapshots"]

    assert len(events) == LAST_VERSION
    assert {r["topic"].partition(":")[0] for r in events} == {"domain.negotiation"}
    assert snapshot["topic"] == "eventsourcing.domain:Snapshot"
    assert snapshot["originator_version"] == SNAPSHOT_VERSION
    state = json.loads(snapshot["state"])
    assert state["topic"] == "domain.negotiation:Negotiation"
    assert "class_version" not in state["state"]  # version 1: the plain shape


def test_old_events_load_and_chain(old_store: Ledger) -> None:
    events = check_chain(old_store, SLUG)

    assert len(events) == LAST_VERSION
    assert all(type(e) is Negotiation.EVENT_CLASSES[e.TYPE] for e in events)  # type: ignore[attr-defined]
    assert old_store.opened_negotiations() == [(1, SLUG)]


def test_an_old_snapshot_loads_to_the_state_its_events_fold_to(old_store: Ledger) -> None:
    assert old_store.snapshots is not None
    (snapshot,) = old_store.snapshots.get(negotiation_id(SLUG))
    from_snapshot = snapshot.mutate(None)
    replayed = project_negotiation(None, old_store.stream(SLUG, up_to_version=SNAPSHOT_VERSION))
    assert replayed is not None

    assert without_pending(from_snapshot) == without_pending(replayed)
    assert without_pending(old_store.get(SLUG)) == without_pending(
        project_negotiation(None, old_store.stream(SLUG))  # type: ignore[arg-type]
    )


def test_a_new_snapshot_stores_the_old_shape(old_store: Ledger) -> None:
    assert old_store.snapshots is not None
    (snapshot,) = old_store.snapshots.get(negotiation_id(SLUG))
    neg = project_negotiation(None, old_store.stream(SLUG, up_to_version=SNAPSHOT_VERSION))
    assert neg is not None

    taken = Negotiation.Snapshot.take(neg)

    assert taken.topic == "domain.negotiation:Negotiation"
    assert taken.state == snapshot.state


def test_an_idempotent_repeat_recorded_before_the_move_is_answered(old_store: Ledger) -> None:
    # The fixture's last request: an offer with Idempotency-Key k-2, fingerprint f-2.
    repeat = old_store.record(
        SLUG, statements(1, "other"), idempotency_key="k-2", fingerprint="f-2"
    )

    assert repeat.replayed
    assert [e.version for e in repeat.events] == [LAST_VERSION]


def test_new_events_go_on_under_the_same_topics(old_store: Ledger) -> None:
    recorded = old_store.record(SLUG, statements(2, "after the move"))
    topics = [
        n.topic for n in old_store.recorder.select_notifications(start=LAST_VERSION + 1, limit=10)
    ]

    assert [e.version for e in recorded.events] == [LAST_VERSION + 1, LAST_VERSION + 2]
    assert topics == ["domain.negotiation:Negotiation.StatementMade"] * 2
    assert get_topic(Negotiation) == "domain.negotiation:Negotiation"
    assert {get_topic(cls) for cls in Negotiation.EVENT_CLASSES.values()} == {
        f"domain.negotiation:{cls.__qualname__}" for cls in Negotiation.EVENT_CLASSES.values()
    }
    check_chain(old_store, SLUG)


def test_the_views_fold_the_old_events(old_store: Ledger) -> None:
    runner = ProjectionRunner(old_store, batch_size=50)
    try:
        runner.catch_up()
        row = runner.views.negotiation_row(SLUG)
    finally:
        runner.stop()

    assert row is not None
    assert (row.version, row.status) == (LAST_VERSION, old_store.get(SLUG).status)
    assert len(runner.views.events_of(SLUG, limit=500)) == LAST_VERSION
