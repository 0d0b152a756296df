"""The rules of a negotiation: one ``decide_<fact type>`` per fact, over the state so far.

Each takes the negotiation as it stands and the fact to record, checks every rule, and
returns the fact normalised (or raises a :class:`~domain.errors.ParleyError`); none changes
the state. ``Negotiation.decide`` checks what every fact shares, then calls the one here.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable
from typing import Any

from domain import errors, facts
from domain.negotiation.checks import (
    check_length,
    check_topics,
    checked_json,
    event_ref,
)
from domain.negotiation.references import (
    answered_entry,
    check_participants,
    checked_readouts,
    checked_values,
    need_party,
    referenced_entry,
)
from domain.negotiation.state import Entry, NegotiationState
from domain.status import StatusChange, closed_before, is_closing, without_event
from domain.values import (
    ISSUE_ID_RE,
    PARTY_ID_RE,
    TERM_ID_RE,
    Party,
    Quantity,
    Term,
    check_actor_code,
    check_currency,
    check_name,
    check_pattern,
    check_text,
    check_unit,
    parse_occurred_at,
    quoted,
    sort_key,
    to_amount,
)


def decide_party_joined(neg: NegotiationState, fact: facts.PartyJoined) -> facts.Fact:
    _check_definition(fact.party, "party", PARTY_ID_RE)
    if fact.party.actor_code is not None:
        check_actor_code(fact.party.actor_code, "party.actor_code")
    if fact.party.id in neg.parties:
        raise errors.DuplicateParty(
            f"party {quoted(fact.party.id)} has already joined", field="party.id"
        )
    return fact


def decide_term_defined(neg: NegotiationState, fact: facts.TermDefined) -> facts.Fact:
    _check_definition(fact.term, "term", TERM_ID_RE)
    check_unit(fact.term.unit, "term.unit")
    if fact.term.id in neg.terms:
        raise errors.DuplicateTerm(
            f"term {quoted(fact.term.id)} is already defined", field="term.id"
        )
    return fact


def _check_definition(defined: Party | Term, kind: str, id_pattern: re.Pattern[str]) -> None:
    """The id and name of a party or term being defined (``kind``)."""
    check_pattern(defined.id, id_pattern, f"{kind} id", f"{kind}.id")
    check_name(defined.name, f"{kind}.name")


def decide_round_held(neg: NegotiationState, fact: facts.RoundHeld) -> facts.Fact:
    if fact.number < 1 or fact.number > 100_000:
        raise errors.InvalidValue("a round number is between 1 and 100000", field="number")
    key = sort_key(fact.occurred_at)
    ended_at = fact.ended_at
    if ended_at is not None:
        ended_at = parse_occurred_at(ended_at, "ended_at")
        if sort_key(ended_at) < key:
            raise errors.InvalidValue("a round cannot end before it began", field="ended_at")
    for text, field in ((fact.location, "location"), (fact.outcome, "outcome")):
        if text is not None:
            check_text(text, field)
    check_length(fact.delegations, "delegations")
    for i, d in enumerate(fact.delegations):
        need_party(neg, d.party, f"delegations[{i}].party")
        check_name(d.lead, f"delegations[{i}].lead")
        check_length(d.members, f"delegations[{i}].members")
        for j, m in enumerate(d.members):
            check_name(m, f"delegations[{i}].members[{j}]")
    if fact.number in neg.rounds:
        raise errors.RoundNumberTaken(f"round {fact.number} is already on record", field="number")
    for other, held in neg.rounds.items():
        other_key = held.key
        if (other < fact.number and other_key > key) or (other > fact.number and other_key < key):
            raise errors.RoundOutOfOrder(
                f"round {fact.number} would not follow round {other} in time: "
                "round numbers increase with occurred_at",
                field="number",
            )
    return dataclasses.replace(fact, ended_at=ended_at)


def decide_call_held(neg: NegotiationState, fact: facts.CallHeld) -> facts.Fact:
    if fact.channel not in facts.CHANNELS:
        raise errors.InvalidValue(f"channel is one of {facts.CHANNELS}", field="channel")
    need_party(neg, fact.initiated_by, "initiated_by")
    if fact.duration_minutes is not None and not 0 <= fact.duration_minutes <= 100_000:
        raise errors.InvalidValue(
            "duration_minutes is between 0 and 100000", field="duration_minutes"
        )
    check_participants(neg, fact.participants, "participants")
    check_topics(fact.topics)
    checked_readouts(neg, fact.readouts, "readouts")
    return fact


def decide_meeting_held(neg: NegotiationState, fact: facts.MeetingHeld) -> facts.Fact:
    if fact.location is not None:
        check_text(fact.location, "location", max_length=500)
    check_participants(neg, fact.participants, "participants")
    check_topics(fact.topics)
    checked_readouts(neg, fact.readouts, "readouts")
    return fact


def decide_offer_made(neg: NegotiationState, fact: facts.OfferMade) -> facts.Fact:
    need_party(neg, fact.party, "party")
    if fact.kind not in facts.OFFER_KINDS:
        raise errors.InvalidValue(f"kind is one of {facts.OFFER_KINDS}", field="kind")
    if fact.conditions is not None:
        check_text(fact.conditions, "conditions")
    return _with_values(fact, checked_values(neg, fact.values, "values"))


def _answered_offer(
    neg: NegotiationState, fact: facts.OfferWithdrawn | facts.OfferRejected
) -> tuple[str, Entry]:
    """The offer a withdrawal or rejection answers (its id, its entry), by a party on record."""
    need_party(neg, fact.party, "party")
    offer_id = event_ref(fact.offer_event_id, "offer_event_id")
    key = sort_key(fact.occurred_at)
    return offer_id, answered_entry(neg, offer_id, "offer_event_id", ("offer_made",), key)


def decide_offer_withdrawn(neg: NegotiationState, fact: facts.OfferWithdrawn) -> facts.Fact:
    offer_id, offer = _answered_offer(neg, fact)
    if offer.party != fact.party:
        raise errors.NotOwnOffer(f"only {offer.party} can withdraw its own offer", field="party")
    if offer.withdrawn_by is not None:
        raise errors.OfferNotLive("that offer is already withdrawn", field="offer_event_id")
    return dataclasses.replace(fact, offer_event_id=offer_id)


def decide_offer_rejected(neg: NegotiationState, fact: facts.OfferRejected) -> facts.Fact:
    offer_id, offer = _answered_offer(neg, fact)
    if offer.party == fact.party:
        raise errors.OwnOfferRejected(
            "a party cannot reject its own offer (withdraw it instead)", field="party"
        )
    if offer.withdrawn_by is not None:
        raise errors.OfferNotLive("that offer was withdrawn", field="offer_event_id")
    return dataclasses.replace(fact, offer_event_id=offer_id)


def decide_statement_made(neg: NegotiationState, fact: facts.StatementMade) -> facts.Fact:
    need_party(neg, fact.party, "party")
    check_name(fact.speaker, "speaker")
    check_text(fact.summary, "summary")
    return fact


def decide_issue_raised(neg: NegotiationState, fact: facts.IssueRaised) -> facts.Fact:
    check_pattern(fact.issue_id, ISSUE_ID_RE, "issue id", "issue_id")
    check_name(fact.title, "title")
    need_party(neg, fact.raised_by, "raised_by")
    if fact.issue_id in neg.issues:
        raise errors.DuplicateIssue(
            f"issue {quoted(fact.issue_id)} is already on record", field="issue_id"
        )
    if fact.details is None:
        return fact
    details = checked_json(fact.details, "details", 0)
    if not isinstance(details, dict):
        raise errors.InvalidValue("details is an object", field="details")
    return dataclasses.replace(fact, details=details)


def decide_issue_resolved(neg: NegotiationState, fact: facts.IssueResolved) -> facts.Fact:
    issue = neg.issues.get(fact.issue_id)
    if issue is None:
        raise errors.UnknownIssue(
            f"no issue {quoted(fact.issue_id)} is on record", field="issue_id"
        )
    if issue.resolved is not None:
        raise errors.IssueAlreadyResolved(
            f"issue {quoted(fact.issue_id)} is already resolved", field="issue_id"
        )
    if neg.entries[issue.raised].key > sort_key(fact.occurred_at):
        raise errors.AnswerBeforeEvent(
            "an issue cannot be resolved before it was raised", field="occurred_at"
        )
    check_text(fact.resolution, "resolution")
    return fact


def decide_agreement_reached(neg: NegotiationState, fact: facts.AgreementReached) -> facts.Fact:
    if fact.status not in facts.AGREEMENT_STATUSES:
        raise errors.InvalidValue(f"status is one of {facts.AGREEMENT_STATUSES}", field="status")
    return _with_values(fact, checked_values(neg, fact.values, "values"))


def _with_values(
    fact: facts.OfferMade | facts.AgreementReached, values: dict[str, Quantity]
) -> facts.Fact:
    """The fact with its checked values: itself when checking changed none of them."""
    if values is fact.values:
        return fact
    return dataclasses.replace(fact, values=values)


def decide_agreement_rejected(neg: NegotiationState, fact: facts.AgreementRejected) -> facts.Fact:
    need_party(neg, fact.party, "party")
    agreement_id = event_ref(fact.agreement_event_id, "agreement_event_id")
    agreement = answered_entry(
        neg, agreement_id, "agreement_event_id", ("agreement_reached",), sort_key(fact.occurred_at)
    )
    if agreement.rejected_by is not None:
        raise errors.AgreementNotLive(
            f"that agreement was already rejected by {agreement.rejected_by}",
            field="agreement_event_id",
        )
    if fact.reason is not None:
        check_text(fact.reason, "reason")
    return dataclasses.replace(fact, agreement_event_id=agreement_id)


def decide_status_changed(neg: NegotiationState, fact: facts.StatusChanged) -> facts.Fact:
    if fact.status not in facts.NEGOTIATION_STATUSES:
        raise errors.InvalidValue(f"status is one of {facts.NEGOTIATION_STATUSES}", field="status")
    if fact.reason is not None:
        check_text(fact.reason, "reason")
    if fact.status in facts.CLOSING_STATUSES:
        _check_nothing_after_close(neg, sort_key(fact.occurred_at), fact.status)
    return fact


def _check_nothing_after_close(neg: NegotiationState, close_key: str, status: str) -> None:
    """A backfilled close must not strand live events that occurred after it."""
    reopenings = [
        c.key for c in neg.status_changes if c.key > close_key and not is_closing(c.status)
    ]
    reopen_key = min(reopenings) if reopenings else None
    for event_id, entry in neg.entries.items():
        if not entry.is_live or entry.type in facts.ALLOWED_AFTER_CLOSE:
            continue
        if entry.type == "negotiation_opened":
            continue
        if entry.key > close_key and (reopen_key is None or entry.key <= reopen_key):
            raise errors.NegotiationClosed(
                f"event {event_id} ({entry.type}) occurred after the negotiation would "
                f"be {status}; retract it or record the status change later"
            )


def _first_stranded(neg: NegotiationState, changes: list[StatusChange]) -> str | None:
    """The first live event that would occur inside a closed period under ``changes``."""
    for event_id, entry in neg.entries.items():
        if not entry.is_live or entry.type in facts.ALLOWED_AFTER_CLOSE:
            continue
        if entry.type == "negotiation_opened":
            continue
        if closed_before(changes, entry.key):
            return event_id
    return None


def decide_exchange_rate_recorded(
    neg: NegotiationState, fact: facts.ExchangeRateRecorded
) -> facts.Fact:
    check_currency(fact.base, "base")
    check_currency(fact.quote, "quote")
    if fact.base == fact.quote:
        raise errors.InvalidValue("base and quote must differ", field="quote")
    rate = to_amount(fact.rate, "rate")
    if rate <= 0:
        raise errors.InvalidValue("a rate is positive", field="rate")
    return dataclasses.replace(fact, rate=rate)


def decide_event_retracted(neg: NegotiationState, fact: facts.EventRetracted) -> facts.Fact:
    target_id = event_ref(fact.retracted_event_id, "retracted_event_id")
    target = referenced_entry(neg, target_id, "retracted_event_id")
    check_text(fact.reason, "reason")
    if target.retracted_by is not None:
        raise errors.AlreadyRetracted(
            f"event {target_id} was already retracted by {target.retracted_by}",
            field="retracted_event_id",
        )
    if target.type in ("negotiation_opened", "event_retracted"):
        raise errors.NotRetractable(
            f"a {target.type} cannot be retracted", field="retracted_event_id"
        )
    if target.type in ("party_joined", "term_defined"):
        ref = next(r for r in target.refs if r.kind in ("party", "term"))
        for other_id, other in neg.entries.items():
            if other_id != target_id and other.is_live and ref in other.refs:
                raise errors.DefinitionInUse(
                    f"{ref} is used by live event {other_id}; retract that first",
                    field="retracted_event_id",
                )
    if target.type == "status_changed":
        remaining = without_event(neg.status_changes, target_id)
        stranded = _first_stranded(neg, remaining)
        if stranded is not None:
            raise errors.NegotiationClosed(
                f"without it, event {stranded} would occur after the negotiation closed; "
                "retract that first",
                field="retracted_event_id",
            )
    if target.type == "issue_raised":
        issue = next(i for i in neg.issues.values() if i.raised == target_id)
        if issue.resolved is not None:
            raise errors.DefinitionInUse(
                "that issue has a live resolution; retract the resolution first",
                field="retracted_event_id",
            )
    return dataclasses.replace(fact, retracted_event_id=target_id)


DECIDERS: dict[str, Callable[[NegotiationState, Any], facts.Fact]] = {
    "party_joined": decide_party_joined,
    "term_defined": decide_term_defined,
    "round_held": decide_round_held,
    "call_held": decide_call_held,
    "meeting_held": decide_meeting_held,
    "offer_made": decide_offer_made,
    "offer_withdrawn": decide_offer_withdrawn,
    "offer_rejected": decide_offer_rejected,
    "statement_made": decide_statement_made,
    "issue_raised": decide_issue_raised,
    "issue_resolved": decide_issue_resolved,
    "agreement_reached": decide_agreement_reached,
    "agreement_rejected": decide_agreement_rejected,
    "status_changed": decide_status_changed,
    "exchange_rate_recorded": decide_exchange_rate_recorded,
    "event_retracted": decide_event_retracted,
}
"""The rules of each fact type but the opening (``Negotiation.decide_opening``)."""
