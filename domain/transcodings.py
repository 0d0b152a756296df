"""How domain values are stored: every value type as a plain JSON object."""

from __future__ import annotations

import dataclasses
from datetime import date
from typing import Any

from eventsourcing.persistence import JSONTranscoder, Transcoding

from domain.values import VALUE_TYPES


class DateAsISO(Transcoding):
    type = date
    name = "date_iso"

    def encode(self, obj: date) -> str:
        return obj.isoformat()

    def decode(self, data: str) -> date:
        return date.fromisoformat(data)


class ValueAsDict(Transcoding):
    """A frozen value dataclass as a dict of its fields; sequences come back as tuples."""

    def __init__(self, value_type: type) -> None:
        self.type = value_type
        self.name = value_type.__name__.lower()
        self._names = tuple(f.name for f in dataclasses.fields(value_type))
        self._tuple_fields = {
            f.name for f in dataclasses.fields(value_type) if str(f.type).startswith("tuple")
        }

    def encode(self, obj: Any) -> dict[str, Any]:
        # The transcoder picks a transcoding by the exact type, so obj is a value_type.
        return {name: getattr(obj, name) for name in self._names}

    def decode(self, data: dict[str, Any]) -> Any:
        for name in self._tuple_fields:
            data[name] = tuple(data.get(name) or ())
        return self.type(**data)


def register_value_transcodings(transcoder: JSONTranscoder) -> None:
    transcoder.register(DateAsISO())
    for value_type in VALUE_TYPES:
        transcoder.register(ValueAsDict(value_type))
