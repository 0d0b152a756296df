"""Negotiations: open one, list them (from the index view), read one's summary.

The summary's ``version`` and ``ETag`` are the aggregate's; its positions and headline gaps
are folded from the events view, cut at that same version so the two always agree.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from api.http.auth import Principal, Role, require
from api.http.deps import (
    IdempotencyKeyHeader,
    LedgerDep,
    RunnerDep,
    SettingsDep,
    SlugPath,
    TimeTravelDep,
    TodayDep,
    fresh_views,
    view_storage_errors,
)
from api.http.routes.analytics import (
    headlines_of,
    rewound,
    stored_headlines,
    stored_headlines_as_of,
    stream_of_view,
    travel_version,
)
from api.http.schemas import (
    NegotiationCreate,
    NegotiationListItem,
    NegotiationPage,
    NegotiationSummary,
    Problem,
    fingerprint,
    summary_of,
)
from domain.errors import InvalidValue
from domain.negotiation import Negotiation
from domain.values import OccurredAt
from projections.analytics import Reader
from projections.index import entry_of
from projections.records import Stream, stream_of
from projections.views import NegotiationRow

router = APIRouter(prefix="/negotiations", tags=["negotiations"])

PROBLEMS: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No negotiation has that slug"},
    422: {"model": Problem, "description": "The request is invalid or breaks a rule"},
}
READ_PROBLEMS: dict[int | str, dict[str, Any]] = {
    **PROBLEMS,
    503: {
        "model": Problem,
        "description": "The read views lag behind the ledger (view-lagging, with Retry-After), "
        "or the store is unavailable",
    },
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
    runner: RunnerDep,
    settings: SettingsDep,
    today: TodayDep,
    response: Response,
    principal: Annotated[Principal, require(Role.ADMIN)],
    idempotency_key: IdempotencyKeyHeader = None,
) -> NegotiationSummary:
    opened, parties, terms = body.to_fact()
    recorded = ledger.open_negotiation(
        opened,
        parties,
        terms,
        recorded_by=principal.name,
        idempotency_key=idempotency_key,
        fingerprint=fingerprint(body.model_dump(mode="json")),
    )
    runner.nudge()
    # The state as of this request, so that a replayed answer equals the first one. The
    # views may not have the new stream yet: its few events are folded straight from the ledger.
    neg = ledger.get(recorded.negotiation, version=recorded.version)
    stream = stream_of(ledger.stream(neg.slug, up_to_version=recorded.version))
    response.headers["Location"] = f"/negotiations/{neg.slug}"
    response.headers["ETag"] = etag_of(recorded.version)
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return full_summary(neg, stream, None, today, settings.max_pairs)


def full_summary(
    neg: Negotiation, stream: Stream, as_of: OccurredAt | None, today: date, max_pairs: int
) -> NegotiationSummary:
    summary = summary_of(neg)
    summary.positions, summary.gaps = headlines_of(stream, as_of, today, max_pairs)
    summary.as_of = None if as_of is None else as_of.isoformat()
    return summary


def list_item_of(row: NegotiationRow, headline: str | None = None) -> NegotiationListItem:
    # entry_of: the one spelling of a row, which the terminal's list shows too.
    return NegotiationListItem(
        gaps=[] if headline is None else json.loads(headline), **entry_of(row)
    )


@router.get(
    "",
    summary="List negotiations in the order they were opened",
    responses={422: PROBLEMS[422], 503: READ_PROBLEMS[503]},
)
def list_negotiations(
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NegotiationPage:
    after = decode_cursor(cursor) if cursor else 0
    views = fresh_views(ledger, runner, settings)
    with view_storage_errors():
        found = views.list_negotiations(after_position=after, limit=limit + 1)
        page = found[:limit]
        headlines = views.analytics_of([row.slug for row in page], "headline")
    next_cursor = encode_cursor(page[-1].opened_position) if len(found) > limit else None
    return NegotiationPage(
        items=[list_item_of(row, headlines.get(row.slug)) for row in page],
        next_cursor=next_cursor,
    )


@router.get(
    "/{slug}",
    response_model=NegotiationSummary,
    summary="A negotiation's summary",
    description="Parties, terms, status, version and counts (the aggregate's: the `ETag` is its "
    "version), with current positions and headline gaps. `as_of_version` and `as_of_recorded` "
    "show the negotiation as it stood then; `as_of` moves only the positions and gaps.",
    responses={
        304: {"description": "Not modified since the version in If-None-Match"},
        **READ_PROBLEMS,
    },
)
def get_negotiation(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
    today: TodayDep,
    response: Response,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response | NegotiationSummary:
    # The aggregate first, then the views: waiting for the head read after it means the
    # view holds every event up to the aggregate's version.
    neg = ledger.get(slug)
    version = neg.version
    if travel.as_of_version is not None:
        version = min(version, travel.as_of_version)
    if travel.as_of_recorded is None and not_modified(if_none_match, version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(version))
    views = fresh_views(ledger, runner, settings, slug)
    reader: Reader | None = views
    if travel.rewinds:
        # The state after the first N events: from the fold checkpoint below N.
        version = min(version, travel_version(views, slug, travel))
        if travel.as_of_recorded is not None and not_modified(if_none_match, version):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(version))
        reader = rewound(views, slug, travel, version)
        if reader is not None and version != neg.version:
            neg = ledger.get(slug, version=version)
    if reader is not None and travel.as_of is None:
        stored = stored_headlines(reader, slug, today, settings.max_pairs)
        if stored is not None:
            response.headers["ETag"] = etag_of(neg.version)
            summary = summary_of(neg)
            summary.positions, summary.gaps = stored
            return summary
    if reader is not None and travel.as_of is not None:
        stored = stored_headlines_as_of(reader, slug, travel.as_of, today, settings.max_pairs)
        if stored is not None:
            response.headers["ETag"] = etag_of(neg.version)
            summary = summary_of(neg)
            summary.positions, summary.gaps = stored
            summary.as_of = travel.as_of.isoformat()
            return summary
    stream = stream_of_view(views, slug, travel).up_to_version(version)
    if travel.as_of_recorded is not None and not_modified(if_none_match, stream.version):
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(stream.version)
        )
    if stream.version != neg.version:
        neg = ledger.get(slug, version=stream.version)
    response.headers["ETag"] = etag_of(neg.version)
    return full_summary(neg, stream, travel.as_of, today, settings.max_pairs)


def not_modified(if_none_match: str | None, version: int) -> bool:
    return if_none_match is not None and etag_matches(if_none_match, etag_of(version))


def etag_headers(version: int) -> dict[str, str]:
    return {"ETag": etag_of(version)}
