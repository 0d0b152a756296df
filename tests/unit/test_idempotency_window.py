"""Idempotency keys replay their first answer for a window, then count as new."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from typing import Any

import pytest
from pydantic import ValidationError
from support import sma_book

from api.settings import Settings
from domain import errors, facts
from domain.ledger import IDEMPOTENCY_WINDOW, TICK, Ledger, Recorded, project_negotiation
from domain.negotiation import IDEMPOTENCY_RETENTION, Negotiation
from domain.values import Quantity

SLUG = "sma"
FixedClock = Any  # tests/conftest.py's clock: call it for now, .advance(...) to move it
KEY = "anonymous\x1fk1"  # how the ledger scopes key "k1" of an anonymous recorder


def make_ledger(clock: FixedClock, window: timedelta = IDEMPOTENCY_WINDOW) -> Ledger:
    return sma_book(clock, idempotency_window=window)


@pytest.fixture
def book(clock: FixedClock) -> Ledger:
    return make_ledger(clock)


def offer(amount: str = "5E+9") -> facts.OfferMade:
    return facts.OfferMade(
        party="USA",
        kind="demand",
        values={"contribution": Quantity(Decimal(amount), "USD")},
        occurred_at=date(2019, 9, 24),
    )


def send(ledger: Ledger, key: str = "k1", other: bool = False) -> Recorded:
    """The request "f" (an offer) under ``key``; with ``other``, the request "g" (another offer)."""
    if other:
        return ledger.record(SLUG, [offer("1")], idempotency_key=key, fingerprint="g")
    return ledger.record(SLUG, [offer()], idempotency_key=key, fingerprint="f")


def replayed_state(ledger: Ledger) -> dict[str, list[object]]:
    """The idempotency map folded afresh from the stored events, without cache or snapshot."""
    neg = project_negotiation(None, ledger.stream(SLUG))
    assert neg is not None
    return neg.idempotency


def test_a_repeat_inside_the_window_replays_the_first_answer(
    book: Ledger, clock: FixedClock
) -> None:
    first = send(book)
    clock.advance(hours=23, minutes=59)

    repeat = send(book)

    assert repeat.replayed
    assert [e.event_id for e in repeat.events] == [e.event_id for e in first.events]
    assert book.get(SLUG).version == 5


def test_a_different_request_inside_the_window_is_refused(book: Ledger, clock: FixedClock) -> None:
    send(book)
    clock.advance(hours=23)

    with pytest.raises(errors.IdempotencyKeyReused):
        send(book, other=True)


def test_after_the_window_the_same_key_records_anew_and_then_stands_for_the_new_request(
    book: Ledger, clock: FixedClock
) -> None:
    first = send(book)
    clock.advance(hours=24, seconds=1)

    again = send(book)
    repeat = send(book)

    assert not again.replayed
    assert again.version == first.version + 1
    assert repeat.replayed
    assert [e.event_id for e in repeat.events] == [e.event_id for e in again.events]


def test_after_the_window_a_different_request_under_the_key_is_recorded(
    book: Ledger, clock: FixedClock
) -> None:
    send(book)
    clock.advance(hours=25)

    recorded = send(book, other=True)

    assert not recorded.replayed
    assert book.get(SLUG).version == 6


def test_the_window_is_configurable(clock: FixedClock) -> None:
    ledger = make_ledger(clock, window=timedelta(hours=1))
    send(ledger)
    clock.advance(minutes=59)
    assert send(ledger).replayed
    clock.advance(minutes=2)

    assert not send(ledger).replayed


@pytest.mark.parametrize("window", [timedelta(0), IDEMPOTENCY_RETENTION + timedelta(seconds=1)])
def test_a_window_that_is_empty_or_outlives_the_kept_keys_is_refused(
    clock: FixedClock, window: timedelta
) -> None:
    with pytest.raises(ValueError, match="idempotency window"):
        make_ledger(clock, window=window)


@pytest.mark.parametrize("hours", ["0", "721"])
def test_settings_refuse_a_window_the_ledger_cannot_keep(
    monkeypatch: pytest.MonkeyPatch, hours: str
) -> None:
    monkeypatch.setenv("PARLEY_IDEMPOTENCY_WINDOW_HOURS", hours)
    with pytest.raises(ValidationError):
        Settings()


def test_settings_default_to_a_day(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PARLEY_IDEMPOTENCY_WINDOW_HOURS", raising=False)
    assert Settings().idempotency_window() == timedelta(hours=24)


def test_the_state_keeps_when_each_key_was_used(book: Ledger, clock: FixedClock) -> None:
    clock.advance(seconds=1)
    book.record(SLUG, [offer(), offer("4E+9")], idempotency_key="k1", fingerprint="f")

    # The recorded time of the command's last event, which carries the key: 1 µs after the first.
    assert book.get(SLUG).idempotency[KEY] == ["f", 5, 6, (clock.now + TICK).isoformat()]


def load_from_old_snapshot(ledger: Ledger) -> Negotiation:
    """Stores a snapshot shaped as before keys kept a timestamp, and loads the negotiation from it."""
    neg = ledger.get(SLUG)
    taken = Negotiation.Snapshot.take(neg)
    old_state = {
        **taken.state,
        "idempotency": {key: entry[:3] for key, entry in neg.idempotency.items()},
    }
    old = Negotiation.Snapshot(
        originator_id=taken.originator_id,
        originator_version=taken.originator_version,
        timestamp=taken.timestamp,
        topic=taken.topic,
        state=old_state,
    )
    assert ledger.snapshots is not None
    ledger.snapshots.put([old])
    ledger._evict(neg.id)
    loaded = ledger.get(SLUG)
    assert loaded.idempotency[KEY] == ["f", 5, 5]  # the old shape really is what was loaded
    return loaded


def test_an_entry_from_an_old_snapshot_replays_inside_the_window(
    book: Ledger, clock: FixedClock
) -> None:
    first = send(book)
    load_from_old_snapshot(book)
    clock.advance(hours=23)

    repeat = send(book)

    assert repeat.replayed
    assert [e.event_id for e in repeat.events] == [e.event_id for e in first.events]


def test_an_entry_from_an_old_snapshot_is_new_again_after_the_window(
    book: Ledger, clock: FixedClock
) -> None:
    send(book)
    load_from_old_snapshot(book)
    clock.advance(hours=25)

    again = send(book, other=True)

    assert not again.replayed
    assert book.get(SLUG).idempotency[KEY] == ["g", 6, 6, clock.now.isoformat()]


def test_keys_older_than_the_retention_are_forgotten_when_a_later_key_is_recorded(
    book: Ledger, clock: FixedClock
) -> None:
    send(book, "old")
    clock.advance(days=10)
    send(book, "young")
    clock.advance(days=21)
    book.record(SLUG, [offer()])  # no key: the map is left as it is
    assert "anonymous\x1fold" in book.get(SLUG).idempotency

    send(book, "new")

    assert list(book.get(SLUG).idempotency) == ["anonymous\x1fyoung", "anonymous\x1fnew"]


def test_replay_folds_the_same_keys_as_recording_did(book: Ledger, clock: FixedClock) -> None:
    steps = [("a", 0), ("b", 5), ("a", 30), ("c", 24 * 20), (None, 1), ("d", 24 * 12), ("b", 1)]
    for key, hours in steps:
        clock.advance(hours=hours)
        send(book, key)

    live = book.get(SLUG).idempotency

    assert live == replayed_state(book)
    assert list(live) == list(replayed_state(book))
    assert "anonymous\x1fa" not in live  # used 32 days before "d" was: pruned on the way
