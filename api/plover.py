"""A negotiation's events as PLOVER 2.0 event records (docs/ledger-format.md, "PLOVER").

PLOVER (the Political Language Ontology for Verifiable Event Records, Open Event Data
Alliance) codes who did what to whom: ``actor``, ``event`` (a category such as CONSULT),
``mode``, ``recipient``, ``date``. Only the Parley events with a PLOVER counterpart become
records; the others (statements, which PLOVER drops on purpose, bookkeeping such as parties
joining, and every retracted event) are left out and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.schemas import fact_of
from domain import facts
from domain.canonical import format_recorded_at
from domain.ledger import Ledger
from domain.negotiation import Negotiation
from domain.values import Participant, Source

PAGE = 500
MAPPED_TYPES = frozenset(
    (
        "call_held",
        "meeting_held",
        "round_held",
        "offer_made",
        "offer_rejected",
        "agreement_reached",
        "agreement_rejected",
    )
)
# Quad categories: 1 verbal cooperation, 3 verbal conflict.
QUAD_CODES = {"AGREE": 1, "CONSULT": 1, "SUPPORT": 1, "REQUEST": 3, "REJECT": 3}


@dataclass(frozen=True)
class PloverExport:
    """One negotiation's PLOVER records, read lazily, and what was left out (by type)."""

    negotiation: str
    records: int
    left_out: dict[str, int]
    """Events without a PLOVER record: by type, and ``retracted`` for retracted ones."""
    items: Iterator[dict[str, Any]]

    def summary(self) -> str:
        left = ", ".join(f"{k}={v}" for k, v in sorted(self.left_out.items()))
        return f"{self.records} records; left out: {left or 'none'}"


def plover_export(ledger: Ledger, slug: str, *, page: int = PAGE) -> PloverExport:
    """A negotiation's PLOVER records as it stands now (raises NegotiationNotFound at once)."""
    neg = ledger.get(slug)
    left_out: Counter[str] = Counter()
    records = 0
    for entry in neg.entries.values():
        if entry["type"] not in MAPPED_TYPES:
            left_out[entry["type"]] += 1
        elif entry["retracted_by"] is not None:
            left_out["retracted"] += 1
        else:
            records += 1

    def items() -> Iterator[dict[str, Any]]:
        after = 0
        while after < neg.version:
            found = ledger.stream(slug, after_version=after, up_to_version=neg.version, limit=page)
            if not found:
                return
            for event in found:
                record = plover_record(neg, event)
                if record is not None:
                    yield record
            after = found[-1].originator_version

    return PloverExport(neg.slug, records, dict(left_out), items())


def plover_record(neg: Negotiation, event: Negotiation.Event) -> dict[str, Any] | None:
    """The PLOVER record of one stored event, or None when it has none (or was retracted)."""
    fact = fact_of(event)
    event_id = str(event.event_id)
    if fact.TYPE not in MAPPED_TYPES or not neg.is_live(event_id):
        return None
    coded = _CODERS[fact.TYPE](_Context(neg), fact)
    record: dict[str, Any] = {"id": event_id, **_date_fields(fact.occurred_at)}
    if isinstance(fact, facts.RoundHeld) and fact.ended_at is not None:
        record.update(_date_fields(fact.ended_at, "end"))
    record.update(
        event=coded.event,
        mode=coded.mode,
        actor=coded.actor,
        recipient=coded.recipient,
        quad_code=QUAD_CODES[coded.event],
        link=neg.slug,
        cite_info=[_cite(s) for s in fact.sources],
        coder=event.recorded_by,
        coded_date=format_recorded_at(event.timestamp)[:10],
        coded_time=format_recorded_at(event.timestamp)[11:],
        comment=" — ".join(p for p in (coded.comment, fact.note) if p),
        parley={
            "negotiation": neg.slug,
            "type": fact.TYPE,
            "version": event.originator_version,
            "hash": event.hash,
        },
    )
    return record


# ------------------------------------------------------------------ coding


@dataclass(frozen=True)
class _Coded:
    event: str
    mode: str | None
    actor: list[dict[str, str]]
    recipient: list[dict[str, str]]
    comment: str


@dataclass(frozen=True)
class _Context:
    neg: Negotiation

    def actor(self, party: str, participants: Sequence[Participant] = ()) -> list[dict[str, str]]:
        """A party's actor objects: one per named participant of it, else the party itself."""
        named = [
            {"code": party, "actor_text": p.name, **({"office": p.role} if p.role else {})}
            for p in participants
            if p.party == party
        ]
        return named or [{"code": party, "actor_text": self.neg.parties.get(party, party)}]

    def actors(
        self, parties: Sequence[str], participants: Sequence[Participant] = ()
    ) -> list[dict[str, str]]:
        return [a for party in parties for a in self.actor(party, participants)]

    def others(self, *parties: str) -> list[str]:
        return [p for p in self.neg.parties if p not in parties]


def _involved(*groups: Sequence[Any]) -> list[str]:
    """The parties named by participants, readouts or delegations, first mention first."""
    found: list[str] = []
    for group in groups:
        for item in group:
            if item.party not in found:
                found.append(item.party)
    return found


def _gathering(
    ctx: _Context,
    parties: list[str],
    participants: Sequence[Participant],
    what: str,
    *,
    with_mode: bool,
) -> _Coded:
    """A meeting or round: Parley records no host, so the first-named party is the visitor.

    With ``with_mode``, two parties make ``visit`` (the first visiting the second), three or
    more ``third-party``; fewer, or without it, no mode.
    """
    if not parties:
        return _Coded("CONSULT", None, ctx.actors(list(ctx.neg.parties)), [], what)
    mode = "visit" if len(parties) == 2 else "third-party" if len(parties) > 2 else None
    mode = mode if with_mode else None
    first, rest = parties[0], parties[1:]
    return _Coded(
        "CONSULT", mode, ctx.actor(first, participants), ctx.actors(rest, participants), what
    )


def _call(ctx: _Context, fact: Any) -> _Coded:
    call: facts.CallHeld = fact
    parties = _involved(call.participants, call.readouts)
    initiator = call.initiated_by or (parties[0] if parties else None)
    topics = f": {', '.join(call.topics)}" if call.topics else ""
    comment = f"{call.channel} call{topics}"
    if initiator is None:
        return _Coded("CONSULT", "phone", ctx.actors(list(ctx.neg.parties)), [], comment)
    rest = [p for p in parties if p != initiator]
    return _Coded(
        "CONSULT",
        "phone",
        ctx.actor(initiator, call.participants),
        ctx.actors(rest, call.participants),
        comment,
    )


def _meeting(ctx: _Context, fact: Any) -> _Coded:
    meeting: facts.MeetingHeld = fact
    topics = f": {', '.join(meeting.topics)}" if meeting.topics else ""
    where = f" in {meeting.location}" if meeting.location else ""
    parties = _involved(meeting.participants, meeting.readouts)
    return _gathering(ctx, parties, meeting.participants, f"meeting{where}{topics}", with_mode=True)


def _round(ctx: _Context, fact: Any) -> _Coded:
    held: facts.RoundHeld = fact
    where = f" in {held.location}" if held.location else ""
    outcome = f": {held.outcome}" if held.outcome else ""
    parties = _involved(held.delegations)
    # A round's location names a city, not a host: no mode is claimed for it.
    return _gathering(ctx, parties, (), f"round {held.number}{where}{outcome}", with_mode=False)


def _values(values: dict[str, Any]) -> str:
    return ", ".join(f"{term} {format(q.amount, 'f')} {q.unit}" for term, q in values.items())


def _offer(ctx: _Context, fact: Any) -> _Coded:
    offer: facts.OfferMade = fact
    event = "REQUEST" if offer.kind == "demand" else "AGREE"
    conditions = f" ({offer.conditions})" if offer.conditions else ""
    return _Coded(
        event,
        None,
        ctx.actor(offer.party),
        ctx.actors(ctx.others(offer.party)),
        f"{offer.kind.replace('_', ' ')}: {_values(offer.values)}{conditions}",
    )


def _offer_rejected(ctx: _Context, fact: Any) -> _Coded:
    rejected: facts.OfferRejected = fact
    offer = ctx.neg.entries.get(rejected.offer_event_id, {})
    maker = offer.get("party")
    recipient = [maker] if isinstance(maker, str) else ctx.others(rejected.party)
    return _Coded(
        "REJECT",
        None,
        ctx.actor(rejected.party),
        ctx.actors(recipient),
        f"rejects offer {rejected.offer_event_id}",
    )


def _agreement(ctx: _Context, fact: Any) -> _Coded:
    agreement: facts.AgreementReached = fact
    event = "SUPPORT" if agreement.status in ("signed", "ratified") else "AGREE"
    # Every party is a side of it: PLOVER codes symmetric events with all actors as source.
    return _Coded(
        event,
        None,
        ctx.actors(list(ctx.neg.parties)),
        [],
        f"agreement {agreement.status}: {_values(agreement.values)}",
    )


def _agreement_rejected(ctx: _Context, fact: Any) -> _Coded:
    rejected: facts.AgreementRejected = fact
    reason = f": {rejected.reason}" if rejected.reason else ""
    return _Coded(
        "REJECT",
        None,
        ctx.actor(rejected.party),
        ctx.actors(ctx.others(rejected.party)),
        f"rejects agreement {rejected.agreement_event_id}{reason}",
    )


_CODERS: dict[str, Callable[[_Context, Any], _Coded]] = {
    "call_held": _call,
    "meeting_held": _meeting,
    "round_held": _round,
    "offer_made": _offer,
    "offer_rejected": _offer_rejected,
    "agreement_reached": _agreement,
    "agreement_rejected": _agreement_rejected,
}


def _date_fields(value: Any, prefix: str = "") -> dict[str, str]:
    """PLOVER's ``date`` (YYYY-MM-DD) and, for a moment, ``time`` with its offset."""
    if isinstance(value, datetime):
        return {
            f"{prefix}date": value.date().isoformat(),
            f"{prefix}time": value.timetz().isoformat(),
        }
    return {f"{prefix}date": value.isoformat()}


def _cite(source: Source) -> dict[str, str]:
    cite = {"title": source.title}
    if source.url is not None:
        cite["url"] = source.url
    if source.publisher is not None:
        cite["publication"] = source.publisher
    if source.published_on is not None:
        cite["published_on"] = source.published_on.isoformat()
    return cite
