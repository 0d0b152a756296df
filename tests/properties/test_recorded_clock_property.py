"""Recorded time is monotonic whatever the clock does, and ``as_of_recorded`` cuts a prefix.

The ledger's clock is injected and jumps around at random (back an hour, forward a day,
standing still). ``recorded_at`` must strictly increase within a negotiation, event by event:
a command's first event at the later of the clock and the last stored value plus 1 µs, each
next event of the command 1 µs after the one before; the time-travel cut at any moment must
be the longest prefix recorded at or before it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import memory_ledger

from domain import facts
from domain.ledger import TICK, Ledger
from domain.values import Party, Quantity, Term
from projections.records import stream_of

FixedClock = Any  # tests/conftest.py's clock: call it for now, .advance(...) to move it

SLUG = "clock"
START = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
SECONDS = 2 * 24 * 3600


class SetClock:
    """A clock the test sets to any moment, backwards included."""

    now = START

    def __call__(self) -> datetime:
        return self.now


def offer(n: int) -> facts.OfferMade:
    return facts.OfferMade(
        party="USA",
        kind="demand",
        values={"contribution": Quantity(Decimal(1000 + n), "USD")},
        occurred_at=date(2019, 9, 24),
    )


def open_ledger(clock: Callable[[], datetime]) -> Ledger:
    ledger = memory_ledger(clock)
    ledger.open_negotiation(
        facts.NegotiationOpened(slug=SLUG, title="Clock", occurred_at=date(2019, 9, 1)),
        [Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD")],
    )
    return ledger


commands = st.lists(
    st.tuples(
        st.integers(-SECONDS, SECONDS),  # the clock's offset from the start, in seconds
        st.sampled_from([0, 0, 1, 999_999]),  # and microseconds (0 often: ties)
        st.integers(1, 3),  # facts in the command
    ),
    min_size=1,
    max_size=12,
)


@settings(max_examples=60, deadline=None)
@given(commands=commands, probes=st.lists(st.integers(-SECONDS, 2 * SECONDS), max_size=6))
def test_recorded_at_never_goes_back_and_as_of_recorded_is_the_longest_prefix(
    commands: list[tuple[int, int, int]], probes: list[int]
) -> None:
    clock = SetClock()
    ledger = open_ledger(clock)
    n = 0
    for seconds, micros, size in commands:
        clock.now = START + timedelta(seconds=seconds, microseconds=micros)
        last = ledger.stream(SLUG)[-1].timestamp
        recorded = ledger.record(SLUG, [offer(n + i) for i in range(size)])
        n += size
        stamps = [e.recorded_at for e in recorded.events]
        first = clock.now if clock.now > last else last + TICK
        assert stamps == [first + i * TICK for i in range(size)]
        assert (ledger.clock_behind is not None) == (clock.now < last)

    records = stream_of(ledger.stream(SLUG)).records
    times = [r.recorded_at for r in records]
    assert all(a < b for a, b in itertools.pairwise(times))
    moments = {t + d for t in times for d in (-TICK, timedelta(0), TICK)}
    moments |= {START + timedelta(seconds=s) for s in probes}
    stream = stream_of(ledger.stream(SLUG))
    for moment in moments:
        cut = stream.recorded_by_time(moment).records
        longest = list(itertools.takewhile(lambda r, m=moment: r.recorded_at <= m, records))
        assert list(cut) == longest


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_a_restart_under_a_clock_set_back_keeps_recorded_time_monotonic(
    ledger_factory: Callable[[], Ledger], clock: FixedClock
) -> None:
    """On the stores that outlive a process: the issue's case, a server restarted with its clock an hour behind."""
    first = ledger_factory()
    first.open_negotiation(
        facts.NegotiationOpened(slug=SLUG, title="Clock", occurred_at=date(2019, 9, 1)),
        [Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD")],
    )
    first.record(SLUG, [offer(1)])
    head = first.stream(SLUG)[-1].timestamp
    clock.advance(hours=-1)

    restarted = ledger_factory()
    restarted.record(SLUG, [offer(2)])
    restarted.open_negotiation(
        facts.NegotiationOpened(slug="later", title="Later", occurred_at=date(2019, 9, 1))
    )

    times = [e.timestamp for e in restarted.stream(SLUG)]
    assert all(a < b for a, b in itertools.pairwise(times))
    assert times[-1] == head + TICK
    assert restarted.stream("later")[0].timestamp == head + 2 * TICK  # the log's head too
    assert restarted.clock_behind == head + TICK - clock.now
