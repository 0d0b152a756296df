"""What goes into each store comes back out: facts, positions, state, snapshots, idempotency."""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC
from typing import Any
from uuid import UUID

import pytest
from store_histories import (
    EVERY_FACT_TYPE,
    check_chain,
    event_ids,
    open_seed,
    record_every_fact_type,
    replay,
    shape,
    state,
    statements,
)
from support import contract_fact as fact_of

from api.store.store import StoreURLError, parse_database_url
from domain import errors
from domain.facts import FACT_TYPES
from domain.ledger import SNAPSHOT_INTERVAL, Ledger, Recorded
from domain.negotiation import negotiation_id

SLUG = "sma-2020"
LedgerFactory = Callable[[], Ledger]


# A memory store dies with its ledger: restarts need a file or a server.
shared_stores = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


def test_the_stored_history_has_every_fact_type() -> None:
    any_id: defaultdict[str, UUID] = defaultdict(lambda: UUID(int=0))

    recorded = {step(any_id).TYPE for _, step in EVERY_FACT_TYPE}
    assert recorded | {"negotiation_opened"} == set(FACT_TYPES)


def test_every_field_of_every_fact_type_survives_storage(ledger: Ledger, clock: Any) -> None:
    sent, answers = record_every_fact_type(ledger, SLUG, tick=lambda: clock.advance(seconds=7))

    events = ledger.stream(SLUG)
    assert len(events) == len(sent)
    for (
        event,
        fact,
    ) in zip(events, sent, strict=True):
        assert event.TYPE == fact.TYPE
        assert shape(fact_of(event)) == shape(fact), fact.TYPE
    acknowledged = {e.event_id: e for a in answers for e in a.events}
    for event in events:
        ack = acknowledged[event.event_id]
        assert event.originator_version == ack.version
        assert event.hash == ack.hash
        assert event.timestamp == ack.recorded_at
        assert event.timestamp.utcoffset() == UTC.utcoffset(None)
    assert [e.recorded_by for e in events[-len(EVERY_FACT_TYPE) :]] == [
        f"clerk-{name}" for name, _ in EVERY_FACT_TYPE
    ]
    check_chain(ledger, SLUG)


def test_positions_increase_and_end_at_the_head_of_the_log(ledger: Ledger) -> None:
    _, answers = record_every_fact_type(ledger, SLUG)
    open_seed(ledger, "another")
    answers.append(ledger.record("another", statements(3, "other")))
    answers.append(ledger.record(SLUG, statements(2, "late")))

    positions = [e.position for a in answers for e in a.events]
    assert all(isinstance(p, int) for p in positions)
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    assert positions[-1] == ledger.head_position()
    assert answers[-1].position == ledger.head_position()
    versions = {e.version: e.position for a in answers if a.negotiation == SLUG for e in a.events}
    assert ledger.positions(SLUG, 1, len(versions)) == versions
    assert [slug for _, slug in ledger.opened_negotiations()] == [SLUG, "another"]
    assert ledger.opened_negotiations()[0][0] == answers[0].events[0].position


def test_replaying_the_stored_events_gives_the_live_state(ledger: Ledger) -> None:
    record_every_fact_type(ledger, SLUG)
    live = ledger.get(SLUG)

    assert state(live) == replay(ledger.stream(SLUG))
    assert live.version == len(ledger.stream(SLUG))


@shared_stores
def test_a_restarted_ledger_rebuilds_the_same_state(ledger_factory: LedgerFactory) -> None:
    first = ledger_factory()
    record_every_fact_type(first, SLUG)
    live = state(first.get(SLUG))
    first.close()

    restarted = ledger_factory()
    assert state(restarted.get(SLUG)) == live
    check_chain(restarted, SLUG)


def _record_past_the_snapshot_interval(ledger: Ledger) -> int:
    record_every_fact_type(ledger, SLUG)
    batch = 60
    while ledger.get(SLUG).version < SNAPSHOT_INTERVAL + 30:
        ledger.record(SLUG, statements(batch, "filler", start=ledger.get(SLUG).version))
    return ledger.get(SLUG).version


def test_a_snapshot_is_taken_at_the_interval_and_gives_the_replayed_state(
    ledger: Ledger,
) -> None:
    version = _record_past_the_snapshot_interval(ledger)
    nid = negotiation_id(SLUG)

    snapshots = list(ledger.snapshots.get(nid)) if ledger.snapshots else []
    # One snapshot, of the state saved by the batch that crossed the interval.
    assert len(snapshots) == 1
    at = snapshots[0].originator_version
    assert SNAPSHOT_INTERVAL <= at < SNAPSHOT_INTERVAL + 60
    events = ledger.stream(SLUG)
    assert replay([snapshots[0], *events[at:]]) == replay(events)
    assert state(ledger.get(SLUG)) == replay(events)
    assert ledger.get(SLUG).version == version


def test_old_versions_equal_the_replay_of_their_first_events(ledger: Ledger) -> None:
    version = _record_past_the_snapshot_interval(ledger)
    events = ledger.stream(SLUG)

    for n in (1, 6, 24, SNAPSHOT_INTERVAL - 1, SNAPSHOT_INTERVAL, SNAPSHOT_INTERVAL + 1, version):
        assert state(ledger.get(SLUG, version=n)) == replay(events[:n]), f"version {n}"


@shared_stores
def test_a_restarted_ledger_loads_from_the_snapshot_not_from_the_whole_history(
    ledger_factory: LedgerFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = ledger_factory()
    version = _record_past_the_snapshot_interval(first)
    live = state(first.get(SLUG))

    restarted = ledger_factory()
    store = restarted.repository.event_store
    reads: list[dict[str, Any]] = []
    original_get = store.get

    def spying_get(*args: Any, **kwargs: Any) -> Any:
        reads.append(kwargs)
        return original_get(*args, **kwargs)

    monkeypatch.setattr(store, "get", spying_get)
    assert restarted.snapshots is not None
    (snapshot,) = restarted.snapshots.get(negotiation_id(SLUG))
    assert state(restarted.get(SLUG)) == live
    assert [r.get("gt") for r in reads] == [snapshot.originator_version]
    # Once cached, a negotiation is brought up to date with only the events it has not seen.
    reads.clear()
    first.record(SLUG, statements(1, "newer"))
    assert restarted.get(SLUG).version == version + 1
    assert [r.get("gt") for r in reads] == [version]


def _repeat_of(answer: Recorded) -> Recorded:
    return dataclasses.replace(answer, replayed=True)


@shared_stores
def test_an_idempotent_repeat_after_a_restart_returns_the_first_answer(
    ledger_factory: LedgerFactory,
) -> None:
    first = ledger_factory()
    opened = open_seed(first, SLUG, recorded_by="alice", idempotency_key="open-1")
    facts = statements(3, "batch")
    recorded = first.record(
        SLUG, facts, recorded_by="alice", idempotency_key="k-1", fingerprint="f"
    )
    head = first.head_position()
    first.close()

    restarted = ledger_factory()
    assert open_seed(restarted, SLUG, recorded_by="alice", idempotency_key="open-1") == (
        _repeat_of(opened)
    )
    again = restarted.record(
        SLUG, facts, recorded_by="alice", idempotency_key="k-1", fingerprint="f"
    )
    assert again == _repeat_of(recorded)
    assert restarted.head_position() == head
    assert [e.event_id for e in restarted.stream(SLUG)] == event_ids([opened, recorded])
    with pytest.raises(errors.IdempotencyKeyReused):
        restarted.record(SLUG, facts, recorded_by="alice", idempotency_key="k-1", fingerprint="g")
    # The key is scoped to who recorded with it: bob's "k-1" is a new request.
    bob = restarted.record(SLUG, facts, recorded_by="bob", idempotency_key="k-1", fingerprint="f")
    assert not bob.replayed
    assert bob.version == recorded.version + len(facts)


def test_an_idempotent_repeat_returns_the_first_answer_on_every_store(ledger: Ledger) -> None:
    open_seed(ledger, SLUG)
    recorded = ledger.record(SLUG, statements(2, "x"), idempotency_key="k", fingerprint="f")
    head = ledger.head_position()

    assert ledger.record(SLUG, statements(2, "x"), idempotency_key="k", fingerprint="f") == (
        _repeat_of(recorded)
    )
    assert ledger.head_position() == head


@pytest.mark.parametrize(
    ("url", "hint"),
    [
        ("", "memory://"),
        ("mysql://root@localhost/parley", "postgresql://"),
        ("parley.db", "sqlite:///"),
        ("sqlite://", "names a file"),
        ("sqlite:///", "names a file"),
        ("sqlite://host/parley.db", "names a file"),
        ("postgresql://postgres@127.0.0.1:5432", "names a database"),
        ("postgresql://postgres@127.0.0.1:5432/", "names a database"),
    ],
)
def test_a_bad_database_url_is_refused_with_an_example_of_a_good_one(url: str, hint: str) -> None:
    with pytest.raises(StoreURLError, match=r"e\.g\.|use ") as raised:
        parse_database_url(url)
    message = str(raised.value)
    assert repr(url) in message
    assert hint in message


@pytest.mark.parametrize(
    ("url", "kind", "setting", "value"),
    [
        ("memory://", "memory", "PERSISTENCE_MODULE", "eventsourcing.popo"),
        ("sqlite:///relative/parley.db", "sqlite", "SQLITE_DBNAME", "relative/parley.db"),
        ("sqlite:////abs/parley.db", "sqlite", "SQLITE_DBNAME", "/abs/parley.db"),
        ("postgres://u:p%40ss@db:6543/parley?schema=s1", "postgres", "POSTGRES_PASSWORD", "p@ss"),
        ("postgresql://u@db:6543/parley?schema=s1", "postgres", "POSTGRES_SCHEMA", "s1"),
        ("postgresql://u@db:6543/parley", "postgres", "POSTGRES_PORT", "6543"),
    ],
)
def test_a_good_database_url_names_its_store(url: str, kind: str, setting: str, value: str) -> None:
    config = parse_database_url(url)
    assert config.kind == kind
    assert config.env[setting] == value
