"""On SQLite a batch starts from what the batch before left (``projections.views.plan.Remembered``).

The rows it remembers must always be the table's: the views come out as a rebuild makes them
whichever runner applies which batch, whatever rebuilds happen in between, and a batch that
starts where the last one left does not read those rows back.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from store_histories import open_seed, record_every_fact_type, statements
from view_dumps import contents, rebuilt

from domain import facts
from domain.ledger import Ledger
from domain.values import Quantity
from projections.runner import ProjectionRunner
from projections.views import SQLiteViews
from projections.views.analytics import SQLSpace

pytestmark = pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)

SLUGS = ("rem-a", "rem-b")
RUNS = itertools.count()


def offer(party: str, amount: int, day: int, unit: str = "USD") -> facts.OfferMade:
    return facts.OfferMade(
        party=party,
        kind="offer",
        values={"annual_contribution": Quantity(Decimal(amount), unit)},
        occurred_at=date(2020, 1, 1) + timedelta(days=day),
    )


def catch_up(runner: ProjectionRunner) -> None:
    runner.positions(refresh=True)
    runner.catch_up()


def test_a_batch_after_this_runners_last_reads_no_analytics_rows_back(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = ProjectionRunner(ledger)
    assert isinstance(runner.views, SQLiteViews)
    open_seed(ledger, SLUGS[0])
    ledger.record(SLUGS[0], [offer("ROK", 100, 1), offer("USA", 900, 1)])
    runner.catch_up()
    reads: list[Any] = []
    get, scan = SQLSpace.get, SQLSpace.scan
    monkeypatch.setattr(SQLSpace, "get", lambda s, keys: reads.append(keys) or get(s, keys))
    monkeypatch.setattr(SQLSpace, "scan", lambda s, p: reads.append(p) or scan(s, p))

    ledger.record(SLUGS[0], [offer("ROK", 150, 2)])
    ledger.record(SLUGS[0], [offer("USA", 800, 3)])  # a point of the pair's history
    ledger.record(SLUGS[0], [offer("USA", 800, 3)])  # the same moment again
    for _ in range(3):
        runner.batch_size = 1
        runner.step()

    # Only the rows that grow with the negotiation (its pair's history) are read back.
    assert all(not str(r).startswith(("order", "tip/", "pt/", "gap/")) for r in reads), reads
    assert all("order" not in r and "positions" not in r for r in reads if isinstance(r, list))
    assert contents(runner) == rebuilt(ledger)


def test_batches_applied_by_another_runner_in_between_are_never_taken_from_memory(
    ledger_factory: Callable[[], Ledger],
) -> None:
    ledger = ledger_factory()
    mine, other = ProjectionRunner(ledger), ProjectionRunner(ledger_factory())
    open_seed(ledger, SLUGS[0])
    ledger.record(SLUGS[0], [offer("ROK", 100, 1)])
    mine.catch_up()  # remembers the negotiation at this position
    ledger.record(SLUGS[0], [offer("ROK", 120, 2), offer("USA", 700, 2)])
    catch_up(other)  # moves the views on behind its back
    ledger.record(SLUGS[0], [offer("USA", 650, 3)])
    mine.catch_up()  # refused once (it started where it had left), then from the table
    assert mine.conflicts == 1
    assert contents(mine) == rebuilt(ledger)


def test_a_rebuild_at_the_same_position_is_noticed(
    ledger_factory: Callable[[], Ledger], monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger = ledger_factory()
    mine = ProjectionRunner(ledger)
    open_seed(ledger, SLUGS[0])
    ledger.record(SLUGS[0], [offer("ROK", 100, 1), offer("USA", 900, 1)])
    mine.catch_up()
    # The rebuilt table is what the runner remembers; to tell whether it noticed the swap,
    # the remembered rows are spoiled (a rebuild from a table kept in an older layout).
    memo = mine.views._remembered  # type: ignore[attr-defined]
    for known in memo.analytics.values():
        known.rows = {k: ("{}" if v is not None else v) for k, v in known.rows.items()}
    ProjectionRunner(ledger_factory()).rebuild()  # the same position, a new schema version
    ledger.record(SLUGS[0], [offer("ROK", 200, 2)])
    mine.catch_up()
    assert contents(mine) == rebuilt(ledger)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["offer", "same", "early", "other-unit", "other", "mine", "theirs"]),
            st.integers(0, 1),
            st.integers(1, 4),
        ),
        min_size=1,
        max_size=14,
    )
)
def test_views_come_out_as_rebuilt_whichever_runner_applies_what(
    ledger_factory: Callable[[], Ledger], steps: list[tuple[str, int, int]]
) -> None:
    ledger = ledger_factory()
    run = next(RUNS)
    slugs = [f"{SLUGS[0]}-{run}", f"{SLUGS[1]}-{run}"]
    for slug in slugs:
        open_seed(ledger, slug)
    mine, theirs = ProjectionRunner(ledger), ProjectionRunner(ledger_factory())
    day = 10
    for i, (kind, which, size) in enumerate(steps):
        slug = slugs[which]
        party = ("ROK", "USA")[i % 2]
        if kind == "offer":
            day += 1
            ledger.record(slug, [offer(party, 100 + 10 * i, day)])
        elif kind == "same":
            ledger.record(slug, [offer(party, 100, day)])
        elif kind == "early":
            ledger.record(slug, [offer(party, 300 + i, 1)])  # before the lines' ends: the fold
        elif kind == "other-unit":
            ledger.record(slug, [offer(party, 5, day, "EUR")])
        elif kind == "other":
            ledger.record(slug, statements(size, f"s{i}", start=i))
        else:
            runner = mine if kind == "mine" else theirs
            runner.batch_size = size
            runner.positions(refresh=True)
            runner.step()
    catch_up(mine)
    assert contents(mine) == rebuilt(ledger)


def test_every_fact_type_batch_by_batch(ledger: Ledger) -> None:
    runner = ProjectionRunner(ledger, batch_size=1)
    record_every_fact_type(ledger, "rem-c")
    for day in range(3):
        ledger.record("rem-c", [offer("ROK", 100 + day, 400 + day)])
    runner.catch_up()
    assert contents(runner) == rebuilt(ledger)


def test_a_negotiation_with_more_rows_than_remembered_is_read_from_the_table(
    ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("projections.views.plan.MAX_KEYS", 6)
    runner = ProjectionRunner(ledger, batch_size=2)
    open_seed(ledger, "rem-d")
    for day in range(1, 6):
        ledger.record("rem-d", [offer("ROK", 100 + day, day), offer("USA", 900 - day, day)])
        runner.catch_up()
    assert "rem-d" not in runner.views._remembered.analytics  # type: ignore[attr-defined]
    assert contents(runner) == rebuilt(ledger)
