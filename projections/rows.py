"""Rows of the events view turned back into the records the pure folds consume.

The events view keeps each event's contract payload as JSON (decimals as strings, dates as
ISO 8601). :func:`record_from_row` rebuilds the typed fields a :class:`Record` carries when
it is built from a stored event: ``Quantity`` with an exact ``Decimal``, ``Party``, ``Term``,
``Source``… so positions, gaps and the timeline read the view exactly as they read the
event store. :func:`stream_from_rows` makes a negotiation's ``Stream`` from its rows.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from domain.values import (
    Delegation,
    Participant,
    Party,
    Quantity,
    Readout,
    Source,
    Term,
    parse_occurred_at,
)
from projections.records import Record, Stream

if TYPE_CHECKING:  # the views import the analytics, which decode rows with this module
    from projections.views.events import EventRow


def _decimal(value: Any) -> Decimal:
    # Through str: a JSON integer or a decimal string, never a float, keeps every digit.
    return Decimal(str(value))


def _source(data: Mapping[str, Any]) -> Source:
    published = data.get("published_on")
    return Source(
        title=data["title"],
        url=data.get("url"),
        publisher=data.get("publisher"),
        published_on=None if published is None else date.fromisoformat(published),
    )


def _sources(items: Any) -> tuple[Source, ...]:
    return tuple(_source(item) for item in items or ())


def _quantities(values: Mapping[str, Any]) -> dict[str, Quantity]:
    return {
        term: Quantity(_decimal(quantity["amount"]), quantity["unit"])
        for term, quantity in values.items()
    }


def _party(value: Any) -> Any:
    """``party_joined`` carries the whole party; every other event names a party by id."""
    if isinstance(value, Mapping):
        return Party(value["id"], value["name"], value.get("actor_code"))
    return value


def _delegations(items: Any) -> tuple[Delegation, ...]:
    return tuple(
        Delegation(d["party"], d["lead"], tuple(d.get("members") or ())) for d in items or ()
    )


def _participants(items: Any) -> tuple[Participant, ...]:
    return tuple(Participant(p["party"], p["name"], p.get("role")) for p in items or ())


def _readouts(items: Any) -> tuple[Readout, ...]:
    return tuple(Readout(r["party"], r["summary"], _sources(r.get("sources"))) for r in items or ())


def _optional_occurred_at(value: Any) -> Any:
    return None if value is None else parse_occurred_at(value)


def _topics(items: Any) -> tuple[str, ...]:
    return tuple(items or ())


DECODERS: dict[str, Callable[[Any], Any]] = {
    "sources": _sources,
    "party": _party,
    "term": lambda t: Term(t["id"], t["name"], t["unit"]),
    "values": _quantities,
    "rate": _decimal,
    "delegations": _delegations,
    "participants": _participants,
    "readouts": _readouts,
    "topics": _topics,
    "ended_at": _optional_occurred_at,
}
"""Payload field -> how to rebuild its domain value; other fields are plain JSON already."""


def fields_from_payload(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The typed fields of an event from its contract payload."""
    fields: dict[str, Any] = {}
    for name, value in payload.items():
        decode = DECODERS.get(name)
        fields[name] = value if decode is None or value is None else decode(value)
    return fields


def record_from_row(row: EventRow) -> Record:
    """The record of one events-view row, as ``record_from_event`` makes it from the event."""
    return Record(
        type=row.type,
        event_id=row.event_id,
        version=row.version,
        occurred_at=parse_occurred_at(row.occurred_at),
        recorded_at=row.recorded_at,
        recorded_by=row.recorded_by,
        fields=fields_from_payload(row.payload),
        hash=row.hash,
        prev_hash=row.prev_hash,
    )


def stream_from_rows(rows: Iterable[EventRow]) -> Stream:
    """A negotiation's stream from its rows (any order: the stream is by version)."""
    records = sorted((record_from_row(row) for row in rows), key=lambda r: r.version)
    return Stream(tuple(records))
