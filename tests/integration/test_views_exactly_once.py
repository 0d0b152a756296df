"""Each event is applied to the views exactly once: across restarts, kills and racing runners."""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from eventsourcing.persistence import IntegrityError
from store_histories import open_seed, record_every_fact_type, statements
from view_dumps import contents, rebuilt

from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from projections.views import INDEX_VIEW, VIEWS, SQLViews, open_views, sqlite_write_transaction

SQL_STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
REPO = Path(__file__).resolve().parents[2]


def test_a_batch_another_runner_already_applied_is_refused_and_leaves_nothing_behind(
    ledger: Ledger,
) -> None:
    open_seed(ledger, "sma")
    first = ProjectionRunner(ledger)
    start = first.views.tracked_positions()
    rows, end = first.read_batch(0)
    assert first.views.apply(rows, start, end) == len(rows)
    before = contents(first)

    # The same batch again, from the position the views held before it.
    with pytest.raises(IntegrityError):
        first.views.apply(rows, start, end)

    assert contents(first) == before
    assert first.views.tracked_positions() == dict.fromkeys(VIEWS, end)


@SQL_STORES
def test_the_tracking_insert_alone_rolls_back_a_duplicate_apply(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    open_seed(ledger, "sma")
    runner = ProjectionRunner(ledger)
    start = runner.views.tracked_positions()
    rows, end = runner.read_batch(0)
    runner.views.apply(rows, start, end)
    before = runner.views.dump(INDEX_VIEW)
    views = runner.views
    assert isinstance(views, SQLViews)

    # Without the position check, only the library's tracking insert stands in the way: the
    # index rows (an upsert that would happily count everything twice) must roll back with it.
    def stale(_cursor: Any, names: Any) -> dict[str, int]:
        return {name: start[name] for name in names}

    monkeypatch.setattr(views, "_lock_tracking", stale)
    with pytest.raises(IntegrityError):
        views.apply(rows, {INDEX_VIEW: start[INDEX_VIEW]}, end)

    assert views.dump(INDEX_VIEW) == before
    row = views.negotiation_row("sma")
    assert row is not None
    assert sum(row.counts.values()) == row.version


KILLABLE = """
import sys
from api.store.store import open_ledger, parse_database_url
from projections.runner import ProjectionRunner

def after_batch(position, applied):
    print(position, flush=True)
    sys.stdin.readline()  # the test answers, or kills us here, between two batches

ledger = open_ledger(parse_database_url(sys.argv[1]))
ProjectionRunner(ledger, batch_size=int(sys.argv[2]), on_batch=after_batch).catch_up()
print("done", flush=True)
"""


@SQL_STORES
def test_a_runner_killed_between_batches_resumes_where_it_stopped_and_applies_nothing_twice(
    ledger: Ledger, store_url: str
) -> None:
    record_every_fact_type(ledger, "sma-11")
    open_seed(ledger, "sma-10")
    ledger.record("sma-10", statements(30, "negotiator"))
    head = ledger.head_position()
    ProjectionRunner(ledger)  # creates the view tables before the child starts

    reported = []
    with subprocess.Popen(
        [sys.executable, "-c", KILLABLE, store_url, "6"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    ) as child:
        assert child.stdin is not None
        assert child.stdout is not None
        try:
            for _ in range(3):
                reported.append(int(child.stdout.readline()))
                if len(reported) < 3:
                    child.stdin.write("\n")
                    child.stdin.flush()
            child.send_signal(signal.SIGKILL)
            assert child.wait(timeout=30) == -signal.SIGKILL
        finally:
            if child.poll() is None:
                child.kill()

    assert reported == [6, 12, 18]
    restarted = ProjectionRunner(ledger, open_views(ledger.recorder))
    assert restarted.views.tracked_positions() == dict.fromkeys(VIEWS, 18)
    assert restarted.catch_up() == head - 18
    assert restarted.views.tracked_positions() == dict.fromkeys(VIEWS, head)
    assert contents(restarted) == rebuilt(ledger)


@SQL_STORES
def test_two_runners_racing_on_one_store_apply_each_event_once(
    ledger_factory: Callable[[], Ledger],
) -> None:
    writer = ledger_factory()
    open_seed(writer, "sma")
    open_seed(writer, "sma-10")
    runners = [ProjectionRunner(ledger_factory(), batch_size=4) for _ in range(2)]
    for runner in runners:
        runner.poll_interval = 0.01

    with runners[0], runners[1]:
        for i in range(40):
            writer.record("sma" if i % 2 else "sma-10", statements(2, "negotiator", start=2 * i))
            for runner in runners:
                runner.nudge()
        head = writer.head_position()
        assert all(runner.wait_for(head, timeout=30) for runner in runners)

    assert all(runner.error is None for runner in runners)
    assert sum(runner.applied for runner in runners) == head
    assert contents(runners[0]) == rebuilt(writer)
    row = runners[0].views.negotiation_row("sma")
    assert row is not None
    assert sum(row.counts.values()) == row.version == writer.get("sma").version


def test_two_runners_sharing_views_in_one_process_apply_each_event_once(ledger: Ledger) -> None:
    open_seed(ledger, "sma")
    first = ProjectionRunner(ledger, batch_size=3)
    second = ProjectionRunner(ledger, first.views, batch_size=5)
    barrier = threading.Barrier(2)

    def run(runner: ProjectionRunner) -> None:
        barrier.wait()
        runner.catch_up()

    ledger.record("sma", statements(60, "negotiator"))
    threads = [threading.Thread(target=run, args=(r,)) for r in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    head = ledger.head_position()
    assert first.applied + second.applied == head
    assert first.views.tracked_positions() == dict.fromkeys(VIEWS, head)
    assert contents(first) == rebuilt(ledger)


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sqlite_moves_every_tracking_row_of_a_batch_as_the_librarys_insert_would(
    ledger: Ledger,
) -> None:
    """SQLite moves a batch's tracking rows in one statement (``_track_all``): it moves them
    all forward, adds a missing one, and refuses a batch when any row is not behind."""
    views = open_views(ledger.recorder)
    assert isinstance(views, SQLViews)
    names = list(VIEWS)

    with views._writing() as cursor:
        views._track_all(cursor, names, 5)
    assert views.tracked_positions() == dict.fromkeys(names, 5)

    with views._writing() as cursor:
        cursor.execute("DELETE FROM tracking WHERE application_name = ?", (names[0],))
    with views._writing() as cursor:
        views._track_all(cursor, names, 7)
    assert views.tracked_positions() == dict.fromkeys(names, 7)

    for position in (7, 6):  # the same position again, or an earlier one
        with pytest.raises(IntegrityError), views._writing() as cursor:
            views._track_all(cursor, names, position)
        assert views.tracked_positions() == dict.fromkeys(names, 7)

    with views._writing() as cursor:  # one row ahead of the rest
        views._track_all(cursor, names[1:2], 9)
    with pytest.raises(IntegrityError), views._writing() as cursor:
        views._track_all(cursor, names, 8)
    assert views.tracked_positions() == {name: 9 if name == names[1] else 7 for name in names}


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
def test_sqlite_views_commit_without_waiting_for_the_disk_and_leave_connections_durable(
    ledger: Ledger,
) -> None:
    views = open_views(ledger.recorder)
    assert isinstance(views, SQLViews)
    datastore: Any = ledger.recorder.datastore
    for _ in range(2):
        with views._writing() as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 1  # NORMAL
        with sqlite_write_transaction(datastore) as cursor:  # the API's side tables
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
        with datastore.transaction(commit=False) as cursor:  # appends
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2
    with pytest.raises(RuntimeError), views._writing():
        raise RuntimeError
    with datastore.transaction(commit=False) as cursor:
        cursor.execute("PRAGMA synchronous")
        assert cursor.fetchone()[0] == 2
