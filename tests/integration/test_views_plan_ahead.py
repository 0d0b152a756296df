"""On SQLite a batch's view writes are worked out in a read snapshot, then only written.

The write transaction replays what the view writers recorded (``projections.views.plan``);
the views must come out as when the batch is worked out inside the transaction (a rebuild
does that), whatever the batch size, and a schema swapped meanwhile is worked out again.
"""

from __future__ import annotations

import sqlite3
from typing import Any

import pytest
from store_histories import open_seed, record_every_fact_type, statements
from view_dumps import contents, rebuilt

from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from projections.views import VIEWS, SQLiteViews
from projections.views.plan import Deferred

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)


def history(ledger: Ledger) -> None:
    record_every_fact_type(ledger, "sma-11")
    open_seed(ledger, "sma-10")
    ledger.record("sma-10", statements(5, "negotiator"))
    record_every_fact_type(ledger, "sma-12")


@pytest.mark.parametrize("batch_size", [1, 2, 3, 500])
def test_views_worked_out_ahead_equal_views_worked_out_inside_the_transaction(
    ledger: Ledger, batch_size: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ProjectionRunner(ledger, batch_size=batch_size)
    assert isinstance(runner.views, SQLiteViews)
    assert runner.views.plans_ahead
    replays = []
    replay = Deferred.replay

    def counted(deferred: Deferred, cursor: Any) -> None:
        replays.append(len(deferred.writes))
        replay(deferred, cursor)

    monkeypatch.setattr(Deferred, "replay", counted)
    history(ledger)
    runner.catch_up()

    assert len(replays) >= len(VIEWS)
    assert contents(runner) == rebuilt(ledger)


def test_a_schema_changed_between_the_plan_and_the_write_is_worked_out_again(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ProjectionRunner(ledger)
    views = runner.views
    assert isinstance(views, SQLiteViews)
    history(ledger)
    plan = views._plan
    replayed: list[str] = []

    def plan_then_change_the_schema(*args: Any) -> Any:
        planned = plan(*args)
        for name, deferred in planned[1].items():
            replay = deferred.replay
            deferred.replay = lambda cursor, name=name, replay=replay: (  # type: ignore[method-assign]
                replayed.append(name),
                replay(cursor),
            )
        with sqlite3.connect(views._db_name, uri=True) as other:
            other.execute("CREATE TABLE IF NOT EXISTS meanwhile (x INTEGER)")
        return planned

    monkeypatch.setattr(views, "_plan", plan_then_change_the_schema)
    runner.catch_up()

    assert replayed == []
    assert contents(runner) == rebuilt(ledger)
