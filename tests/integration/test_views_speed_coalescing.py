"""A runner under a stream of appends applies them in batches, and readers still get theirs fast."""

from __future__ import annotations

from store_histories import open_seed, statements

from domain.ledger import Ledger
from projections.runner import ProjectionRunner


def test_a_streaming_catch_up_stops_after_a_short_batch_instead_of_chasing_new_events(
    ledger: Ledger,
) -> None:
    open_seed(ledger, "sma-11")
    head = ledger.head_position()
    appended: list[int] = []

    def append_once(position: int, applied: int) -> None:
        if not appended:
            recorded = ledger.record("sma-11", statements(1, "late"))
            assert recorded.position is not None
            appended.append(recorded.position)

    runner = ProjectionRunner(ledger, batch_size=head + 10, on_batch=append_once)

    runner.catch_up(streaming=True)

    assert runner.positions(refresh=True) == dict.fromkeys(runner.positions(), head)
    runner.catch_up()
    assert min(runner.positions(refresh=True).values()) == appended[0]


def test_a_reader_waiting_for_its_write_skips_the_runners_coalescing_delay(
    ledger: Ledger,
) -> None:
    open_seed(ledger, "sma-11")
    # Minutes of coalescing: only a reader cutting it short lets the wait below succeed.
    with ProjectionRunner(ledger, coalesce=600.0, poll_interval=600.0) as runner:
        assert runner.wait_for(timeout=10)
        for i in range(20):
            recorded = ledger.record("sma-11", statements(1, "stream", start=i))
            runner.nudge(coalesce=True)
        assert recorded.position is not None

        assert runner.wait_for(recorded.position, timeout=10)
