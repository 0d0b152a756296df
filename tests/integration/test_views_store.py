"""The read views on every store: they say what the ledger says, and report how far behind they are."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import date

import pytest
from store_histories import open_seed, record_every_fact_type, statements
from support import contract_fact as fact_of

from domain import facts
from domain.canonical import payload_of
from domain.ledger import Ledger
from domain.values import Party, sort_key
from projections.runner import ProjectionRunner
from projections.views import EVENTS_VIEW, INDEX_VIEW, VIEWS, open_views


@pytest.fixture
def runner(ledger: Ledger) -> Iterator[ProjectionRunner]:
    made = ProjectionRunner(ledger, batch_size=7)
    yield made
    made.stop()


def test_events_view_holds_every_stored_event_as_the_ledger_has_it(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    record_every_fact_type(ledger, "sma-11")
    open_seed(ledger, "sma-10")
    ledger.record("sma-10", statements(9, "negotiator"))

    runner.catch_up()

    for slug in ("sma-11", "sma-10"):
        events = ledger.stream(slug)
        positions = ledger.positions(slug, 1, len(events))
        rows = runner.views.events_of(slug)
        assert [r.version for r in rows] == [e.originator_version for e in events]
        for row, event in zip(rows, events, strict=True):
            fact = fact_of(event)
            assert row.position == positions[event.originator_version]
            assert row.negotiation == slug
            assert row.event_id == str(event.event_id)
            assert row.type == fact.TYPE
            assert row.occurred_at == fact.occurred_at.isoformat()
            assert row.sort_key == sort_key(fact.occurred_at)
            assert row.recorded_at == event.timestamp
            assert row.recorded_by == event.recorded_by
            assert row.payload == payload_of(fact)
            assert (row.hash, row.prev_hash) == (event.hash, event.prev_hash)


def test_index_view_summarises_each_negotiation_as_its_aggregate_does(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    record_every_fact_type(ledger, "sma-11")
    opening = open_seed(ledger, "sma-10")

    runner.catch_up()

    for slug in ("sma-11", "sma-10"):
        neg = ledger.get(slug)
        row = runner.views.negotiation_row(slug)
        assert row is not None
        assert (row.title, row.subject, row.version) == (neg.title, neg.subject, neg.version)
        assert row.status == neg.status
        assert {p["id"]: p["name"] for p in row.parties} == neg.parties
        assert {t["id"]: [t["name"], t["unit"]] for t in row.terms} == {
            k: [t.name, t.unit] for k, t in neg.terms.items()
        }
        assert row.counts == neg.counts
        assert row.negotiation_id == str(neg.id)
    row = runner.views.negotiation_row("sma-10")
    assert row is not None
    assert row.opened_position == opening.events[0].position
    assert runner.views.negotiation_row("no-such-thing") is None


def test_negotiations_are_listed_in_opening_order_a_page_at_a_time(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    slugs = [f"talks-{i}" for i in range(5)]
    for slug in slugs:
        open_seed(ledger, slug)
    runner.catch_up()

    first = runner.views.list_negotiations(after_position=0, limit=2)
    rest = runner.views.list_negotiations(after_position=first[-1].opened_position, limit=10)

    assert [r.slug for r in first + rest] == slugs
    assert [(p, s) for p, s in ledger.opened_negotiations()] == [
        (r.opened_position, r.slug) for r in first + rest
    ]


def test_events_in_occurred_order_follow_the_world_ties_in_recording_order(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    open_seed(ledger, "sma")
    late, early = date(2020, 3, 1), date(2019, 12, 1)
    for at in (late, early, late, early):
        ledger.record(
            "sma", [facts.StatementMade(party="ROK", speaker="s", summary="x", occurred_at=at)]
        )
    runner.catch_up()

    rows = runner.views.events_in_occurred_order("sma")

    assert [(r.sort_key, r.version) for r in rows] == sorted((r.sort_key, r.version) for r in rows)
    assert [r.version for r in rows][-4:] == [8, 10, 7, 9]
    assert [r.version for r in runner.views.events_of("sma", after_version=7, limit=2)] == [8, 9]


def test_a_retraction_marks_its_target_and_takes_back_what_it_did_to_the_summary(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    open_seed(ledger, "sma")
    joined = ledger.record(
        "sma", [facts.PartyJoined(party=Party("UNC", "UN Command"), occurred_at=date(2020, 1, 1))]
    )
    suspended = ledger.record(
        "sma", [facts.StatusChanged(status="suspended", occurred_at=date(2020, 2, 1))]
    )
    runner.catch_up()
    row = runner.views.negotiation_row("sma")
    assert row is not None
    assert row.status == "suspended"
    assert "UNC" in [p["id"] for p in row.parties]

    # Retractions land in a later batch than their targets, and in the same one.
    for target in (suspended, joined):
        retraction = ledger.record(
            "sma",
            [
                facts.EventRetracted(
                    retracted_event_id=str(target.events[0].event_id),
                    reason="entered by mistake",
                    occurred_at=date(2020, 3, 1),
                )
            ],
        )
        runner.catch_up()
        rows = {r.event_id: r for r in runner.views.events_of("sma")}
        assert rows[str(target.events[0].event_id)].retracted_by == str(
            retraction.events[0].event_id
        )

    row = runner.views.negotiation_row("sma")
    assert row is not None
    assert row.status == "open"
    assert [p["id"] for p in row.parties] == ["ROK", "USA"]
    assert row.counts["event_retracted"] == 2
    assert row.last_occurred_at == "2020-02-01"
    live = [r for r in runner.views.events_of("sma") if r.retracted_by is None]
    assert len(live) == ledger.get("sma").version - 2


def test_lag_counts_the_positions_each_view_is_behind_the_head(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    open_seed(ledger, "sma")
    head = ledger.head_position()

    assert runner.lag() == dict.fromkeys(VIEWS, head)
    runner.catch_up()
    assert runner.lag() == dict.fromkeys(VIEWS, 0)
    ledger.record("sma", statements(3, "negotiator"))
    assert runner.lag() == dict.fromkeys(VIEWS, 3)


def test_wait_for_gives_up_after_its_timeout_when_nothing_projects(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    answer = open_seed(ledger, "sma")

    started = time.monotonic()
    reached = runner.wait_for(answer.position, timeout=0.2)

    assert not reached
    assert 0.2 <= time.monotonic() - started < 2


def test_a_background_runner_lets_a_reader_see_its_own_appends(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    with runner:
        for i in range(3):
            answer = open_seed(ledger, f"sma-{i}")
            runner.nudge()
            assert runner.wait_for(answer.position, timeout=10)
            assert runner.views.negotiation_row(f"sma-{i}") is not None
        answer = ledger.record("sma-0", statements(20, "negotiator"))
        assert runner.wait_for(answer.position, timeout=10)
        assert len(runner.views.events_of("sma-0")) == answer.version
        assert runner.wait_for(timeout=10)
        assert runner.lag() == dict.fromkeys(VIEWS, 0)
    assert not runner.running
    assert runner.error is None


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_views_opened_again_resume_from_their_tracked_positions(
    ledger_factory: Callable[[], Ledger],
) -> None:
    ledger = ledger_factory()
    open_seed(ledger, "sma")
    first = ProjectionRunner(ledger, batch_size=4)
    first.catch_up()
    tracked = first.views.tracked_positions()
    assert tracked == dict.fromkeys(VIEWS, ledger.head_position())

    ledger.record("sma", statements(5, "negotiator"))
    other = ledger_factory()  # another process, as far as the store can tell
    again = ProjectionRunner(other, open_views(other.recorder))

    assert again.views.tracked_position(EVENTS_VIEW) == tracked[EVENTS_VIEW]
    assert again.catch_up() == 5
    assert again.views.tracked_position(INDEX_VIEW) == ledger.head_position()
