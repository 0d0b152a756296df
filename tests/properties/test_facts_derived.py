"""Each fact is declared once: its input model, decoders and view row follow from the dataclass.

For every fact type in ``domain.facts.FACT_TYPES`` (the registry, no list of our own) the
input model, the payload decoders and the events-view row exist, and a random input with
every field set survives the whole path: input JSON -> input model -> fact -> stored event
(the ledger's mapper, both ways) -> events-view row (through its SQL columns) -> decoded
record, every field equal to the fact's. Inputs are drawn from the dataclass's field types
too, so a new fact type is covered the moment it is declared.

Its stored event class is derived too (``domain.negotiation.aggregate.event_class``), under a
topic that must never change: events already stored are read back by it.
"""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin, get_type_hints

import pytest
from eventsourcing.utils import get_topic, resolve_topic
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import TypeAdapter

from api.inputs import CREATE_MODELS, EventCreate, FactInput, NegotiationCreate
from api.inputs.derive import input_type
from api.inputs.facts import event_model
from domain.canonical import MAX_SAFE_INTEGER, payload_of
from domain.facts import FACT_TYPES, INPUT, Fact, described, fact_of
from domain.ledger import Ledger
from domain.negotiation import Negotiation
from domain.negotiation.aggregate import event_class
from domain.values import Quantity
from projections.rows import DECODERS, PAYLOAD_FIELDS, decoder, record_from_row
from projections.views.events import EVENT_COLUMNS, event_from, event_params, event_row

OPENED = "negotiation_opened"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
STORED_TOPICS = {
    "negotiation_opened": "domain.negotiation:Negotiation.NegotiationOpened",
    "party_joined": "domain.negotiation:Negotiation.PartyJoined",
    "term_defined": "domain.negotiation:Negotiation.TermDefined",
    "round_held": "domain.negotiation:Negotiation.RoundHeld",
    "call_held": "domain.negotiation:Negotiation.CallHeld",
    "meeting_held": "domain.negotiation:Negotiation.MeetingHeld",
    "offer_made": "domain.negotiation:Negotiation.OfferMade",
    "offer_withdrawn": "domain.negotiation:Negotiation.OfferWithdrawn",
    "offer_rejected": "domain.negotiation:Negotiation.OfferRejected",
    "statement_made": "domain.negotiation:Negotiation.StatementMade",
    "issue_raised": "domain.negotiation:Negotiation.IssueRaised",
    "issue_resolved": "domain.negotiation:Negotiation.IssueResolved",
    "agreement_reached": "domain.negotiation:Negotiation.AgreementReached",
    "agreement_rejected": "domain.negotiation:Negotiation.AgreementRejected",
    "status_changed": "domain.negotiation:Negotiation.StatusChanged",
    "exchange_rate_recorded": "domain.negotiation:Negotiation.ExchangeRateRecorded",
    "event_retracted": "domain.negotiation:Negotiation.EventRetracted",
}
"""The topic each fact type's events are stored under: written out, never derived, so that a
renamed dataclass (or a changed derivation) fails here before it orphans stored events."""
EVENTS = TypeAdapter(EventCreate)
text = st.text(st.characters(exclude_categories=("Cs",)), max_size=8)


def json_of(hint: Any, field: dataclasses.Field[Any] | None = None) -> st.SearchStrategy[Any]:
    """The JSON a client may send for a field of this domain type (every key present)."""
    args = get_args(hint)
    origin = get_origin(hint)
    if set(args) - {type(None)} == {date, datetime}:
        moments = st.dates().map(date.isoformat) | st.builds(
            lambda m, minutes: m.replace(tzinfo=timezone(timedelta(minutes=minutes))).isoformat(),
            st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)),
            st.integers(-18 * 60, 18 * 60),
        )
        return st.none() | moments if type(None) in args else moments
    if origin is Union or (origin is not None and type(None) in args):
        return st.none() | st.one_of([json_of(a, field) for a in args if a is not type(None)])
    if hint is str:
        return text
    if origin is Literal:
        return st.sampled_from(args)
    if hint is int:
        low = (field.metadata.get(INPUT, {}).get("ge") if field else None) or 0
        return st.integers(low, MAX_SAFE_INTEGER)
    if hint is Decimal:
        return st.decimals(-(10**12), 10**12, places=4).map(lambda d: format(d, "f"))
    if hint is date:
        return st.dates().map(date.isoformat)
    if origin is tuple:
        return st.lists(json_of(args[0]), max_size=2)
    if origin is dict:
        items = st.integers(-(2**53) + 1, 2**53 - 1) | text if args[1] is Any else json_of(args[1])
        return st.dictionaries(text, items, max_size=2)
    if dataclasses.is_dataclass(hint):
        hints = get_type_hints(hint)
        return st.fixed_dictionaries(
            {f.name: json_of(hints[f.name], f) for f in dataclasses.fields(hint)}
        )
    raise AssertionError(f"no strategy for {hint!r}: extend json_of")


def fact_input(fact_type: type[Fact]) -> st.SearchStrategy[dict[str, Any]]:
    hints = get_type_hints(fact_type)
    fields = {f.name: json_of(hints[f.name], f) for f in dataclasses.fields(fact_type)}
    if fact_type.TYPE != OPENED:
        fields["type"] = st.just(fact_type.TYPE)
    return st.fixed_dictionaries(fields)


def plain(value: Any) -> Any:
    """A domain value compared by what it holds: ``Decimal("1.50")`` is ``Decimal("1.5")``
    to ``==`` already; tuples and lists alike."""
    if isinstance(value, tuple | list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


@pytest.fixture(scope="module")
def ledger() -> Iterator[Ledger]:
    from api.store.store import open_ledger, parse_database_url

    made = open_ledger(parse_database_url("memory://"))
    yield made
    made.close()


@pytest.mark.parametrize("kind", sorted(FACT_TYPES))
def test_every_fact_type_has_an_input_model_decoders_and_an_event_class(kind: str) -> None:
    fact_type = FACT_TYPES[kind]
    names = [f.name for f in dataclasses.fields(fact_type)]
    model = NegotiationCreate if kind == OPENED else CREATE_MODELS[kind]

    assert model.FACT is fact_type
    expected = [*names, "parties", "terms"] if kind == OPENED else [*names, "type"]
    assert sorted(model.model_fields) == sorted(expected)
    assert {n for n in names if n != "occurred_at"} <= PAYLOAD_FIELDS
    assert kind == Negotiation.EVENT_CLASSES[kind].TYPE
    hints = get_type_hints(fact_type)
    for name in names:
        if name != "occurred_at" and decoder(hints[name]) is not None:
            assert name in DECODERS, name  # a field that needs decoding has its decoder


@pytest.mark.parametrize("kind", sorted(FACT_TYPES))
def test_every_fact_type_has_an_event_class_under_its_stored_topic(kind: str) -> None:
    fact_type = FACT_TYPES[kind]
    made = Negotiation.EVENT_CLASSES[kind]
    topic = get_topic(made)

    assert issubclass(made, fact_type)
    assert issubclass(made, Negotiation.Event)
    assert getattr(Negotiation, fact_type.__name__) is made
    assert topic == STORED_TOPICS[kind] == f"domain.negotiation:{made.__qualname__}"
    assert resolve_topic(topic) is made  # how a stored event finds its class
    names = {f.name for f in dataclasses.fields(made)}
    assert {f.name for f in dataclasses.fields(fact_type)} <= names
    assert {"event_id", "recorded_by", "prev_hash", "hash", "ledger_format"} <= names


def test_the_stored_topics_are_the_registry_and_cover_every_stored_fixture() -> None:
    assert set(STORED_TOPICS) == set(FACT_TYPES) == set(Negotiation.EVENT_CLASSES)
    stored = {
        json.loads(line)["topic"]
        for path in FIXTURES.glob("stored-topics-*.jsonl")
        for line in path.read_text(encoding="utf-8").splitlines()
        if json.loads(line)["table"] == "events"
    }
    assert stored
    assert stored <= set(STORED_TOPICS.values())


def test_the_input_models_are_the_registry_and_nothing_else() -> None:
    assert set(CREATE_MODELS) == set(FACT_TYPES) - {OPENED}
    assert all(issubclass(m, FactInput) for m in CREATE_MODELS.values())


@st.composite
def inputs(draw: st.DrawFn) -> tuple[type[Fact], dict[str, Any]]:
    fact_type = FACT_TYPES[draw(st.sampled_from(sorted(FACT_TYPES)))]
    return fact_type, draw(fact_input(fact_type))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(given_input=inputs(), position=st.integers(1, 10**9))
def test_input_to_fact_to_stored_event_to_row_keeps_every_field(
    ledger: Ledger, given_input: tuple[type[Fact], dict[str, Any]], position: int
) -> None:
    fact_type, body = given_input
    sent = json.loads(json.dumps(body))  # what arrives is JSON text

    # input -> fact
    if fact_type.TYPE == OPENED:
        fact, _, _ = NegotiationCreate.model_validate(sent).to_fact()
    else:
        fact = EVENTS.validate_python(sent).to_fact()
    assert type(fact) is fact_type
    assert fact.occurred_at.isoformat() == sent["occurred_at"]
    payload = payload_of(fact)
    assert payload == {k: v for k, v in sent.items() if k not in ("type", "occurred_at")}

    # fact -> stored event -> domain event
    event_class = Negotiation.EVENT_CLASSES[fact_type.TYPE]
    meta: dict[str, Any] = {
        "originator_id": uuid.uuid4(),
        "originator_version": 1,
        "timestamp": datetime(2026, 1, 1, tzinfo=UTC),
        "event_id": uuid.uuid4(),
        "recorded_by": "test",
        "prev_hash": "0" * 64,
        "hash": "1" * 64,
        "idempotency": None,
    }
    if fact_type.TYPE == OPENED:
        meta["originator_topic"] = "domain.negotiation:Negotiation"
    fields = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact_type)}
    stored = ledger.mapper.to_stored_event(event_class(**meta, **fields))
    event = ledger.mapper.to_domain_event(stored)
    assert payload_of(fact_of(event)) == payload  # the store may hand a tuple back as a list
    assert fact_of(event).occurred_at == fact.occurred_at

    # stored event -> view row (through its SQL columns) -> decoded record
    columns = event_params(event_row(position, "s", event))
    row = event_from(dict(zip(EVENT_COLUMNS, columns, strict=True)))
    assert row.type == fact_type.TYPE
    assert row.payload == payload
    party = getattr(fact, fact_type.PARTY_FIELD, None)
    assert row.party == (party if isinstance(party, str | None) else party.id)
    record = record_from_row(row)
    assert record.occurred_at == fact.occurred_at
    for name, value in fields.items():
        if name != "occurred_at":
            assert plain(record.fields[name]) == plain(value), name


# ------------------------------------------------------------------ a fact not yet declared


@dataclasses.dataclass(frozen=True, kw_only=True)
class ConcessionAnnounced(Fact):
    """What a new fact type is: one dataclass (and its rule, ``rules.DECIDERS``)."""

    TYPE = "concession_announced"
    party: str
    share: Decimal
    values: dict[str, Quantity]
    effective_at: date | datetime | None = None
    steps: int = dataclasses.field(default=1, metadata=described(ge=1, description="How many."))
    topics: tuple[str, ...] = ()


def test_a_new_fact_type_gets_its_input_model_and_decoders_without_a_line_elsewhere() -> None:
    model = event_model(ConcessionAnnounced)
    body = {
        "type": "concession_announced",
        "occurred_at": "2020-04-06",
        "party": "ROK",
        "share": "0.13",
        "values": {"annual_contribution": {"amount": "1389000000000", "unit": "KRW"}},
        "effective_at": "2020-04-06T20:30:00+09:00",
        "topics": ["SMA"],
    }

    fact = model.model_validate(body).to_fact()
    schema = model.model_json_schema()

    assert isinstance(fact, ConcessionAnnounced)
    assert fact.share == Decimal("0.13")
    assert fact.effective_at == datetime.fromisoformat("2020-04-06T20:30:00+09:00")
    assert schema["properties"]["steps"] == {
        "default": 1,
        "description": "How many.",
        "minimum": 1,
        "title": "Steps",
        "type": "integer",
    }
    assert schema["required"] == ["occurred_at", "type", "party", "share", "values"]
    payload = json.loads(json.dumps(payload_of_new(fact)))
    hints = get_type_hints(ConcessionAnnounced)
    decoded = {
        name: value if decode is None or value is None else decode(value)
        for name, value in payload.items()
        for decode in (decoder(hints[name]),)
    }
    assert decoded == {f: getattr(fact, f) for f in payload}
    assert input_type(hints["effective_at"]) is not None


def test_a_new_fact_type_gets_its_event_class_under_a_topic_of_its_own(ledger: Ledger) -> None:
    made = event_class(ConcessionAnnounced)
    fact = ConcessionAnnounced(
        occurred_at=date(2020, 4, 6),
        party="ROK",
        share=Decimal("0.13"),
        values={"annual_contribution": Quantity(Decimal("1389000000000"), "KRW")},
    )
    fields = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}
    event = made(
        originator_id=uuid.uuid4(),
        originator_version=2,
        timestamp=datetime(2026, 1, 1, tzinfo=UTC),
        event_id=uuid.uuid4(),
        recorded_by="test",
        prev_hash="0" * 64,
        hash="1" * 64,
        idempotency=None,
        **fields,
    )

    assert made.__qualname__ == "Negotiation.ConcessionAnnounced"
    assert made.TOPIC == "domain.negotiation:Negotiation.ConcessionAnnounced"
    assert event_class(ConcessionAnnounced).TOPIC == made.TOPIC
    assert isinstance(event, ConcessionAnnounced)
    assert isinstance(event, Negotiation.Event)
    assert fact_of_new(event) == fact
    stored = ledger.mapper.to_stored_event(event)
    assert stored.topic == made.TOPIC
    assert b'"share":' in stored.state
    assert "concession_announced" not in Negotiation.EVENT_CLASSES  # made, not declared


def fact_of_new(event: Any) -> ConcessionAnnounced:
    """``fact_of`` for a fact not in the registry (it looks the type up there)."""
    names = [f.name for f in dataclasses.fields(ConcessionAnnounced)]
    return ConcessionAnnounced(**{name: getattr(event, name) for name in names})


def payload_of_new(fact: ConcessionAnnounced) -> dict[str, Any]:
    """``payload_of`` for a fact not in the registry (it looks the type up there)."""
    from domain.canonical import to_json

    names = [f.name for f in dataclasses.fields(fact) if f.name != "occurred_at"]
    return {name: to_json(getattr(fact, name)) for name in names}
