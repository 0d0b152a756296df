"""The Negotiation aggregate: one event stream per negotiation.

Decide, then apply. ``decide()`` checks every rule of the contract against the current state
(``domain.negotiation.rules``) and returns the fact to record (normalised); applying an
event only folds state (``domain.negotiation.folds``) and never checks rules, reads clocks
or makes ids, so that tightening a rule later can never break the replay of stored history.

The state is made of typed frozen values (``domain.negotiation.state``); nested values are
replaced, never changed in place, which lets ``__deepcopy__`` copy only the top level.

Events. Each fact type of ``domain.facts.FACT_TYPES`` has its event class, made from the
fact's dataclass (:func:`event_class`): the fact's fields plus the ledger's metadata
(``Negotiation.Event``). Only the opening is written out, as it starts the stream. A new
fact type is its dataclass, its rule and, if it changes more than the index, its fold.

Stored topics. The library stores each event with the topic of its class, and each
snapshot with the topic of the aggregate's; these classes were defined in the module
``domain.negotiation`` until it became a package, and the stored topics are part of the
format: the log is filtered by them (``Ledger.opened_negotiations``, the projection
runner). So every class here declares its topic explicitly (``TOPIC``, which the library
uses instead of ``module:qualname`` and registers, so that it resolves to the class), and
the topics stay what they have always been: ``domain.negotiation:Negotiation.OfferMade``.
"""

from __future__ import annotations

import types
from copy import copy
from datetime import datetime
from typing import Any, ClassVar, cast
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.domain import Snapshot as LibrarySnapshot
from eventsourcing.utils import register_topic

from domain import errors, facts
from domain import status as status_rule
from domain.canonical import GENESIS_HASH, LEDGER_FORMAT
from domain.negotiation.checks import check_safe_integers, checked_common
from domain.negotiation.folds import FOLDS
from domain.negotiation.idempotency import remember
from domain.negotiation.recording import EventMeta, event_kwargs, negotiation_id
from domain.negotiation.rules import DECIDERS
from domain.negotiation.state import Entry, NegotiationFields, stored_state, typed_state
from domain.values import SLUG_RE, check_name, check_pattern, check_text, sort_key

_PLAIN_CONTAINERS = (dict, list)

STORED_MODULE = "domain.negotiation"
"""The module the stored topics name (``Negotiation`` is importable from it)."""


class Negotiation(Aggregate, NegotiationFields):
    """One negotiation: its parties, terms, and the references later events may make.

    Its attributes are declared by ``NegotiationFields`` (``domain.negotiation.state``).
    """

    TOPIC = "domain.negotiation:Negotiation"
    class_version = 2
    """Version 2 keeps typed values; snapshots store version 1's plain shape (``Snapshot``)."""

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
            fold = FOLDS.get(fact.TYPE)
            if fold is not None:
                fold(neg, fact, str(self.event_id))

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

    EVENT_CLASSES: ClassVar[dict[str, type[Negotiation.Event]]] = {}
    """The event class of each fact type (filled below the class: ``event_class``)."""

    # ----------------------------------------------------------- state helpers

    def __deepcopy__(self, memo: dict[int, Any]) -> Negotiation:
        """Copies the containers, shares their (never mutated) values."""
        clone = object.__new__(type(self))
        state = dict(vars(self))
        for name, value in state.items():
            # Once per load: the exact types first, the isinstance check for the rest.
            if type(value) in _PLAIN_CONTAINERS:
                state[name] = value.copy()
            elif isinstance(value, dict | list):
                state[name] = copy(value)
        state["_pending_events"] = []
        object.__setattr__(clone, "__dict__", state)
        return clone

    def _index(self, event_id: UUID, fact: facts.Fact, version: int) -> None:
        entry = Entry.of_fact(fact, version)
        # In place: the index holds an entry per event, and copying it per event made
        # appends cost O(stream). Copies of the aggregate own their top-level containers.
        self.entries[str(event_id)] = entry

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
            cls.NegotiationOpened, id=negotiation_id(fact.slug), **event_kwargs(fact, meta)
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
        self.trigger_event(self.EVENT_CLASSES[fact.TYPE], **event_kwargs(fact, meta))


def event_class(fact_type: type[facts.Fact]) -> type[Negotiation.Event]:
    """The stored event of a fact type: the fact's fields, the ledger's metadata, a topic.

    Named as the fact's dataclass, with the topic events of that name have always been
    stored under (``domain.negotiation:Negotiation.OfferMade``): renaming a fact's dataclass
    would orphan the events stored under the old topic.
    """
    name = fact_type.__name__
    namespace = {
        "__module__": __name__,
        "__qualname__": f"Negotiation.{name}",
        "__doc__": f"The stored event of a ``{fact_type.TYPE}`` fact.",
        "TOPIC": topic_of(fact_type),
    }
    made = types.new_class(
        name, (fact_type, Negotiation.Event), {}, lambda ns: ns.update(namespace)
    )
    return cast("type[Negotiation.Event]", made)


def topic_of(fact_type: type[facts.Fact]) -> str:
    """The topic the events of a fact type are stored under."""
    return f"{STORED_MODULE}:Negotiation.{fact_type.__name__}"


def _declare_event_classes() -> None:
    """Gives every fact type of ``facts.FACT_TYPES`` its event class, as the library would
    had it been declared in the class body: an attribute of ``Negotiation`` whose topic
    resolves to it."""
    Negotiation.EVENT_CLASSES[facts.NegotiationOpened.TYPE] = Negotiation.NegotiationOpened
    for fact_type in facts.FACT_TYPES.values():
        if fact_type.TYPE in Negotiation.EVENT_CLASSES:
            continue
        made = event_class(fact_type)
        register_topic(topic_of(fact_type), made)
        setattr(Negotiation, made.__name__, made)
        Negotiation.EVENT_CLASSES[fact_type.TYPE] = made


_declare_event_classes()
