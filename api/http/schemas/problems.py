"""RFC 9457 problem details, the body of every error answer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ProblemField(BaseModel):
    field: str
    message: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error is answered."""

    model_config = ConfigDict(extra="allow")

    type: str
    title: str
    status: int
    detail: str | None = None
    field: str | None = None
    index: int | None = None
    errors: list[ProblemField] | None = None
