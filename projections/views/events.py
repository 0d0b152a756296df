"""The events view: one row per stored negotiation event, keyed by its log position.

``parley_view_events`` keeps each event with its contract payload as JSON (decimals as
strings, dates as ISO 8601); ``retracted_by`` is filled when the retraction is applied.
Its interface: ``EventRow``, ``event_row`` (the row of a stored event), and for the SQL
backends the row's columns (``event_params``/``event_from``) and its writes.

A row is derived from the fact's dataclass: its payload is the fields ``payload_of`` names
(``fact_fields``), its ``party`` the field the fact's ``PARTY_FIELD`` names.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast

from domain.canonical import fact_fields, format_recorded_at, to_json
from domain.facts import FACT_TYPES, Fact
from domain.negotiation import Negotiation
from domain.values import sort_key
from projections.jsontext import compact
from projections.views.base import IN_CHUNK


@dataclass(frozen=True)
class EventRow:
    """One stored negotiation event, as the events view keeps it."""

    position: int
    negotiation: str
    version: int
    event_id: str
    type: str
    occurred_at: str
    """As given: an ISO date or a datetime with its offset."""
    sort_key: str
    recorded_at: datetime
    recorded_by: str
    party: str | None
    payload: dict[str, Any]
    """The contract's payload (``domain.canonical.payload_of``): decimals as strings."""
    hash: str
    prev_hash: str
    retracted_by: str | None = None


@functools.cache
def _payload_names(event_type: type[Any]) -> tuple[str, ...]:
    """The payload's field names of a stored event class, in ``payload_of`` order."""
    fact_type = FACT_TYPES[event_type.TYPE]
    common = [f.name for f in dataclasses.fields(Fact) if f.name != "occurred_at"]
    return (*common, *fact_fields(fact_type))


def _plain(value: Any) -> Any:
    """``to_json`` for the value types events carry, without its isinstance chain.

    Exact types only: anything else (subclasses, datetimes, UUIDs) goes to ``to_json``,
    so the result is always the same as its.
    """
    kind = type(value)
    if kind is str or kind is int or value is None or kind is bool:
        return value
    if kind is Decimal:
        return format(value, "f")
    if kind is list or kind is tuple:
        return [v if type(v) in _SCALARS else _plain(v) for v in value]
    if kind is date:
        return value.isoformat()
    if kind is dict:
        return {str(k): _plain(v) for k, v in value.items()}
    names = _DATACLASS_FIELDS.get(kind)
    if names is not None:
        return {name: _plain(getattr(value, name)) for name in names}
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        _DATACLASS_FIELDS[kind] = tuple(f.name for f in dataclasses.fields(value))
        return _plain(value)
    return to_json(value)


_DATACLASS_FIELDS: dict[type[Any], tuple[str, ...]] = {}
"""The field names of each value dataclass met so far."""
_SCALARS = frozenset({str, int, bool, type(None)})


def event_row(position: int, slug: str, event: Negotiation.Event) -> EventRow:
    """The events-view row of a stored event at a log position.

    The payload is ``payload_of(fact)`` without building the fact first (this runs for
    every event on every rebuild); the tests hold the two equal.
    """
    fact = cast(Fact, event)
    party = getattr(event, fact.PARTY_FIELD, None)
    if party is not None and not isinstance(party, str):
        party = party.id  # party_joined carries the whole party
    occurred_at = fact.occurred_at
    fields = {
        "position": position,
        "negotiation": slug,
        "version": event.originator_version,
        "event_id": str(event.event_id),
        "type": fact.TYPE,
        "occurred_at": occurred_at.isoformat(),
        "sort_key": _sort_key(occurred_at),
        "recorded_at": event.timestamp.astimezone(UTC),
        "recorded_by": event.recorded_by,
        "party": party,
        "payload": {
            name: value if type(value) in _SCALARS else _plain(value)
            for name in _payload_names(type(event))
            for value in (getattr(event, name),)
        },
        "hash": event.hash,
        "prev_hash": event.prev_hash,
        "retracted_by": None,
    }
    # What the frozen dataclass's __init__ does (it has no __post_init__), without its
    # object.__setattr__ per field: a quarter of building a row. Every field is set.
    row = object.__new__(EventRow)
    row.__dict__.update(fields)
    return row


_sort_key = functools.lru_cache(maxsize=4096)(sort_key)
"""Events of a negotiation share their days: the key of each is worked out once."""


# ------------------------------------------------------------------ SQL columns


_dumps = compact
"""The payload's JSON text: one per event on every rebuild (orjson, see ``projections.jsontext``)."""

EVENT_COLUMNS = (
    "position",
    "negotiation",
    "version",
    "event_id",
    "type",
    "occurred_at",
    "sort_key",
    "recorded_at",
    "recorded_by",
    "party",
    "payload",
    "hash",
    "prev_hash",
    "retracted_by",
)


def _format_recorded_at(recorded_at: datetime) -> str:
    # Rows carry UTC already (event_row); the conversion is for rows made elsewhere.
    if recorded_at.tzinfo is UTC:
        return recorded_at.isoformat(timespec="microseconds")
    return format_recorded_at(recorded_at)


def event_params(row: EventRow) -> tuple[Any, ...]:
    """The row's values in ``EVENT_COLUMNS`` order."""
    return (
        row.position,
        row.negotiation,
        row.version,
        row.event_id,
        row.type,
        row.occurred_at,
        row.sort_key,
        _format_recorded_at(row.recorded_at),
        row.recorded_by,
        row.party,
        _dumps(row.payload),
        row.hash,
        row.prev_hash,
        row.retracted_by,
    )


def event_from(found: Mapping[str, Any]) -> EventRow:
    """The row read back from its columns."""
    return EventRow(
        position=int(found["position"]),
        negotiation=found["negotiation"],
        version=int(found["version"]),
        event_id=found["event_id"],
        type=found["type"],
        occurred_at=found["occurred_at"],
        sort_key=found["sort_key"],
        recorded_at=datetime.fromisoformat(found["recorded_at"]),
        recorded_by=found["recorded_by"],
        party=found["party"],
        payload=json.loads(found["payload"]),
        hash=found["hash"],
        prev_hash=found["prev_hash"],
        retracted_by=found["retracted_by"],
    )


def write_events(
    cursor: Any, sql: Callable[[str], str], table: str, rows: Sequence[EventRow], *, bulk: bool
) -> None:
    """Inserts the rows into the (quoted) table and marks the events they retract.

    ``bulk``: a rebuild's load, whose table has no index on ``event_id`` yet; retractions
    are marked by ``mark_retractions`` once it has.
    """
    marks = ", ".join(["%s"] * len(EVENT_COLUMNS))
    cursor.executemany(
        sql(f"INSERT INTO {table} ({', '.join(EVENT_COLUMNS)}) VALUES ({marks})"),  # noqa: S608
        [event_params(r) for r in rows],
    )
    retractions = [
        (r.event_id, r.payload["retracted_event_id"]) for r in rows if r.type == "event_retracted"
    ]
    if retractions and not bulk:
        cursor.executemany(
            sql(f"UPDATE {table} SET retracted_by = %s WHERE event_id = %s"),  # noqa: S608
            retractions,
        )


def mark_retractions(cursor: Any, sql: Callable[[str], str], table: str) -> None:
    """What a bulk load left out: each retracted event's ``retracted_by``, in log order."""
    after = 0
    while True:
        cursor.execute(
            sql(
                f"SELECT position, event_id, payload FROM {table} "  # noqa: S608
                "WHERE position > %s AND type = 'event_retracted' "
                "ORDER BY position LIMIT %s"
            ),
            (after, IN_CHUNK),
        )
        found = cursor.fetchall()
        if not found:
            return
        after = int(found[-1]["position"])
        cursor.executemany(
            sql(f"UPDATE {table} SET retracted_by = %s WHERE event_id = %s"),  # noqa: S608
            [(r["event_id"], json.loads(r["payload"])["retracted_event_id"]) for r in found],
        )
