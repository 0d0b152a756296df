"""Request and response bodies of the HTTP API, named by role; requests build domain facts.

Amounts are decimals written as JSON strings (JSON integers are accepted too); a JSON number
with a fraction is a binary float by the time it is parsed, so it is refused rather than
silently rounded. ``occurred_at`` stays a string here: the domain parses it and decides.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    StrictInt,
    ValidationInfo,
    WithJsonSchema,
    model_serializer,
)

from domain import facts
from domain.canonical import (
    FORMAT_KEY,
    LEDGER_FORMAT,
    MAX_SAFE_INTEGER,
    format_recorded_at,
    payload_of,
)
from domain.errors import InvalidValue
from domain.ledger import Recorded
from domain.negotiation import MAX_DETAILS_DEPTH, Negotiation
from domain.values import (
    ISO_DATE_RE,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    QUOTE_LIMIT,
    Delegation,
    Participant,
    Party,
    Quantity,
    Readout,
    Source,
    Term,
    parse_occurred_at,
    to_amount,
)

FLOAT_REFUSED = (
    'send decimals as strings (e.g. "1389000000000"): a JSON number with a fraction '
    "is a binary float and would lose digits"
)

UNSAFE_INTEGER = (
    f"integers are limited to ±(2^53 - 1) = ±{MAX_SAFE_INTEGER}: JSON numbers beyond that "
    'lose digits in JavaScript and RFC 8785 refuses them; send them as strings ("12345…")'
)

# Placeholder ids for the examples: a real request names events the ledger returned.
EXAMPLE_OFFER_ID = "3f1c2a9e-8d4b-4c1a-9e7f-2b6d5a4c3e21"
EXAMPLE_AGREEMENT_ID = "7a2e4c6b-1d3f-4b5a-8c9e-0f1a2b3c4d5e"
EXAMPLE_EVENT_ID = "c0ffee00-1234-4abc-8def-0123456789ab"
KOREA_HERALD: dict[str, Any] = {
    "title": "Defense ministers of Seoul, Washington discuss defense cost-sharing deal",
    "url": "https://www.koreaherald.com/view.php?ud=20200407000699",
    "publisher": "The Korea Herald",
    "published_on": "2020-04-07",
}


AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
"""What an amount string may be, exactly as the OpenAPI document says: no sign but "-", no
blanks, no "_", digits on both sides of a point; an exponent is read (``5E+9``) and the amount
kept in plain notation."""
_AMOUNT_RE = re.compile(AMOUNT_PATTERN, re.ASCII)


def _amount(value: Any) -> Decimal:
    if isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
        raise ValueError(
            f"{value[:64]!r} is not a decimal number as the API writes them: "
            'digits with an optional "-" and fractional part, e.g. "1389000000000.5"'
        )
    if isinstance(value, bool):
        raise ValueError('an amount is a decimal string such as "1389000000000"')
    if isinstance(value, float):
        raise ValueError(FLOAT_REFUSED)
    if not isinstance(value, str | int | Decimal):
        raise ValueError('an amount is a decimal string such as "1389000000000"')
    try:
        return to_amount(value)
    except InvalidValue as e:
        raise ValueError(e.detail) from None


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "integer"},
            ],
            "description": "A decimal as a JSON string, or a JSON integer: at most "
            f"{MAX_INTEGER_DIGITS} integer and {MAX_FRACTION_DIGITS} fractional digits once "
            "written out in plain notation (an exponent is read: 5E+9 is 5000000000).",
            "examples": ["1389000000000"],
        }
    ),
]


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    # ISO_DATE_RE, not only the length: Python also reads week dates such as 2020-W15-1.
    if not isinstance(value, str) or not ISO_DATE_RE.fullmatch(value):
        raise ValueError("a date is an ISO 8601 string such as 2020-04-07")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("a date is an ISO 8601 string such as 2020-04-07") from None


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2020-04-07"]}),
]

OccurredAtText = Annotated[
    str,
    Field(
        description="When it happened in the world: an ISO date, or a datetime with its offset.",
        examples=["2020-04-06T20:30:00+09:00", "2020-04-06"],
    ),
]


def _details_path(path: tuple[str | int, ...]) -> str:
    """``details.a[2].b`` for a message: keys are the client's text, so cut short and with
    lone surrogates escaped (pydantic cannot carry them in an error)."""
    text = "details"
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            key = segment if len(segment) <= QUOTE_LIMIT else segment[:QUOTE_LIMIT] + "…"
            text += "." + key.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _without_floats(value: Any, info: ValidationInfo) -> Any:
    """Free-form JSON where every number is an int: floats would put binary rounding on record.

    Integers stay within ±(2^53 - 1), which RFC 8785 (ledger format 2) hashes exactly; only
    a format-1 event being imported (``context={"ledger_format": 1}``) keeps larger ones.
    Walked with a stack, not recursion, and no deeper than the domain keeps: a body nested
    thousands deep is refused, never a RecursionError.
    """
    context = info.context if isinstance(info.context, dict) else {}
    safe_only = context.get(FORMAT_KEY, LEDGER_FORMAT) >= 2
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DETAILS_DEPTH:
            raise ValueError(
                f"{_details_path(path)} is nested too deeply (at most {MAX_DETAILS_DEPTH} levels)"
            )
        if isinstance(node, float):
            raise ValueError(f"{_details_path(path)}: {FLOAT_REFUSED}")
        if (
            safe_only
            and isinstance(node, int)
            and not isinstance(node, bool)
            and abs(node) > MAX_SAFE_INTEGER
        ):
            raise ValueError(f"{_details_path(path)}: {UNSAFE_INTEGER}")
        # Pushed in reverse, so the first offending value in the body is the one reported.
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((node[i], (*path, i)) for i in reversed(range(len(node))))
    return value


Details = Annotated[dict[str, Any], AfterValidator(_without_floats)]


def _occurred(value: str, field: str = "occurred_at") -> Any:
    return parse_occurred_at(value, field)


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not silently drop a fact's detail."""

    model_config = ConfigDict(extra="forbid")


# ------------------------------------------------------------------ value objects


class SourceIn(Strict):
    title: str
    url: str | None = None
    publisher: str | None = None
    published_on: IsoDate | None = None

    def to_value(self) -> Source:
        return Source(self.title, self.url, self.publisher, self.published_on)


class PartyIn(Strict):
    id: str = Field(examples=["ROK"])
    name: str = Field(examples=["Republic of Korea"])
    actor_code: str | None = Field(
        default=None,
        description="PLOVER/CAMEO actor code: ISO 3166 alpha-3 country and a sector "
        "(GOV, MIL, BUS, LAB…), used by the PLOVER export",
        examples=["KOR GOV"],
    )

    def to_value(self) -> Party:
        return Party(self.id, self.name, self.actor_code)


class TermIn(Strict):
    id: str = Field(examples=["annual_contribution"])
    name: str = Field(examples=["Annual contribution to USFK upkeep"])
    unit: str = Field(examples=["KRW"])

    def to_value(self) -> Term:
        return Term(self.id, self.name, self.unit)


class QuantityIn(Strict):
    amount: Amount
    unit: str = Field(examples=["KRW"])

    def to_value(self) -> Quantity:
        return Quantity(self.amount, self.unit)


class DelegationIn(Strict):
    party: str
    lead: str
    members: list[str] = []

    def to_value(self) -> Delegation:
        return Delegation(self.party, self.lead, tuple(self.members))


class ParticipantIn(Strict):
    party: str
    name: str
    role: str | None = None

    def to_value(self) -> Participant:
        return Participant(self.party, self.name, self.role)


class ReadoutIn(Strict):
    party: str
    summary: str
    sources: list[SourceIn] = []

    def to_value(self) -> Readout:
        return Readout(self.party, self.summary, tuple(s.to_value() for s in self.sources))


# ------------------------------------------------------------------ requests


class NegotiationCreate(Strict):
    """Opens a negotiation; its parties and terms are recorded as events of their own."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "slug": "usa-rok-sma-2020",
                    "title": "11th Special Measures Agreement (USA-ROK)",
                    "subject": "Cost sharing for the upkeep of US Forces Korea",
                    "parties": [
                        {"id": "USA", "name": "United States", "actor_code": "USA GOV"},
                        {"id": "ROK", "name": "Republic of Korea", "actor_code": "KOR GOV"},
                    ],
                    "terms": [
                        {
                            "id": "annual_contribution",
                            "name": "Korea's annual contribution",
                            "unit": "KRW",
                        }
                    ],
                    "occurred_at": "2019-09-24",
                    "sources": [KOREA_HERALD],
                }
            ]
        },
    )

    slug: str = Field(examples=["usa-rok-sma-2020"])
    title: str
    subject: str | None = None
    parties: list[PartyIn] = []
    terms: list[TermIn] = []
    occurred_at: OccurredAtText
    sources: list[SourceIn] = []
    note: str | None = None

    def to_fact(self) -> tuple[facts.NegotiationOpened, list[Party], list[Term]]:
        opened = facts.NegotiationOpened(
            slug=self.slug,
            title=self.title,
            subject=self.subject,
            occurred_at=_occurred(self.occurred_at),
            sources=tuple(s.to_value() for s in self.sources),
            note=self.note,
        )
        return opened, [p.to_value() for p in self.parties], [t.to_value() for t in self.terms]


class EventCreateBase(Strict):
    """Fields every event has: when it happened, where that is known from, and a note."""

    occurred_at: OccurredAtText
    sources: list[SourceIn] = []
    note: str | None = None

    def _common(self) -> dict[str, Any]:
        return {
            "occurred_at": _occurred(self.occurred_at),
            "sources": tuple(s.to_value() for s in self.sources),
            "note": self.note,
        }

    def to_fact(self) -> facts.Fact:
        raise NotImplementedError


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


class PartyJoinedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "party_joined",
            "party": {"id": "USFK", "name": "United States Forces Korea", "actor_code": "USA MIL"},
            "occurred_at": "2019-09-24",
        }
    )
    type: Literal["party_joined"]
    party: PartyIn

    def to_fact(self) -> facts.PartyJoined:
        return facts.PartyJoined(party=self.party.to_value(), **self._common())


class TermDefinedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "term_defined",
            "term": {"id": "duration", "name": "Duration of the agreement", "unit": "years"},
            "occurred_at": "2019-09-24",
        }
    )
    type: Literal["term_defined"]
    term: TermIn

    def to_fact(self) -> facts.TermDefined:
        return facts.TermDefined(term=self.term.to_value(), **self._common())


class RoundHeldCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "round_held",
            "number": 7,
            "occurred_at": "2020-03-17",
            "ended_at": "2020-03-19",
            "location": "Los Angeles",
            "delegations": [
                {"party": "ROK", "lead": "Jeong Eun-bo"},
                {"party": "USA", "lead": "James DeHart"},
            ],
            "outcome": "No agreement; the sides disagree on the total amount.",
        }
    )
    type: Literal["round_held"]
    number: StrictInt = Field(ge=1)
    ended_at: OccurredAtText | None = None
    location: str | None = None
    delegations: list[DelegationIn] = []
    outcome: str | None = None

    def to_fact(self) -> facts.RoundHeld:
        ended_at = None if self.ended_at is None else _occurred(self.ended_at, "ended_at")
        return facts.RoundHeld(
            number=self.number,
            ended_at=ended_at,
            location=self.location,
            delegations=tuple(d.to_value() for d in self.delegations),
            outcome=self.outcome,
            **self._common(),
        )


class CallHeldCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "call_held",
            "occurred_at": "2020-04-06T20:30:00+09:00",
            "channel": "phone",
            "initiated_by": "USA",
            "participants": [
                {"party": "USA", "name": "Mark Esper", "role": "Secretary of Defense"},
                {
                    "party": "ROK",
                    "name": "Jeong Kyeong-doo",
                    "role": "Minister of National Defense",
                },
            ],
            "duration_minutes": 20,
            "topics": ["SMA negotiations", "USFK Korean employees on unpaid leave"],
            "readouts": [
                {
                    "party": "USA",
                    "summary": "It is critical that we get a fair, balanced and comprehensive "
                    "agreement signed quickly.",
                },
                {
                    "party": "ROK",
                    "summary": "Minister Jeong reiterated the need to settle the issue of USFK "
                    "Korean employees on unpaid leave as a priority.",
                    "sources": [KOREA_HERALD],
                },
            ],
            "sources": [KOREA_HERALD],
        }
    )
    type: Literal["call_held"]
    channel: facts.Channel
    initiated_by: str | None = None
    participants: list[ParticipantIn] = []
    duration_minutes: StrictInt | None = Field(default=None, ge=0)
    topics: list[str] = []
    readouts: list[ReadoutIn] = []

    def to_fact(self) -> facts.CallHeld:
        return facts.CallHeld(
            channel=self.channel,
            initiated_by=self.initiated_by,
            participants=tuple(p.to_value() for p in self.participants),
            duration_minutes=self.duration_minutes,
            topics=tuple(self.topics),
            readouts=tuple(r.to_value() for r in self.readouts),
            **self._common(),
        )


class MeetingHeldCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "meeting_held",
            "occurred_at": "2020-03-31",
            "location": "telephone conference",
            "participants": [
                {"party": "ROK", "name": "Kang Kyung-wha", "role": "Foreign Minister"},
                {"party": "USA", "name": "Mike Pompeo", "role": "Secretary of State"},
            ],
            "topics": ["SMA negotiations"],
        }
    )
    type: Literal["meeting_held"]
    location: str | None = None
    participants: list[ParticipantIn] = []
    topics: list[str] = []
    readouts: list[ReadoutIn] = []

    def to_fact(self) -> facts.MeetingHeld:
        return facts.MeetingHeld(
            location=self.location,
            participants=tuple(p.to_value() for p in self.participants),
            topics=tuple(self.topics),
            readouts=tuple(r.to_value() for r in self.readouts),
            **self._common(),
        )


class OfferMadeCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "offer_made",
            "party": "USA",
            "kind": "demand",
            "values": {"annual_contribution": {"amount": "5000000000", "unit": "USD"}},
            "occurred_at": "2019-11-18",
            "sources": [KOREA_HERALD],
        }
    )
    type: Literal["offer_made"]
    party: str
    kind: facts.OfferKind
    values: dict[str, QuantityIn]
    conditions: str | None = None

    def to_fact(self) -> facts.OfferMade:
        return facts.OfferMade(
            party=self.party,
            kind=self.kind,
            values={k: v.to_value() for k, v in self.values.items()},
            conditions=self.conditions,
            **self._common(),
        )


class OfferWithdrawnCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "offer_withdrawn",
            "party": "USA",
            "offer_event_id": EXAMPLE_OFFER_ID,
            "occurred_at": "2020-03-01",
        }
    )
    type: Literal["offer_withdrawn"]
    party: str
    offer_event_id: str

    def to_fact(self) -> facts.OfferWithdrawn:
        return facts.OfferWithdrawn(
            party=self.party, offer_event_id=self.offer_event_id, **self._common()
        )


class OfferRejectedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "offer_rejected",
            "party": "ROK",
            "offer_event_id": EXAMPLE_OFFER_ID,
            "occurred_at": "2019-11-19",
        }
    )
    type: Literal["offer_rejected"]
    party: str
    offer_event_id: str

    def to_fact(self) -> facts.OfferRejected:
        return facts.OfferRejected(
            party=self.party, offer_event_id=self.offer_event_id, **self._common()
        )


class StatementMadeCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "statement_made",
            "party": "ROK",
            "speaker": "Choi Hyun-soo, Defense Ministry spokesperson",
            "summary": "The two ministers agreed that they should reach a deal at a mutually "
            "acceptable and fair level.",
            "occurred_at": "2020-04-07",
            "sources": [KOREA_HERALD],
        }
    )
    type: Literal["statement_made"]
    party: str
    speaker: str
    summary: str

    def to_fact(self) -> facts.StatementMade:
        return facts.StatementMade(
            party=self.party, speaker=self.speaker, summary=self.summary, **self._common()
        )


class IssueRaisedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "issue_raised",
            "issue_id": "unpaid-leave",
            "title": "USFK Korean employees on unpaid leave",
            "raised_by": "ROK",
            "details": {"workers": 4000, "since": "2020-04-01"},
            "occurred_at": "2020-04-06T20:30:00+09:00",
            "sources": [KOREA_HERALD],
        }
    )
    type: Literal["issue_raised"]
    issue_id: str
    title: str
    raised_by: str
    details: Details | None = Field(
        default=None,
        description="Free-form JSON; numbers are integers or decimal strings, never floats.",
    )

    def to_fact(self) -> facts.IssueRaised:
        return facts.IssueRaised(
            issue_id=self.issue_id,
            title=self.title,
            raised_by=self.raised_by,
            details=self.details,
            **self._common(),
        )


class IssueResolvedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "issue_resolved",
            "issue_id": "unpaid-leave",
            "resolution": "Seoul pays the wages of the furloughed workers in advance.",
            "occurred_at": "2020-06-02",
        }
    )
    type: Literal["issue_resolved"]
    issue_id: str
    resolution: str

    def to_fact(self) -> facts.IssueResolved:
        return facts.IssueResolved(
            issue_id=self.issue_id, resolution=self.resolution, **self._common()
        )


class AgreementReachedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "agreement_reached",
            "status": "tentative",
            "values": {"annual_contribution": {"amount": "1038900000000", "unit": "KRW"}},
            "occurred_at": "2020-03-31",
        }
    )
    type: Literal["agreement_reached"]
    status: facts.AgreementStatus
    values: dict[str, QuantityIn]

    def to_fact(self) -> facts.AgreementReached:
        return facts.AgreementReached(
            status=self.status,
            values={k: v.to_value() for k, v in self.values.items()},
            **self._common(),
        )


class AgreementRejectedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "agreement_rejected",
            "party": "USA",
            "agreement_event_id": EXAMPLE_AGREEMENT_ID,
            "reason": "President Trump turned down the tentative deal.",
            "occurred_at": "2020-04-10",
        }
    )
    type: Literal["agreement_rejected"]
    party: str
    agreement_event_id: str
    reason: str | None = None

    def to_fact(self) -> facts.AgreementRejected:
        return facts.AgreementRejected(
            party=self.party,
            agreement_event_id=self.agreement_event_id,
            reason=self.reason,
            **self._common(),
        )


class StatusChangedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "status_changed",
            "status": "suspended",
            "reason": "Talks paused during the 2020 US presidential transition.",
            "occurred_at": "2020-11-03",
        }
    )
    type: Literal["status_changed"]
    status: facts.NegotiationStatus
    reason: str | None = None

    def to_fact(self) -> facts.StatusChanged:
        return facts.StatusChanged(status=self.status, reason=self.reason, **self._common())


class ExchangeRateRecordedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "exchange_rate_recorded",
            "base": "USD",
            "quote": "KRW",
            "rate": "1223.5",
            "occurred_at": "2020-04-06",
        }
    )
    type: Literal["exchange_rate_recorded"]
    base: str
    quote: str
    rate: Amount

    def to_fact(self) -> facts.ExchangeRateRecorded:
        return facts.ExchangeRateRecorded(
            base=self.base, quote=self.quote, rate=self.rate, **self._common()
        )


class EventRetractedCreate(EventCreateBase):
    model_config = _examples(
        {
            "type": "event_retracted",
            "retracted_event_id": EXAMPLE_EVENT_ID,
            "reason": "The call was on April 6, not April 7: corrected by a new event.",
            "occurred_at": "2020-04-08",
        }
    )
    type: Literal["event_retracted"]
    retracted_event_id: str
    reason: str

    def to_fact(self) -> facts.EventRetracted:
        return facts.EventRetracted(
            retracted_event_id=self.retracted_event_id, reason=self.reason, **self._common()
        )


EVENT_CREATE_MODELS: tuple[type[EventCreateBase], ...] = (
    PartyJoinedCreate,
    TermDefinedCreate,
    RoundHeldCreate,
    CallHeldCreate,
    MeetingHeldCreate,
    OfferMadeCreate,
    OfferWithdrawnCreate,
    OfferRejectedCreate,
    StatementMadeCreate,
    IssueRaisedCreate,
    IssueResolvedCreate,
    AgreementReachedCreate,
    AgreementRejectedCreate,
    StatusChangedCreate,
    ExchangeRateRecordedCreate,
    EventRetractedCreate,
)

EventCreate = Annotated[
    PartyJoinedCreate
    | TermDefinedCreate
    | RoundHeldCreate
    | CallHeldCreate
    | MeetingHeldCreate
    | OfferMadeCreate
    | OfferWithdrawnCreate
    | OfferRejectedCreate
    | StatementMadeCreate
    | IssueRaisedCreate
    | IssueResolvedCreate
    | AgreementReachedCreate
    | AgreementRejectedCreate
    | StatusChangedCreate
    | ExchangeRateRecordedCreate
    | EventRetractedCreate,
    Field(discriminator="type"),
]
"""One event to record; ``type`` selects its shape."""


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)  # noqa: S101 - every request model declares its examples
    examples: list[dict[str, Any]] = extra["examples"]  # type: ignore[assignment]
    return examples[0]


# ------------------------------------------------------------------ responses


class PartyPublic(BaseModel):
    id: str
    name: str
    actor_code: str | None = Field(
        default=None, description="PLOVER/CAMEO actor code; absent when the party has none"
    )

    @model_serializer(mode="wrap")
    def _without_missing_code(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("actor_code") is None:
            data.pop("actor_code", None)
        return data


class TermPublic(BaseModel):
    id: str
    name: str
    unit: str


# ------------------------------------------------------------------ analytics

DecimalText = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "A decimal as a JSON string, every digit kept.",
            "examples": ["1040000000000"],
        }
    ),
]
OptionalDecimalText = Annotated[
    str | None,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "null"}],
            "description": "A decimal as a JSON string; null when it is not defined.",
            "examples": ["4077650000000"],
        }
    ),
]
AS_OF_DESCRIPTION = "The `as_of` of the request, as parsed (null: everything on record)."

# The demo negotiation as of 2019-12-01: Seoul at 1.04 trillion won, the $5 billion demand
# converted at the demo's 1223.53 won per dollar. Event ids are placeholders.
EXAMPLE_ROK_POSITION: dict[str, Any] = {
    "party": "ROK",
    "value": {"amount": "1040000000000", "unit": "KRW"},
    "original": {"amount": "1040000000000", "unit": "KRW"},
    "event_id": EXAMPLE_OFFER_ID,
    "at": "2019-09-24",
    "via": "offer",
}
EXAMPLE_USA_POSITION: dict[str, Any] = {
    "party": "USA",
    "value": {"amount": "6117650000000.00", "unit": "KRW"},
    "original": {"amount": "5000000000", "unit": "USD"},
    "event_id": EXAMPLE_EVENT_ID,
    "at": "2019-11-19",
    "via": "offer",
}


class QuantityPublic(BaseModel):
    amount: DecimalText
    unit: str


class PositionPublic(BaseModel):
    """A party's standing value on a term: its latest live offer, or a live agreement."""

    party: str
    value: QuantityPublic = Field(description="In the term's unit when a rate converts it.")
    original: QuantityPublic = Field(description="As the offer or agreement stated it.")
    event_id: str
    at: str = Field(description="The occurred_at of the event that set this position.")
    via: Literal["offer", "agreement"]


class TermPositionsPublic(BaseModel):
    term: str
    unit: str
    positions: list[PositionPublic]


class PositionsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "as_of": "2019-12-01",
                    "terms": [
                        {
                            "term": "annual_contribution",
                            "unit": "KRW",
                            "positions": [EXAMPLE_USA_POSITION, EXAMPLE_ROK_POSITION],
                        }
                    ],
                }
            ]
        }
    )

    negotiation: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)
    terms: list[TermPositionsPublic]


class ConcessionPublic(BaseModel):
    amount: DecimalText = Field(description="Movement toward where the other party stood.")
    share: OptionalDecimalText = Field(description="The amount as a share of the initial gap.")
    moves: int
    last_move_at: str | None


class GapPointPublic(BaseModel):
    at: str
    positions: dict[str, DecimalText]
    gap: DecimalText


class GapHeadlinePublic(BaseModel):
    """A pair's gap on a term now (or as of the request): the summary's headline."""

    parties: list[str]
    positions: dict[str, OptionalDecimalText]
    gap: OptionalDecimalText
    midpoint: OptionalDecimalText
    relative_gap: OptionalDecimalText
    ratio: OptionalDecimalText
    initial_gap: OptionalDecimalText
    initial_at: str | None
    closed_share: OptionalDecimalText
    reason: str | None = Field(description="Why the metrics are null, when they are.")


class PairGapPublic(BaseModel):
    """Every metric of GAP-METRICS for one pair of parties on one term, in the contract's order."""

    parties: list[str]
    positions: dict[str, OptionalDecimalText]
    gap: OptionalDecimalText
    midpoint: OptionalDecimalText
    relative_gap: OptionalDecimalText
    ratio: OptionalDecimalText
    initial_gap: OptionalDecimalText
    initial_at: str | None
    closed_share: OptionalDecimalText
    concessions: dict[str, ConcessionPublic] | None
    days_since_last_move: int | None
    rounds_since_last_move: int | None
    history: list[GapPointPublic]
    forecast: str | None = Field(description="When a line through the last three gaps hits 0.")
    reason: str | None = Field(description="Why the metrics are null, when they are.")


class TermGapsPublic(BaseModel):
    term: str
    unit: str
    pairs: list[PairGapPublic]


class GapsPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "as_of": "2019-12-01",
                    "terms": [
                        {
                            "term": "annual_contribution",
                            "unit": "KRW",
                            "pairs": [
                                {
                                    "parties": ["USA", "ROK"],
                                    "positions": {
                                        "USA": "6117650000000.00",
                                        "ROK": "1040000000000",
                                    },
                                    "gap": "5077650000000.00",
                                    "midpoint": "3578825000000.00",
                                    "relative_gap": "1.418803657625058503838550362",
                                    "ratio": "5.882355769230769230769230769",
                                    "initial_gap": "5077650000000.00",
                                    "initial_at": "2019-11-19",
                                    "closed_share": "0",
                                    "concessions": {
                                        "USA": {
                                            "amount": "0.00",
                                            "share": "0",
                                            "moves": 0,
                                            "last_move_at": None,
                                        },
                                        "ROK": {
                                            "amount": "0",
                                            "share": "0",
                                            "moves": 0,
                                            "last_move_at": None,
                                        },
                                    },
                                    "days_since_last_move": 12,
                                    "rounds_since_last_move": 0,
                                    "history": [
                                        {
                                            "at": "2019-11-19",
                                            "positions": {
                                                "USA": "6117650000000.00",
                                                "ROK": "1040000000000",
                                            },
                                            "gap": "5077650000000.00",
                                        }
                                    ],
                                    "forecast": None,
                                    "reason": None,
                                }
                            ],
                        }
                    ],
                }
            ]
        }
    )

    negotiation: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)
    terms: list[TermGapsPublic]


class TermGapHeadlinesPublic(BaseModel):
    term: str
    unit: str
    pairs: list[GapHeadlinePublic]


class TimelineEntryPublic(BaseModel):
    event_id: str
    type: str
    occurred_at: str
    version: int
    recorded_at: str
    recorded_by: str
    payload: dict[str, Any] = Field(description="The event's own fields, decimals as strings.")
    retracted: bool
    retracted_by: str | None


class TimelinePublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "as_of": None,
                    "events": [
                        {
                            "event_id": EXAMPLE_EVENT_ID,
                            "type": "statement_made",
                            "occurred_at": "2020-04-07",
                            "version": 29,
                            "recorded_at": "2026-01-01T12:00:00.000000+00:00",
                            "recorded_by": "demo",
                            "payload": {
                                "sources": [KOREA_HERALD],
                                "note": None,
                                "party": "ROK",
                                "speaker": "Choi Hyun-soo, Defense Ministry spokesperson",
                                "summary": "The two ministers agreed to reach a deal at a "
                                "mutually acceptable and fair level.",
                            },
                            "retracted": False,
                            "retracted_by": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    negotiation: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)
    events: list[TimelineEntryPublic] = Field(
        description="In occurred_at order, ties in recording order; retracted ones flagged."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null at the end."
    )


# ------------------------------------------------------------------ negotiations


class NegotiationSummary(BaseModel):
    slug: str
    title: str
    subject: str | None
    status: str
    version: int
    parties: list[PartyPublic]
    terms: list[TermPublic]
    counts: dict[str, int] = Field(description="How many events of each type are on record.")
    head_hash: str = Field(description="The hash of the negotiation's latest event.")
    created_at: str
    updated_at: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)
    positions: list[TermPositionsPublic] = Field(
        default=[], description="Current positions, as `/positions` gives them."
    )
    gaps: list[TermGapHeadlinesPublic] = Field(
        default=[], description="Headline gaps per term and pair; `/gaps` has every metric."
    )


class NegotiationListItem(BaseModel):
    """One negotiation as the index view keeps it."""

    slug: str
    title: str
    subject: str | None
    status: str
    version: int
    parties: list[PartyPublic]
    terms: list[TermPublic]
    counts: dict[str, int] = Field(description="How many events of each type are on record.")
    last_occurred_at: str = Field(description="The latest occurred_at of a live event.")
    updated_at: str = Field(description="When the ledger recorded its latest event.")
    gaps: list[TermGapHeadlinesPublic] = Field(
        default_factory=list,
        description="Per term, the headline gap of its first pair (the first two parties to "
        "join), as the summary shows it: what a list of negotiations shows, in one request.",
    )


class NegotiationPage(BaseModel):
    items: list[NegotiationListItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class RecordedEventPublic(BaseModel):
    event_id: str
    type: str
    version: int
    position: int | None
    recorded_at: str
    hash: str


class RecordedPublic(BaseModel):
    negotiation: str
    version: int
    events: list[RecordedEventPublic]


class EventPublic(BaseModel):
    """One ledger entry: the event's payload plus what the ledger knows about it."""

    model_config = ConfigDict(extra="allow")

    event_id: str
    type: str
    version: int
    position: int | None
    occurred_at: str
    recorded_at: str
    recorded_by: str
    hash: str
    prev_hash: str
    retracted: bool
    retracted_by: str | None


class EventPage(BaseModel):
    negotiation: str
    events: list[EventPublic]
    next_after_version: int | None = Field(
        description="Pass as `after_version` for the next page; null at the end."
    )


class ViewHealth(BaseModel):
    position: int = Field(description="The last log position the view has applied.")
    lag: int = Field(description="How many log positions it is behind the head.")


class HealthPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "store": "sqlite",
                    "head_position": 29,
                    "projections": "in-process",
                    "views": {
                        "parley_view_events": {"position": 29, "lag": 0},
                        "parley_view_negotiations": {"position": 29, "lag": 0},
                    },
                    "error": None,
                    "subscribed": None,
                    "clock_behind_seconds": None,
                }
            ]
        }
    )

    status: Literal["ok", "degraded"] = Field(
        description="`degraded` when the in-process projection runner has stopped on an error, "
        "or cannot subscribe to the log (PostgreSQL)."
    )
    store: str
    head_position: int
    projections: Literal["in-process", "external"] = Field(
        description="Who keeps the views: this server, or a `parley project` process."
    )
    views: dict[str, ViewHealth]
    error: str | None = Field(default=None, description="Why the runner stopped, if it did.")
    subscribed: bool | None = Field(
        default=None,
        description="On PostgreSQL with in-process projections, whether the runner is "
        "subscribed to the log (LISTEN); `false` (and status `degraded`) while it cannot "
        "re-subscribe after losing the store: the views then follow by polling.",
    )
    clock_behind_seconds: float | None = Field(
        default=None,
        description="How far this server's clock was behind the last stored `recorded_at` "
        "at its last append (null while it is not). Recorded times strictly increase: "
        "while the clock is behind, each event is stamped 1 µs after the last one.",
    )


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    index: int | None = None
    errors: list[ProblemField] | None = None


def fact_of(event: Any) -> facts.Fact:
    """The fact a stored event records, without the ledger's metadata."""
    fact_type = facts.FACT_TYPES[event.TYPE]
    return fact_type(**{f.name: getattr(event, f.name) for f in dataclasses.fields(fact_type)})


# ------------------------------------------------------------------ shaping


def _as_json_text(value: Any) -> str:
    """What pydantic's JSON mode writes for the scalars its python mode keeps as objects."""
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    if isinstance(value, Decimal | UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} cannot be fingerprinted")


def fingerprint(data: Any) -> str:
    """SHA-256 of the canonical JSON of a parsed body: white space and key order do not count.

    Takes pydantic's python-mode dump as well as its JSON-mode one (the same digest): JSON
    mode encodes keys to UTF-8 and fails on a lone surrogate, which ASCII escapes keep here;
    the domain refuses it with a proper error once the request is decided.
    """
    text = json.dumps(
        data, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_as_json_text
    )
    return hashlib.sha256(text.encode("ascii")).hexdigest()


def summary_of(neg: Negotiation) -> NegotiationSummary:
    return NegotiationSummary(
        slug=neg.slug,
        title=neg.title,
        subject=neg.subject,
        status=neg.status,
        version=neg.version,
        parties=[
            PartyPublic(id=k, name=v, actor_code=neg.actor_codes.get(k))
            for k, v in neg.parties.items()
        ],
        terms=[TermPublic(id=k, name=t.name, unit=t.unit) for k, t in neg.terms.items()],
        counts=dict(sorted(neg.counts.items())),
        head_hash=neg.head_hash,
        created_at=format_recorded_at(neg.created_on),
        updated_at=format_recorded_at(neg.modified_on),
    )


def recorded_of(recorded: Recorded) -> RecordedPublic:
    return RecordedPublic(
        negotiation=recorded.negotiation,
        version=recorded.version,
        events=[
            RecordedEventPublic(
                event_id=str(e.event_id),
                type=e.type,
                version=e.version,
                position=e.position,
                recorded_at=format_recorded_at(e.recorded_at),
                hash=e.hash,
            )
            for e in recorded.events
        ],
    )


def entry_of(event: Any, neg: Negotiation, position: int | None) -> EventPublic:
    """A ledger entry: the contract payload plus the ledger's metadata and retraction status."""
    fact = fact_of(event)
    event_id = str(event.event_id)
    retracted_by = neg.retracted_by(event_id)
    return EventPublic(
        event_id=event_id,
        type=fact.TYPE,
        version=event.originator_version,
        position=position,
        occurred_at=fact.occurred_at.isoformat(),
        **payload_of(fact),
        recorded_at=format_recorded_at(event.timestamp),
        recorded_by=event.recorded_by,
        hash=event.hash,
        prev_hash=event.prev_hash,
        retracted=retracted_by is not None,
        retracted_by=retracted_by,
    )


# ------------------------------------------------------------------ audit trail


class SourcePublic(BaseModel):
    title: str
    url: str | None
    publisher: str | None
    published_on: str | None


class AuditEntryPublic(BaseModel):
    """One event as the audit trail shows it: who recorded it, when, and its corrections."""

    event_id: str
    type: str
    version: int
    position: int | None = Field(description="Its place in the ledger's global log.")
    occurred_at: str
    recorded_at: str
    recorded_by: str
    hash: str
    prev_hash: str
    retracts: str | None = Field(description="For a retraction: the event it retracts.")
    retracted_by: str | None = Field(description="The retraction that retracted this event.")
    retraction_reason: str | None = Field(
        description="Why: for a retracted event, its retraction's reason; for a retraction, "
        "its own."
    )
    sources: list[SourcePublic]


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "version": 29,
                    "head_hash": "901b78230de18045c22f0d203852aa592e698236e68dc27aeac04f60cdc23e61",
                    "events": [
                        {
                            "event_id": EXAMPLE_EVENT_ID,
                            "type": "statement_made",
                            "version": 18,
                            "position": 18,
                            "occurred_at": "2020-04-06",
                            "recorded_at": "2026-01-01T12:00:00.000000+00:00",
                            "recorded_by": "demo",
                            "hash": "5b0c5e4f3d2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c",
                            "prev_hash": "1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5b0c5e4f3d2a1b0c9d8e7f6a5b4c3d2e",
                            "retracts": None,
                            "retracted_by": EXAMPLE_AGREEMENT_ID,
                            "retraction_reason": "Wrong date: the spokesperson spoke on April 7.",
                            "sources": [KOREA_HERALD],
                        }
                    ],
                    "next_after_version": None,
                }
            ]
        }
    )

    negotiation: str
    version: int = Field(description="The negotiation's version the page was read at.")
    head_hash: str = Field(description="The hash of the negotiation's latest event.")
    events: list[AuditEntryPublic] = Field(description="In recorded order (by version).")
    next_after_version: int | None = Field(
        description="Pass as `after_version` for the next page; null at the end."
    )


# ------------------------------------------------------------------ global feed


class FeedEntry(EventPublic):
    """A ledger entry as in its negotiation's ledger, plus the negotiation's slug."""

    negotiation: str
    position: int  # every entry of the feed has its place in the log


class FeedPage(BaseModel):
    events: list[FeedEntry]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when this page reached the end "
        "of the log (follow on from the last entry's position)."
    )
