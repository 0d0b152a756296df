"""The runner projects the events the ledger hands it after a save exactly as it projects the store.

A save hands its events with their log positions to the runner (``projections.handoff``);
the runner uses them only as an unbroken run right after the views' position. The rows are
those read back from the store, on every store; a gap, an out-of-order hand-off or one that
never came (the process died between its save and the hand-off) is read from the store.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from store_histories import open_seed, record_every_fact_type, statements
from view_dumps import contents, rebuilt

from domain.ledger import Ledger
from projections.handoff import HandOff
from projections.runner import ProjectionRunner
from projections.subscription import SubscriptionFeed
from projections.views import VIEWS

SQL_STORES = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


def catch_up(runner: ProjectionRunner) -> None:
    while runner.step() is not None:
        pass


def history(ledger: Ledger) -> None:
    """Every fact type (a retraction among them), a batch, and a second negotiation."""
    record_every_fact_type(ledger, "sma-11")
    open_seed(ledger, "sma-10")
    ledger.record("sma-10", statements(5, "negotiator"))
    ledger.record("sma-11", statements(3, "negotiator"))


def test_rows_of_handed_events_are_the_rows_read_back_from_the_store(ledger: Ledger) -> None:
    handed = ProjectionRunner(ledger)
    handed.take_hand_offs()
    history(ledger)
    head = ledger.head_position()

    from_hand_off, end = handed.read_handed(0, limit=10_000)
    from_store, store_end = ProjectionRunner(ledger).read_batch(0, limit=10_000)

    assert end == store_end == head
    assert from_hand_off == from_store
    assert handed.read_from_hand_off == head


def test_views_fed_by_hand_offs_equal_views_rebuilt_from_the_store(ledger: Ledger) -> None:
    runner = ProjectionRunner(ledger, batch_size=7)
    runner.take_hand_offs()
    open_seed(ledger, "sma-9")
    catch_up(runner)
    history(ledger)
    catch_up(runner)

    head = ledger.head_position()
    assert runner.read_from_hand_off == head
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, head)
    assert contents(runner) == rebuilt(ledger)


def losing(runner: ProjectionRunner, lost: Callable[[int], bool]) -> list[tuple[int, Any]]:
    """Makes the runner's hand-offs drop the positions ``lost`` picks; returns what they held."""
    put = runner.handed.put
    held: list[tuple[int, Any]] = []

    def put_some(saved: Iterable[tuple[int | None, Any]]) -> None:
        kept = []
        for position, event in saved:
            assert position is not None
            (held if lost(position) else kept).append((position, event))
        put(kept)

    runner.handed.put = put_some  # type: ignore[method-assign]
    return held


def test_a_gap_in_the_hand_offs_is_read_from_the_store(ledger: Ledger) -> None:
    runner = ProjectionRunner(ledger)
    runner.take_hand_offs()
    open_seed(ledger, "sma")
    catch_up(runner)
    opening = ledger.head_position()
    losing(runner, lambda position: position == opening + 3)
    ledger.record("sma", statements(6, "negotiator"))

    catch_up(runner)

    assert runner.read_from_hand_off == opening + 2  # the opening and the two before the gap
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, opening + 6)
    assert contents(runner) == rebuilt(ledger)


def test_a_hand_off_that_comes_late_falls_back_to_the_store_and_is_not_applied_twice(
    ledger: Ledger,
) -> None:
    runner = ProjectionRunner(ledger)
    runner.take_hand_offs()
    open_seed(ledger, "sma")
    catch_up(runner)
    opening = ledger.head_position()
    late = losing(runner, lambda position: position == opening + 1)
    ledger.record("sma", statements(1, "first"))
    ledger.record("sma", statements(1, "second"))

    # The second event was handed over, the first not yet: out of order, read from the store.
    catch_up(runner)
    assert runner.read_from_hand_off == opening
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, opening + 2)

    # The first arrives after all, then a third: only the third is taken.
    HandOff.put(runner.handed, late)
    ledger.record("sma", statements(1, "third"))
    catch_up(runner)

    assert runner.read_from_hand_off == opening + 1
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, opening + 3)
    assert contents(runner) == rebuilt(ledger)


def test_a_full_hand_off_buffer_drops_its_oldest_events_which_are_read_from_the_store(
    ledger: Ledger,
) -> None:
    runner = ProjectionRunner(ledger)
    runner.handed = HandOff(limit=4)
    runner.take_hand_offs()
    open_seed(ledger, "sma")
    ledger.record("sma", statements(10, "negotiator"))

    catch_up(runner)

    head = ledger.head_position()
    assert runner.handed.dropped == head - 4
    assert runner.read_from_hand_off == 0
    assert len(runner.handed) == 0
    assert contents(runner) == rebuilt(ledger)


@SQL_STORES
def test_a_crash_between_save_and_hand_off_loses_nothing(
    ledger_factory: Callable[[], Ledger],
) -> None:
    # The first process saves, then dies before handing anything to its runner (which
    # never ran): its events are in the store only.
    crashed = ledger_factory()
    open_seed(crashed, "sma")
    crashed.record("sma", statements(4, "before the crash"))
    saved = crashed.head_position()

    restarted = ledger_factory()
    runner = ProjectionRunner(restarted)
    runner.take_hand_offs()
    restarted.record("sma", statements(3, "after the restart"))
    catch_up(runner)

    head = restarted.head_position()
    assert head == saved + 3
    assert runner.views.tracked_positions() == dict.fromkeys(VIEWS, head)
    assert contents(runner) == rebuilt(restarted)
    assert len(runner.handed) == 0  # what it held came in the batch read from the store


def test_a_stopped_runner_is_handed_nothing(ledger: Ledger) -> None:
    runner = ProjectionRunner(ledger, poll_interval=0.01)
    with runner:
        open_seed(ledger, "sma")
        assert runner.wait_for(ledger.head_position(), timeout=30)
    ledger.record("sma", statements(2, "negotiator"))

    assert len(runner.handed) == 0
    catch_up(runner)
    assert contents(runner) == rebuilt(ledger)


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_a_subscribed_runner_takes_its_own_saves_from_the_hand_off_and_applies_each_once(
    ledger: Ledger,
) -> None:
    open_seed(ledger, "sma")
    with ProjectionRunner(ledger, poll_interval=0.2) as runner:
        assert runner.wait_for(ledger.head_position(), timeout=30)
        for i in range(10):
            ledger.record("sma", statements(3, "negotiator", start=3 * i))
            runner.nudge(coalesce=True)
        assert runner.wait_for(ledger.head_position(), timeout=30)
        assert runner.subscribed
        assert runner.read_from_hand_off > 0

    assert contents(runner) == rebuilt(ledger)


class _Silent:
    """A subscription that never delivers anything (the test queues notifications itself)."""

    def __enter__(self) -> _Silent:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def __iter__(self) -> Iterator[Any]:
        return iter(())


def test_the_subscription_queue_drops_what_a_hand_off_already_applied() -> None:
    recorder: Any = SimpleNamespace(subscribe=lambda gt: _Silent())
    feed = SubscriptionFeed(recorder, 0, threading.Event())
    try:
        for position in range(1, 6):
            feed._queue.put(SimpleNamespace(id=position))
        feed.skip(3)
        assert [n.id for n in feed.drain(0, 10)] == [4, 5]
    finally:
        feed.close()
