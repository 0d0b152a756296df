"""The service's settings, from ``PARLEY_*`` environment variables."""

from __future__ import annotations

import functools
import ipaddress
from datetime import timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from domain.ledger import MAX_PARTIES, MAX_TERMS
from domain.negotiation import IDEMPOTENCY_RETENTION

LOOPBACK_NAMES = frozenset({"localhost", "localhost.localdomain", "ip6-localhost"})


@functools.lru_cache(maxsize=256)
def is_loopback(host: str) -> bool:
    """Whether a listening address only takes connections from this machine.

    Here, beside the host it judges, so the HTTP gate and ``parley serve`` ask one rule.
    Cached: the HTTP gate asks it of the server's own address on every request.
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PARLEY_", extra="ignore", hide_input_in_errors=True
    )

    database_url: str = "sqlite:///./parley.db"
    host: str = "127.0.0.1"
    port: int = 8000
    cache_size: int = 1000
    create_tables: bool = True
    demo: bool = False
    """Load the demo negotiation at start-up when the store is empty."""
    max_batch: int = 500
    """The most events one ``POST /negotiations/{slug}/events`` may carry."""
    max_body_bytes: int = Field(default=1024 * 1024, ge=0)
    """The longest request body accepted (a longer one is answered 413 before it is read)."""
    log_format: Literal["json", "text"] = "json"
    """``parley serve`` logs one JSON object per line, or plain text for a terminal."""
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    graceful_shutdown_seconds: float = Field(default=30.0, gt=0)
    """On SIGTERM, how long requests (and appends) under way may take to finish."""
    project_in_process: bool = True
    """Keep the read views up to date in a background thread of the server (else run
    ``parley project`` as a process of its own, e.g. beside several API workers)."""
    read_wait_seconds: float = Field(default=5.0, ge=0)
    """How long a read of positions, gaps, timeline or the list waits for the views to reach
    the ledger's head before answering 503."""
    store_timeout_seconds: float = Field(default=5.0, gt=0, le=300)
    """The longest a request waits for a store that does not answer (PostgreSQL giving no
    connection or no reply, a SQLite file locked by another writer) before it is answered
    503 storage-unavailable (with Retry-After); the server recovers by itself."""
    idempotency_window_hours: float = Field(
        default=24, gt=0, le=IDEMPOTENCY_RETENTION.total_seconds() / 3600
    )
    """How long a repeated ``Idempotency-Key`` replays the first answer; after that the key
    records anew. At most 720 (30 days), how long a negotiation keeps its keys."""
    max_parties: int = Field(default=MAX_PARTIES, ge=2, le=1000)
    """The most parties one negotiation may hold (each pair of them is a gap per term)."""
    max_terms: int = Field(default=MAX_TERMS, ge=1, le=1000)
    """The most terms one negotiation may define."""
    max_pairs: int = Field(default=2016, ge=1)
    """The most (term, pair) gap entries one read may compute; more asks for a filter."""
    stream_buffer: int = Field(default=1000, ge=1)
    """Events held for one stream's client (SSE) before it is disconnected as too slow."""
    stream_heartbeat_seconds: float = Field(default=15.0, gt=0)
    """How long an idle stream waits before sending a heartbeat (a comment line)."""
    signing_key: SecretStr | None = None
    """An Ed25519 private key seed (32 bytes as 64 hex digits or base64) that signs
    ``GET /ledger/checkpoint``; without one, checkpoints are unsigned."""
    log_origin: str | None = None
    """The checkpoint's origin line and the name of the log's signing key (C2SP
    tlog-checkpoint), e.g. ``ledger.example.org/parley``; by default ``<host name>/parley``
    of the machine. Changing it changes the verifier key: choose it once."""
    witness_keys: str = ""
    """Verifier keys (``name+keyid+base64``, type 0x04 cosignature/v1) of the witnesses whose
    cosignatures the server accepts and serves with its checkpoint; commas or spaces between."""

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("signing_key")
    @classmethod
    def _seed(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        from api.signed_note import key_bytes

        key_bytes(value.get_secret_value())  # a ValueError: pydantic reports it, not the key
        return value

    @field_validator("log_origin")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        from api.signed_note import valid_key_name

        if not valid_key_name(value) or any(ord(ch) < 0x20 for ch in value):
            msg = "a log origin has no spaces, no '+' and no control characters"
            raise ValueError(msg)
        return value

    @field_validator("witness_keys")
    @classmethod
    def _witnesses(cls, value: str) -> str:
        parse_witness_keys(value)  # a NoteError (a ValueError): pydantic reports it
        return value

    def origin(self) -> str:
        """The log's origin: the setting, or ``<host name>/parley``."""
        if self.log_origin is not None:
            return self.log_origin
        import socket

        name = "".join(ch for ch in socket.gethostname().lower() if ch.isalnum() or ch in ".-")
        return f"{name or 'localhost'}/parley"

    def witnesses(self) -> list[Any]:
        """The configured witnesses' verifier keys (``api.signed_note.Verifier``)."""
        return parse_witness_keys(self.witness_keys)

    def idempotency_window(self) -> timedelta:
        return timedelta(hours=self.idempotency_window_hours)

    def signing_seed(self) -> bytes | None:
        """The signing key's 32 bytes, or None without one."""
        if self.signing_key is None:
            return None
        from api.signed_note import key_bytes

        return key_bytes(self.signing_key.get_secret_value())


def parse_witness_keys(text: str) -> list[Any]:
    """Witness verifier keys, separated by commas or white space; each must be cosignature/v1."""
    from api.signed_note import COSIGNATURE_V1, NoteError, parse_vkey

    found = []
    for part in text.replace(",", " ").split():
        key = parse_vkey(part)
        if key.key_type != COSIGNATURE_V1:
            msg = f"witness key {key.name}: a witness key has type 0x04 (cosignature/v1)"
            raise NoteError(msg)
        found.append(key)
    return found
