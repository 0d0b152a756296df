"""Properties of the read-model folds over generated, valid negotiation histories.

Histories are hand-built records (fast); ``test_projection_views`` proves the folds accept
real stored events. Every generated event occurs on its own day, so that "ties keep
recording order" never makes the order of recording matter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import facts
from domain.values import Party, Quantity, Term, parse_occurred_at, sort_key
from projections.gaps import gaps
from projections.positions import positions
from projections.records import Record, Stream, fold, rebuild, record_from_fact
from projections.timeline import timeline

START = date(2019, 9, 1)
TODAY = date(2021, 1, 1)
TERMS = (Term("annual", "Annual contribution", "USD"), Term("won", "Won share", "KRW"))
RECORDED_AT = datetime(2021, 1, 1, tzinfo=UTC)
SETTINGS = settings(max_examples=60, deadline=None)


@dataclass(frozen=True)
class World:
    """A valid history: setup facts, then generated facts in the order they were created."""

    setup: tuple[facts.Fact, ...]
    events: tuple[facts.Fact, ...]

    def records(self, order: list[int] | None = None, extra: tuple[facts.Fact, ...] = ()) -> Stream:
        """Records the setup, then the events in ``order`` (indices), then ``extra``."""
        order = list(range(len(self.events))) if order is None else order
        stream: list[Record] = []
        plan = [(f"s{i}", f) for i, f in enumerate(self.setup)]
        plan += [(f"x{i}", self.events[i]) for i in order]
        plan += [(f"x{len(self.events) + i}", f) for i, f in enumerate(extra)]
        for version, (event_id, fact) in enumerate(plan, start=1):
            stream.append(
                record_from_fact(fact, event_id=event_id, version=version, recorded_at=RECORDED_AT)
            )
        return rebuild(stream)


amounts = st.builds(
    lambda units, cents: Decimal(units) + Decimal(cents) / 100,
    st.integers(0, 2000),
    st.sampled_from([0, 0, 50, 25]),
)


@st.composite
def worlds(draw: st.DrawFn) -> World:
    parties = ["USA", "ROK"] + (["JPN"] if draw(st.booleans()) else [])
    opened = START.isoformat()
    setup: list[facts.Fact] = [facts.NegotiationOpened(slug="p", title="P", occurred_at=opened)]
    setup += [facts.PartyJoined(party=Party(p, p), occurred_at=opened) for p in parties]
    setup += [facts.TermDefined(term=t, occurred_at=opened) for t in TERMS]
    if draw(st.booleans()):
        rate = facts.ExchangeRateRecorded(
            base="USD", quote="KRW", rate=Decimal("1100"), occurred_at=opened
        )
        setup.append(rate)
    count = draw(st.integers(1, 14))
    days = sorted(draw(st.lists(st.integers(1, 600), min_size=count, max_size=count, unique=True)))
    events: list[facts.Fact] = []
    offers: dict[int, str] = {}  # index -> party, for offers not yet withdrawn
    agreements: set[int] = set()
    rounds = 0
    retracted: set[int] = set()
    for day in days:
        at = (START + timedelta(days=day)).isoformat()
        kinds = ["offer", "offer", "offer", "agreement", "round", "rate"]
        kinds += ["withdraw"] * bool(offers) + ["reject"] * bool(agreements)
        kinds += ["retract"] * bool(set(range(len(events))) - retracted)
        kind = draw(st.sampled_from(kinds))
        fact: facts.Fact
        if kind == "offer":
            party = draw(st.sampled_from(parties))
            values = {}
            if draw(st.booleans()):
                values["annual"] = Quantity(draw(amounts), "USD")
            if draw(st.booleans()):
                values["won"] = Quantity(
                    draw(amounts), draw(st.sampled_from(["KRW", "KRW", "USD"]))
                )
            fact = facts.OfferMade(party=party, kind="offer", values=values, occurred_at=at)
            offers[len(events)] = party
        elif kind == "agreement":
            values = {"annual": Quantity(draw(amounts), "USD")}
            fact = facts.AgreementReached(status="tentative", values=values, occurred_at=at)
            agreements.add(len(events))
        elif kind == "round":
            rounds += 1
            fact = facts.RoundHeld(number=rounds, occurred_at=at)
        elif kind == "rate":
            base, quote = draw(st.sampled_from([("USD", "KRW"), ("KRW", "USD")]))
            rate = draw(st.sampled_from(["1200", "1150.5", "0.0008", "0.00085"]))
            fact = facts.ExchangeRateRecorded(
                base=base, quote=quote, rate=Decimal(rate), occurred_at=at
            )
        elif kind == "withdraw":
            target = draw(st.sampled_from(sorted(offers)))
            fact = facts.OfferWithdrawn(
                party=offers.pop(target), offer_event_id=f"x{target}", occurred_at=at
            )
        elif kind == "reject":
            target = draw(st.sampled_from(sorted(agreements)))
            agreements.discard(target)
            fact = facts.AgreementRejected(
                party=draw(st.sampled_from(parties)),
                agreement_event_id=f"x{target}",
                occurred_at=at,
            )
        else:
            candidates = sorted(
                i
                for i in set(range(len(events))) - retracted
                if events[i].TYPE != "event_retracted"
            )
            if not candidates:
                continue
            target = draw(st.sampled_from(candidates))
            retracted.add(target)
            fact = facts.EventRetracted(
                retracted_event_id=f"x{target}", reason="wrong", occurred_at=at
            )
        events.append(fact)
    return World(tuple(setup), tuple(events))


@st.composite
def extra_events(draw: st.DrawFn, world: World) -> facts.Fact:
    """One more valid event, on a day of its own, that no other event refers to."""
    taken = {sort_key(parse_occurred_at(f.occurred_at)) for f in world.events}
    day = draw(
        st.integers(1, 600).filter(lambda d: sort_key(START + timedelta(days=d)) not in taken)
    )
    at = (START + timedelta(days=day)).isoformat()
    kind = draw(st.sampled_from(["offer", "agreement", "rate", "withdraw"]))
    offers = [(i, f) for i, f in enumerate(world.events) if isinstance(f, facts.OfferMade)]
    if kind == "withdraw" and offers:
        index, offer = draw(st.sampled_from(offers))
        return facts.OfferWithdrawn(party=offer.party, offer_event_id=f"x{index}", occurred_at=at)
    if kind == "agreement":
        values = {"annual": Quantity(draw(amounts), "USD")}
        return facts.AgreementReached(status="signed", values=values, occurred_at=at)
    if kind == "rate":
        return facts.ExchangeRateRecorded(
            base="USD",
            quote="KRW",
            rate=draw(st.sampled_from([Decimal(1000), Decimal(1300)])),
            occurred_at=at,
        )
    values = {
        "annual": Quantity(draw(amounts), "USD"),
        "won": Quantity(draw(amounts), draw(st.sampled_from(["KRW", "USD"]))),
    }
    return facts.OfferMade(party="USA", kind="offer", values=values, occurred_at=at)


def views(stream: Stream, as_of: str | None = None) -> dict[str, Any]:
    return {
        "positions": positions(stream, as_of=as_of),
        "gaps": gaps(stream, as_of=as_of, today=TODAY),
    }


def as_of_days() -> st.SearchStrategy[str | None]:
    return st.none() | st.integers(0, 620).map(lambda d: (START + timedelta(days=d)).isoformat())


@SETTINGS
@given(data=st.data(), world=worlds(), as_of=as_of_days())
def test_views_do_not_depend_on_the_order_events_were_recorded_in(
    data: st.DataObject, world: World, as_of: str | None
) -> None:
    order = data.draw(st.permutations(range(len(world.events))))
    shuffled, recorded = world.records(list(order)), world.records()
    assert views(shuffled, as_of) == views(recorded, as_of)

    def without_versions(stream: Stream) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = timeline(stream, as_of=as_of)["events"]
        return [{k: v for k, v in e.items() if k != "version"} for e in events]

    assert without_versions(shuffled) == without_versions(recorded)


@SETTINGS
@given(data=st.data(), world=worlds())
def test_folding_events_as_they_arrive_equals_rebuilding_from_zero(
    data: st.DataObject, world: World
) -> None:
    rebuilt = world.records()
    arrivals = data.draw(st.permutations(rebuilt.records))
    state = None
    for record in arrivals:
        state = fold(state, record)
    assert state == rebuilt


@SETTINGS
@given(data=st.data(), world=worlds(), as_of=as_of_days())
def test_recording_then_retracting_an_event_equals_never_recording_it(
    data: st.DataObject, world: World, as_of: str | None
) -> None:
    extra = data.draw(extra_events(world))
    retraction = facts.EventRetracted(
        retracted_event_id=f"x{len(world.events)}", reason="wrong", occurred_at="2019-09-02"
    )
    assert views(world.records(extra=(extra, retraction)), as_of) == views(world.records(), as_of)


def _moment(at: str) -> str:
    return sort_key(parse_occurred_at(at))


@SETTINGS
@given(world=worlds(), as_of=as_of_days())
def test_gaps_are_never_negative_closed_share_at_most_one_history_in_time_order(
    world: World, as_of: str | None
) -> None:
    for term in gaps(world.records(), as_of=as_of, today=TODAY)["terms"]:
        for pair in term["pairs"]:
            if pair["gap"] is not None:
                assert Decimal(pair["gap"]) >= 0
                assert Decimal(pair["initial_gap"]) >= 0
                assert pair["reason"] is None
            else:
                assert pair["reason"]
            if pair["closed_share"] is not None:
                assert Decimal(pair["closed_share"]) <= 1
            moments = [_moment(h["at"]) for h in pair["history"]]
            assert moments == sorted(moments)
            assert len(set(moments)) == len(moments)
            assert all(Decimal(h["gap"]) >= 0 for h in pair["history"])


@SETTINGS
@given(world=worlds(), as_of=as_of_days())
def test_a_pairs_metrics_are_symmetric_in_its_two_parties(world: World, as_of: str | None) -> None:
    # The parties joined at the same moment: recording them the other way round swaps
    # the pair's order and nothing else.
    setup = list(world.setup)
    setup[1], setup[2] = setup[2], setup[1]
    swapped = World(tuple(setup), world.events)
    straight = gaps(world.records(), as_of=as_of, today=TODAY)["terms"]
    reverse = gaps(swapped.records(), as_of=as_of, today=TODAY)["terms"]
    for term, other in zip(straight, reverse, strict=True):
        first, mirrored = term["pairs"][0], other["pairs"][0]
        assert mirrored["parties"] == first["parties"][::-1]
        for key in (
            "positions",
            "gap",
            "midpoint",
            "relative_gap",
            "ratio",
            "initial_gap",
            "initial_at",
            "closed_share",
            "concessions",
            "days_since_last_move",
            "rounds_since_last_move",
            "history",
            "forecast",
        ):
            assert mirrored[key] == first[key], key
