"""Negotiations: open one, list them (from the index view), read one's summary.

The summary's ``version`` and ``ETag`` are the aggregate's; its positions and headline gaps
are read from the views at that same version (``api.http.reads.summary``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Response, status

from api.http.auth import Principal, Role, require
from api.http.conditional import etag_of
from api.http.deps import (
    IdempotencyKeyHeader,
    LedgerDep,
    RunnerDep,
    ServicesDep,
    SettingsDep,
    SlugPath,
    TimeTravelDep,
    TodayDep,
    view_storage_errors,
)
from api.http.paging import decode_cursor, encode_cursor
from api.http.presenters.summary import full_summary, list_item_of
from api.http.reads.summary import summary_read
from api.http.schemas import (
    NegotiationCreate,
    NegotiationPage,
    NegotiationSummary,
    Problem,
    fingerprint,
)
from projections.records import stream_of

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


@router.get(
    "",
    summary="List negotiations in the order they were opened",
    responses={422: PROBLEMS[422], 503: READ_PROBLEMS[503]},
)
def list_negotiations(
    services: ServicesDep,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> NegotiationPage:
    after = decode_cursor(cursor) if cursor else 0
    views = services.fresh_views()
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
    services: ServicesDep,
    travel: TimeTravelDep,
    today: TodayDep,
    response: Response,
    if_none_match: Annotated[str | None, Header(alias="If-None-Match")] = None,
) -> Response | NegotiationSummary:
    return summary_read(services, slug, travel, today, response, if_none_match)
