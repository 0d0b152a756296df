"""A negotiation's events as PLOVER 2.0 event records (docs/ledger-format.md, "PLOVER").

PLOVER (the Political Language Ontology for Verifiable Event Records, Open Event Data
Alliance) codes who did what to whom: ``actor``, ``event`` (a list of categories such as
CONSULT), ``mode``, ``recipient``, ``date``. Actors are ``{code, entity_text, office}`` with
``code`` a country and a sector (``KOR GOV``), from the party's actor code. Only the Parley events with a PLOVER counterpart become
records; the others (statements, which PLOVER drops on purpose, bookkeeping such as parties
joining, and every retracted event) are left out and counted.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from domain import facts
from domain.canonical import format_recorded_at
from domain.facts import fact_of
from domain.ledger import Ledger
from domain.negotiation import Negotiation
from domain.values import Participant, Source, iso3166_alpha3

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
CODEBOOK = "plover-2.0"
CITE_CODER = "Parley: events recorded by hand from the cited sources"
FALLBACK_SECTOR = "GOV"
"""A party without an actor code whose id is an ISO 3166 alpha-3 country is taken as its
government; any other party without one gets no ``code`` (its ``entity_text`` names it)."""


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
        if entry.type not in MAPPED_TYPES:
            left_out[entry.type] += 1
        elif not entry.is_live:
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
    record["event"] = [coded.event]
    if coded.mode is not None:
        record["mode"] = [coded.mode]
    record["actor"] = coded.actor
    if coded.recipient:
        record["recipient"] = coded.recipient
    record.update(
        quad_code=QUAD_CODES[coded.event],
        link=neg.slug,
        cite_info=_cite_info(fact.sources),
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

    def code(self, party: str) -> dict[str, str]:
        """``{"code": "KOR GOV"}`` from the party's actor code, else a sensible fallback."""
        code = self.neg.actor_codes.get(party)
        if code is None and party in iso3166_alpha3():
            code = f"{party} {FALLBACK_SECTOR}"
        return {} if code is None else {"code": code}

    def actor(self, party: str, participants: Sequence[Participant] = ()) -> list[dict[str, str]]:
        """A party's actor objects: one per named participant of it, else the party itself."""
        code = self.code(party)
        named = [
            {**code, "entity_text": p.name, **({"office": p.role} if p.role else {})}
            for p in participants
            if p.party == party
        ]
        return named or [{**code, "entity_text": self.neg.parties.get(party, party)}]

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


def _together(
    ctx: _Context,
    parties: list[str],
    participants: Sequence[Participant],
    what: str,
    mode: str | None = None,
) -> _Coded:
    """A reciprocal CONSULT: every participant is an actor and there is no recipient.

    The manual codes a consultation this way when nothing says who hosted and who visited
    (the visitor is the actor and the host the recipient only when that is known). Parley
    records no host, so a meeting never claims ``visit``, nor ``third-party`` (a meeting
    hosted by a third party).
    """
    everyone = parties or list(ctx.neg.parties)
    return _Coded("CONSULT", mode, ctx.actors(everyone, participants), [], what)


def _call(ctx: _Context, fact: Any) -> _Coded:
    """``phone`` (any remote medium); the caller, when recorded, is the actor, else all are."""
    call: facts.CallHeld = fact
    parties = _involved(call.participants, call.readouts)
    topics = f": {', '.join(call.topics)}" if call.topics else ""
    comment = f"{call.channel} call{topics}"
    initiator = call.initiated_by
    if initiator is None:
        return _together(ctx, parties, call.participants, comment, "phone")
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
    return _together(ctx, parties, meeting.participants, f"meeting{where}{topics}")


def _round(ctx: _Context, fact: Any) -> _Coded:
    held: facts.RoundHeld = fact
    where = f" in {held.location}" if held.location else ""
    outcome = f": {held.outcome}" if held.outcome else ""
    parties = _involved(held.delegations)
    # Every delegation is a side of the round: all actors, no recipient. Its location names a
    # city, not a host, so no mode is claimed.
    return _together(ctx, parties, (), f"round {held.number}{where}{outcome}")


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
    offer = ctx.neg.entry(rejected.offer_event_id)
    maker = offer.party if offer is not None else None
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


def _citation(source: Source) -> str:
    parts = [source.publisher, f"“{source.title}”"]
    parts += [source.published_on.isoformat() if source.published_on else None, source.url]
    return ", ".join(p for p in parts if p)


def _cite_info(sources: Sequence[Source]) -> dict[str, str]:
    """PLOVER's one citeInfo object: the first source's title, url and publication, and every
    source (with its date, which citeInfo has no field for) in ``citation``."""
    cite = {"codebook": CODEBOOK, "coder": CITE_CODER}
    if sources:
        first = sources[0]
        cite["title"] = first.title
        if first.url is not None:
            cite["url"] = first.url
        if first.publisher is not None:
            cite["publication"] = first.publisher
        cite["citation"] = "; ".join(_citation(s) for s in sources)
    return cite
