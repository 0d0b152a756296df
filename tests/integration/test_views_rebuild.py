"""Rebuilding views from zero: the result is the incrementally kept view, and readers never wait."""

from __future__ import annotations

import threading

from store_histories import open_seed, record_every_fact_type, statements
from view_dumps import contents

from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from projections.views import ANALYTICS_VIEW, EVENTS_VIEW, INDEX_VIEW, MERKLE_VIEW, VIEWS


def history(ledger: Ledger) -> None:
    """Several negotiations whose events interleave in the log, with retractions."""
    record_every_fact_type(ledger, "sma-11")
    for slug in ("sma-10", "sma-9"):
        open_seed(ledger, slug)
    for i in range(3):
        for slug in ("sma-10", "sma-9", "sma-11"):
            ledger.record(slug, statements(4, slug, start=4 * i))


def test_a_rebuilt_view_is_identical_to_the_incrementally_kept_one(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    incremental = contents(runner)

    counts = runner.rebuild(batch_size=3)

    assert contents(runner) == incremental
    assert counts["position"] == ledger.head_position()
    assert counts["events"] == ledger.head_position()
    assert counts[EVENTS_VIEW] == ledger.head_position()
    assert counts[INDEX_VIEW] == 3
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, ledger.head_position())


def test_rebuilding_twice_in_a_row_gives_the_same_views(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.rebuild()
    once = contents(runner)
    runner.rebuild()
    assert contents(runner) == once
    runner.catch_up()
    assert contents(runner) == once


def test_rebuilding_one_view_leaves_the_other_view_and_its_tracking_alone(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    before = contents(runner)
    ledger.record("sma-9", statements(2, "late"))

    runner.rebuild(INDEX_VIEW)

    head = ledger.head_position()
    assert runner.views.tracked_positions() == {
        EVENTS_VIEW: head - 2,
        INDEX_VIEW: head,
        MERKLE_VIEW: head - 2,
        ANALYTICS_VIEW: head - 2,
    }
    assert runner.views.dump(EVENTS_VIEW) == before[EVENTS_VIEW]
    runner.catch_up()
    runner_rows = contents(runner)
    runner.rebuild()
    assert contents(runner) == runner_rows


def test_rebuild_takes_in_events_recorded_while_it_runs(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    head = ledger.head_position()
    seen: list[tuple[int, int]] = []

    def progress(position: int, total: int) -> None:
        seen.append((position, total))
        if len(seen) == 2:
            ledger.record("sma-10", statements(3, "meanwhile"))

    counts = runner.rebuild(progress=progress, batch_size=4)

    assert counts["position"] == head + 3
    assert [p for p, _ in seen] == sorted(p for p, _ in seen)
    assert seen[-1] == (head + 3, head + 3)
    rebuilt = contents(runner)
    runner.rebuild()
    assert contents(runner) == rebuilt
    assert len(runner.views.events_of("sma-10")) == ledger.get("sma-10").version


def test_readers_keep_reading_the_old_views_while_a_rebuild_runs(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    expected = runner.views.events_of("sma-11")
    expected_row = runner.views.negotiation_row("sma-11")
    reads: list[bool] = []
    failures: list[BaseException] = []
    rebuilt = threading.Event()

    def read() -> None:
        try:
            while not rebuilt.is_set() or len(reads) < 3:
                ok = runner.views.events_of("sma-11") == expected
                ok = ok and runner.views.negotiation_row("sma-11") == expected_row
                reads.append(ok)
        except BaseException as e:
            failures.append(e)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        runner.rebuild(batch_size=2, progress=lambda _p, _h: reads.append(True))
    finally:
        rebuilt.set()
        reader.join(timeout=30)

    assert not failures
    assert reads
    assert all(reads)


def test_a_live_runner_keeps_projecting_through_a_rebuild(ledger: Ledger) -> None:
    history(ledger)
    live = ProjectionRunner(ledger, batch_size=3)
    rebuilder = ProjectionRunner(ledger, live.views)
    with live:
        ledger.record("sma-9", statements(10, "before"))

        def append(position: int, _head: int) -> None:
            if position % 2 == 0:
                ledger.record("sma-9", statements(1, "during", start=position))
                live.nudge()

        rebuilder.rebuild(batch_size=3, progress=append)
        answer = ledger.record("sma-10", statements(2, "after"))
        assert live.wait_for(answer.position, timeout=20)
    assert live.error is None
    kept = contents(live)
    live.rebuild()
    assert contents(live) == kept
    assert len(live.views.events_of("sma-9")) == ledger.get("sma-9").version
