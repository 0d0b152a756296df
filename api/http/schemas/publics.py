"""Public shapes several resources share: parties, terms, and the `as_of` of a read."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, SerializerFunctionWrapHandler, model_serializer


class PartyPublic(BaseModel):
    id: str
    name: str
    actor_code: str | None = Field(
        default=None, description="PLOVER/CAMEO actor code; absent when the party has none"
    )

    @model_serializer(mode="wrap")
    def _without_missing_code(self, handler: SerializerFunctionWrapHandler) -> Any:
        data = handler(self)
        if isinstance(data, dict) and data.get("actor_code") is None:
            data.pop("actor_code", None)
        return data


class TermPublic(BaseModel):
    id: str
    name: str
    unit: str


AS_OF_DESCRIPTION = "The `as_of` of the request, as parsed (null: everything on record)."
