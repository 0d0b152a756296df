"""Every PLOVER record of any history validates against the PLOVER 2.0 JSON Schema in tests/.

Random negotiations (parties with and without actor codes, calls, meetings and rounds of any
size, offers, rejections, agreements, retractions, sources or none) are recorded; every record
of their PLOVER export must validate, and keep the codings the export promises.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import jsonschema
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support import memory_ledger

from api.services.plover import plover_export
from domain import errors, facts
from domain.ledger import Ledger
from domain.values import Delegation, Participant, Party, Quantity, Readout, Source, Term

SCHEMA = jsonschema.Draft202012Validator(
    json.loads(
        (Path(__file__).parents[1] / "schemas" / "plover-2.0-record.schema.json").read_text()
    )
)
SLUG = "plover-random"
PARTIES = {
    "USA": ("United States", [None, "USA GOV", "USA MIL"]),
    "ROK": ("Republic of Korea", [None, "KOR GOV"]),
    "FKTU": ("Federation of Korean Trade Unions", [None, "KOR LAB"]),
    "AMCHAM": ("American Chamber of Commerce in Korea", [None, "USA BUS"]),
}
START = date(2019, 1, 1)

sources = st.lists(
    st.builds(
        Source,
        title=st.sampled_from(["Korea Herald report", "Yonhap", "“Quoted” title\u2028second line"]),
        url=st.none() | st.just("https://example.org/a"),
        publisher=st.none() | st.sampled_from(["The Korea Herald", "Yonhap"]),
        published_on=st.none() | st.just(date(2020, 4, 7)),
    ),
    max_size=3,
).map(tuple)
moments = st.integers(0, 400).map(lambda d: START + timedelta(days=d)) | st.integers(0, 400).map(
    lambda d: datetime(2019, 1, 1, 9, 30, tzinfo=UTC) + timedelta(days=d)
)


@st.composite
def histories(draw: st.DrawFn) -> tuple[list[Party], list[Any]]:
    chosen = draw(st.lists(st.sampled_from(sorted(PARTIES)), min_size=2, max_size=4, unique=True))
    parties = [Party(p, PARTIES[p][0], draw(st.sampled_from(PARTIES[p][1]))) for p in chosen]
    steps = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["call", "meeting", "round", "offer", "reject", "agree", "refuse", "retract"]
                ),
                st.lists(st.sampled_from(chosen), max_size=4, unique=True),
                moments,
                sources,
                st.integers(0, 10_000),
            ),
            min_size=1,
            max_size=10,
        )
    )
    return parties, steps


def fact_for(step: tuple[Any, ...], recorded: list[tuple[str, str]], number: int) -> Any:
    kind, who, when, cited, pick = step
    common: dict[str, Any] = {"occurred_at": when, "sources": cited}
    people = tuple(
        Participant(p, f"{p} envoy", "negotiator" if i else None) for i, p in enumerate(who)
    )
    amount = {"annual_contribution": Quantity(Decimal(1000 + pick), "USD")}
    offers = [i for t, i in recorded if t == "offer_made"]
    deals = [i for t, i in recorded if t == "agreement_reached"]
    first = who[0] if who else "USA"
    if kind == "call":
        return facts.CallHeld(
            channel="phone",
            initiated_by=who[0] if who and pick % 2 else None,
            participants=people,
            readouts=tuple(Readout(p, "readout") for p in who[:1]),
            **common,
        )
    if kind == "meeting":
        return facts.MeetingHeld(location="Seoul", participants=people, **common)
    if kind == "round":
        return facts.RoundHeld(
            number=number, delegations=tuple(Delegation(p, f"{p} lead") for p in who), **common
        )
    if kind == "offer":
        kinds = ["offer", "demand", "counteroffer", "final_offer"]
        return facts.OfferMade(party=first, kind=kinds[pick % 4], values=amount, **common)
    if kind == "reject" and offers:
        return facts.OfferRejected(party=first, offer_event_id=offers[pick % len(offers)], **common)
    if kind == "agree":
        statuses = ["tentative", "initialed", "signed", "ratified"]
        return facts.AgreementReached(status=statuses[pick % 4], values=amount, **common)
    if kind == "refuse" and deals:
        return facts.AgreementRejected(
            party=first, agreement_event_id=deals[pick % len(deals)], **common
        )
    if kind == "retract" and recorded:
        return facts.EventRetracted(
            retracted_event_id=recorded[pick % len(recorded)][1], reason="wrong", **common
        )
    return None


def record_history(parties: list[Party], steps: list[Any]) -> Ledger:
    ledger = memory_ledger(lambda: datetime(2021, 6, 1, tzinfo=UTC))
    ledger.open_negotiation(
        facts.NegotiationOpened(slug=SLUG, title="Random", occurred_at=START),
        parties,
        [Term("annual_contribution", "Annual contribution", "USD")],
    )
    recorded: list[tuple[str, str]] = []
    for number, step in enumerate(steps, start=1):
        fact = fact_for(step, recorded, number)
        if fact is None:
            continue
        try:
            answer = ledger.record(SLUG, [fact])
        except errors.ParleyError:
            continue
        recorded.append((fact.TYPE, str(answer.events[0].event_id)))
    return ledger


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(histories())
def test_every_plover_record_of_any_history_is_valid_plover(
    history: tuple[list[Party], list[Any]],
) -> None:
    parties, steps = history
    ledger = record_history(parties, steps)
    try:
        export = plover_export(ledger, SLUG)
        records = list(export.items)
        version = ledger.get(SLUG).version
    finally:
        ledger.close()

    codes = {p.actor_code for p in parties if p.actor_code} | {"USA GOV"}
    for record in records:
        problems = [e.message for e in SCHEMA.iter_errors(record)]
        assert not problems, (record, problems)
        # Parley records no host: no meeting claims a visit or a third party's hosting.
        assert not {"visit", "third-party"} & set(record.get("mode", []))
        if record["parley"]["type"] == "round_held":
            assert "recipient" not in record
            assert "mode" not in record
        for actor in [*record["actor"], *record.get("recipient", [])]:
            assert actor.get("code", "USA GOV") in codes
    assert len(records) == export.records
    assert export.records + sum(export.left_out.values()) == version
