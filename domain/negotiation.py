"""The Negotiation aggregate: one event stream per negotiation.

Decide, then apply. ``decide()`` checks every rule of the contract against the current state
and returns the fact to record (normalised); the ``apply()`` methods of the events only fold
state and never check rules, read clocks or make ids, so that tightening a rule later can
never break the replay of stored history.

The state is kept in plain JSON-shaped containers (str keys, lists, dicts) so snapshots
store it as is; nested entries are replaced, never changed in place, which lets
``__deepcopy__`` copy only the top level.
"""

from __future__ import annotations

import dataclasses
import functools
from copy import copy
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate

from domain import errors, facts
from domain.canonical import GENESIS_HASH, LEDGER_FORMAT, MAX_SAFE_INTEGER
from domain.values import (
    ISSUE_ID_RE,
    MAX_INTEGER_DIGITS,
    PARTY_ID_RE,
    SLUG_RE,
    TERM_ID_RE,
    OccurredAt,
    Participant,
    Quantity,
    Readout,
    Source,
    check_actor_code,
    check_currency,
    check_name,
    check_pattern,
    check_text,
    check_unit,
    is_currency,
    parse_occurred_at,
    quoted,
    sort_key,
    to_amount,
)

NAMESPACE = uuid5(NAMESPACE_URL, "https://parley.invalid/negotiations")

#: How far ahead of the recording clock a date may lie (the widest UTC offset): the day has
#: begun somewhere on Earth.
FUTURE_TOLERANCE = timedelta(hours=14)
#: How far ahead of the recording clock a datetime may lie: it names an instant, so only the
#: clocks' disagreement is tolerated.
CLOCK_SKEW = timedelta(minutes=5)
MAX_DETAILS_DEPTH = 16
MAX_LIST_LENGTH = 200
#: How long the state keeps an idempotency key after the request that used it. A fixed
#: constant, not the configured window: replay must fold the same state whatever the
#: settings of the process replaying, so the window may only be shorter than this.
IDEMPOTENCY_RETENTION = timedelta(days=30)


@functools.lru_cache(maxsize=4096)
def negotiation_id(slug: str) -> UUID:
    """The aggregate id of a negotiation: a UUID derived from its slug.

    Cached: an append asks for it several times (its lock, its load, its stream), and
    uuid5 hashes each time.
    """
    return uuid5(NAMESPACE, slug)


@dataclasses.dataclass(frozen=True)
class EventMeta:
    """What the ledger adds to a fact when it records it."""

    event_id: UUID
    recorded_at: datetime
    recorded_by: str
    prev_hash: str
    hash: str
    idempotency: list[Any] | None = None
    """``[scoped key, request fingerprint, first version]`` on the last event of a request.

    The state keeps ``{scoped key: [fingerprint, first version, last version, recorded_at
    ISO]}``; snapshots taken before the timestamp was kept hold 3-element entries.
    """
    ledger_format: int = LEDGER_FORMAT
    """How the event's hash was computed (docs/ledger-format.md)."""


class Negotiation(Aggregate):
    """One negotiation: its parties, terms, and the references later events may make."""

    if TYPE_CHECKING:  # declared here only: annotations would make the library build __init__
        slug: str
        title: str
        subject: str | None
        head_hash: str
        parties: dict[str, str]
        terms: dict[str, list[str]]
        entries: dict[str, dict[str, Any]]
        rounds: dict[str, list[Any]]
        issues: dict[str, dict[str, Any]]
        status_changes: list[list[Any]]
        definitions: dict[str, str]
        idempotency: dict[str, list[Any]]
        counts: dict[str, int]
        actor_codes: dict[str, str]
    else:
        # A snapshot taken before parties had actor codes has no such attribute (and no
        # codes). Folds assign a new dict, never change this one in place.
        actor_codes = {}

    # ----------------------------------------------------------------- events

    class Event(Aggregate.Event):
        event_id: UUID
        recorded_by: str
        prev_hash: str
        hash: str
        idempotency: list[Any] | None
        # Stored with every event since format 2; an event stored before has no such key and
        # reads this default, the format it was hashed in.
        ledger_format: int = 1

        def apply(self, aggregate: Any) -> None:
            neg: Negotiation = aggregate
            neg.head_hash = self.hash
            if self.idempotency is not None:
                key, fingerprint, first_version = self.idempotency
                seen = [fingerprint, first_version, self.originator_version]
                seen.append(self.timestamp.isoformat())
                # Re-inserted at the end, so the map stays in the order keys were last used.
                neg.idempotency.pop(key, None)
                neg.idempotency[key] = seen
                _forget_keys_before(neg.idempotency, self.timestamp - IDEMPOTENCY_RETENTION)
            fact: facts.Fact = self  # type: ignore[assignment]
            neg.counts = {**neg.counts, fact.TYPE: neg.counts.get(fact.TYPE, 0) + 1}
            neg._index(self.event_id, fact, self.originator_version)
            self.fold(neg)

        def fold(self, neg: Negotiation) -> None:
            """Type-specific change of state; most facts need none beyond the index."""

    class NegotiationOpened(facts.NegotiationOpened, Event, Aggregate.Created):
        def apply(self, aggregate: Any) -> None:
            neg: Negotiation = aggregate
            neg.slug = self.slug
            neg.title = self.title
            neg.subject = self.subject
            neg.head_hash = GENESIS_HASH
            neg.parties = {}
            neg.actor_codes = {}
            neg.terms = {}
            neg.entries = {}
            neg.rounds = {}
            neg.issues = {}
            neg.status_changes = []
            neg.definitions = {}
            neg.idempotency = {}
            neg.counts = {}
            Negotiation.Event.apply(self, neg)

    class PartyJoined(facts.PartyJoined, Event):
        def fold(self, neg: Negotiation) -> None:
            neg.parties = {**neg.parties, self.party.id: self.party.name}
            if self.party.actor_code is not None:
                neg.actor_codes = {**neg.actor_codes, self.party.id: self.party.actor_code}
            neg.definitions = {**neg.definitions, "party:" + self.party.id: str(self.event_id)}

    class TermDefined(facts.TermDefined, Event):
        def fold(self, neg: Negotiation) -> None:
            neg.terms = {**neg.terms, self.term.id: [self.term.name, self.term.unit]}
            neg.definitions = {**neg.definitions, "term:" + self.term.id: str(self.event_id)}

    class RoundHeld(facts.RoundHeld, Event):
        def fold(self, neg: Negotiation) -> None:
            entry = [sort_key(self.occurred_at), str(self.event_id)]
            neg.rounds = {**neg.rounds, str(self.number): entry}

    class CallHeld(facts.CallHeld, Event):
        pass

    class MeetingHeld(facts.MeetingHeld, Event):
        pass

    class OfferMade(facts.OfferMade, Event):
        pass

    class OfferWithdrawn(facts.OfferWithdrawn, Event):
        def fold(self, neg: Negotiation) -> None:
            neg._set_entry(self.offer_event_id, withdrawn_by=str(self.event_id))

    class OfferRejected(facts.OfferRejected, Event):
        pass

    class StatementMade(facts.StatementMade, Event):
        pass

    class IssueRaised(facts.IssueRaised, Event):
        def fold(self, neg: Negotiation) -> None:
            issue = {"raised": str(self.event_id), "resolved": None}
            neg.issues = {**neg.issues, self.issue_id: issue}

    class IssueResolved(facts.IssueResolved, Event):
        def fold(self, neg: Negotiation) -> None:
            issue = {**neg.issues[self.issue_id], "resolved": str(self.event_id)}
            neg.issues = {**neg.issues, self.issue_id: issue}

    class AgreementReached(facts.AgreementReached, Event):
        pass

    class AgreementRejected(facts.AgreementRejected, Event):
        def fold(self, neg: Negotiation) -> None:
            neg._set_entry(self.agreement_event_id, rejected_by=str(self.event_id))

    class StatusChanged(facts.StatusChanged, Event):
        def fold(self, neg: Negotiation) -> None:
            change = [sort_key(self.occurred_at), self.originator_version, self.status]
            neg.status_changes = sorted([*neg.status_changes, [*change, str(self.event_id)]])

    class ExchangeRateRecorded(facts.ExchangeRateRecorded, Event):
        pass

    class EventRetracted(facts.EventRetracted, Event):
        def fold(self, neg: Negotiation) -> None:
            neg._undo(self.retracted_event_id, str(self.event_id))

    EVENT_CLASSES: ClassVar[dict[str, type[Negotiation.Event]]] = {}

    # ----------------------------------------------------------- state helpers

    def __deepcopy__(self, memo: dict[int, Any]) -> Negotiation:
        """Copies the containers, shares their (never mutated) entries."""
        clone = object.__new__(type(self))
        state = {k: copy(v) if isinstance(v, dict | list) else v for k, v in vars(self).items()}
        state["_pending_events"] = []
        object.__setattr__(clone, "__dict__", state)
        return clone

    def _index(self, event_id: UUID, fact: facts.Fact, version: int) -> None:
        entry: dict[str, Any] = {
            "type": fact.TYPE,
            "key": sort_key(fact.occurred_at),
            "version": version,
            "party": _party_of(fact),
            "refs": sorted(_references(fact)),
            "retracted_by": None,
            "withdrawn_by": None,
        }
        # In place: the index holds an entry per event, and copying it per event made
        # appends cost O(stream). Copies of the aggregate own their top-level containers.
        self.entries[str(event_id)] = entry

    def _set_entry(self, event_id: str, **changes: Any) -> None:
        # The entry itself is replaced, never changed: copies share entries.
        self.entries[event_id] = {**self.entries[event_id], **changes}

    def _undo(self, target_id: str, retraction_id: str) -> None:
        """A retracted fact counts nowhere: undo what it did to the state."""
        target = self.entries[target_id]
        self._set_entry(target_id, retracted_by=retraction_id)
        kind = target["type"]
        if kind == "party_joined":
            party = target["party"]
            self.parties = {k: v for k, v in self.parties.items() if k != party}
            self.actor_codes = {k: v for k, v in self.actor_codes.items() if k != party}
            self.definitions = {k: v for k, v in self.definitions.items() if v != target_id}
        elif kind == "term_defined":
            term = next(r.removeprefix("term:") for r in target["refs"] if r.startswith("term:"))
            self.terms = {k: v for k, v in self.terms.items() if k != term}
            self.definitions = {k: v for k, v in self.definitions.items() if v != target_id}
        elif kind == "round_held":
            self.rounds = {k: v for k, v in self.rounds.items() if v[1] != target_id}
        elif kind == "offer_withdrawn":
            offer = next(r.removeprefix("event:") for r in target["refs"] if r.startswith("event:"))
            self._set_entry(offer, withdrawn_by=None)
        elif kind == "agreement_rejected":
            agreement = next(
                r.removeprefix("event:") for r in target["refs"] if r.startswith("event:")
            )
            self._set_entry(agreement, rejected_by=None)
        elif kind == "issue_raised":
            self.issues = {k: v for k, v in self.issues.items() if v["raised"] != target_id}
        elif kind == "issue_resolved":
            self.issues = {
                k: {**v, "resolved": None} if v["resolved"] == target_id else v
                for k, v in self.issues.items()
            }
        elif kind == "status_changed":
            self.status_changes = [c for c in self.status_changes if c[3] != target_id]

    # ------------------------------------------------------------------ views

    @property
    def status(self) -> str:
        """The status in effect now: the latest live status change by occurred_at."""
        return self.status_changes[-1][2] if self.status_changes else "open"

    def is_live(self, event_id: str) -> bool:
        entry = self.entries.get(event_id)
        return entry is not None and entry["retracted_by"] is None

    def closed_before(self, key: str) -> bool:
        """Whether a concluded/collapsed status is in effect just before ``key``."""
        status = "open"
        for change_key, _, change_status, _ in self.status_changes:
            if change_key >= key:
                break
            status = change_status
        return status in facts.CLOSING_STATUSES

    # ---------------------------------------------------------------- decide

    @classmethod
    def decide_opening(
        cls, fact: facts.NegotiationOpened, recorded_at: datetime
    ) -> facts.NegotiationOpened:
        """Checks an opening; returns it normalised (``occurred_at`` parsed), or raises."""
        check_pattern(fact.slug, SLUG_RE, "slug", "slug")
        check_name(fact.title, "title")
        if fact.subject is not None:
            check_text(fact.subject, "subject", max_length=5_000)
        checked: facts.NegotiationOpened = _checked_common(fact, recorded_at)
        return checked

    @classmethod
    def open(cls, fact: facts.NegotiationOpened, meta: EventMeta) -> Negotiation:
        """Starts the stream with an opening already decided by :meth:`decide_opening`."""
        return cls._create(
            cls.NegotiationOpened,
            id=negotiation_id(fact.slug),
            timestamp=meta.recorded_at,
            **_event_kwargs(fact, meta),
        )

    def decide(
        self, fact: facts.Fact, recorded_at: datetime, ledger_format: int = LEDGER_FORMAT
    ) -> facts.Fact:
        """Checks ``fact`` against every rule; returns it normalised, or raises.

        ``ledger_format`` is the format the event will be hashed in: format 2 (RFC 8785)
        holds integers only within ±(2^53 - 1); a format-1 event restored from an old
        export keeps what format 1 allowed.
        """
        fact = _checked_common(fact, recorded_at)
        key = sort_key(fact.occurred_at)
        if fact.TYPE not in facts.ALLOWED_AFTER_CLOSE and self.closed_before(key):
            raise errors.NegotiationClosed(
                f"the negotiation was {self._status_before(key)} before {fact.occurred_at}; "
                "only retractions, status changes and agreements may occur after that",
                field="occurred_at",
            )
        decider = getattr(self, "_decide_" + fact.TYPE, None)
        if decider is None:
            raise errors.InvalidValue(f"{fact.TYPE!r} cannot be recorded here", field="type")
        decided: facts.Fact = decider(fact)
        if ledger_format >= 2 and isinstance(decided, facts.IssueRaised):
            _check_safe_integers(decided.details, "details")
        return decided

    def record(self, fact: facts.Fact, meta: EventMeta) -> None:
        """Records an already decided fact as the next event of this stream."""
        self.trigger_event(
            self.EVENT_CLASSES[fact.TYPE], timestamp=meta.recorded_at, **_event_kwargs(fact, meta)
        )

    def _status_before(self, key: str) -> str:
        return _status_before(self.status_changes, key)

    def _need_party(self, party: str | None, field: str) -> None:
        if party is not None and party not in self.parties:
            raise errors.UnknownParty(
                f"{field}: party {quoted(party)} has not joined this negotiation", field=field
            )

    def _check_participants(self, items: tuple[Participant, ...], field: str) -> None:
        _check_length(items, field)
        for i, p in enumerate(items):
            self._need_party(p.party, f"{field}[{i}].party")
            check_name(p.name, f"{field}[{i}].name")
            if p.role is not None:
                check_text(p.role, f"{field}[{i}].role", max_length=500)

    def _check_readouts(self, items: tuple[Readout, ...], field: str) -> tuple[Readout, ...]:
        _check_length(items, field)
        for i, r in enumerate(items):
            self._need_party(r.party, f"{field}[{i}].party")
            check_text(r.summary, f"{field}[{i}].summary")
            _check_sources(r.sources, f"{field}[{i}].sources")
        return items

    def _check_values(self, values: dict[str, Quantity], field: str) -> dict[str, Quantity]:
        checked: dict[str, Quantity] = {}
        for term_id, quantity in values.items():
            where = f"{field}.{term_id}"
            if term_id not in self.terms:
                raise errors.UnknownTerm(
                    f"{where}: term {quoted(term_id)} is not defined", field=where
                )
            unit = self.terms[term_id][1]
            if quantity.unit != unit and not (is_currency(unit) and is_currency(quantity.unit)):
                raise errors.UnitMismatch(
                    f"{where}: {quoted(quantity.unit)} does not fit term {quoted(term_id)} "
                    f"measured in {unit!r} (only money terms accept another ISO 4217 currency)",
                    field=where,
                )
            checked[term_id] = Quantity(
                to_amount(quantity.amount, where + ".amount"), quantity.unit
            )
        return checked

    def _check_answer(
        self, event_id: str, field: str, kinds: tuple[str, ...], key: str
    ) -> dict[str, Any]:
        """The event an answer refers to: in this negotiation, live, of the right kind, earlier."""
        target = self._referenced(event_id, field)
        if target["type"] not in kinds:
            raise errors.WrongEventType(
                f"{field}: event {event_id} is a {target['type']}, not a {' or '.join(kinds)}",
                field=field,
            )
        if target["retracted_by"] is not None:
            raise errors.AlreadyRetracted(f"{field}: event {event_id} was retracted", field=field)
        if target["key"] > key:
            raise errors.AnswerBeforeEvent(
                f"{field}: the answer cannot occur before the event it answers", field=field
            )
        return target

    def _referenced(self, event_id: str, field: str) -> dict[str, Any]:
        target = self.entries.get(event_id)
        if target is None:
            raise errors.UnknownEvent(
                f"{field}: no event {event_id} in this negotiation", field=field
            )
        return target

    def _decide_party_joined(self, fact: facts.PartyJoined) -> facts.Fact:
        check_pattern(fact.party.id, PARTY_ID_RE, "party id", "party.id")
        check_name(fact.party.name, "party.name")
        if fact.party.actor_code is not None:
            check_actor_code(fact.party.actor_code, "party.actor_code")
        if fact.party.id in self.parties:
            raise errors.DuplicateParty(
                f"party {quoted(fact.party.id)} has already joined", field="party.id"
            )
        return fact

    def _decide_term_defined(self, fact: facts.TermDefined) -> facts.Fact:
        check_pattern(fact.term.id, TERM_ID_RE, "term id", "term.id")
        check_name(fact.term.name, "term.name")
        check_unit(fact.term.unit, "term.unit")
        if fact.term.id in self.terms:
            raise errors.DuplicateTerm(
                f"term {quoted(fact.term.id)} is already defined", field="term.id"
            )
        return fact

    def _decide_round_held(self, fact: facts.RoundHeld) -> facts.Fact:
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
        _check_length(fact.delegations, "delegations")
        for i, d in enumerate(fact.delegations):
            self._need_party(d.party, f"delegations[{i}].party")
            check_name(d.lead, f"delegations[{i}].lead")
            _check_length(d.members, f"delegations[{i}].members")
            for j, m in enumerate(d.members):
                check_name(m, f"delegations[{i}].members[{j}]")
        if str(fact.number) in self.rounds:
            raise errors.RoundNumberTaken(
                f"round {fact.number} is already on record", field="number"
            )
        for number, (other_key, _) in self.rounds.items():
            other = int(number)
            if (other < fact.number and other_key > key) or (
                other > fact.number and other_key < key
            ):
                raise errors.RoundOutOfOrder(
                    f"round {fact.number} would not follow round {other} in time: "
                    "round numbers increase with occurred_at",
                    field="number",
                )
        return dataclasses.replace(fact, ended_at=ended_at)

    def _decide_call_held(self, fact: facts.CallHeld) -> facts.Fact:
        if fact.channel not in facts.CHANNELS:
            raise errors.InvalidValue(f"channel is one of {facts.CHANNELS}", field="channel")
        self._need_party(fact.initiated_by, "initiated_by")
        if fact.duration_minutes is not None and not 0 <= fact.duration_minutes <= 100_000:
            raise errors.InvalidValue(
                "duration_minutes is between 0 and 100000", field="duration_minutes"
            )
        self._check_participants(fact.participants, "participants")
        _check_topics(fact.topics)
        self._check_readouts(fact.readouts, "readouts")
        return fact

    def _decide_meeting_held(self, fact: facts.MeetingHeld) -> facts.Fact:
        if fact.location is not None:
            check_text(fact.location, "location", max_length=500)
        self._check_participants(fact.participants, "participants")
        _check_topics(fact.topics)
        self._check_readouts(fact.readouts, "readouts")
        return fact

    def _decide_offer_made(self, fact: facts.OfferMade) -> facts.Fact:
        self._need_party(fact.party, "party")
        if fact.kind not in facts.OFFER_KINDS:
            raise errors.InvalidValue(f"kind is one of {facts.OFFER_KINDS}", field="kind")
        if fact.conditions is not None:
            check_text(fact.conditions, "conditions")
        return dataclasses.replace(fact, values=self._check_values(fact.values, "values"))

    def _decide_offer_withdrawn(self, fact: facts.OfferWithdrawn) -> facts.Fact:
        self._need_party(fact.party, "party")
        offer_id = _event_ref(fact.offer_event_id, "offer_event_id")
        offer = self._check_answer(
            offer_id, "offer_event_id", ("offer_made",), sort_key(fact.occurred_at)
        )
        if offer["party"] != fact.party:
            raise errors.NotOwnOffer(
                f"only {offer['party']} can withdraw its own offer", field="party"
            )
        if offer["withdrawn_by"] is not None:
            raise errors.OfferNotLive("that offer is already withdrawn", field="offer_event_id")
        return dataclasses.replace(fact, offer_event_id=offer_id)

    def _decide_offer_rejected(self, fact: facts.OfferRejected) -> facts.Fact:
        self._need_party(fact.party, "party")
        offer_id = _event_ref(fact.offer_event_id, "offer_event_id")
        offer = self._check_answer(
            offer_id, "offer_event_id", ("offer_made",), sort_key(fact.occurred_at)
        )
        if offer["party"] == fact.party:
            raise errors.OwnOfferRejected(
                "a party cannot reject its own offer (withdraw it instead)", field="party"
            )
        if offer["withdrawn_by"] is not None:
            raise errors.OfferNotLive("that offer was withdrawn", field="offer_event_id")
        return dataclasses.replace(fact, offer_event_id=offer_id)

    def _decide_statement_made(self, fact: facts.StatementMade) -> facts.Fact:
        self._need_party(fact.party, "party")
        check_name(fact.speaker, "speaker")
        check_text(fact.summary, "summary")
        return fact

    def _decide_issue_raised(self, fact: facts.IssueRaised) -> facts.Fact:
        check_pattern(fact.issue_id, ISSUE_ID_RE, "issue id", "issue_id")
        check_name(fact.title, "title")
        self._need_party(fact.raised_by, "raised_by")
        if fact.issue_id in self.issues:
            raise errors.DuplicateIssue(
                f"issue {quoted(fact.issue_id)} is already on record", field="issue_id"
            )
        if fact.details is None:
            return fact
        details = _checked_json(fact.details, "details", 0)
        if not isinstance(details, dict):
            raise errors.InvalidValue("details is an object", field="details")
        return dataclasses.replace(fact, details=details)

    def _decide_issue_resolved(self, fact: facts.IssueResolved) -> facts.Fact:
        issue = self.issues.get(fact.issue_id)
        if issue is None:
            raise errors.UnknownIssue(
                f"no issue {quoted(fact.issue_id)} is on record", field="issue_id"
            )
        if issue["resolved"] is not None:
            raise errors.IssueAlreadyResolved(
                f"issue {quoted(fact.issue_id)} is already resolved", field="issue_id"
            )
        if self.entries[issue["raised"]]["key"] > sort_key(fact.occurred_at):
            raise errors.AnswerBeforeEvent(
                "an issue cannot be resolved before it was raised", field="occurred_at"
            )
        check_text(fact.resolution, "resolution")
        return fact

    def _decide_agreement_reached(self, fact: facts.AgreementReached) -> facts.Fact:
        if fact.status not in facts.AGREEMENT_STATUSES:
            raise errors.InvalidValue(
                f"status is one of {facts.AGREEMENT_STATUSES}", field="status"
            )
        return dataclasses.replace(fact, values=self._check_values(fact.values, "values"))

    def _decide_agreement_rejected(self, fact: facts.AgreementRejected) -> facts.Fact:
        self._need_party(fact.party, "party")
        agreement_id = _event_ref(fact.agreement_event_id, "agreement_event_id")
        agreement = self._check_answer(
            agreement_id, "agreement_event_id", ("agreement_reached",), sort_key(fact.occurred_at)
        )
        # .get: entries in snapshots taken before this key existed lack it
        if agreement.get("rejected_by") is not None:
            raise errors.AgreementNotLive(
                f"that agreement was already rejected by {agreement['rejected_by']}",
                field="agreement_event_id",
            )
        if fact.reason is not None:
            check_text(fact.reason, "reason")
        return dataclasses.replace(fact, agreement_event_id=agreement_id)

    def _decide_status_changed(self, fact: facts.StatusChanged) -> facts.Fact:
        if fact.status not in facts.NEGOTIATION_STATUSES:
            raise errors.InvalidValue(
                f"status is one of {facts.NEGOTIATION_STATUSES}", field="status"
            )
        if fact.reason is not None:
            check_text(fact.reason, "reason")
        if fact.status in facts.CLOSING_STATUSES:
            self._check_nothing_after_close(sort_key(fact.occurred_at), fact.status)
        return fact

    def _check_nothing_after_close(self, close_key: str, status: str) -> None:
        """A backfilled close must not strand live events that occurred after it."""
        reopenings = [
            c[0]
            for c in self.status_changes
            if c[0] > close_key and c[2] not in facts.CLOSING_STATUSES
        ]
        reopen_key = min(reopenings) if reopenings else None
        for event_id, entry in self.entries.items():
            if entry["retracted_by"] is not None or entry["type"] in facts.ALLOWED_AFTER_CLOSE:
                continue
            if entry["type"] == "negotiation_opened":
                continue
            if entry["key"] > close_key and (reopen_key is None or entry["key"] <= reopen_key):
                raise errors.NegotiationClosed(
                    f"event {event_id} ({entry['type']}) occurred after the negotiation would "
                    f"be {status}; retract it or record the status change later"
                )

    def _first_stranded(self, changes: list[list[Any]]) -> str | None:
        """The first live event that would occur inside a closed period under ``changes``."""
        for event_id, entry in self.entries.items():
            if entry["retracted_by"] is not None or entry["type"] in facts.ALLOWED_AFTER_CLOSE:
                continue
            if entry["type"] == "negotiation_opened":
                continue
            if _status_before(changes, entry["key"]) in facts.CLOSING_STATUSES:
                return event_id
        return None

    def _decide_exchange_rate_recorded(self, fact: facts.ExchangeRateRecorded) -> facts.Fact:
        check_currency(fact.base, "base")
        check_currency(fact.quote, "quote")
        if fact.base == fact.quote:
            raise errors.InvalidValue("base and quote must differ", field="quote")
        rate = to_amount(fact.rate, "rate")
        if rate <= 0:
            raise errors.InvalidValue("a rate is positive", field="rate")
        return dataclasses.replace(fact, rate=rate)

    def _decide_event_retracted(self, fact: facts.EventRetracted) -> facts.Fact:
        target_id = _event_ref(fact.retracted_event_id, "retracted_event_id")
        target = self._referenced(target_id, "retracted_event_id")
        check_text(fact.reason, "reason")
        if target["retracted_by"] is not None:
            raise errors.AlreadyRetracted(
                f"event {target_id} was already retracted by {target['retracted_by']}",
                field="retracted_event_id",
            )
        if target["type"] in ("negotiation_opened", "event_retracted"):
            raise errors.NotRetractable(
                f"a {target['type']} cannot be retracted", field="retracted_event_id"
            )
        if target["type"] in ("party_joined", "term_defined"):
            ref = next(r for r in target["refs"] if r.startswith(("party:", "term:")))
            for other_id, other in self.entries.items():
                if other_id != target_id and other["retracted_by"] is None and ref in other["refs"]:
                    raise errors.DefinitionInUse(
                        f"{ref} is used by live event {other_id}; retract that first",
                        field="retracted_event_id",
                    )
        if target["type"] == "status_changed":
            remaining = [c for c in self.status_changes if c[3] != target_id]
            stranded = self._first_stranded(remaining)
            if stranded is not None:
                raise errors.NegotiationClosed(
                    f"without it, event {stranded} would occur after the negotiation closed; "
                    "retract that first",
                    field="retracted_event_id",
                )
        if target["type"] == "issue_raised":
            issue = next(i for i in self.issues.values() if i["raised"] == target_id)
            if issue["resolved"] is not None:
                raise errors.DefinitionInUse(
                    "that issue has a live resolution; retract the resolution first",
                    field="retracted_event_id",
                )
        return dataclasses.replace(fact, retracted_event_id=target_id)


Negotiation.EVENT_CLASSES.update(
    {
        cls.TYPE: cls
        for cls in vars(Negotiation).values()
        if isinstance(cls, type)
        and issubclass(cls, facts.Fact)
        and issubclass(cls, Negotiation.Event)
    }
)


def _event_kwargs(fact: facts.Fact, meta: EventMeta) -> dict[str, Any]:
    kwargs = {f.name: getattr(fact, f.name) for f in dataclasses.fields(fact)}
    kwargs.update(
        event_id=meta.event_id,
        recorded_by=meta.recorded_by,
        prev_hash=meta.prev_hash,
        hash=meta.hash,
        idempotency=meta.idempotency,
        ledger_format=meta.ledger_format,
    )
    return kwargs


def _forget_keys_before(seen: dict[str, list[Any]], cutoff: datetime) -> None:
    """Drops idempotency entries recorded before ``cutoff``, oldest first.

    The cutoff comes from the applying event's own timestamp, so replay prunes exactly as
    recording did. Entries are in the order keys were last used, so the scan stops at the
    first one young enough; entries from old snapshots carry no timestamp and are kept.
    """
    stale = []
    for key, entry in seen.items():
        if len(entry) < 4:
            continue
        if datetime.fromisoformat(entry[3]) >= cutoff:
            break
        stale.append(key)
    for key in stale:
        del seen[key]


def _party_of(fact: facts.Fact) -> str | None:
    if isinstance(fact, facts.PartyJoined):
        return fact.party.id
    party = getattr(fact, "party", None) or getattr(fact, "raised_by", None)
    return party if isinstance(party, str) else None


def _references(fact: facts.Fact) -> set[str]:
    """Every party, term and event a fact refers to (for retraction and definition checks)."""
    refs: set[str] = set()
    if isinstance(fact, facts.PartyJoined):
        return {"party:" + fact.party.id}
    if isinstance(fact, facts.TermDefined):
        return {"term:" + fact.term.id}
    for name in ("party", "raised_by", "initiated_by"):
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add("party:" + value)
    for name in ("participants", "readouts", "delegations"):
        for item in getattr(fact, name, ()) or ():
            refs.add("party:" + item.party)
    for term_id in getattr(fact, "values", None) or {}:
        refs.add("term:" + term_id)
    for name in ("offer_event_id", "agreement_event_id", "retracted_event_id"):
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add("event:" + value)
    return refs


def _status_before(changes: list[list[Any]], key: str) -> str:
    """The status in effect just before ``key`` under a sorted list of status changes."""
    status = "open"
    for change_key, _, change_status, _ in changes:
        if change_key >= key:
            break
        status = change_status
    return str(status)


def _checked_json(value: Any, field: str, depth: int) -> Any:
    """Free-form JSON data, normalised; refuses what storage or the hash would not keep."""
    if depth > MAX_DETAILS_DEPTH:
        raise errors.InvalidValue(f"{field} is nested too deeply", field=field)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_text(value, field, required=False)
    if isinstance(value, int):
        if abs(value) >= 10**MAX_INTEGER_DIGITS:
            raise errors.InvalidValue(f"{field} is too large", field=field)
        return value
    if isinstance(value, Decimal):
        return to_amount(value, field)
    if isinstance(value, list | tuple):
        _check_length(value, field)
        return [_checked_json(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        _check_length(list(value), field)
        checked: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise errors.InvalidValue(f"{field}: keys are strings", field=field)
            check_text(k, f"{field}.{k}", max_length=500)
            # the store marks its own encoded values with this key
            if k == "_type_":
                raise errors.InvalidValue(f"{field}: the key '_type_' is reserved", field=field)
            checked[k] = _checked_json(v, f"{field}.{k}", depth + 1)
        return checked
    what = "binary floats are not accepted, use decimals" if isinstance(value, float) else ""
    raise errors.InvalidValue(
        f"{field}: {what or type(value).__name__ + ' is not JSON data'}", field=field
    )


def _check_safe_integers(value: Any, field: str) -> None:
    """Refuses integers RFC 8785 cannot hash exactly (beyond ±(2^53 - 1), a double's reach)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise errors.InvalidValue(
                f"{field}: integers are limited to ±(2^53 - 1) = ±{MAX_SAFE_INTEGER} "
                "(JSON numbers beyond that lose precision); send larger values as text",
                field=field,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_safe_integers(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_safe_integers(item, f"{field}[{index}]")


def _event_ref(value: str, field: str) -> str:
    try:
        return str(UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise errors.InvalidValue(
            f"{quoted(value)} is not an event id (a UUID)", field=field
        ) from None


def _check_length(items: tuple[Any, ...] | list[Any], field: str) -> None:
    if len(items) > MAX_LIST_LENGTH:
        raise errors.InvalidValue(f"{field} has more than {MAX_LIST_LENGTH} items", field=field)


def _check_topics(topics: tuple[str, ...]) -> None:
    _check_length(topics, "topics")
    for i, topic in enumerate(topics):
        check_text(topic, f"topics[{i}]", max_length=500)


def _check_sources(sources: tuple[Source, ...], field: str) -> None:
    _check_length(sources, field)
    for i, source in enumerate(sources):
        check_text(source.title, f"{field}[{i}].title", max_length=1_000)
        if source.url is not None:
            check_text(source.url, f"{field}[{i}].url", max_length=2_000)
            if not source.url.startswith(("http://", "https://")):
                raise errors.InvalidValue("a source url is http(s)", field=f"{field}[{i}].url")
        if source.publisher is not None:
            check_text(source.publisher, f"{field}[{i}].publisher", max_length=500)


def _checked_common(fact: facts.Fact, recorded_at: datetime) -> Any:
    """Checks the fields every fact has; returns the fact with a parsed ``occurred_at``."""
    occurred_at: OccurredAt = parse_occurred_at(fact.occurred_at)
    tolerance = CLOCK_SKEW if isinstance(occurred_at, datetime) else FUTURE_TOLERANCE
    if sort_key(occurred_at) > sort_key(recorded_at.astimezone(UTC) + tolerance):
        raise errors.InvalidValue(
            f"occurred_at {occurred_at.isoformat()} is in the future", field="occurred_at"
        )
    if fact.note is not None:
        check_text(fact.note, "note")
    _check_sources(fact.sources, "sources")
    return dataclasses.replace(fact, occurred_at=occurred_at)
