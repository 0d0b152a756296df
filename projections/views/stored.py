"""Rows of the events view straight from the stored JSON of an event, without the mapper.

The ledger stores each event's state as the library's JSON (``JSONTranscoder``): plain JSON
where a domain value is a tagged object ``{"_type_": name, "_data_": …}`` (``decimal_str``,
``date_iso``, ``datetime_iso``, ``uuid_hex`` and one per value dataclass, see
``domain.transcodings``). The events view keeps the contract's plain JSON of the same
values (``domain.canonical.to_json``: decimals as strings without exponent, dates as ISO
8601, UUIDs hyphenated, value dataclasses as objects of their fields). Going through the
mapper builds every ``UUID``, ``Decimal``, ``date`` and dataclass only to write it back as
the string it was read from; ``StoredRows`` parses the JSON as it is (orjson) and turns
each tag of the fields a row keeps into its plain form, which is what a rebuild spends
most of its time on.

``event_row`` (through the mapper) stays the definition: a stored event this module does not
recognise exactly (an unknown tag, a missing field, a float, a cipher it cannot undo, a
class that upcasts) raises ``Unreadable`` and the caller takes that path for it. The tests
hold the two equal for random events of every type and value.
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, cast
from uuid import UUID

import orjson
from eventsourcing.persistence import (
    DatetimeAsISO,
    DecimalAsStr,
    JSONTranscoder,
    Mapper,
    StoredEvent,
    Transcoding,
    UUIDAsHex,
)
from eventsourcing.utils import resolve_topic

from domain.facts import Fact
from domain.negotiation import Negotiation
from domain.transcodings import DateAsISO, ValueAsDict
from domain.values import sort_key
from projections.views.events import EventRow, _payload_names

_SCALARS = frozenset({str, int, bool, type(None)})


class Unreadable(ValueError):
    """This stored event is not one the fast path reads exactly: decode it with the mapper."""


@functools.lru_cache(maxsize=4096)
def _date(data: str) -> str:
    # What DateAsISO decodes it to, written back; a negotiation's events share their days.
    return date.fromisoformat(data).isoformat()


def _datetime(data: str) -> str:
    return datetime.fromisoformat(data).isoformat()


_HEX32 = re.compile(r"[0-9a-fA-F]{32}")
_PLAIN_DECIMAL = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?")
"""Decimal strings that ``format(Decimal(s), "f")`` gives back unchanged."""


def _uuid(data: Any) -> str:
    if type(data) is not str or not _HEX32.fullmatch(data):
        return str(UUID(data))
    h = data.lower()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _decimal(data: Any) -> str:
    # str(Decimal) writes an exponent for large exponents and tiny values; "f" never does.
    if type(data) is str and _PLAIN_DECIMAL.fullmatch(data):
        return data
    return format(Decimal(data), "f")


def _value(transcoding: ValueAsDict) -> Callable[[Any], Any]:
    """The plain object of a value dataclass: its fields in order, sequences as lists."""
    names = tuple(f.name for f in _fields(transcoding.type))
    sequences = frozenset(transcoding._tuple_fields)

    def plain(data: Any) -> Any:
        if type(data) is not dict:
            raise Unreadable(data)
        if tuple(data) == names and (
            not sequences or all(type(data[n]) is list for n in sequences)
        ):
            return data
        if not set(data) <= set(names):
            raise Unreadable(data)  # the constructor would refuse it
        found = {}
        for name in names:
            if name in sequences:
                found[name] = list(data.get(name) or ())
            elif name in data:
                found[name] = data[name]
            else:
                raise Unreadable(name)  # a default the dataclass fills in: the mapper knows
        return found

    return plain


def _fields(value_type: type) -> tuple[Any, ...]:
    import dataclasses

    return dataclasses.fields(value_type)


def _converter(transcoding: Transcoding) -> Callable[[Any], Any] | None:
    kind = type(transcoding)
    if kind is DatetimeAsISO:
        return _datetime
    if kind is DateAsISO:
        return _date
    if kind is UUIDAsHex:
        return _uuid
    if kind is DecimalAsStr:
        return _decimal
    if isinstance(transcoding, ValueAsDict) and kind is ValueAsDict:
        return _value(transcoding)
    return None


@functools.lru_cache(maxsize=4096)
def _sort_key_of(occurred_at: str) -> str:
    # A date's isoformat() has no "T"; a datetime's always has.
    moment: date = (
        datetime.fromisoformat(occurred_at)
        if "T" in occurred_at
        else date.fromisoformat(occurred_at)
    )
    return sort_key(moment)


class _FloatMet(Unreadable):
    """A float in a stored state: orjson's reading of a large integer, or a real float."""


def _refuse(value: str) -> Any:
    msg = f"not plain JSON data: {value}"
    raise Unreadable(msg)


class StoredRows:
    """Reads events-view rows from stored events of a mapper's store (see the module)."""

    def __init__(self, mapper: Mapper[Any]) -> None:
        self.mapper = mapper
        transcoder = mapper.transcoder
        converters: dict[str, Callable[[Any], Any]] = {}
        self.usable = isinstance(transcoder, JSONTranscoder)
        if isinstance(transcoder, JSONTranscoder):
            for name, transcoding in transcoder.names.items():
                convert = _converter(transcoding)
                if convert is not None:
                    converters[name] = convert
        self._converters = converters
        self._standard_loads = json.JSONDecoder(parse_float=_refuse, parse_constant=_refuse).decode
        self._datetime_tag = next(
            (name for name, convert in converters.items() if convert is _datetime), None
        )

    def plain(self, value: Any) -> Any:
        """The plain JSON of a stored value: what ``to_json`` makes of the value it decodes to."""
        kind = type(value)
        if kind is str or kind is int or value is None or kind is bool:
            return value
        if kind is list:
            return [v if type(v) in _SCALARS else self.plain(v) for v in value]
        if kind is dict:
            if len(value) == 2 and "_type_" in value and "_data_" in value:
                convert = self._converters.get(value["_type_"])
                if convert is None:
                    raise Unreadable(value["_type_"])
                data = value["_data_"]
                return convert(data if type(data) in _SCALARS else self.plain(data))
            return {k: v if type(v) in _SCALARS else self.plain(v) for k, v in value.items()}
        if kind is float:
            raise _FloatMet(value)
        raise Unreadable(kind)

    def state(self, stored: StoredEvent) -> dict[str, Any]:
        """The event's state as stored: JSON data, its tagged values not yet made plain."""
        data = stored.state
        mapper = self.mapper
        if mapper.cipher:
            data = mapper.cipher.decrypt(data)
        if mapper.compressor:
            data = mapper.compressor.decompress(data)
        try:
            # orjson: the standard parser takes twice as long. What it reads differently (a
            # float for an integer beyond 64 bits) is refused by ``plain`` or ``row``, never
            # taken; what it refuses (NaN, lone surrogates) the mapper path reads.
            state = orjson.loads(data)
        except (ValueError, TypeError, ArithmeticError, RecursionError) as e:
            raise Unreadable(e) from e
        if type(state) is not dict:
            raise Unreadable(state)
        return state

    def _moment(self, value: Any) -> datetime:
        """A stored datetime as the mapper decodes it."""
        if type(value) is dict and len(value) == 2 and value.get("_type_") == self._datetime_tag:
            return datetime.fromisoformat(value["_data_"])
        raise Unreadable(value)

    def row(
        self, position: int, slug: str, stored: StoredEvent, state: Mapping[str, Any]
    ) -> EventRow:
        """The row ``event_row`` makes of the same stored event (``state``: from ``state()``)."""
        try:
            return self._row(position, slug, stored, state)
        except _FloatMet:
            # orjson reads an integer beyond 64 bits as a float: the standard parser reads
            # it as the mapper does (and refuses a real float).
            return self._row(position, slug, stored, self._standard_state(stored))

    def _standard_state(self, stored: StoredEvent) -> dict[str, Any]:
        data = stored.state
        if self.mapper.cipher:
            data = self.mapper.cipher.decrypt(data)
        if self.mapper.compressor:
            data = self.mapper.compressor.decompress(data)
        try:
            state = self._standard_loads(data.decode("utf8"))
        except Unreadable:
            raise
        except (ValueError, TypeError, ArithmeticError, RecursionError) as e:
            raise Unreadable(e) from e
        if type(state) is not dict:
            raise Unreadable(state)
        return state

    def _row(
        self, position: int, slug: str, stored: StoredEvent, state: Mapping[str, Any]
    ) -> EventRow:
        cls = _event_class(stored.topic)
        plain = self.plain
        try:
            payload = {
                name: value if type(value) in _SCALARS else plain(value)
                for name in _payload_names(cls)
                for value in (state[name],)
            }
            party = payload.get(cast(Fact, cls).PARTY_FIELD)
            if party is not None and type(party) is not str:
                party = party["id"]  # party_joined carries the whole party
            occurred_at = plain(state["occurred_at"])
            if not (
                type(state["recorded_by"]) is str
                and type(state["hash"]) is str
                and type(state["prev_hash"]) is str
            ):
                texts = (state["recorded_by"], state["hash"], state["prev_hash"])
                if float in {type(t) for t in texts}:
                    raise _FloatMet(texts)
                raise Unreadable("recorded_by, hash and prev_hash are text")
            fields = {
                "position": position,
                "negotiation": slug,
                "version": stored.originator_version,
                "event_id": plain(state["event_id"]),
                "type": cast(Fact, cls).TYPE,
                "occurred_at": occurred_at,
                "sort_key": _sort_key_of(occurred_at),
                "recorded_at": self._moment(state["timestamp"]).astimezone(UTC),
                "recorded_by": state["recorded_by"],
                "party": party,
                "payload": payload,
                "hash": state["hash"],
                "prev_hash": state["prev_hash"],
                "retracted_by": None,
            }
        except Unreadable:
            raise
        except (KeyError, TypeError, ValueError, ArithmeticError) as e:
            raise Unreadable(e) from e
        row = object.__new__(EventRow)
        row.__dict__.update(fields)
        return row


@functools.cache
def _event_class(topic: str) -> type[Negotiation.Event]:
    cls = resolve_topic(topic)
    if not (isinstance(cls, type) and issubclass(cls, Negotiation.Event)):
        raise Unreadable(topic)
    if getattr(cls, "class_version", 1) != 1:
        raise Unreadable(topic)  # the mapper upcasts older states of this class
    return cls
