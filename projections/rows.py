"""Rows of the events view turned back into the records the pure folds consume.

The events view keeps each event's contract payload as JSON (decimals as strings, dates as
ISO 8601). :func:`record_from_row` rebuilds the typed fields a :class:`Record` carries when
it is built from a stored event: ``Quantity`` with an exact ``Decimal``, ``Party``, ``Term``,
``Source``… so positions, gaps and the timeline read the view exactly as they read the
event store. :func:`stream_from_rows` makes a negotiation's ``Stream`` from its rows.

The decoders are derived from the field types of ``domain.facts`` (``DECODERS``): a new
fact type, or a new field, is decoded without a line here.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any, get_args, get_origin, get_type_hints

from domain.facts import FACT_TYPES, is_time_point, without_none
from domain.values import parse_occurred_at
from projections.records import Record, Stream

if TYPE_CHECKING:  # the views import the analytics, which decode rows with this module
    from projections.views.events import EventRow

Decode = Callable[[Any], Any]


def _decimal(value: Any) -> Decimal:
    # Through str: a JSON integer or a decimal string, never a float, keeps every digit.
    return Decimal(str(value))


def decoder(hint: Any) -> Decode | None:
    """How the JSON of a value of this domain type becomes the value (None: it already is)."""
    inner, _ = without_none(hint)
    if is_time_point(inner):  # as given: a date or a datetime
        return parse_occurred_at
    if inner is Decimal:
        return _decimal
    if inner is date:
        return date.fromisoformat
    origin = get_origin(inner)
    if origin is tuple:
        item = decoder(get_args(inner)[0])
        if item is None:
            return lambda items: tuple(items or ())
        return lambda items: tuple(item(i) for i in items or ())
    if origin is dict:
        value = decoder(get_args(inner)[1])
        return None if value is None else lambda d: {k: value(v) for k, v in d.items()}
    if dataclasses.is_dataclass(inner) and isinstance(inner, type):
        return _dataclass_decoder(inner)
    return None


def _dataclass_decoder(cls: type[Any]) -> Decode:
    """A value object from its JSON object; a key left out takes the field's default, and
    a list left out or null is empty."""
    hints = get_type_hints(cls)
    parts = [
        (f.name, decoder(hints[f.name]), without_none(hints[f.name])[1], f.default)
        for f in dataclasses.fields(cls)
    ]

    def decode(data: Mapping[str, Any]) -> Any:
        kwargs = {}
        for name, decode_field, optional, default in parts:
            value = data[name] if default is dataclasses.MISSING else data.get(name, default)
            if decode_field is not None and not (optional and value is None):
                value = decode_field(value)
            kwargs[name] = value
        return cls(**kwargs)

    return decode


def _json_shape(hint: Any) -> str:
    inner, _ = without_none(hint)
    if get_origin(inner) is dict or dataclasses.is_dataclass(inner):
        return "object"
    return "array" if get_origin(inner) is tuple else "scalar"


def _field_decoder(name: str, hints: set[Any]) -> Decode | None:
    """The decoder of a payload field, over the types the facts declaring it give it.

    Facts may give one name types of different JSON shapes (``party_joined``'s ``party`` is
    a ``Party`` object, every other fact's a party id): the value's shape says which. Types
    of one shape must be one type, or plain JSON all (``str`` and a ``Literal``).
    """
    by_shape: dict[str, Decode | None] = {}
    for shape in {_json_shape(h) for h in hints}:
        types_ = {without_none(h)[0] for h in hints if _json_shape(h) == shape}
        decoders = [decoder(t) for t in types_]
        if len(types_) > 1 and any(d is not None for d in decoders):
            msg = f"payload field {name!r}: types {types_} share a JSON shape but decode apart"
            raise TypeError(msg)
        by_shape[shape] = decoders[0]
    if len(by_shape) == 1 or all(d is None for d in by_shape.values()):
        return next(iter(by_shape.values()))
    on_object, on_array, on_scalar = (by_shape.get(s) for s in ("object", "array", "scalar"))

    def decode_by_shape(value: Any) -> Any:
        if isinstance(value, Mapping):
            found = on_object
        else:
            found = on_array if isinstance(value, list) else on_scalar
        return value if found is None else found(value)

    return decode_by_shape


def _payload_hints() -> dict[str, set[Any]]:
    """Each payload field's types, over every fact type (``occurred_at`` is not payload)."""
    found: dict[str, set[Any]] = {}
    for fact_type in FACT_TYPES.values():
        hints = get_type_hints(fact_type)
        for field in dataclasses.fields(fact_type):
            if field.name != "occurred_at":
                found.setdefault(field.name, set()).add(hints[field.name])
    return found


PAYLOAD_FIELDS: frozenset[str] = frozenset(_payload_hints())
"""Every field name a fact's payload may carry."""

DECODERS: dict[str, Decode] = {
    name: decode
    for name, hints in _payload_hints().items()
    for decode in (_field_decoder(name, hints),)
    if decode is not None
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
