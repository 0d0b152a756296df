"""What can happen in a negotiation: one frozen dataclass per fact, as the contract lists them.

A fact is what a client asks the ledger to record (the command); the stored domain event of
the same name (``Negotiation.OfferMade``…) is the fact plus the ledger's own metadata
(event id, recording time, recorder, hash chain). Declaring the fields once keeps the
command and the event from drifting apart.

The dataclass is the only declaration of a fact's fields: the HTTP and file input models
(``api.inputs``), the decoders of stored payloads (``projections.rows``) and the events
view's rows (``projections.views.events``) are derived from ``FACT_TYPES`` and the field
types here. What an input of a field must satisfy beyond its type, and how the API
documents it, is the field's ``INPUT`` metadata (JSON Schema keywords).
"""

from __future__ import annotations

import types
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar, Literal, Union, get_args, get_origin

from domain.values import (
    Delegation,
    OccurredAt,
    Participant,
    Party,
    Quantity,
    Readout,
    Source,
    Term,
)

OfferKind = Literal["offer", "demand", "counteroffer", "final_offer"]
AgreementStatus = Literal["tentative", "initialed", "signed", "ratified"]
NegotiationStatus = Literal["open", "suspended", "concluded", "collapsed"]
Channel = Literal["phone", "video"]

OFFER_KINDS: tuple[str, ...] = ("offer", "demand", "counteroffer", "final_offer")
AGREEMENT_STATUSES: tuple[str, ...] = ("tentative", "initialed", "signed", "ratified")
NEGOTIATION_STATUSES: tuple[str, ...] = ("open", "suspended", "concluded", "collapsed")
CHANNELS: tuple[str, ...] = ("phone", "video")
CLOSING_STATUSES: frozenset[str] = frozenset({"concluded", "collapsed"})

INPUT = "input"
"""Key of a field's metadata: JSON Schema keywords for its input (``ge``, ``description``,
``examples``), read by ``api.inputs`` when it derives the input models."""


def described(**keywords: Any) -> dict[str, Any]:
    """A field's metadata saying what its input must satisfy and how it is documented."""
    return {INPUT: keywords}


def without_none(hint: Any) -> tuple[Any, bool]:
    """A field's type without ``None``, and whether ``None`` was allowed (for derivations)."""
    if get_origin(hint) in (Union, types.UnionType):
        args = tuple(a for a in get_args(hint) if a is not type(None))
        if len(args) < len(get_args(hint)):
            return (args[0] if len(args) == 1 else Union[args]), True  # noqa: UP007
    return hint, False


def is_time_point(hint: Any) -> bool:
    """Whether a field's type is ``OccurredAt`` (or optional): a date or a datetime."""
    return set(get_args(hint)) - {type(None)} == {date, datetime}


@dataclass(frozen=True, kw_only=True)
class Fact:
    """Fields every fact has: when it happened, where that is known from, and a note."""

    TYPE: ClassVar[str] = ""
    PARTY_FIELD: ClassVar[str] = "party"
    """The field naming the party the fact is about (the events view's ``party`` column)."""

    occurred_at: OccurredAt
    sources: tuple[Source, ...] = ()
    note: str | None = None


@dataclass(frozen=True, kw_only=True)
class NegotiationOpened(Fact):
    TYPE: ClassVar[str] = "negotiation_opened"
    slug: str = field(metadata=described(examples=["usa-rok-sma-2020"]))
    title: str
    subject: str | None = None


@dataclass(frozen=True, kw_only=True)
class PartyJoined(Fact):
    TYPE: ClassVar[str] = "party_joined"
    party: Party


@dataclass(frozen=True, kw_only=True)
class TermDefined(Fact):
    TYPE: ClassVar[str] = "term_defined"
    term: Term


@dataclass(frozen=True, kw_only=True)
class RoundHeld(Fact):
    TYPE: ClassVar[str] = "round_held"
    number: int = field(metadata=described(ge=1))
    ended_at: OccurredAt | None = None
    location: str | None = None
    delegations: tuple[Delegation, ...] = ()
    outcome: str | None = None


@dataclass(frozen=True, kw_only=True)
class CallHeld(Fact):
    TYPE: ClassVar[str] = "call_held"
    channel: Channel
    initiated_by: str | None = None
    participants: tuple[Participant, ...] = ()
    duration_minutes: int | None = field(default=None, metadata=described(ge=0))
    topics: tuple[str, ...] = ()
    readouts: tuple[Readout, ...] = ()


@dataclass(frozen=True, kw_only=True)
class MeetingHeld(Fact):
    TYPE: ClassVar[str] = "meeting_held"
    location: str | None = None
    participants: tuple[Participant, ...] = ()
    topics: tuple[str, ...] = ()
    readouts: tuple[Readout, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OfferMade(Fact):
    TYPE: ClassVar[str] = "offer_made"
    party: str
    kind: OfferKind
    values: dict[str, Quantity]
    conditions: str | None = None


@dataclass(frozen=True, kw_only=True)
class OfferWithdrawn(Fact):
    TYPE: ClassVar[str] = "offer_withdrawn"
    party: str
    offer_event_id: str


@dataclass(frozen=True, kw_only=True)
class OfferRejected(Fact):
    TYPE: ClassVar[str] = "offer_rejected"
    party: str
    offer_event_id: str


@dataclass(frozen=True, kw_only=True)
class StatementMade(Fact):
    TYPE: ClassVar[str] = "statement_made"
    party: str
    speaker: str
    summary: str


@dataclass(frozen=True, kw_only=True)
class IssueRaised(Fact):
    TYPE: ClassVar[str] = "issue_raised"
    PARTY_FIELD: ClassVar[str] = "raised_by"
    issue_id: str
    title: str
    raised_by: str
    details: dict[str, Any] | None = field(
        default=None,
        metadata=described(
            description="Free-form JSON; numbers are integers or decimal strings, never floats."
        ),
    )


@dataclass(frozen=True, kw_only=True)
class IssueResolved(Fact):
    TYPE: ClassVar[str] = "issue_resolved"
    issue_id: str
    resolution: str


@dataclass(frozen=True, kw_only=True)
class AgreementReached(Fact):
    TYPE: ClassVar[str] = "agreement_reached"
    status: AgreementStatus
    values: dict[str, Quantity]


@dataclass(frozen=True, kw_only=True)
class AgreementRejected(Fact):
    TYPE: ClassVar[str] = "agreement_rejected"
    party: str
    agreement_event_id: str
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class StatusChanged(Fact):
    TYPE: ClassVar[str] = "status_changed"
    status: NegotiationStatus
    reason: str | None = None


@dataclass(frozen=True, kw_only=True)
class ExchangeRateRecorded(Fact):
    TYPE: ClassVar[str] = "exchange_rate_recorded"
    base: str
    quote: str
    rate: Decimal


@dataclass(frozen=True, kw_only=True)
class EventRetracted(Fact):
    TYPE: ClassVar[str] = "event_retracted"
    retracted_event_id: str
    reason: str


FACT_TYPES: dict[str, type[Fact]] = {
    cls.TYPE: cls
    for cls in (
        NegotiationOpened,
        PartyJoined,
        TermDefined,
        RoundHeld,
        CallHeld,
        MeetingHeld,
        OfferMade,
        OfferWithdrawn,
        OfferRejected,
        StatementMade,
        IssueRaised,
        IssueResolved,
        AgreementReached,
        AgreementRejected,
        StatusChanged,
        ExchangeRateRecorded,
        EventRetracted,
    )
}

#: Facts that may still be recorded as occurring after the negotiation concluded or collapsed.
ALLOWED_AFTER_CLOSE: frozenset[str] = frozenset(
    {"event_retracted", "status_changed", "agreement_reached", "agreement_rejected"}
)


def field_names(cls: type[Any]) -> tuple[str, ...]:
    """The names of a dataclass's fields, in order.

    Cached: ``dataclasses.fields`` builds its tuple anew on every call, and recording one
    event asked for the fields of its fact, its metadata and its values several times.
    """
    names = _FIELD_NAMES.get(cls)
    if names is None:
        names = _FIELD_NAMES[cls] = tuple(f.name for f in fields(cls))
    return names


_FIELD_NAMES: dict[type[Any], tuple[str, ...]] = {}


def fact_of(event: Any) -> Fact:
    """The fact a stored event records, without the ledger's metadata."""
    fact_type = FACT_TYPES[event.TYPE]
    return fact_type(**{name: getattr(event, name) for name in field_names(fact_type)})
