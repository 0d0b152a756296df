"""Positions, gaps, timeline and index folded from hand-built sequences, worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from support import memory_ledger

from domain import facts
from domain.ledger import Ledger
from domain.values import Party, Quantity, Term
from projections.gaps import gaps
from projections.index import index_entry
from projections.positions import positions
from projections.records import Record, Stream, fold, rebuild, record_from_event, record_from_fact
from projections.timeline import timeline

ANNUAL = Term("annual", "Annual contribution", "USD")
YEARS = Term("years", "Duration", "years")
TODAY = date(2020, 2, 1)


class Script:
    """Records facts as the ledger would: versions in recording order, readable event ids."""

    def __init__(
        self, parties: tuple[str, ...] = ("USA", "ROK"), terms: tuple[Term, ...] = (ANNUAL,)
    ) -> None:
        self.records: list[Record] = []
        opened = "2019-09-01"
        self.add(facts.NegotiationOpened(slug="sma", title="SMA talks", occurred_at=opened))
        for party in parties:
            self.add(facts.PartyJoined(party=Party(party, party), occurred_at=opened))
        for term in terms:
            self.add(facts.TermDefined(term=term, occurred_at=opened))

    def add(self, fact: facts.Fact) -> str:
        version = len(self.records) + 1
        event_id = f"e{version}"
        recorded_at = datetime(2021, 1, 1, tzinfo=UTC)
        self.records.append(
            record_from_fact(fact, event_id=event_id, version=version, recorded_at=recorded_at)
        )
        return event_id

    def offer(self, party: str, at: str, **values: str) -> str:
        quantities = {}
        for term, text in values.items():
            amount, _, unit = text.partition(" ")
            quantities[term] = Quantity(Decimal(amount), unit or "USD")
        return self.add(
            facts.OfferMade(party=party, kind="offer", values=quantities, occurred_at=at)
        )

    def agree(self, at: str, **values: str) -> str:
        quantities = {t: Quantity(Decimal(v), "USD") for t, v in values.items()}
        return self.add(
            facts.AgreementReached(status="tentative", values=quantities, occurred_at=at)
        )

    def rate(self, at: str, base: str, quote: str, rate: str) -> str:
        return self.add(
            facts.ExchangeRateRecorded(base=base, quote=quote, rate=Decimal(rate), occurred_at=at)
        )

    def retract(self, event_id: str, at: str = "2020-12-01") -> str:
        return self.add(
            facts.EventRetracted(retracted_event_id=event_id, reason="wrong", occurred_at=at)
        )

    def stream(self) -> Stream:
        return rebuild(self.records)


def standing(doc: dict[str, Any], term: str = "annual") -> dict[str, str]:
    """{party: amount} of a /positions document."""
    entry = next(t for t in doc["terms"] if t["term"] == term)
    return {p["party"]: p["value"]["amount"] for p in entry["positions"]}


def pair(doc: dict[str, Any], term: str = "annual", index: int = 0) -> dict[str, Any]:
    pairs: list[dict[str, Any]] = next(t for t in doc["terms"] if t["term"] == term)["pairs"]
    return pairs[index]


def dance() -> Script:
    """USA comes down from 50 to 30, ROK up from 10 to 15; two rounds are held."""
    s = Script()
    s.offer("USA", "2019-12-01", annual="50")
    s.offer("ROK", "2019-12-15", annual="10")
    s.offer("USA", "2020-01-01", annual="40")
    s.add(facts.RoundHeld(number=1, occurred_at="2020-01-05"))
    s.offer("ROK", "2020-01-11", annual="15")
    s.offer("USA", "2020-01-21", annual="30")
    s.add(facts.RoundHeld(number=2, occurred_at="2020-01-25"))
    return s


def test_every_gap_metric_of_a_two_party_dance() -> None:
    doc = gaps(dance().stream(), today=TODAY)
    assert doc["negotiation"] == "sma"
    assert doc["as_of"] is None
    assert doc["terms"][0]["term"] == "annual"
    assert doc["terms"][0]["unit"] == "USD"
    assert pair(doc) == {
        "parties": ["USA", "ROK"],
        "positions": {"USA": "30", "ROK": "15"},
        "gap": "15",
        "midpoint": "22.5",
        "relative_gap": "0.6666666666666666666666666667",
        "ratio": "2",
        "initial_gap": "40",
        "initial_at": "2019-12-15",
        "closed_share": "0.625",
        "concessions": {
            "USA": {"amount": "20", "share": "0.5", "moves": 2, "last_move_at": "2020-01-21"},
            "ROK": {"amount": "5", "share": "0.125", "moves": 1, "last_move_at": "2020-01-11"},
        },
        "days_since_last_move": 11,
        "rounds_since_last_move": 1,
        "history": [
            {"at": "2019-12-15", "positions": {"USA": "50", "ROK": "10"}, "gap": "40"},
            {"at": "2020-01-01", "positions": {"USA": "40", "ROK": "10"}, "gap": "30"},
            {"at": "2020-01-11", "positions": {"USA": "40", "ROK": "15"}, "gap": "25"},
            {"at": "2020-01-21", "positions": {"USA": "30", "ROK": "15"}, "gap": "15"},
        ],
        "forecast": "2020-02-11",
        "reason": None,
    }


def test_positions_name_the_standing_offer_its_event_and_when_it_was_made() -> None:
    doc = positions(dance().stream())
    assert doc == {
        "negotiation": "sma",
        "as_of": None,
        "terms": [
            {
                "term": "annual",
                "unit": "USD",
                "positions": [
                    {
                        "party": "USA",
                        "value": {"amount": "30", "unit": "USD"},
                        "original": {"amount": "30", "unit": "USD"},
                        "event_id": "e10",
                        "at": "2020-01-21",
                        "via": "offer",
                    },
                    {
                        "party": "ROK",
                        "value": {"amount": "15", "unit": "USD"},
                        "original": {"amount": "15", "unit": "USD"},
                        "event_id": "e9",
                        "at": "2020-01-11",
                        "via": "offer",
                    },
                ],
            }
        ],
    }


def test_as_of_looks_at_what_had_happened_by_then_and_counts_days_to_it() -> None:
    doc = gaps(dance().stream(), as_of=date(2020, 1, 8), today=TODAY)
    assert doc["as_of"] == "2020-01-08"
    got = pair(doc)
    assert got["positions"] == {"USA": "40", "ROK": "10"}
    assert got["days_since_last_move"] == 7
    assert got["rounds_since_last_move"] == 1
    assert [p["at"] for p in got["history"]] == ["2019-12-15", "2020-01-01"]
    assert got["forecast"] is None


def test_as_of_a_date_includes_everything_that_occurred_that_day() -> None:
    s = Script()
    s.offer("USA", "2020-01-10", annual="50")
    s.offer("ROK", "2020-01-10", annual="10")
    s.offer("USA", "2020-01-11T23:30:00+00:00", annual="45")
    s.offer("ROK", "2020-01-12", annual="12")
    on_the_day = positions(s.stream(), as_of="2020-01-11")
    assert on_the_day["as_of"] == "2020-01-11"
    assert standing(on_the_day) == {"USA": "45", "ROK": "10"}
    assert standing(positions(s.stream(), as_of="2020-01-10")) == {"USA": "50", "ROK": "10"}
    instant = datetime(2020, 1, 11, 23, 0, tzinfo=UTC)
    assert standing(positions(s.stream(), as_of=instant)) == {"USA": "50", "ROK": "10"}


def test_a_datetime_as_of_counts_days_to_its_utc_date() -> None:
    doc = gaps(dance().stream(), as_of="2020-01-22T08:00:00+09:00", today=TODAY)
    # 2020-01-22T08:00+09:00 is 2020-01-21T23:00Z: the day of the last move.
    assert pair(doc)["days_since_last_move"] == 0


def test_a_tentative_deal_fixes_both_parties_and_its_rejection_puts_them_back() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    deal = s.agree("2020-03-01", annual="30")
    s.add(facts.AgreementRejected(party="USA", agreement_event_id=deal, occurred_at="2020-04-01"))

    during = s.stream()
    doc = positions(during, as_of="2020-03-15")
    entries = doc["terms"][0]["positions"]
    assert [(p["party"], p["value"]["amount"], p["via"], p["event_id"]) for p in entries] == [
        ("USA", "30", "agreement", deal),
        ("ROK", "30", "agreement", deal),
    ]
    agreed = pair(gaps(during, as_of="2020-03-15", today=TODAY))
    assert (agreed["gap"], agreed["closed_share"], agreed["ratio"]) == ("0", "1", "1")
    assert agreed["relative_gap"] == "0"
    assert agreed["forecast"] is None

    after = pair(gaps(during, today=TODAY))
    assert after["positions"] == {"USA": "50", "ROK": "10"}
    assert [(p["at"], p["gap"]) for p in after["history"]] == [
        ("2020-01-02", "40"),
        ("2020-03-01", "0"),
        ("2020-04-01", "40"),
    ]
    assert after["concessions"]["USA"] == {
        "amount": "0",
        "share": "0",
        "moves": 2,
        "last_move_at": "2020-04-01",
    }
    assert after["closed_share"] == "0"


def test_a_withdrawal_takes_effect_from_its_own_date_and_falls_back_to_the_earlier_offer() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    second = s.offer("USA", "2020-02-01", annual="40")
    s.add(facts.OfferWithdrawn(party="USA", offer_event_id=second, occurred_at="2020-03-01"))
    assert standing(positions(s.stream(), as_of="2020-02-29")) == {"USA": "40", "ROK": "10"}
    assert standing(positions(s.stream())) == {"USA": "50", "ROK": "10"}
    got = pair(gaps(s.stream(), today=TODAY))
    assert [(h["at"], h["gap"]) for h in got["history"]] == [
        ("2020-01-02", "40"),
        ("2020-02-01", "30"),
        ("2020-03-01", "40"),
    ]
    assert got["concessions"]["USA"]["moves"] == 2


def test_withdrawing_the_only_offer_leaves_no_position_and_null_metrics_with_a_reason() -> None:
    s = Script()
    only = s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    s.add(facts.OfferWithdrawn(party="USA", offer_event_id=only, occurred_at="2020-03-01"))
    assert standing(positions(s.stream())) == {"ROK": "10"}
    got = pair(gaps(s.stream(), today=TODAY))
    assert got["positions"] == {"USA": None, "ROK": "10"}
    assert got["gap"] is None
    assert got["concessions"] is None
    assert got["forecast"] is None
    assert "USA has no position on annual" in got["reason"]
    assert [h["gap"] for h in got["history"]] == ["40"]


def test_a_rejected_offer_still_stands_as_its_partys_position() -> None:
    s = Script()
    usa = s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    s.add(facts.OfferRejected(party="ROK", offer_event_id=usa, occurred_at="2020-01-03"))
    assert standing(positions(s.stream())) == {"USA": "50", "ROK": "10"}


def test_a_party_without_any_position_yet_gives_null_metrics_and_a_reason() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    got = pair(gaps(s.stream(), today=TODAY))
    assert got["positions"] == {"USA": "50", "ROK": None}
    assert got["reason"] == "ROK has no position on annual"
    assert got["history"] == []
    assert all(got[k] is None for k in ("gap", "midpoint", "initial_gap", "initial_at"))


def test_a_retracted_offer_counts_nowhere_at_any_as_of() -> None:
    s = dance()
    wrong = s.offer("USA", "2020-01-15", annual="20")
    s.retract(wrong, at="2020-12-01")
    expected = dance().stream()
    for as_of in (None, "2020-01-16", "2020-01-22"):
        assert positions(s.stream(), as_of=as_of) == positions(expected, as_of=as_of)
        assert gaps(s.stream(), as_of=as_of, today=TODAY) == gaps(
            expected, as_of=as_of, today=TODAY
        )


def test_a_retracted_withdrawal_revives_the_offer() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    second = s.offer("USA", "2020-02-01", annual="40")
    withdrawal = s.add(
        facts.OfferWithdrawn(party="USA", offer_event_id=second, occurred_at="2020-03-01")
    )
    s.retract(withdrawal)
    assert standing(positions(s.stream())) == {"USA": "40"}


def test_an_undisclosed_offer_does_not_move_the_position() -> None:
    s = Script(terms=(ANNUAL, YEARS))
    s.offer("USA", "2020-01-01", annual="50", years="5 years")
    s.offer("ROK", "2020-01-02", annual="10", years="1 years")
    s.offer("USA", "2020-02-01", years="3 years")  # the amount is not disclosed
    s.offer("ROK", "2020-02-02")  # nothing disclosed at all
    doc = positions(s.stream())
    assert standing(doc) == {"USA": "50", "ROK": "10"}
    assert standing(doc, "years") == {"USA": "3", "ROK": "1"}
    got = pair(gaps(s.stream(), today=TODAY))
    assert got["concessions"]["USA"]["moves"] == 0
    assert len(got["history"]) == 1


def test_usd_offers_on_a_krw_term_convert_at_the_latest_rate_on_or_before_each_offer() -> None:
    krw = Term("annual", "Annual contribution", "KRW")
    s = Script(terms=(krw,))
    s.rate("2019-09-01", "USD", "KRW", "1200")
    s.offer("USA", "2019-09-24", annual="5000000000 USD")
    s.offer("ROK", "2019-09-25", annual="1100000000000 KRW")
    s.rate("2020-01-01", "USD", "KRW", "1150")
    s.offer("USA", "2020-02-01", annual="4000000000 USD")
    s.rate("2020-03-01", "KRW", "USD", "0.0008")
    s.offer("USA", "2020-04-01", annual="1300000000 USD")
    usa = positions(s.stream())["terms"][0]["positions"][0]
    assert usa["value"] == {"amount": "1625000000000", "unit": "KRW"}
    assert usa["original"] == {"amount": "1300000000", "unit": "USD"}
    got = pair(gaps(s.stream(), today=TODAY))
    # A later rate does not re-value an earlier offer.
    assert [h["positions"]["USA"] for h in got["history"]] == [
        "6000000000000",
        "4600000000000",
        "1625000000000",
    ]
    assert got["gap"] == "525000000000"
    assert got["initial_gap"] == "4900000000000"


def test_a_backfilled_rate_applies_to_offers_that_occurred_after_it() -> None:
    krw = Term("annual", "Annual contribution", "KRW")
    s = Script(terms=(krw,))
    s.offer("USA", "2019-09-24", annual="5000000000 USD")
    s.offer("ROK", "2019-09-25", annual="1100000000000 KRW")
    s.rate("2019-09-01", "USD", "KRW", "1200")  # recorded last, occurred first
    assert pair(gaps(s.stream(), today=TODAY))["gap"] == "4900000000000"


def test_a_money_term_without_a_rate_shows_the_own_unit_and_null_gaps_with_a_reason() -> None:
    krw = Term("annual", "Annual contribution", "KRW")
    s = Script(terms=(krw,))
    s.offer("USA", "2019-09-24", annual="5000000000 USD")
    s.offer("ROK", "2019-09-25", annual="1100000000000 KRW")
    s.rate("2019-10-01", "USD", "KRW", "1200")  # after the offer: it does not apply
    usa = positions(s.stream())["terms"][0]["positions"][0]
    assert usa["value"] == {"amount": "5000000000", "unit": "USD"}
    assert usa["original"] == usa["value"]
    got = pair(gaps(s.stream(), today=TODAY))
    assert got["gap"] is None
    assert got["positions"] == {"USA": None, "ROK": "1100000000000"}
    assert "no exchange rate between USD and KRW on or before 2019-09-24" in got["reason"]
    assert got["history"] == []


def test_three_parties_make_three_pairs_in_the_order_they_joined() -> None:
    s = Script(parties=("USA", "ROK", "JPN"))
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    s.offer("JPN", "2020-01-03", annual="20")
    pairs = gaps(s.stream(), today=TODAY)["terms"][0]["pairs"]
    assert [(p["parties"], p["gap"], p["initial_at"]) for p in pairs] == [
        (["USA", "ROK"], "40", "2020-01-02"),
        (["USA", "JPN"], "30", "2020-01-03"),
        (["ROK", "JPN"], "10", "2020-01-03"),
    ]


def test_an_agreement_fixes_every_party_of_a_three_party_negotiation() -> None:
    s = Script(parties=("USA", "ROK", "JPN"))
    s.offer("USA", "2020-01-01", annual="50")
    s.agree("2020-02-01", annual="30")
    assert standing(positions(s.stream())) == {"USA": "30", "ROK": "30", "JPN": "30"}


def test_a_backfilled_offer_takes_its_place_by_occurred_at_not_by_recording() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    s.offer("USA", "2020-03-01", annual="40")
    late = s.offer("USA", "2020-02-01", annual="45")  # recorded last
    assert standing(positions(s.stream())) == {"USA": "40", "ROK": "10"}
    assert positions(s.stream(), as_of="2020-02-15")["terms"][0]["positions"][0]["event_id"] == late
    got = pair(gaps(s.stream(), today=TODAY))
    assert [(h["at"], h["positions"]["USA"]) for h in got["history"]] == [
        ("2020-01-02", "50"),
        ("2020-02-01", "45"),
        ("2020-03-01", "40"),
    ]
    assert got["concessions"]["USA"]["moves"] == 2


def test_offers_at_the_same_moment_keep_recording_order() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    last = s.offer("USA", "2020-01-01", annual="45")
    assert positions(s.stream())["terms"][0]["positions"][0]["event_id"] == last


def test_reoffering_the_same_amount_is_no_move_but_becomes_the_standing_event() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-02", annual="10")
    again = s.offer("USA", "2020-02-01", annual="50.0")
    assert positions(s.stream())["terms"][0]["positions"][0]["event_id"] == again
    got = pair(gaps(s.stream(), today=TODAY))
    assert got["concessions"]["USA"]["moves"] == 0
    assert got["concessions"]["USA"]["last_move_at"] is None
    assert len(got["history"]) == 1
    assert got["days_since_last_move"] == (TODAY - date(2020, 1, 2)).days


def test_changes_at_one_instant_make_one_history_point() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    s.offer("ROK", "2020-01-01", annual="10")
    s.offer("USA", "2020-02-01", annual="40")
    s.offer("ROK", "2020-02-01", annual="20")
    got = pair(gaps(s.stream(), today=TODAY))
    assert [(h["at"], h["gap"]) for h in got["history"]] == [
        ("2020-01-01", "40"),
        ("2020-02-01", "20"),
    ]


def test_folding_one_record_at_a_time_in_any_arrival_order_equals_a_rebuild() -> None:
    records = dance().records
    state = None
    for record in [*reversed(records), records[3]]:  # out of order, one delivered twice
        state = fold(state, record)
    assert state == rebuild(records)
    assert gaps(state, today=TODAY) == gaps(dance().stream(), today=TODAY)


def test_time_travel_by_version_and_by_recording_time() -> None:
    s = dance()
    stream = s.stream()
    assert standing(positions(stream.up_to_version(8))) == {"USA": "40", "ROK": "10"}
    at = s.records[7].recorded_at
    assert stream.recorded_by_time(at) == stream


def test_timeline_orders_by_occurred_at_and_flags_retractions() -> None:
    s = Script()
    late = s.offer("USA", "2020-03-01", annual="40")
    early = s.offer("USA", "2020-01-01", annual="50")
    retraction = s.retract(late, at="2020-02-01")
    doc = timeline(s.stream(), types=["offer_made", "event_retracted"])
    assert doc["negotiation"] == "sma"
    assert [(e["event_id"], e["retracted"], e["retracted_by"]) for e in doc["events"]] == [
        (early, False, None),
        (retraction, False, None),
        (late, True, retraction),
    ]
    offer = doc["events"][0]
    assert offer["payload"]["values"] == {"annual": {"amount": "50", "unit": "USD"}}
    assert offer["occurred_at"] == "2020-01-01"
    assert offer["type"] == "offer_made"


def test_timeline_filters_by_party_and_by_a_range_whose_end_date_includes_the_whole_day() -> None:
    s = Script()
    s.offer("USA", "2020-01-01", annual="50")
    rok = s.offer("ROK", "2020-01-02T22:00:00+00:00", annual="10")
    s.offer("ROK", "2020-01-03", annual="12")
    s.add(
        facts.StatementMade(party="ROK", speaker="Jeong", summary="fair", occurred_at="2020-01-02")
    )
    doc = timeline(s.stream(), party="ROK", from_="2020-01-02", to="2020-01-02")
    assert [e["type"] for e in doc["events"]] == ["statement_made", "offer_made"]
    assert doc["events"][1]["event_id"] == rok
    assert timeline(s.stream(), party="ROK", from_="2020-01-02", as_of="2020-01-02") == {
        **doc,
        "as_of": "2020-01-02",
    }


def test_timeline_party_filter_reaches_participants_and_joining() -> None:
    s = Script()
    s.add(
        facts.CallHeld(
            channel="phone",
            participants=(facts.Participant("ROK", "Jeong"),),
            occurred_at="2020-04-06T20:30:00+09:00",
        )
    )
    types = [e["type"] for e in timeline(s.stream(), party="ROK")["events"]]
    assert types == ["party_joined", "call_held"]


def test_index_summarises_status_parties_counts_and_last_activity() -> None:
    s = dance()
    s.add(facts.StatusChanged(status="suspended", occurred_at="2020-03-01"))
    s.add(facts.StatusChanged(status="open", occurred_at="2020-02-01"))  # backfilled
    wrong = s.offer("USA", "2020-02-15", annual="1")
    s.retract(wrong, at="2020-12-01")
    entry = index_entry(s.stream())
    assert entry == {
        "slug": "sma",
        "title": "SMA talks",
        "subject": None,
        "status": "suspended",
        "version": 15,
        "parties": [
            {"id": "USA", "name": "USA", "actor_code": None},
            {"id": "ROK", "name": "ROK", "actor_code": None},
        ],
        "terms": [{"id": "annual", "name": "Annual contribution", "unit": "USD"}],
        "counts": {
            "event_retracted": 1,
            "negotiation_opened": 1,
            "offer_made": 6,
            "party_joined": 2,
            "round_held": 2,
            "status_changed": 2,
            "term_defined": 1,
        },
        "last_occurred_at": "2020-03-01",
        "updated_at": "2021-01-01T00:00:00.000000+00:00",
    }


def test_index_status_ignores_a_retracted_status_change() -> None:
    s = Script()
    closing = s.add(facts.StatusChanged(status="collapsed", occurred_at="2020-03-01"))
    s.retract(closing)
    entry = index_entry(s.stream())
    assert entry is not None
    assert entry["status"] == "open"


def test_index_waits_for_the_opening_event() -> None:
    assert index_entry(Stream()) is None


@pytest.fixture
def sma_ledger() -> Ledger:
    clock = iter(datetime(2021, 6, 1, 0, minute, tzinfo=UTC) for minute in range(60))
    ledger = memory_ledger(lambda: next(clock))
    ledger.open_negotiation(
        facts.NegotiationOpened(slug="sma", title="SMA talks", occurred_at=date(2019, 9, 1)),
        [Party("USA", "United States"), Party("ROK", "Republic of Korea")],
        [Term("annual", "Annual contribution", "KRW")],
    )
    return ledger


def test_the_folds_accept_real_stored_events_from_the_ledger(sma_ledger: Ledger) -> None:
    def usd(amount: str) -> dict[str, Quantity]:
        return {"annual": Quantity(Decimal(amount), "USD")}

    ledger = sma_ledger
    ledger.record(
        "sma",
        [
            facts.ExchangeRateRecorded(
                base="USD", quote="KRW", rate=Decimal("1200"), occurred_at=date(2019, 9, 1)
            )
        ],
    )
    demand = ledger.record(
        "sma",
        [
            facts.OfferMade(
                party="USA", kind="demand", values=usd("5000000000"), occurred_at=date(2019, 9, 24)
            )
        ],
    ).events[0]
    ledger.record(
        "sma",
        [
            facts.OfferMade(
                party="ROK",
                kind="offer",
                values={"annual": Quantity(Decimal("1100000000000"), "KRW")},
                occurred_at=date(2019, 9, 25),
            )
        ],
    )
    deal = ledger.record(
        "sma",
        [
            facts.AgreementReached(
                status="tentative", values=usd("1000000000"), occurred_at=date(2020, 3, 31)
            )
        ],
    ).events[0]
    ledger.record(
        "sma",
        [
            facts.AgreementRejected(
                party="USA", agreement_event_id=str(deal.event_id), occurred_at=date(2020, 4, 10)
            )
        ],
    )
    stream = rebuild(record_from_event(e) for e in ledger.stream("sma"))
    assert [r.version for r in stream.records] == list(range(1, 10))
    assert standing(positions(stream)) == {"USA": "6000000000000", "ROK": "1100000000000"}
    assert positions(stream)["terms"][0]["positions"][0]["event_id"] == str(demand.event_id)
    got = pair(gaps(stream, today=date(2020, 5, 1)))
    assert [(h["at"], h["gap"]) for h in got["history"]] == [
        ("2019-09-25", "4900000000000"),
        ("2020-03-31", "0"),
        ("2020-04-10", "4900000000000"),
    ]
    entry = timeline(stream, types={"agreement_rejected"})["events"][0]
    assert entry["payload"]["agreement_event_id"] == str(deal.event_id)
    assert entry["recorded_at"] == "2021-06-01T00:05:00.000000+00:00"
    index = index_entry(stream)
    assert index is not None
    assert index["parties"][1] == {"id": "ROK", "name": "Republic of Korea", "actor_code": None}
