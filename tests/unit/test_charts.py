"""The chart data builder: the dance of one term, folded from records with a fixed clock."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from api.render.charts import UnknownTerm, moment_of
from api.render.dance_fold import dance
from domain import facts
from domain.values import Party, Quantity, Source, Term, sort_key
from projections.gaps import gaps
from projections.records import Stream, rebuild, record_from_fact

TODAY = date(2021, 6, 1)
RECORDED_AT = datetime(2021, 6, 1, tzinfo=UTC)
TERM = Term("annual", "Annual contribution", "KRW")
OTHER = Term("years", "Duration", "years")
HERALD = Source("Talks stall", "https://example.org/a", "The Herald", date(2020, 4, 7))


def krw(amount: str) -> dict[str, Quantity]:
    return {"annual": Quantity(Decimal(amount), "KRW")}


def setup() -> list[tuple[str, facts.Fact]]:
    return [
        ("open", facts.NegotiationOpened(occurred_at="2019-09-01", slug="sma", title="SMA talks")),
        ("usa", facts.PartyJoined(occurred_at="2019-09-01", party=Party("USA", "United States"))),
        ("rok", facts.PartyJoined(occurred_at="2019-09-01", party=Party("ROK", "Korea"))),
        ("term", facts.TermDefined(occurred_at="2019-09-01", term=TERM)),
        ("term2", facts.TermDefined(occurred_at="2019-09-01", term=OTHER)),
        (
            "rate",
            facts.ExchangeRateRecorded(
                occurred_at="2019-09-01", base="USD", quote="KRW", rate=Decimal("1200")
            ),
        ),
    ]


def stream(*events: tuple[str, facts.Fact]) -> Stream:
    records = [
        record_from_fact(fact, event_id=event_id, version=version, recorded_at=RECORDED_AT)
        for version, (event_id, fact) in enumerate([*setup(), *events], start=1)
    ]
    return rebuild(records)


def offer(party: str, day: str, values: dict[str, Quantity], kind: str = "offer") -> facts.Fact:
    return facts.OfferMade(
        occurred_at=day, party=party, kind=kind, values=values, sources=(HERALD,)
    )  # type: ignore[arg-type]


SMA = (
    ("o1", offer("ROK", "2019-09-24", krw("1000"))),
    # Recorded before the ROK offer it follows in the world: the dance follows occurred_at.
    ("o3", offer("ROK", "2020-03-31", krw("1100"), "counteroffer")),
    ("o2", offer("USA", "2019-11-19", {"annual": Quantity(Decimal("5"), "USD")}, "demand")),
    ("o4", offer("USA", "2020-05-11", krw("1300"), "counteroffer")),
)


def test_each_party_steps_through_its_positions_in_occurred_order() -> None:
    chart = dance(stream(*SMA), today=TODAY)
    steps = {
        s.party: [(s_.at.date().isoformat(), s_.amount) for s_ in s.steps] for s in chart.series
    }
    assert steps == {
        "USA": [("2019-11-19", Decimal("6000")), ("2020-05-11", Decimal("1300"))],
        "ROK": [("2019-09-24", Decimal("1000")), ("2020-03-31", Decimal("1100"))],
    }
    assert [s.name for s in chart.series] == ["United States", "Korea"]
    assert chart.series[0].color != chart.series[1].color


def test_every_offer_carrying_the_term_is_a_point_with_the_amount_as_stated() -> None:
    chart = dance(
        stream(*SMA, ("o5", offer("USA", "2020-06-01", {"years": Quantity(Decimal(5), "years")}))),
        today=TODAY,
    )
    points = {o.event_id: o for o in chart.offers}
    assert sorted(points) == ["o1", "o2", "o3", "o4"]  # o5 says nothing about this term
    demand = points["o2"]
    assert (demand.kind, demand.party, demand.amount) == ("demand", "USA", Decimal("6000"))
    assert demand.original == Quantity(Decimal("5"), "USD")
    assert demand.at == datetime(2019, 11, 19)
    assert demand.sources[0]["url"] == "https://example.org/a"
    assert chart.to_json()["offers"][1]["original_text"] == "5 USD"


def test_a_retracted_offer_is_no_point_and_no_step() -> None:
    retraction = facts.EventRetracted(occurred_at="2020-06-01", retracted_event_id="o4", reason="x")
    chart = dance(stream(*SMA, ("r", retraction)), today=TODAY)
    assert "o4" not in {o.event_id for o in chart.offers}
    usa = next(s for s in chart.series if s.party == "USA")
    assert [s.amount for s in usa.steps] == [Decimal("6000")]


def test_a_withdrawn_offer_stays_a_point_and_its_line_falls_back() -> None:
    withdrawal = facts.OfferWithdrawn(occurred_at="2020-06-01", party="USA", offer_event_id="o4")
    chart = dance(stream(*SMA, ("w", withdrawal)), today=TODAY)
    assert next(o for o in chart.offers if o.event_id == "o4").withdrawn
    usa = next(s for s in chart.series if s.party == "USA")
    assert [s.amount for s in usa.steps] == [Decimal("6000"), Decimal("1300"), Decimal("6000")]
    [marker] = [m for m in chart.markers if m.kind == "offer_withdrawn"]
    assert (marker.at, marker.amount, marker.target) == (
        datetime(2020, 6, 1),
        Decimal("1300"),
        "o4",
    )


def test_agreements_and_their_rejection_are_marked_at_the_agreed_amount() -> None:
    deal = facts.AgreementReached(occurred_at="2020-04-01", status="tentative", values=krw("1150"))
    no = facts.AgreementRejected(
        occurred_at="2020-04-20", party="USA", agreement_event_id="deal", reason="too little"
    )
    chart = dance(stream(*SMA, ("deal", deal), ("no", no)), today=TODAY)
    kinds = {m.kind: m for m in chart.markers}
    assert kinds["agreement"].amount == Decimal("1150")
    assert kinds["agreement"].rejected
    assert kinds["agreement"].label.startswith("tentative agreement")
    assert kinds["agreement_rejected"].amount == Decimal("1150")
    assert kinds["agreement_rejected"].at == datetime(2020, 4, 20)
    assert "too little" in kinds["agreement_rejected"].label
    before = dance(stream(*SMA, ("deal", deal), ("no", no)), as_of="2020-04-07", today=TODAY)
    assert not next(m for m in before.markers if m.kind == "agreement").rejected


def test_the_midpoint_and_gap_follow_the_pair_history_with_the_gaps_metrics() -> None:
    s = stream(*SMA)
    chart = dance(s, today=TODAY)
    assert chart.pair == ("USA", "ROK")
    assert [(g.at.date().isoformat(), g.gap, g.midpoint) for g in chart.gaps] == [
        ("2019-11-19", Decimal("5000"), Decimal("3500")),
        ("2020-03-31", Decimal("4900"), Decimal("3550")),
        ("2020-05-11", Decimal("200"), Decimal("1200")),
    ]
    pair = gaps(s, today=TODAY)["terms"][0]["pairs"][0]
    assert chart.current_gap == Decimal(pair["gap"])
    assert chart.closed_share == Decimal(pair["closed_share"])
    assert chart.forecast == date.fromisoformat(pair["forecast"])
    assert chart.gap_open


def test_as_of_shows_only_what_had_happened_by_then() -> None:
    chart = dance(stream(*SMA), as_of="2020-01-01", today=TODAY)
    assert sorted(o.event_id for o in chart.offers) == ["o1", "o2"]
    assert chart.as_of == "2020-01-01"
    assert chart.x_range[1] >= moment_of(sort_key(date(2020, 1, 1)))
    assert chart.forecast is None


def test_another_term_can_be_charted_and_an_unknown_one_is_refused() -> None:
    years = ("o5", offer("USA", "2020-06-01", {"years": Quantity(Decimal(5), "years")}))
    chart = dance(stream(*SMA, years), term="years", today=TODAY)
    assert chart.term == OTHER
    assert [o.event_id for o in chart.offers] == ["o5"]
    assert chart.scale == 1
    assert chart.y_title == "years"
    with pytest.raises(UnknownTerm, match="nope"):
        dance(stream(*SMA), term="nope", today=TODAY)


def test_large_money_amounts_get_a_readable_scale_and_the_range_holds_every_point() -> None:
    big = (
        ("b1", offer("ROK", "2019-09-24", krw("1040000000000"))),
        ("b2", offer("USA", "2019-11-19", krw("6117650000000"))),
    )
    chart = dance(stream(*big), today=TODAY)
    assert (chart.scale, chart.y_title) == (Decimal(10) ** 12, "KRW, trillions")
    low, high = chart.y_range
    assert low <= Decimal("1040000000000")
    assert Decimal("6117650000000") <= high
    assert chart.x_range[0] < datetime(2019, 9, 24)
    assert datetime(2019, 11, 19) < chart.x_range[1]


def test_chart_json_writes_decimals_as_strings() -> None:
    document = dance(stream(*SMA), today=TODAY).to_json()
    assert document["offers"][0]["amount"] == "1000"
    assert document["series"][0]["steps"][0] == {
        "x": "2019-11-19 00:00:00",
        "amount": "6000",
        "event_id": "o2",
        "occurred_at": "2019-11-19",
    }
    assert document["gaps"][-1]["gap"] == "200"
    assert document["term"] == {"id": "annual", "name": "Annual contribution", "unit": "KRW"}
