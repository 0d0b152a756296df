"""Checks that the parties, terms and events a fact names exist in the negotiation.

Each takes the state so far and raises a :class:`~domain.errors.ParleyError` naming the field
at fault; the rules (``domain.negotiation.rules``) call them.
"""

from __future__ import annotations

from domain import errors
from domain.negotiation.checks import check_length, check_sources
from domain.negotiation.state import Entry, NegotiationState
from domain.values import (
    Participant,
    Quantity,
    Readout,
    check_name,
    check_text,
    is_currency,
    quoted,
    to_amount,
)


def need_party(neg: NegotiationState, party: str | None, field: str) -> None:
    if party is not None and party not in neg.parties:
        raise errors.UnknownParty(
            f"{field}: party {quoted(party)} has not joined this negotiation", field=field
        )


def check_participants(neg: NegotiationState, items: tuple[Participant, ...], field: str) -> None:
    check_length(items, field)
    for i, p in enumerate(items):
        need_party(neg, p.party, f"{field}[{i}].party")
        check_name(p.name, f"{field}[{i}].name")
        if p.role is not None:
            check_text(p.role, f"{field}[{i}].role", max_length=500)


def checked_readouts(
    neg: NegotiationState, items: tuple[Readout, ...], field: str
) -> tuple[Readout, ...]:
    check_length(items, field)
    for i, r in enumerate(items):
        need_party(neg, r.party, f"{field}[{i}].party")
        check_text(r.summary, f"{field}[{i}].summary")
        check_sources(r.sources, f"{field}[{i}].sources")
    return items


def checked_values(
    neg: NegotiationState, values: dict[str, Quantity], field: str
) -> dict[str, Quantity]:
    """The values with their amounts in plain notation (``to_amount``); ``values`` itself
    when that changes none of them, so that the rule keeps the fact as it is."""
    checked: dict[str, Quantity] = {}
    unchanged = type(values) is dict
    for term_id, quantity in values.items():
        where = f"{field}.{term_id}"
        if term_id not in neg.terms:
            raise errors.UnknownTerm(f"{where}: term {quoted(term_id)} is not defined", field=where)
        unit = neg.terms[term_id].unit
        if quantity.unit != unit and not (is_currency(unit) and is_currency(quantity.unit)):
            raise errors.UnitMismatch(
                f"{where}: {quoted(quantity.unit)} does not fit term {quoted(term_id)} "
                f"measured in {unit!r} (only money terms accept another ISO 4217 currency)",
                field=where,
            )
        amount = to_amount(quantity.amount, where + ".amount")
        if amount is quantity.amount and type(quantity) is Quantity:
            checked[term_id] = quantity
        else:
            checked[term_id] = Quantity(amount, quantity.unit)
            unchanged = False
    return values if unchanged else checked


def answered_entry(
    neg: NegotiationState, event_id: str, field: str, kinds: tuple[str, ...], key: str
) -> Entry:
    """The event an answer refers to: in this negotiation, live, of the right kind, earlier."""
    target = referenced_entry(neg, event_id, field)
    if target.type not in kinds:
        raise errors.WrongEventType(
            f"{field}: event {event_id} is a {target.type}, not a {' or '.join(kinds)}",
            field=field,
        )
    if target.retracted_by is not None:
        raise errors.AlreadyRetracted(f"{field}: event {event_id} was retracted", field=field)
    if target.key > key:
        raise errors.AnswerBeforeEvent(
            f"{field}: the answer cannot occur before the event it answers", field=field
        )
    return target


def referenced_entry(neg: NegotiationState, event_id: str, field: str) -> Entry:
    target = neg.entries.get(event_id)
    if target is None:
        raise errors.UnknownEvent(f"{field}: no event {event_id} in this negotiation", field=field)
    return target
