"""The Negotiation aggregate: one event stream per negotiation.

Decide, then apply. ``decide()`` checks every rule of the contract against the current state
(``domain.negotiation.rules``) and returns the fact to record (normalised); the ``apply()``
methods of the events only fold state and never check rules, read clocks or make ids, so
that tightening a rule later can never break the replay of stored history.

The state is made of typed frozen values (``domain.negotiation.state``); nested values are
replaced, never changed in place, which lets ``__deepcopy__`` copy only the top level.

Stored topics. The library stores each event with the topic of its class, and each
snapshot with the topic of the aggregate's; these classes were defined in the module
``domain.negotiation`` until it became a package, and the stored topics are part of the
format: the log is filtered by them (``Ledger.opened_negotiations``, the projection
runner). So every class here declares its topic explicitly (``TOPIC``, which the library
uses instead of ``module:qualname`` and registers, so that it resolves to the class), and
the topics stay what they have always been: ``domain.negotiation:Negotiation.OfferMade``.
"""

from __future__ import annotations

import dataclasses
from copy import copy
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as LibrarySnapshot

from domain import errors, facts
from domain import status as status_rule
from domain.canonical import GENESIS_HASH, LEDGER_FORMAT
from domain.negotiation.checks import check_safe_integers, checked_common
from domain.negotiation.idempotency import remember
from domain.negotiation.recording import EventMeta, event_kwargs, negotiation_id
from domain.negotiation.rules import DECIDERS
from domain.negotiation.state import Entry, Issue, Ref, Round, stored_state, typed_state
from domain.status import StatusChange
from domain.values import SLUG_RE, Term, check_name, check_pattern, check_text, sort_key

STORED_MODULE = "domain.negotiation"
"""The module the stored topics name (``Negotiation`` is importable from it)."""


class Negotiation(Aggregate):
    """One negotiation: its parties, terms, and the references later events may make."""

    TOPIC = "domain.negotiation:Negotiation"
    class_version = 2
    """Version 2 keeps typed values; snapshots store version 1's plain shape (``Snapshot``)."""

    if TYPE_CHECKING:  # declared here only: annotations would make the library build __init__
        slug: str
        title: str
        subject: str | None
        head_hash: str
        parties: dict[str, str]
        actor_codes: dict[str, str]
        terms: dict[str, Term]
        entries: dict[str, Entry]
        rounds: dict[int, Round]
        issues: dict[str, Issue]
        status_changes: tuple[StatusChange, ...]
        definitions: dict[Ref, str]
        idempotency: dict[str, list[Any]]
        counts: dict[str, int]

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        """Reads a snapshot's plain state (every snapshot has that shape) into typed values."""
        typed_state(state)

    class Snapshot(LibrarySnapshot):
        """Stores the state in its plain shape (``state.stored_state``), read by ``upcast_v1_v2``."""

        TOPIC = "domain.negotiation:Negotiation.Snapshot"

        @classmethod
        def take(cls, aggregate: Any) -> Negotiation.Snapshot:
            taken = super().take(aggregate)
            state = dict(taken.state)
            del state["class_version"]
            return cls(
                originator_id=taken.originator_id,
                originator_version=taken.originator_version,
                timestamp=taken.timestamp,
                topic=taken.topic,
                state=stored_state(state),
            )

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
                remember(neg.idempotency, self.idempotency, self.originator_version, self.timestamp)
            fact: facts.Fact = self  # type: ignore[assignment]
            neg.counts = {**neg.counts, fact.TYPE: neg.counts.get(fact.TYPE, 0) + 1}
            neg._index(self.event_id, fact, self.originator_version)
            self.fold(neg)

        def fold(self, neg: Negotiation) -> None:
            """Type-specific change of state; most facts need none beyond the index."""

    class Created(Event, Aggregate.Created):
        """Never recorded (a stream starts with ``NegotiationOpened``); the library wants it."""

        TOPIC = "domain.negotiation:Negotiation.Created"

    class NegotiationOpened(facts.NegotiationOpened, Event, Aggregate.Created):
        TOPIC = "domain.negotiation:Negotiation.NegotiationOpened"

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
            neg.status_changes = ()
            neg.definitions = {}
            neg.idempotency = {}
            neg.counts = {}
            Negotiation.Event.apply(self, neg)

    class PartyJoined(facts.PartyJoined, Event):
        TOPIC = "domain.negotiation:Negotiation.PartyJoined"

        def fold(self, neg: Negotiation) -> None:
            neg.parties = {**neg.parties, self.party.id: self.party.name}
            if self.party.actor_code is not None:
                neg.actor_codes = {**neg.actor_codes, self.party.id: self.party.actor_code}
            ref = Ref.party(self.party.id)
            neg.definitions = {**neg.definitions, ref: str(self.event_id)}

    class TermDefined(facts.TermDefined, Event):
        TOPIC = "domain.negotiation:Negotiation.TermDefined"

        def fold(self, neg: Negotiation) -> None:
            neg.terms = {**neg.terms, self.term.id: self.term}
            neg.definitions = {**neg.definitions, Ref.term(self.term.id): str(self.event_id)}

    class RoundHeld(facts.RoundHeld, Event):
        TOPIC = "domain.negotiation:Negotiation.RoundHeld"

        def fold(self, neg: Negotiation) -> None:
            held = Round(sort_key(self.occurred_at), str(self.event_id))
            neg.rounds = {**neg.rounds, self.number: held}

    class CallHeld(facts.CallHeld, Event):
        TOPIC = "domain.negotiation:Negotiation.CallHeld"

    class MeetingHeld(facts.MeetingHeld, Event):
        TOPIC = "domain.negotiation:Negotiation.MeetingHeld"

    class OfferMade(facts.OfferMade, Event):
        TOPIC = "domain.negotiation:Negotiation.OfferMade"

    class OfferWithdrawn(facts.OfferWithdrawn, Event):
        TOPIC = "domain.negotiation:Negotiation.OfferWithdrawn"

        def fold(self, neg: Negotiation) -> None:
            neg._set_entry(self.offer_event_id, withdrawn_by=str(self.event_id))

    class OfferRejected(facts.OfferRejected, Event):
        TOPIC = "domain.negotiation:Negotiation.OfferRejected"

    class StatementMade(facts.StatementMade, Event):
        TOPIC = "domain.negotiation:Negotiation.StatementMade"

    class IssueRaised(facts.IssueRaised, Event):
        TOPIC = "domain.negotiation:Negotiation.IssueRaised"

        def fold(self, neg: Negotiation) -> None:
            neg.issues = {**neg.issues, self.issue_id: Issue(str(self.event_id))}

    class IssueResolved(facts.IssueResolved, Event):
        TOPIC = "domain.negotiation:Negotiation.IssueResolved"

        def fold(self, neg: Negotiation) -> None:
            issue = dataclasses.replace(neg.issues[self.issue_id], resolved=str(self.event_id))
            neg.issues = {**neg.issues, self.issue_id: issue}

    class AgreementReached(facts.AgreementReached, Event):
        TOPIC = "domain.negotiation:Negotiation.AgreementReached"

    class AgreementRejected(facts.AgreementRejected, Event):
        TOPIC = "domain.negotiation:Negotiation.AgreementRejected"

        def fold(self, neg: Negotiation) -> None:
            neg._set_entry(self.agreement_event_id, rejected_by=str(self.event_id))

    class StatusChanged(facts.StatusChanged, Event):
        TOPIC = "domain.negotiation:Negotiation.StatusChanged"

        def fold(self, neg: Negotiation) -> None:
            change = StatusChange(
                sort_key(self.occurred_at), self.originator_version, self.status, str(self.event_id)
            )
            neg.status_changes = tuple(status_rule.with_change(neg.status_changes, change))

    class ExchangeRateRecorded(facts.ExchangeRateRecorded, Event):
        TOPIC = "domain.negotiation:Negotiation.ExchangeRateRecorded"

    class EventRetracted(facts.EventRetracted, Event):
        TOPIC = "domain.negotiation:Negotiation.EventRetracted"

        def fold(self, neg: Negotiation) -> None:
            neg._undo(self.retracted_event_id, str(self.event_id))

    EVENT_CLASSES: ClassVar[dict[str, type[Negotiation.Event]]] = {}

    # ----------------------------------------------------------- state helpers

    def __deepcopy__(self, memo: dict[int, Any]) -> Negotiation:
        """Copies the containers, shares their (never mutated) values."""
        clone = object.__new__(type(self))
        state = {k: copy(v) if isinstance(v, dict | list) else v for k, v in vars(self).items()}
        state["_pending_events"] = []
        object.__setattr__(clone, "__dict__", state)
        return clone

    def _index(self, event_id: UUID, fact: facts.Fact, version: int) -> None:
        entry = Entry.of_fact(fact, version)
        # In place: the index holds an entry per event, and copying it per event made
        # appends cost O(stream). Copies of the aggregate own their top-level containers.
        self.entries[str(event_id)] = entry

    def _set_entry(self, event_id: str, **changes: Any) -> None:
        # The entry itself is replaced, never changed: copies share entries.
        self.entries[event_id] = dataclasses.replace(self.entries[event_id], **changes)

    def _undo(self, target_id: str, retraction_id: str) -> None:
        """A retracted fact counts nowhere: undo what it did to the state."""
        target = self.entries[target_id]
        self._set_entry(target_id, retracted_by=retraction_id)
        kind = target.type
        if kind == "party_joined":
            party = target.party
            self.parties = {k: v for k, v in self.parties.items() if k != party}
            self.actor_codes = {k: v for k, v in self.actor_codes.items() if k != party}
            self.definitions = {k: v for k, v in self.definitions.items() if v != target_id}
        elif kind == "term_defined":
            term = _ref_id(target, "term")
            self.terms = {k: v for k, v in self.terms.items() if k != term}
            self.definitions = {k: v for k, v in self.definitions.items() if v != target_id}
        elif kind == "round_held":
            self.rounds = {k: v for k, v in self.rounds.items() if v.event_id != target_id}
        elif kind == "offer_withdrawn":
            self._set_entry(_ref_id(target, "event"), withdrawn_by=None)
        elif kind == "agreement_rejected":
            self._set_entry(_ref_id(target, "event"), rejected_by=None)
        elif kind == "issue_raised":
            self.issues = {k: v for k, v in self.issues.items() if v.raised != target_id}
        elif kind == "issue_resolved":
            self.issues = {
                k: Issue(v.raised) if v.resolved == target_id else v for k, v in self.issues.items()
            }
        elif kind == "status_changed":
            self.status_changes = tuple(status_rule.without_event(self.status_changes, target_id))

    # ------------------------------------------------------------------ views

    @property
    def status(self) -> str:
        """The status in effect now (``domain.status``)."""
        return status_rule.status_now(self.status_changes)

    def entry(self, event_id: str) -> Entry | None:
        """What the state knows of one of its events (None for another negotiation's)."""
        return self.entries.get(event_id)

    def is_live(self, event_id: str) -> bool:
        entry = self.entries.get(event_id)
        return entry is not None and entry.is_live

    def retracted_by(self, event_id: str) -> str | None:
        """The id of the retraction of one of its events, if it was retracted."""
        entry = self.entries.get(event_id)
        return entry.retracted_by if entry is not None else None

    def closed_before(self, key: str) -> bool:
        """Whether a concluded/collapsed status is in effect just before ``key``."""
        return status_rule.closed_before(self.status_changes, key)

    def status_before(self, key: str) -> str:
        return status_rule.status_before(self.status_changes, key)

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
        checked: facts.NegotiationOpened = checked_common(fact, recorded_at)
        return checked

    @classmethod
    def open(cls, fact: facts.NegotiationOpened, meta: EventMeta) -> Negotiation:
        """Starts the stream with an opening already decided by :meth:`decide_opening`."""
        return cls._create(
            cls.NegotiationOpened,
            id=negotiation_id(fact.slug),
            timestamp=meta.recorded_at,
            **event_kwargs(fact, meta),
        )

    def decide(
        self, fact: facts.Fact, recorded_at: datetime, ledger_format: int = LEDGER_FORMAT
    ) -> facts.Fact:
        """Checks ``fact`` against every rule; returns it normalised, or raises.

        ``ledger_format`` is the format the event will be hashed in: format 2 (RFC 8785)
        holds integers only within ±(2^53 - 1); a format-1 event restored from an old
        export keeps what format 1 allowed.
        """
        fact = checked_common(fact, recorded_at)
        key = sort_key(fact.occurred_at)
        if fact.TYPE not in facts.ALLOWED_AFTER_CLOSE and self.closed_before(key):
            raise errors.NegotiationClosed(
                f"the negotiation was {self.status_before(key)} before {fact.occurred_at}; "
                "only retractions, status changes and agreements may occur after that",
                field="occurred_at",
            )
        decider = DECIDERS.get(fact.TYPE)
        if decider is None:
            raise errors.InvalidValue(f"{fact.TYPE!r} cannot be recorded here", field="type")
        decided = decider(self, fact)
        if ledger_format >= 2 and isinstance(decided, facts.IssueRaised):
            check_safe_integers(decided.details, "details")
        return decided

    def record(self, fact: facts.Fact, meta: EventMeta) -> None:
        """Records an already decided fact as the next event of this stream."""
        self.trigger_event(
            self.EVENT_CLASSES[fact.TYPE], timestamp=meta.recorded_at, **event_kwargs(fact, meta)
        )


Negotiation.EVENT_CLASSES.update(
    {
        cls.TYPE: cls
        for cls in vars(Negotiation).values()
        if isinstance(cls, type)
        and issubclass(cls, facts.Fact)
        and issubclass(cls, Negotiation.Event)
    }
)


def _ref_id(entry: Entry, kind: str) -> str:
    ref = entry.ref(kind)
    if ref is None:  # every entry retracted this way was indexed with one
        msg = f"a {entry.type} entry without a {kind} reference"
        raise LookupError(msg)
    return ref.id
