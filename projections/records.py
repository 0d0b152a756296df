"""The neutral record the read-model folds consume, and the per-negotiation state they keep.

A :class:`Record` is one stored event reduced to what projections need: its type, id,
version (recording order within the negotiation), ``occurred_at`` and its sort key,
``recorded_at``/``recorded_by``, and the fact's own fields. It is built from a stored
domain event (:func:`record_from_event`), so the folds can be fed from the event store or
from a notification log, or straight from a fact (:func:`record_from_fact`) in tests.

A :class:`Stream` is the state of one negotiation's read models: all of its records in
recording order. Folding is ``state + record -> state`` (:func:`fold`), idempotent per
event id and indifferent to the order records arrive in, so "rebuild from zero" and
"incremental" produce the same state. Every view (positions, gaps, timeline, index) is
computed from a ``Stream`` on demand.
"""

from __future__ import annotations

import bisect
import dataclasses
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

from domain import facts
from domain.canonical import fact_fields, to_json
from domain.negotiation import Negotiation
from domain.values import OccurredAt, Quantity, parse_occurred_at, sort_key

#: Sorts after every real sort key: "everything, whenever it happened".
END_OF_TIME = "\uffff"


@dataclass(frozen=True)
class Record:
    """One event as the projections see it."""

    type: str
    event_id: str
    version: int
    occurred_at: OccurredAt
    recorded_at: datetime
    recorded_by: str
    fields: Mapping[str, Any]
    """The fact's own fields (``party``, ``values``, ``sources``, ``note``…), not ``occurred_at``."""
    hash: str | None = None
    prev_hash: str | None = None
    key: str = field(init=False, compare=False)
    """``sort_key(occurred_at)``: orders the world's time points as fixed-width UTC strings."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", sort_key(self.occurred_at))

    @property
    def order(self) -> tuple[str, int]:
        """World order: by ``occurred_at``, ties in recording order."""
        return (self.key, self.version)

    def get(self, name: str, default: Any = None) -> Any:
        return self.fields.get(name, default)

    @property
    def party(self) -> str | None:
        """The party the fact is about: the field its type's ``PARTY_FIELD`` names (the
        events view's ``party`` column); a ``Party`` gives its id."""
        fact_type = facts.FACT_TYPES.get(self.type, facts.Fact)
        value = self.fields.get(fact_type.PARTY_FIELD)
        if isinstance(value, str):
            return value
        party_id = getattr(value, "id", None)
        return party_id if isinstance(party_id, str) else None

    @property
    def values(self) -> Mapping[str, Quantity]:
        found = self.fields.get("values")
        return cast("Mapping[str, Quantity]", found) if isinstance(found, Mapping) else {}

    @property
    def target(self) -> str | None:
        """The event this one answers or retracts, if any."""
        for name in ("offer_event_id", "agreement_event_id", "retracted_event_id"):
            value = self.fields.get(name)
            if value is not None:
                return str(value)
        return None

    def payload(self) -> dict[str, Any]:
        """The contract's payload: the type-specific fields plus ``sources`` and ``note``."""
        fact_type = facts.FACT_TYPES.get(self.type)
        names = ["sources", "note"]
        names += list(fact_fields(fact_type)) if fact_type is not None else []
        names += [n for n in self.fields if n not in names]
        return {name: to_json(self.fields.get(name)) for name in names}

    def parties(self) -> set[str]:
        """Every party this event names (for the timeline's party filter)."""
        found: set[str] = set()
        if self.party is not None:
            found.add(self.party)
        initiated_by = self.fields.get("initiated_by")
        if isinstance(initiated_by, str):
            found.add(initiated_by)
        for name in ("participants", "readouts", "delegations"):
            for item in self.fields.get(name) or ():
                party = getattr(item, "party", None)
                if isinstance(party, str):
                    found.add(party)
        return found


def _fact_fields_of(obj: Any, fact_type: type[facts.Fact]) -> dict[str, Any]:
    return {
        f.name: getattr(obj, f.name)
        for f in dataclasses.fields(fact_type)
        if f.name != "occurred_at"
    }


def record_from_event(event: Negotiation.Event) -> Record:
    """The record of a stored domain event (``Negotiation.OfferMade``…)."""
    fact = cast("facts.Fact", event)
    fact_type = facts.FACT_TYPES[fact.TYPE]
    return Record(
        type=fact.TYPE,
        event_id=str(event.event_id),
        version=event.originator_version,
        occurred_at=fact.occurred_at,
        recorded_at=event.timestamp,
        recorded_by=event.recorded_by,
        fields=_fact_fields_of(event, fact_type),
        hash=event.hash,
        prev_hash=event.prev_hash,
    )


def record_from_fact(
    fact: facts.Fact,
    *,
    event_id: str,
    version: int,
    recorded_at: datetime | None = None,
    recorded_by: str = "anonymous",
) -> Record:
    """A record built straight from a fact, as if the ledger had stored it.

    Without ``recorded_at`` the fact counts as recorded when it occurred.
    """
    occurred_at = parse_occurred_at(fact.occurred_at)
    return Record(
        type=fact.TYPE,
        event_id=event_id,
        version=version,
        occurred_at=occurred_at,
        recorded_at=recorded_at or datetime.fromisoformat(sort_key(occurred_at)),
        recorded_by=recorded_by,
        fields=_fact_fields_of(fact, type(fact)),
    )


@dataclass(frozen=True)
class Stream:
    """The state of one negotiation's read models: its records in recording order."""

    records: tuple[Record, ...] = ()

    @property
    def slug(self) -> str | None:
        opened = self.opened
        return None if opened is None else cast("str", opened.get("slug"))

    @property
    def opened(self) -> Record | None:
        return next((r for r in self.records if r.type == "negotiation_opened"), None)

    @property
    def version(self) -> int:
        return self.records[-1].version if self.records else 0

    def up_to_version(self, version: int) -> Stream:
        """What the stream held after its first ``version`` events (``as_of_version``)."""
        return Stream(tuple(r for r in self.records if r.version <= version))

    def recorded_by_time(self, moment: datetime) -> Stream:
        """What the ledger said at ``moment`` (``as_of_recorded``): a prefix, never a filter.

        The longest prefix recorded at or before ``moment``: up to the first event recorded
        after it (``Views.recorded_prefix`` cuts the same, by one query). The ledger stamps
        ``recorded_at`` monotonically per negotiation (see ``Ledger._stamp``); a stream
        recorded before that, under a clock set back, is still cut at one point, so the answer
        is always a state the ledger held, never a selection of events it never held together.
        """
        end = next(
            (i for i, r in enumerate(self.records) if r.recorded_at > moment), len(self.records)
        )
        return Stream(self.records[:end])


def fold(state: Stream | None, record: Record) -> Stream:
    """``state + record -> state``: idempotent per event id, any arrival order."""
    state = state or Stream()
    records = state.records
    if any(r.event_id == record.event_id for r in records):
        return state
    if not records or records[-1].version <= record.version:
        return Stream((*records, record))
    at = bisect.bisect_right([r.version for r in records], record.version)
    return Stream((*records[:at], record, *records[at:]))


def rebuild(records: Iterable[Record]) -> Stream:
    """The state from zero: the same as folding the records one by one."""
    seen: set[str] = set()
    kept: list[Record] = []
    for record in records:
        if record.event_id not in seen:
            seen.add(record.event_id)
            kept.append(record)
    return Stream(tuple(sorted(kept, key=lambda r: r.version)))


def stream_of(events: Iterable[Negotiation.Event]) -> Stream:
    """The state rebuilt from a negotiation's stored events (``Ledger.stream(slug)``)."""
    return rebuild(record_from_event(event) for event in events)


def world_order(records: Iterable[Record]) -> list[Record]:
    """Records by ``occurred_at``, ties in recording order."""
    return sorted(records, key=lambda r: r.order)


def retractions(records: Iterable[Record]) -> dict[str, Record]:
    """Retracted event id -> the (first recorded) event that retracted it.

    A retraction corrects the record rather than happening in the world, so it counts
    whatever its own ``occurred_at`` and whatever moment a view looks at.
    """
    found: dict[str, Record] = {}
    for record in sorted(records, key=lambda r: r.version):
        if record.type == "event_retracted" and record.target is not None:
            found.setdefault(record.target, record)
    return found


def live_records(records: Iterable[Record]) -> list[Record]:
    """Records that count in analytics, in world order: not retracted, not retractions."""
    records = list(records)
    retracted = retractions(records)
    return world_order(
        r for r in records if r.event_id not in retracted and r.type != "event_retracted"
    )
