"""How a recorded fact changes a negotiation's state: one ``fold_<fact type>`` per fact that does.

The counterpart of ``domain.negotiation.rules``: a rule decides whether a fact may be
recorded; a fold says what it changes once it is. Folds never check rules, read clocks or
make ids (replaying stored history must never fail), and replace values, never change them
in place, except the index of entries (see ``Negotiation._index``). Every event is indexed
(``Entry``) before its fold runs; a fact type that changes nothing beyond that index needs
no fold. ``undo`` is what a retraction reverts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from domain import facts
from domain import status as status_rule
from domain.negotiation.state import Entry, Issue, NegotiationFields, Ref, Round
from domain.status import StatusChange
from domain.values import sort_key


def set_entry(neg: NegotiationFields, event_id: str, **changes: Any) -> None:
    # The entry itself is replaced, never changed: copies of the aggregate share entries.
    neg.entries[event_id] = dataclasses.replace(neg.entries[event_id], **changes)


def fold_party_joined(neg: NegotiationFields, fact: facts.PartyJoined, event_id: str) -> None:
    neg.parties = {**neg.parties, fact.party.id: fact.party.name}
    if fact.party.actor_code is not None:
        neg.actor_codes = {**neg.actor_codes, fact.party.id: fact.party.actor_code}
    neg.definitions = {**neg.definitions, Ref.party(fact.party.id): event_id}


def fold_term_defined(neg: NegotiationFields, fact: facts.TermDefined, event_id: str) -> None:
    neg.terms = {**neg.terms, fact.term.id: fact.term}
    neg.definitions = {**neg.definitions, Ref.term(fact.term.id): event_id}


def fold_round_held(neg: NegotiationFields, fact: facts.RoundHeld, event_id: str) -> None:
    neg.rounds = {**neg.rounds, fact.number: Round(sort_key(fact.occurred_at), event_id)}


def fold_offer_withdrawn(neg: NegotiationFields, fact: facts.OfferWithdrawn, event_id: str) -> None:
    set_entry(neg, fact.offer_event_id, withdrawn_by=event_id)


def fold_issue_raised(neg: NegotiationFields, fact: facts.IssueRaised, event_id: str) -> None:
    neg.issues = {**neg.issues, fact.issue_id: Issue(event_id)}


def fold_issue_resolved(neg: NegotiationFields, fact: facts.IssueResolved, event_id: str) -> None:
    issue = dataclasses.replace(neg.issues[fact.issue_id], resolved=event_id)
    neg.issues = {**neg.issues, fact.issue_id: issue}


def fold_agreement_rejected(
    neg: NegotiationFields, fact: facts.AgreementRejected, event_id: str
) -> None:
    set_entry(neg, fact.agreement_event_id, rejected_by=event_id)


def fold_status_changed(neg: NegotiationFields, fact: facts.StatusChanged, event_id: str) -> None:
    version = neg.entries[event_id].version
    change = StatusChange(sort_key(fact.occurred_at), version, fact.status, event_id)
    neg.status_changes = tuple(status_rule.with_change(neg.status_changes, change))


def fold_event_retracted(neg: NegotiationFields, fact: facts.EventRetracted, event_id: str) -> None:
    undo(neg, fact.retracted_event_id, event_id)


def undo(neg: NegotiationFields, target_id: str, retraction_id: str) -> None:
    """A retracted fact counts nowhere: undo what its fold did to the state."""
    target = neg.entries[target_id]
    set_entry(neg, target_id, retracted_by=retraction_id)
    kind = target.type
    if kind == "party_joined":
        party = target.party
        neg.parties = {k: v for k, v in neg.parties.items() if k != party}
        neg.actor_codes = {k: v for k, v in neg.actor_codes.items() if k != party}
        neg.definitions = {k: v for k, v in neg.definitions.items() if v != target_id}
    elif kind == "term_defined":
        term = _ref_id(target, "term")
        neg.terms = {k: v for k, v in neg.terms.items() if k != term}
        neg.definitions = {k: v for k, v in neg.definitions.items() if v != target_id}
    elif kind == "round_held":
        neg.rounds = {k: v for k, v in neg.rounds.items() if v.event_id != target_id}
    elif kind == "offer_withdrawn":
        set_entry(neg, _ref_id(target, "event"), withdrawn_by=None)
    elif kind == "agreement_rejected":
        set_entry(neg, _ref_id(target, "event"), rejected_by=None)
    elif kind == "issue_raised":
        neg.issues = {k: v for k, v in neg.issues.items() if v.raised != target_id}
    elif kind == "issue_resolved":
        neg.issues = {
            k: Issue(v.raised) if v.resolved == target_id else v for k, v in neg.issues.items()
        }
    elif kind == "status_changed":
        neg.status_changes = tuple(status_rule.without_event(neg.status_changes, target_id))


def _ref_id(entry: Entry, kind: str) -> str:
    ref = entry.ref(kind)
    if ref is None:  # every entry retracted this way was indexed with one
        msg = f"a {entry.type} entry without a {kind} reference"
        raise LookupError(msg)
    return ref.id


Fold = Callable[[NegotiationFields, Any, str], None]
"""``fold(state, fact, event id)``: the change a recorded fact makes (its entry is indexed)."""

FOLDS: dict[str, Fold] = {
    "party_joined": fold_party_joined,
    "term_defined": fold_term_defined,
    "round_held": fold_round_held,
    "offer_withdrawn": fold_offer_withdrawn,
    "issue_raised": fold_issue_raised,
    "issue_resolved": fold_issue_resolved,
    "agreement_rejected": fold_agreement_rejected,
    "status_changed": fold_status_changed,
    "event_retracted": fold_event_retracted,
}
"""The folds of the fact types that change more than the index (the opening sets it up:
``Negotiation.NegotiationOpened``)."""
