"""Pages of the reads: the opaque cursors the lists hand out, and a negotiation's ledger by version."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated

from fastapi import Query

from domain.errors import InvalidValue
from domain.ledger import Ledger
from domain.negotiation import Negotiation

CURSOR_PREFIX = "p:"
MAX_POSITION = 2**63 - 1  # a log position is a signed 64-bit integer in every store


def encode_cursor(position: int) -> str:
    """An opaque cursor: the log position of the last negotiation on the page."""
    return base64.urlsafe_b64encode(f"{CURSOR_PREFIX}{position}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> int:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode("ascii")
        if not text.startswith(CURSOR_PREFIX):
            raise ValueError(text)
        position = int(text.removeprefix(CURSOR_PREFIX))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InvalidValue("cursor is not one this service issued", field="cursor") from None
    if not 0 <= position <= MAX_POSITION:
        raise InvalidValue("cursor is not one this service issued", field="cursor")
    return position


def encode_timeline_cursor(key: str, version: int) -> str:
    """An opaque cursor: the sort key and version of the last timeline entry on the page."""
    return base64.urlsafe_b64encode(f"{key}|{version}".encode()).decode().rstrip("=")


def decode_timeline_cursor(cursor: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, version = text.rsplit("|", 1)
        return key, int(version)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidValue("cursor is not one this service handed out", field="cursor") from e


AfterVersionQuery = Annotated[int, Query(ge=0)]
"""``after_version``: the version a page of a negotiation's ledger starts after."""
LedgerLimitQuery = Annotated[int, Query(ge=1, le=1000)]
"""``limit``: how many events a page of a negotiation's ledger holds at the most."""


@dataclass(frozen=True)
class LedgerPage:
    """A page of one negotiation's ledger in recorded order, read at one version."""

    negotiation: Negotiation
    events: list[Negotiation.Event]
    positions: dict[int, int]
    """{version: log position} of the page's events."""
    next_after_version: int | None


def ledger_page(ledger: Ledger, slug: str, after_version: int, limit: int) -> LedgerPage:
    """The events after ``after_version``, at most ``limit``, up to the version read first."""
    neg = ledger.get(slug)
    found: list[Negotiation.Event] = []
    if after_version < neg.version:
        found = ledger.stream(
            slug, after_version=after_version, up_to_version=neg.version, limit=limit
        )
    positions = (
        ledger.positions(slug, found[0].originator_version, found[-1].originator_version)
        if found
        else {}
    )
    last = found[-1].originator_version if found else None
    return LedgerPage(
        negotiation=neg,
        events=found,
        positions=positions,
        next_after_version=last if last is not None and last < neg.version else None,
    )
