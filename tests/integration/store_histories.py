"""Histories to store and the checks every stored stream must pass (shared by the store tests)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

from support import recomputed_hash

from domain import facts
from domain.canonical import GENESIS_HASH
from domain.ledger import Ledger, Recorded
from domain.negotiation import Negotiation
from domain.values import Delegation, Participant, Party, Quantity, Readout, Source, Term

SEOUL = timezone(timedelta(hours=9))
WASHINGTON = timezone(timedelta(hours=-4))
KATHMANDU = timezone(timedelta(hours=5, minutes=45))

PARTIES = (Party("ROK", "Republic of Korea"), Party("USA", "United States of America"))
TERMS = (
    Term("annual_contribution", "Annual contribution", "USD"),
    Term("duration", "Duration of the agreement", "years"),
    Term("increase", "Increase over the last agreement", "percent"),
)
HERALD = Source(
    "S. Korea, US close to reaching deal on defense cost",
    url="https://www.koreaherald.com/view.php?ud=20200407000776",
    publisher="The Korea Herald",
    published_on=date(2020, 4, 7),
)


def opened(slug: str, **changes: Any) -> facts.NegotiationOpened:
    fields: dict[str, Any] = {
        "slug": slug,
        "title": "Special Measures Agreement 2020-2024 — 제11차 방위비분담특별협정",
        "subject": "Cost sharing for US Forces Korea",
        "occurred_at": date(2019, 9, 24),
        "sources": (HERALD,),
        "note": "opened from the seed story",
    }
    fields.update(changes)
    return facts.NegotiationOpened(**fields)


def open_seed(ledger: Ledger, slug: str, **kw: Any) -> Recorded:
    """Opens a negotiation between ROK and USA over three terms."""
    return ledger.open_negotiation(opened(slug), PARTIES, TERMS, **kw)


def expected_opening(slug: str) -> list[facts.Fact]:
    """The facts ``open_seed`` stores, in order."""
    first = opened(slug)
    at, sources = first.occurred_at, first.sources
    return [
        first,
        *(facts.PartyJoined(party=p, occurred_at=at, sources=sources) for p in PARTIES),
        *(facts.TermDefined(term=t, occurred_at=at, sources=sources) for t in TERMS),
    ]


# Each step builds its fact from the ids of the events recorded before it.
Step = Callable[[dict[str, UUID]], facts.Fact]

EVERY_FACT_TYPE: list[tuple[str, Step]] = [
    (
        "observer",
        lambda _: facts.PartyJoined(
            party=Party("UNC", "United Nations Command"),
            occurred_at=datetime(2019, 9, 24, 8, 15, tzinfo=WASHINGTON),
            note="joins as an observer",
        ),
    ),
    (
        "troops",
        lambda _: facts.TermDefined(
            term=Term("troops", "Troop level", "count"),
            occurred_at=date(2019, 9, 24),
            sources=(Source("Troop figures"),),
        ),
    ),
    (
        "round1",
        lambda _: facts.RoundHeld(
            number=1,
            occurred_at=datetime(2019, 9, 24, 10, 0, tzinfo=SEOUL),
            ended_at=datetime(2019, 9, 25, 18, 30, 15, 250, tzinfo=SEOUL),
            location="Seoul",
            delegations=(
                Delegation("ROK", "Jeong Eun-bo 정은보", ("Lee", "Kim")),
                Delegation("USA", "James DeHart"),
            ),
            outcome="no agreement",
        ),
    ),
    (
        "usa_demand",
        lambda _: facts.OfferMade(
            party="USA",
            kind="demand",
            values={
                "annual_contribution": Quantity(Decimal("5000000000"), "USD"),
                "increase": Quantity(Decimal("400.00"), "percent"),
                "duration": Quantity(Decimal("1"), "years"),
            },
            conditions="all costs of stationing",
            occurred_at=date(2019, 11, 18),
        ),
    ),
    (
        "rok_offer",
        lambda _: facts.OfferMade(
            party="ROK",
            kind="offer",
            values={
                "annual_contribution": Quantity(Decimal("1389000000000.05"), "KRW"),
                "increase": Quantity(Decimal("0.000000000000000001"), "percent"),
            },
            occurred_at=datetime(2019, 12, 3, 9, 0, tzinfo=KATHMANDU),
        ),
    ),
    (
        "usa_rejects",
        lambda ids: facts.OfferRejected(
            party="USA",
            offer_event_id=str(ids["rok_offer"]),
            occurred_at=date(2019, 12, 4),
        ),
    ),
    (
        "rok_counter",
        lambda _: facts.OfferMade(
            party="ROK",
            kind="counteroffer",
            values={"increase": Quantity(Decimal("13"), "percent")},
            occurred_at=date(2020, 3, 31),
        ),
    ),
    (
        "rok_withdraws",
        lambda ids: facts.OfferWithdrawn(
            party="ROK",
            offer_event_id=str(ids["rok_counter"]),
            occurred_at=datetime(2020, 4, 11, 23, 59, 59, 999999, tzinfo=SEOUL),
        ),
    ),
    (
        "call",
        lambda _: facts.CallHeld(
            channel="phone",
            initiated_by="USA",
            participants=(
                Participant("USA", "Donald Trump", "President"),
                Participant("ROK", "Moon Jae-in"),
            ),
            duration_minutes=35,
            topics=("defense cost", "COVID-19 test kits"),
            readouts=(
                Readout("ROK", "discussed cooperation", (HERALD,)),
                Readout("USA", "thanked for test kits"),
            ),
            occurred_at=datetime(2020, 3, 24, 22, 0, tzinfo=SEOUL),
        ),
    ),
    (
        "meeting",
        lambda _: facts.MeetingHeld(
            location="Los Angeles",
            participants=(Participant("ROK", "Jeong Eun-bo", "chief negotiator"),),
            topics=("furloughs",),
            readouts=(Readout("ROK", "narrowed differences"),),
            occurred_at=date(2020, 3, 17),
        ),
    ),
    (
        "statement",
        lambda _: facts.StatementMade(
            party="USA",
            speaker="Mark Esper",
            summary="Korea should pay more",
            occurred_at=datetime(2020, 4, 6, 20, 30, tzinfo=SEOUL),
        ),
    ),
    (
        "furlough",
        lambda _: facts.IssueRaised(
            issue_id="furlough",
            title="Furlough of Korean workers",
            raised_by="ROK",
            details={
                "workers": 4000,
                "share": Decimal("0.50"),
                "nested": {"flags": [True, None, "x"], "pair": (1, 2)},
            },
            occurred_at=date(2020, 4, 1),
        ),
    ),
    (
        "furlough_resolved",
        lambda _: facts.IssueResolved(
            issue_id="furlough",
            resolution="labour costs paid first",
            occurred_at=date(2020, 6, 2),
        ),
    ),
    (
        "rate",
        lambda _: facts.ExchangeRateRecorded(
            base="USD",
            quote="KRW",
            rate=Decimal("1219.5000"),
            occurred_at=date(2020, 4, 7),
        ),
    ),
    (
        "tentative",
        lambda _: facts.AgreementReached(
            status="tentative",
            values={"increase": Quantity(Decimal("13"), "percent")},
            occurred_at=date(2020, 4, 7),
        ),
    ),
    (
        "trump_rejects",
        lambda ids: facts.AgreementRejected(
            party="USA",
            agreement_event_id=str(ids["tentative"]),
            reason="not enough",
            occurred_at=date(2020, 4, 10),
        ),
    ),
    (
        "suspended",
        lambda _: facts.StatusChanged(
            status="suspended", reason="talks stalled", occurred_at=date(2020, 5, 1)
        ),
    ),
    (
        "retraction",
        lambda ids: facts.EventRetracted(
            retracted_event_id=str(ids["statement"]),
            reason="misattributed",
            occurred_at=date(2020, 5, 2),
        ),
    ),
]


def record_every_fact_type(
    ledger: Ledger, slug: str, tick: Callable[[], object] = lambda: None
) -> tuple[list[facts.Fact], list[Recorded]]:
    """Opens ``slug`` and records one event of each type; returns the facts and the answers."""
    answers = [open_seed(ledger, slug)]
    stored = expected_opening(slug)
    ids: dict[str, UUID] = {}
    for name, step in EVERY_FACT_TYPE:
        tick()
        fact = step(ids)
        answer = ledger.record(slug, [fact], recorded_by=f"clerk-{name}")
        ids[name] = answer.events[0].event_id
        answers.append(answer)
        stored.append(fact)
    return stored, answers


def statements(count: int, label: str, start: int = 0) -> list[facts.StatementMade]:
    """``count`` distinct statements, for appending many events quickly."""
    return [
        facts.StatementMade(
            party="ROK",
            speaker=label,
            summary=f"{label} statement {start + i}",
            occurred_at=date(2020, 1, 1) + timedelta(days=(start + i) % 300),
        )
        for i in range(count)
    ]


def shape(value: Any) -> Any:
    """A value with its types spelled out, so that equal shapes mean equal values and types.

    Datetimes keep their offset, decimals their exponent; tuples and lists are alike (storage
    returns sequences as lists).
    """
    if isinstance(value, datetime):
        return ("datetime", value.isoformat())
    if isinstance(value, date):
        return ("date", value.isoformat())
    if isinstance(value, Decimal):
        return ("decimal", str(value))
    if isinstance(value, UUID):
        return ("uuid", str(value))
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return (
            type(value).__name__,
            {f.name: shape(getattr(value, f.name)) for f in dataclasses.fields(value)},
        )
    if isinstance(value, dict):
        return ("dict", {shape(k): shape(v) for k, v in value.items()})
    if isinstance(value, list | tuple):
        return ("sequence", [shape(v) for v in value])
    if value is None or isinstance(value, bool | int | str):
        return (type(value).__name__, value)
    msg = f"no shape for {type(value).__name__}"
    raise TypeError(msg)


def check_chain(ledger: Ledger, slug: str) -> list[Negotiation.Event]:
    """Asserts the stream is versions 1..N with an intact hash chain; returns its events."""
    events = ledger.stream(slug)
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    prev = GENESIS_HASH
    for e in events:
        assert e.prev_hash == prev, f"version {e.originator_version} does not chain"
        assert e.hash == recomputed_hash(e, slug), f"version {e.originator_version} was altered"
        prev = e.hash
    return events


def event_ids(answers: Iterable[Recorded]) -> list[UUID]:
    return [e.event_id for a in answers for e in a.events]


def state(neg: Negotiation) -> dict[str, Any]:
    """An aggregate's whole state, for comparing a replayed one with a live one."""
    return dict(vars(neg))


def replay(events: Sequence[Negotiation.Event]) -> dict[str, Any]:
    """The state folded from stored events alone, without snapshots or caches."""
    neg: Negotiation | None = None
    for e in events:
        neg = e.mutate(neg)
    assert neg is not None
    return state(neg)
