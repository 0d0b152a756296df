"""The domain's fast paths answer what the slow code they replaced answered.

Recording an event hashes its canonical document, builds its keyword arguments, encodes its
values and copies the cached aggregate; each of these skipped a generic step (an isinstance
chain, ``dataclasses.fields``) for the types it knows. The slow versions are written out here
as they were, and every fast path is compared with its slow version on drawn values,
subclasses and unknown types included.
"""

from __future__ import annotations

import copy
import dataclasses
import uuid
from collections import OrderedDict
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta, timezone
from decimal import Decimal
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from support import sma_book

from domain import errors, facts
from domain.canonical import FACT_COMMON_FIELDS, fact_fields, payload_of, to_json
from domain.ledger.snapshots import snapshot_due, snapshot_spacing
from domain.negotiation import Negotiation
from domain.negotiation.checks import checked_common
from domain.negotiation.recording import EventMeta, event_kwargs
from domain.negotiation.state import Entry, Ref, _reference_names
from domain.transcodings import ValueAsDict
from domain.values import (
    VALUE_TYPES,
    Delegation,
    Participant,
    Party,
    Quantity,
    Readout,
    Source,
    Term,
    sort_key,
    to_amount,
)


def slow_to_json(value: Any) -> Any:
    """``to_json`` as the isinstance chain it was."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: slow_to_json(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): slow_to_json(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [slow_to_json(v) for v in value]
    msg = f"no canonical JSON form for {type(value).__name__}"
    raise TypeError(msg)


def slow_fact_fields(fact_type: type[facts.Fact]) -> tuple[str, ...]:
    own = [f.name for f in dataclasses.fields(fact_type) if f.name not in FACT_COMMON_FIELDS]
    base = {f.name for f in dataclasses.fields(facts.Fact)}
    return tuple(name for name in own if name not in base)


def slow_payload_of(fact: facts.Fact) -> dict[str, Any]:
    """``payload_of`` in format 2, as it was."""
    names = [f.name for f in dataclasses.fields(facts.Fact) if f.name != "occurred_at"]
    names += slow_fact_fields(facts.FACT_TYPES[fact.TYPE])
    return {name: slow_to_json(getattr(fact, name)) for name in names}


def slow_event_kwargs(fact: facts.Fact, meta: EventMeta) -> dict[str, Any]:
    kwargs = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}
    kwargs.update({f.name: getattr(meta, f.name) for f in dataclasses.fields(meta)})
    kwargs["timestamp"] = kwargs.pop("recorded_at")
    return kwargs


def slow_snapshot_due(before: int, after: int) -> bool:
    return any(v % snapshot_spacing(v) == 0 for v in range(before + 1, after + 1))


# ------------------------------------------------------------------ values


class Text(str):
    """A str subclass: the fast path knows exact types only."""


class Count(int):
    pass


class Amount(Decimal):
    pass


class Day(date):
    pass


class Items(list[Any]):
    pass


class Table(dict[str, Any]):
    pass


@dataclasses.dataclass(frozen=True)
class Pair:
    """A dataclass the ledger has never met."""

    left: Any
    right: Any = None


@dataclasses.dataclass(frozen=True)
class CountedPair(int):
    """A dataclass that is an int: the chain answers with the int, not the fields."""

    label: str = "x"


text = st.text(st.characters(exclude_categories=("Cs",)), max_size=6)
decimals = st.decimals(allow_nan=False, allow_infinity=False, places=4) | st.decimals(
    allow_nan=False, allow_infinity=False
)
moments = st.datetimes(timezones=st.sampled_from([UTC, timezone(timedelta(hours=9))]))
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    text,
    decimals,
    st.dates(),
    moments,
    st.datetimes(),
    st.uuids(),
    text.map(Text),
    st.integers().map(Count),
    decimals.map(Amount),
    st.dates().map(lambda d: Day(d.year, d.month, d.day)),
    st.integers().map(CountedPair),
)
sources = st.builds(Source, text, st.none() | text, st.none() | text, st.none() | st.dates())
values = st.builds(Quantity, decimals, text) | sources
value_objects = st.one_of(
    values,
    st.builds(Party, text, text, st.none() | text),
    st.builds(Term, text, text, text),
    st.builds(Delegation, text, text, st.lists(text, max_size=2).map(tuple)),
    st.builds(Participant, text, text, st.none() | text),
    st.builds(Readout, text, text, st.lists(sources, max_size=2).map(tuple)),
)
leaves = scalars | value_objects


def nested(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        st.lists(children, max_size=3),
        st.lists(children, max_size=3).map(tuple),
        st.lists(children, max_size=3).map(Items),
        st.dictionaries(text, children, max_size=3),
        st.dictionaries(st.integers(), children, max_size=2),
        st.dictionaries(text, children, max_size=2).map(Table),
        st.dictionaries(text, children, max_size=2).map(OrderedDict),
        st.dictionaries(text, children, max_size=2).map(MappingProxyType),
        st.builds(Pair, children, children),
    )


json_values = st.recursive(leaves, nested, max_leaves=12)


@settings(max_examples=500, deadline=None)
@given(value=json_values)
def test_to_json_answers_as_its_isinstance_chain(value: Any) -> None:
    fast, slow = to_json(value), slow_to_json(value)
    assert fast == slow
    assert repr(fast) == repr(slow)  # the same types too (True is not 1)


@pytest.mark.parametrize("odd", [1.5, {1, 2}, object(), Pair, b"bytes"])
@pytest.mark.parametrize("convert", [to_json, slow_to_json])
def test_to_json_refuses_what_the_chain_refuses(odd: Any, convert: Any) -> None:
    with pytest.raises(TypeError, match="no canonical JSON form"):
        convert(odd)


# ------------------------------------------------------------------- facts


def fact_strategy(fact_type: type[facts.Fact]) -> st.SearchStrategy[facts.Fact]:
    """Any fact of the type, from its field types (free JSON details drawn by hand)."""
    overrides: dict[str, st.SearchStrategy[Any]] = {
        "occurred_at": st.dates() | moments,
        "sources": st.lists(sources, max_size=2).map(tuple),
    }
    if fact_type is facts.IssueRaised:
        overrides["details"] = st.none() | st.dictionaries(
            text, st.integers() | text | st.lists(text, max_size=2), max_size=3
        )
    return st.builds(fact_type, **overrides)


any_fact = st.sampled_from(sorted(facts.FACT_TYPES)).flatmap(
    lambda kind: fact_strategy(facts.FACT_TYPES[kind])
)
metas = st.builds(
    EventMeta,
    st.uuids(),
    moments,
    text,
    text,
    text,
    st.none() | st.just(["key", "fingerprint", 3]),
    st.sampled_from([1, 2]),
)


@settings(max_examples=300, deadline=None)
@given(fact=any_fact)
def test_payload_of_answers_as_it_did(fact: facts.Fact) -> None:
    assert payload_of(fact) == slow_payload_of(fact)
    assert fact_fields(type(fact)) == slow_fact_fields(type(fact))


@settings(max_examples=200, deadline=None)
@given(fact=any_fact, meta=metas)
def test_event_kwargs_answers_as_it_did(fact: facts.Fact, meta: EventMeta) -> None:
    fast, slow = event_kwargs(fact, meta), slow_event_kwargs(fact, meta)
    assert list(fast) == list(slow)
    assert all(fast[k] is slow[k] for k in slow)


@settings(max_examples=200, deadline=None)
@given(value=value_objects)
def test_value_transcodings_encode_every_field(value: Any) -> None:
    assert type(value) in VALUE_TYPES
    transcoding = ValueAsDict(type(value))
    slow = {f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
    assert transcoding.encode(value) == slow
    assert list(transcoding.encode(value)) == list(slow)


@given(before=st.integers(0, 1 << 40), count=st.integers(1, 300))
def test_snapshot_due_answers_as_the_range_check(before: int, count: int) -> None:
    assert snapshot_due(before, before + count) == slow_snapshot_due(before, before + count)


def test_snapshot_due_at_every_point_of_a_stream() -> None:
    for version in range(1, 70_000):
        assert snapshot_due(version - 1, version) == slow_snapshot_due(version - 1, version)


# --------------------------------------------------------- aggregate copies


def test_a_copied_negotiation_owns_its_containers_and_shares_its_values() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    book = sma_book(lambda: at)
    neg = book.get("sma")
    neg.extra_list = [1, 2]  # type: ignore[attr-defined]
    neg.extra_table = Table(a=1)  # type: ignore[attr-defined]
    clone = copy.deepcopy(neg)

    assert vars(clone).keys() == vars(neg).keys()
    assert type(clone) is type(neg)
    for name, value in vars(neg).items():
        copied = vars(clone)[name]
        if name == "_pending_events":
            assert copied == []
        elif isinstance(value, dict | list):
            assert copied == value
            assert copied is not value
            assert type(copied) is type(value)
        else:
            assert copied is value


# ------------------------------------------------------- keys and references


def slow_sort_key(at: date | datetime) -> str:
    if isinstance(at, datetime):
        moment = at.astimezone(UTC)
    else:
        moment = datetime.combine(at, time(0, 0), tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")


@given(at=st.dates() | st.dates().map(lambda d: Day(d.year, d.month, d.day)) | moments)
def test_sort_key_answers_as_the_general_case(at: date) -> None:
    assert sort_key(at) == slow_sort_key(at)


def slow_references(fact: facts.Fact) -> set[Ref]:
    refs: set[Ref] = set()
    if isinstance(fact, facts.PartyJoined):
        return {Ref.party(fact.party.id)}
    if isinstance(fact, facts.TermDefined):
        return {Ref.term(fact.term.id)}
    for name in ("party", "raised_by", "initiated_by"):
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add(Ref.party(value))
    for name in ("participants", "readouts", "delegations"):
        for item in getattr(fact, name, ()) or ():
            refs.add(Ref.party(item.party))
    for term_id in getattr(fact, "values", None) or {}:
        refs.add(Ref.term(term_id))
    for name in ("offer_event_id", "agreement_event_id", "retracted_event_id"):
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add(Ref.event(value))
    return refs


@settings(max_examples=300, deadline=None)
@given(fact=any_fact, version=st.integers(1, 10**6))
def test_an_entry_holds_the_references_the_general_case_finds(
    fact: facts.Fact, version: int
) -> None:
    entry = Entry.of_fact(fact, version)
    assert entry.refs == tuple(sorted(slow_references(fact)))
    assert entry.key == slow_sort_key(fact.occurred_at)


@pytest.mark.parametrize("kind", sorted(facts.FACT_TYPES))
def test_an_event_class_reads_the_references_its_fact_type_reads(kind: str) -> None:
    """Entries are made from stored events too: their classes add no name of their own."""
    event_type = Negotiation.EVENT_CLASSES[kind]
    assert _reference_names(event_type) == _reference_names(facts.FACT_TYPES[kind])


@settings(max_examples=200, deadline=None)
@given(fact=any_fact)
def test_checked_common_answers_an_equal_fact(fact: facts.Fact) -> None:
    try:
        checked = checked_common(fact, datetime(9000, 1, 1, tzinfo=UTC))
    except errors.ParleyError:
        return
    assert checked == dataclasses.replace(fact)
    assert type(checked) is type(fact)


def slow_to_amount(value: Decimal | str | int) -> Decimal:
    """``to_amount`` of a value it accepts, as it always rebuilt it."""
    amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    plain = Decimal(format(amount, "f"))
    return plain + 0 if plain == 0 else plain


amounts = st.one_of(
    st.decimals(allow_nan=False, allow_infinity=False),
    st.decimals(allow_nan=False, allow_infinity=False, places=6),
    st.decimals(allow_nan=False, allow_infinity=False).map(Amount),
    st.decimals(allow_nan=False, allow_infinity=False).map(str),
    st.integers(-(10**20), 10**20),
    st.builds(lambda c, e: Decimal(f"{c}E{e}"), st.integers(-(10**8), 10**8), st.integers(-8, 8)),
    st.sampled_from([Decimal("-0"), Decimal("0E+3"), Decimal("-0.00"), Decimal("5E+9")]),
)


@settings(max_examples=500)
@given(value=amounts)
def test_to_amount_answers_as_it_did(value: Decimal | str | int) -> None:
    try:
        fast = to_amount(value)
    except errors.InvalidValue:
        return  # out of bounds: refused before either way of building the answer
    slow = slow_to_amount(value)
    assert type(fast) is type(slow) is Decimal
    assert fast.as_tuple() == slow.as_tuple()
    assert str(fast) == str(slow)


# ------------------------------------------------------------ offered values


class OwnQuantity(Quantity):
    """A Quantity subclass: the rule stores a plain Quantity of it."""


class OwnValues(dict[str, Quantity]):
    pass


def slow_checked_values(values: dict[str, Quantity]) -> dict[str, Quantity]:
    return {term: Quantity(to_amount(q.amount), q.unit) for term, q in values.items()}


quantities = st.builds(
    Quantity, amounts.filter(lambda a: isinstance(a, Decimal)), st.sampled_from(["USD", "EUR"])
) | st.builds(OwnQuantity, st.decimals(0, 10**6, places=2), st.just("USD"))
offered = st.dictionaries(st.just("contribution"), quantities, min_size=1) | st.dictionaries(
    st.just("contribution"), quantities, min_size=1
).map(OwnValues)

AT = datetime(2026, 1, 1, tzinfo=UTC)
BOOK = sma_book(lambda: AT)
"""A negotiation with a USD term, ``contribution``, and the parties ROK and USA."""


@settings(max_examples=300, deadline=None)
@given(values=offered, agreement=st.booleans())
def test_a_decided_offer_or_agreement_holds_the_values_the_general_case_makes(
    values: dict[str, Quantity], agreement: bool
) -> None:
    neg = BOOK.get("sma")
    fact: facts.Fact
    if agreement:
        fact = facts.AgreementReached(occurred_at=date(2020, 1, 1), status="signed", values=values)
    else:
        fact = facts.OfferMade(
            occurred_at=date(2020, 1, 1), party="ROK", kind="offer", values=values
        )
    try:
        decided = neg.decide(fact, AT)
    except errors.InvalidValue:
        return  # an amount out of bounds: refused either way
    expected = dataclasses.replace(fact, values=slow_checked_values(values))
    assert decided == expected
    assert type(decided.values) is dict  # type: ignore[attr-defined]
    for term, quantity in decided.values.items():  # type: ignore[attr-defined]
        assert type(quantity) is Quantity
        assert str(quantity.amount) == str(expected.values[term].amount)
    assert payload_of(decided) == payload_of(expected)
