"""The ledger service on the pure domain: idempotency, expected versions, atomic batches."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from domain import errors, facts
from domain.ledger import Ledger
from domain.values import Party, Quantity

SLUG = "sma"


def offer(amount: str = "5E+9", party: str = "USA") -> facts.OfferMade:
    return facts.OfferMade(
        party=party,
        kind="demand",
        values={"contribution": Quantity(Decimal(amount), "USD")},
        occurred_at=date(2019, 9, 24),
    )


def test_opening_records_the_opening_then_parties_then_terms(book: Ledger) -> None:
    assert [e.TYPE for e in book.stream(SLUG)] == [
        "negotiation_opened",
        "party_joined",
        "party_joined",
        "term_defined",
    ]
    assert book.get(SLUG).version == 4


def test_opening_a_taken_slug_is_refused(book: Ledger) -> None:
    again = facts.NegotiationOpened(slug=SLUG, title="Again", occurred_at=date(2019, 9, 1))
    with pytest.raises(errors.NegotiationExists):
        book.open_negotiation(again)


@pytest.mark.parametrize("slug", ["SMA", "sma talks", "x" * 65, ""])
def test_opening_with_a_malformed_slug_is_refused(book: Ledger, slug: str) -> None:
    opened = facts.NegotiationOpened(slug=slug, title="T", occurred_at=date(2019, 9, 1))
    with pytest.raises(errors.InvalidValue):
        book.open_negotiation(opened)


def test_recording_into_an_unknown_negotiation_is_refused(book: Ledger) -> None:
    with pytest.raises(errors.NegotiationNotFound):
        book.record("nowhere", [offer()])


def test_an_amount_is_stored_in_plain_notation(book: Ledger) -> None:
    book.record(SLUG, [offer("5E+9")])
    amount = book.stream(SLUG)[-1].values["contribution"].amount
    assert amount == Decimal(5000000000)
    assert str(amount) == "5000000000"


@pytest.mark.parametrize("amount", ["1E+30", "0.0000000000000000001", "NaN", "Infinity"])
def test_an_amount_out_of_bounds_is_refused(book: Ledger, amount: str) -> None:
    with pytest.raises(errors.InvalidValue) as caught:
        book.record(SLUG, [offer(amount)])
    assert caught.value.field == "[0].values.contribution.amount"
    assert book.get(SLUG).version == 4


def test_a_repeated_idempotency_key_returns_the_first_answer_and_records_once(
    book: Ledger,
) -> None:
    first = book.record(SLUG, [offer(), offer("4E+9")], idempotency_key="k1", fingerprint="f")
    repeat = book.record(SLUG, [offer(), offer("4E+9")], idempotency_key="k1", fingerprint="f")
    assert not first.replayed
    assert repeat.replayed
    assert repeat.version == first.version == 6
    assert [(e.event_id, e.type, e.version, e.hash) for e in repeat.events] == [
        (e.event_id, e.type, e.version, e.hash) for e in first.events
    ]
    assert book.get(SLUG).version == 6
    assert len(book.stream(SLUG)) == 6


def test_a_repeat_is_recognised_after_later_events(book: Ledger) -> None:
    first = book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="f")
    book.record(SLUG, [offer("4E+9")])
    repeat = book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="f")
    assert repeat.replayed
    assert repeat.version == first.version == 5
    assert book.get(SLUG).version == 6


def test_the_same_key_with_another_request_is_refused(book: Ledger) -> None:
    book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="f")
    with pytest.raises(errors.IdempotencyKeyReused):
        book.record(SLUG, [offer("1")], idempotency_key="k1", fingerprint="g")
    assert book.get(SLUG).version == 5


def test_idempotency_keys_are_scoped_to_who_records(book: Ledger) -> None:
    book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="f", recorded_by="alice")
    other = book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="f", recorded_by="bob")
    assert not other.replayed
    assert book.get(SLUG).version == 6


def test_a_repeated_opening_returns_the_first_answer(book: Ledger) -> None:
    opened = facts.NegotiationOpened(slug="other", title="Other", occurred_at=date(2019, 9, 1))
    first = book.open_negotiation(
        opened, [Party("USA", "US")], idempotency_key="o", fingerprint="f"
    )
    repeat = book.open_negotiation(
        opened, [Party("USA", "US")], idempotency_key="o", fingerprint="f"
    )
    assert repeat.replayed
    assert [e.event_id for e in repeat.events] == [e.event_id for e in first.events]
    assert len(book.stream("other")) == 2


def test_the_expected_version_is_accepted_when_current(book: Ledger) -> None:
    assert book.record(SLUG, [offer()], expected_version=4).version == 5


@pytest.mark.parametrize("expected", [3, 5])
def test_a_stale_expected_version_is_refused_with_both_versions(
    book: Ledger, expected: int
) -> None:
    with pytest.raises(errors.StaleVersion) as caught:
        book.record(SLUG, [offer()], expected_version=expected)
    assert (caught.value.expected, caught.value.actual) == (expected, 4)
    assert caught.value.extra == {"expected_version": expected, "current_version": 4}
    assert book.get(SLUG).version == 4


def test_a_refused_fact_in_a_batch_leaves_the_negotiation_unchanged(book: Ledger) -> None:
    before = vars(book.get(SLUG))
    batch = [offer(), offer(party="JPN"), offer("1")]
    with pytest.raises(errors.UnknownParty) as caught:
        book.record(SLUG, batch)
    assert caught.value.field == "[1].party"
    assert caught.value.extra["index"] == 1
    after = book.get(SLUG)
    assert after.version == 4
    assert vars(after) == before
    assert len(book.stream(SLUG)) == 4


def test_a_batch_is_decided_in_order_so_later_facts_see_earlier_ones(book: Ledger) -> None:
    joined = facts.PartyJoined(party=Party("JPN", "Japan"), occurred_at=date(2019, 9, 1))
    recorded = book.record(SLUG, [joined, offer(party="JPN")])
    assert [e.type for e in recorded.events] == ["party_joined", "offer_made"]
    assert [e.version for e in recorded.events] == [5, 6]


def test_a_refused_batch_does_not_consume_its_idempotency_key(book: Ledger) -> None:
    with pytest.raises(errors.UnknownParty):
        book.record(SLUG, [offer(party="JPN")], idempotency_key="k1", fingerprint="f")
    recorded = book.record(SLUG, [offer()], idempotency_key="k1", fingerprint="g")
    assert not recorded.replayed


def test_every_event_carries_who_recorded_it_and_when(
    book: Ledger,
    clock: Any,  # tests/conftest.py's FixedClock
) -> None:
    clock.advance(seconds=1)  # past the opening's events: the clock itself, not +1 µs
    book.record(SLUG, [offer()], recorded_by="clerk")
    last = book.stream(SLUG)[-1]
    assert last.recorded_by == "clerk"
    assert last.timestamp == clock()
