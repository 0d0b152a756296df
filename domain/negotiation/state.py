"""What a negotiation's state is made of, and how a snapshot stores it.

The aggregate keeps typed, frozen values: an :class:`Entry` per event, a :class:`Ref` per
party, term or event a fact refers to, a :class:`Round` per round number, an :class:`Issue`
per issue id, a :class:`~domain.values.Term` per term and a
:class:`~domain.status.StatusChange` per live status change. Values are replaced, never
changed, so copies of the aggregate share them.

A snapshot stores the state as plain JSON in the shape every snapshot has had since the
first release (entries as objects, references as ``"party:X"`` strings, rounds and terms
as arrays): :func:`stored_state` writes that shape and :func:`typed_state` reads it, so
snapshots already stored load as they are and an older Parley still reads new ones.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, Protocol

from domain import facts
from domain.facts import field_names
from domain.status import StatusChange
from domain.values import Term, sort_key

REF_KINDS = ("event", "party", "term")


class Ref(NamedTuple):
    """A party, term or event a fact refers to; ``party:ROK`` as text.

    A named tuple: made for every reference of every event appended, and sorted by its
    fields, as fast as a tuple (in the order of its text: the kinds are distinct words).
    """

    kind: str
    id: str

    def __str__(self) -> str:
        return f"{self.kind}:{self.id}"

    @classmethod
    def parse(cls, text: str) -> Ref:
        kind, _, ref_id = text.partition(":")
        if kind not in REF_KINDS or not ref_id:
            msg = f"not a reference: {text!r}"
            raise ValueError(msg)
        return cls(kind, ref_id)

    @classmethod
    def party(cls, party_id: str) -> Ref:
        return _shared_ref("party", party_id)

    @classmethod
    def term(cls, term_id: str) -> Ref:
        return _shared_ref("term", term_id)

    @classmethod
    def event(cls, event_id: str) -> Ref:
        return cls("event", event_id)


@functools.lru_cache(maxsize=4096)
def _shared_ref(kind: str, ref_id: str) -> Ref:
    """Parties and terms are referred to by most events: one value each, made once."""
    return Ref(kind, ref_id)


@functools.lru_cache(maxsize=4096)
def _parsed_ref(text: str) -> Ref:
    """Cached: a snapshot repeats the same few parties and terms in most of its entries."""
    return Ref.parse(text)


@dataclass(frozen=True, slots=True)
class Entry:
    """What the rules need to know of one recorded event."""

    type: str
    key: str
    """The sort key of its ``occurred_at``."""
    version: int
    party: str | None
    """The party it is by (the one who joined, for ``party_joined``), if any."""
    refs: tuple[Ref, ...]
    """Every party, term and event it refers to, in the order of their text."""
    retracted_by: str | None = None
    withdrawn_by: str | None = None
    """For an offer: the live withdrawal of it."""
    rejected_by: str | None = None
    """For an agreement: the live rejection of it."""

    @property
    def is_live(self) -> bool:
        return self.retracted_by is None

    def ref(self, kind: str) -> Ref | None:
        """The first reference of ``kind`` (a definition's own, an answer's target)."""
        return next((r for r in self.refs if r.kind == kind), None)

    def stored(self) -> dict[str, Any]:
        found = {
            "type": self.type,
            "key": self.key,
            "version": self.version,
            "party": self.party,
            "refs": [str(r) for r in self.refs],
            "retracted_by": self.retracted_by,
            "withdrawn_by": self.withdrawn_by,
        }
        if self.rejected_by is not None:
            found["rejected_by"] = self.rejected_by
        return found

    @classmethod
    def of_fact(cls, fact: facts.Fact, version: int) -> Entry:
        """The entry of a fact just recorded as ``version``."""
        return cls(
            type=fact.TYPE,
            key=sort_key(fact.occurred_at),
            version=version,
            party=_party_of(fact),
            refs=tuple(sorted(_references(fact))),
        )

    @classmethod
    def of(cls, stored: dict[str, Any]) -> Entry:
        return cls(
            type=stored["type"],
            key=stored["key"],
            version=stored["version"],
            party=stored["party"],
            refs=tuple(_parsed_ref(r) for r in stored["refs"]),
            retracted_by=stored["retracted_by"],
            withdrawn_by=stored["withdrawn_by"],
            # snapshots taken before agreements could be rejected have no such key
            rejected_by=stored.get("rejected_by"),
        )


@dataclass(frozen=True, slots=True)
class Round:
    """A round on record: when it began (sort key), and the event that recorded it."""

    key: str
    event_id: str


@dataclass(frozen=True, slots=True)
class Issue:
    """An issue on record: the event that raised it, and its live resolution if any."""

    raised: str
    resolved: str | None = None


class NegotiationFields:
    """What a negotiation's state holds: the ``Negotiation`` aggregate's attributes.

    Declared for type checkers only, for the aggregate and the folds that change it
    (``domain.negotiation.folds``): at run time annotations would make the library build
    the aggregate's ``__init__`` from them.
    """

    if TYPE_CHECKING:
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


class NegotiationState(Protocol):
    """What the rules read of a negotiation (``domain.negotiation.rules``)."""

    @property
    def parties(self) -> dict[str, str]: ...
    @property
    def terms(self) -> dict[str, Term]: ...
    @property
    def entries(self) -> dict[str, Entry]: ...
    @property
    def rounds(self) -> dict[int, Round]: ...
    @property
    def issues(self) -> dict[str, Issue]: ...
    @property
    def status_changes(self) -> tuple[StatusChange, ...]: ...


def stored_state(state: dict[str, Any]) -> dict[str, Any]:
    """The aggregate's attributes as a snapshot stores them (plain JSON)."""
    stored = dict(state)
    stored["terms"] = {k: [t.name, t.unit] for k, t in state["terms"].items()}
    stored["entries"] = {k: e.stored() for k, e in state["entries"].items()}
    stored["rounds"] = {str(n): [r.key, r.event_id] for n, r in state["rounds"].items()}
    stored["issues"] = {
        k: {"raised": i.raised, "resolved": i.resolved} for k, i in state["issues"].items()
    }
    stored["status_changes"] = [list(c) for c in state["status_changes"]]
    stored["definitions"] = {str(ref): e for ref, e in state["definitions"].items()}
    return stored


def typed_state(stored: dict[str, Any]) -> None:
    """Reads a snapshot's plain state into typed values, in place (:func:`stored_state`)."""
    stored["terms"] = {k: Term(k, name, unit) for k, (name, unit) in stored["terms"].items()}
    stored["entries"] = {k: Entry.of(e) for k, e in stored["entries"].items()}
    stored["rounds"] = {int(n): Round(key, e) for n, (key, e) in stored["rounds"].items()}
    stored["issues"] = {k: Issue(i["raised"], i["resolved"]) for k, i in stored["issues"].items()}
    stored["status_changes"] = tuple(StatusChange.of(c) for c in stored["status_changes"])
    stored["definitions"] = {_parsed_ref(r): e for r, e in stored["definitions"].items()}
    # Snapshots taken before parties had actor codes have no such attribute (and no codes).
    stored.setdefault("actor_codes", {})


def _party_of(fact: facts.Fact) -> str | None:
    if isinstance(fact, facts.PartyJoined):
        return fact.party.id
    party = getattr(fact, "party", None) or getattr(fact, "raised_by", None)
    return party if isinstance(party, str) else None


def _references(fact: facts.Fact) -> set[Ref]:
    """Every party, term and event a fact refers to (for retraction and definition checks)."""
    refs: set[Ref] = set()
    if isinstance(fact, facts.PartyJoined):
        return {Ref.party(fact.party.id)}
    if isinstance(fact, facts.TermDefined):
        return {Ref.term(fact.term.id)}
    parties, items, values, events = _reference_names(type(fact))
    for name in parties:
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add(Ref.party(value))
    for name in items:
        for item in getattr(fact, name, ()) or ():
            refs.add(Ref.party(item.party))
    for name in values:
        for term_id in getattr(fact, name, None) or {}:
            refs.add(Ref.term(term_id))
    for name in events:
        value = getattr(fact, name, None)
        if isinstance(value, str):
            refs.add(Ref.event(value))
    return refs


REFERENCE_NAMES = (
    ("party", "raised_by", "initiated_by"),
    ("participants", "readouts", "delegations"),
    ("values",),
    ("offer_event_id", "agreement_event_id", "retracted_event_id"),
)
"""The attributes ``_references`` reads: parties, items naming a party, terms, events."""


def _reference_names(fact_type: type[Any]) -> tuple[tuple[str, ...], ...]:
    """``REFERENCE_NAMES`` without those a fact type has not (each entry made once per type).

    Asking an object for an attribute it has not raises and catches an AttributeError inside
    ``getattr``: most facts lack most of these names, and every append asked for all of them.
    """
    found = _REFERENCE_NAMES.get(fact_type)
    if found is None:
        own = set(field_names(fact_type))
        found = tuple(
            tuple(n for n in names if n in own or hasattr(fact_type, n))
            for names in REFERENCE_NAMES
        )
        _REFERENCE_NAMES[fact_type] = found
    return found


_REFERENCE_NAMES: dict[type[Any], tuple[tuple[str, ...], ...]] = {}
