"""The canonical encoding of an event and the hash chain that links a negotiation's events."""

from __future__ import annotations

import hashlib
import itertools
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from support import recomputed_hash as recompute_hash

from domain import facts
from domain.canonical import GENESIS_HASH, canonical_bytes, canonical_document, event_hash
from domain.ledger import Ledger
from domain.values import Quantity, Source

SLUG = "sma"
KST = timezone(timedelta(hours=9))


@pytest.fixture
def book(book: Ledger) -> Ledger:
    """The SMA talks (``tests/unit/conftest.py``) with an offer, a round and an issue."""
    ledger = book
    source = Source(
        title="Korea Herald", url="https://example.org/a", published_on=date(2020, 4, 7)
    )
    made = ledger.record(
        SLUG,
        [
            facts.OfferMade(
                party="USA",
                kind="demand",
                values={"contribution": Quantity(Decimal("5E+9"), "USD")},
                occurred_at=datetime(2019, 9, 24, 10, 0, tzinfo=KST),
                sources=(source,),
            ),
            facts.RoundHeld(
                number=1,
                occurred_at=date(2019, 9, 24),
                delegations=(facts.Delegation(party="ROK", lead="Jeong", members=("a", "b")),),
            ),
        ],
        recorded_by="clerk",
    )
    ledger.record(
        SLUG,
        [
            facts.IssueRaised(
                issue_id="cost",
                title="비용 분담",
                raised_by="ROK",
                details={"share": Decimal("0.5"), "items": ["troops", 1]},
                occurred_at=date(2019, 10, 1),
            ),
            facts.EventRetracted(
                retracted_event_id=str(made.events[1].event_id),
                reason="wrong date",
                occurred_at=date(2019, 10, 2),
            ),
        ],
    )
    return ledger


def test_canonical_bytes_are_sorted_compact_utf8() -> None:
    document = {"b": [1, {"z": None, "a": "서울"}], "a": "x"}
    assert canonical_bytes(document) == '{"a":"x","b":[1,{"a":"서울","z":null}]}'.encode()


def known_offer_document(ledger_format: int) -> dict[str, Any]:
    offer = facts.OfferMade(
        party="USA",
        kind="demand",
        values={"contribution": Quantity(Decimal("5000000000"), "USD")},
        occurred_at=datetime(2019, 9, 24, 10, 0, tzinfo=KST),
        note="정은보",
    )
    return canonical_document(
        fact=offer,
        negotiation="sma",
        version=6,
        event_id=UUID(int=6),
        recorded_at=datetime(2026, 1, 1, 21, 0, tzinfo=KST),
        recorded_by="clerk",
        prev_hash="ab" * 32,
        ledger_format=ledger_format,
    )


KNOWN_OFFER_TAIL = (
    '"negotiation":"sma",'
    '"occurred_at":"2019-09-24T10:00:00+09:00","payload":{"conditions":null,'
    '"kind":"demand","note":"정은보","party":"USA","sources":[],"values":{"contribution":'
    '{"amount":"5000000000","unit":"USD"}}},"prev_hash":"'
    + "ab"
    * 32
    + '","recorded_at":"2026-01-01T12:00:00.000000+00:00","recorded_by":"clerk",'
    '"type":"offer_made","version":6}'
)


def test_canonical_document_of_an_offer_is_known() -> None:
    document = known_offer_document(2)
    expected = (
        '{"event_id":"00000000-0000-0000-0000-000000000006","ledger_format":2,' + KNOWN_OFFER_TAIL
    ).encode()
    assert canonical_bytes(document) == expected
    assert event_hash(document) == hashlib.sha256(expected).hexdigest()


def test_a_format_1_document_has_no_format_key_and_keeps_its_bytes() -> None:
    document = known_offer_document(1)
    expected = ('{"event_id":"00000000-0000-0000-0000-000000000006",' + KNOWN_OFFER_TAIL).encode()
    assert canonical_bytes(document) == expected
    assert event_hash(document) == hashlib.sha256(expected).hexdigest()


def test_new_events_are_recorded_in_format_2(book: Ledger) -> None:
    assert {event.ledger_format for event in book.stream(SLUG)} == {2}


def test_the_first_event_links_to_the_genesis_hash(book: Ledger) -> None:
    assert book.stream(SLUG)[0].prev_hash == GENESIS_HASH == "0" * 64


def test_each_event_links_to_the_hash_of_the_one_before(book: Ledger) -> None:
    events = book.stream(SLUG)
    assert len(events) == 8
    for before, after in itertools.pairwise(events):
        assert after.prev_hash == before.hash


def test_each_stored_hash_is_recomputed_from_the_stored_event(book: Ledger) -> None:
    for event in book.stream(SLUG):
        assert event.hash == recompute_hash(event, SLUG), event.TYPE


def test_the_recomputed_hash_changes_when_a_stored_amount_changes(book: Ledger) -> None:
    offer = next(e for e in book.stream(SLUG) if e.TYPE == "offer_made")
    honest = recompute_hash(offer, SLUG)
    offer.values["contribution"] = Quantity(Decimal("5000000001"), "USD")
    assert recompute_hash(offer, SLUG) != honest


def test_the_head_hash_is_the_hash_of_the_last_event(book: Ledger) -> None:
    assert book.get(SLUG).head_hash == book.stream(SLUG)[-1].hash


def test_recorded_events_report_the_stored_hashes(book: Ledger, clock: Any) -> None:
    clock.advance(seconds=1)  # past the opening's events: stamped with the clock itself
    recorded = book.record(
        SLUG, [facts.StatusChanged(status="suspended", occurred_at=date(2020, 1, 1))]
    )
    last = book.stream(SLUG)[-1]
    assert [(e.event_id, e.hash, e.version) for e in recorded.events] == [
        (last.event_id, last.hash, last.originator_version)
    ]
    assert last.prev_hash == book.stream(SLUG)[-2].hash
    assert recorded.events[0].recorded_at == datetime(2026, 1, 1, 12, 0, 1, tzinfo=UTC)
