"""API keys over HTTP: the key to make, and a key as listed (never the secret, but once)."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.store.keys import NAME_RE, ApiKey, Role
from domain.canonical import format_recorded_at

NAME_PATTERN = NAME_RE.pattern


class KeyCreate(BaseModel):
    name: str = Field(
        pattern=NAME_PATTERN,
        max_length=64,
        description="Who the key is: each event it records says so in recorded_by.",
        examples=["newsroom-bot"],
    )
    role: Role = Field(description="reader (GET), recorder (append), admin (everything)")


class KeyPublic(BaseModel):
    name: str
    role: Role
    created_at: str
    revoked_at: str | None = None
    active: bool


class KeyCreated(KeyPublic):
    key: str = Field(description="The key itself: shown this once, only its hash is kept.")


def public_of(key: ApiKey) -> KeyPublic:
    return KeyPublic(
        name=key.name,
        role=key.role,
        created_at=format_recorded_at(key.created_at),
        revoked_at=None if key.revoked_at is None else format_recorded_at(key.revoked_at),
        active=key.active,
    )
