"""Negotiations: open one, list them, read one's summary."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from api.deps import IdempotencyKeyHeader, LedgerDep
from api.schemas import (
    NegotiationCreate,
    NegotiationPage,
    NegotiationSummary,
    Problem,
    fingerprint,
    summary_of,
)
from domain.errors import InvalidValue

router = APIRouter(prefix="/negotiations", tags=["negotiations"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No negotiation has that slug"},
    422: {"model": Problem, "description": "The request is invalid or breaks a rule"},
}
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


def etag_of(version: int) -> str:
    return f'"{version}"'


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=NegotiationSummary,
    summary="Open a negotiation",
    responses={
        409: {"model": Problem, "description": "The slug is taken"},
        422: PROBLEMS[422],
    },
)
def open_negotiation(
    body: NegotiationCreate,
    ledger: LedgerDep,
    response: Response,
    idempotency_key: IdempotencyKeyHeader = None,
) -> NegotiationSummary:
    opened, parties, terms = body.to_fact()
    recorded = ledger.open_negotiation(
        opened,
        parties,
        terms,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(body.model_dump(mode="json")),
    )
    # The state as of this request, so that a replayed answer equals the first one.
    neg = ledger.get(recorded.negotiation, version=recorded.version)
    response.headers["Location"] = f"/negotiations/{neg.slug}"
    response.headers["ETag"] = etag_of(recorded.version)
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return summary_of(neg)


@router.get("", summary="List negotiations in the order they were opened")
def list_negotiations(
    ledger: LedgerDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NegotiationPage:
    after = decode_cursor(cursor) if cursor else 0
    found = ledger.opened_negotiations(after_position=after, limit=limit + 1)
    page = found[:limit]
    next_cursor = encode_cursor(page[-1][0]) if len(found) > limit else None
    return NegotiationPage(
        items=[summary_of(ledger.get(slug)) for _, slug in page], next_cursor=next_cursor
    )


@router.get(
    "/{slug}",
    response_model=NegotiationSummary,
    summary="A negotiation's summary",
    responses={304: {"description": "Not modified since the version in If-None-Match"}, **PROBLEMS},
)
def get_negotiation(
    slug: str,
    ledger: LedgerDep,
    response: Response,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response | NegotiationSummary:
    neg = ledger.get(slug)
    etag = etag_of(neg.version)
    if if_none_match is not None and etag_matches(if_none_match, etag):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers={"ETag": etag})
    response.headers["ETag"] = etag
    return summary_of(neg)
