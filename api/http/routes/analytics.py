"""A negotiation's analytics, read from the events view: positions, gaps and the timeline.

Each read first waits, bounded, for the views to reach the negotiation's last event
(read-your-writes, ``Services.fresh_views``), then reads the stored analytics
(``api.http.reads.analytics`` says how time travel reads them).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from api.http.deps import ServicesDep, SlugPath, TimeTravelDep, TodayDep
from api.http.reads.analytics import gaps_read, positions_read, timeline_filter, timeline_read
from api.http.responses import READ_RESPONSES
from api.http.schemas import GapsPublic, PositionsPublic, TimelinePublic

router = APIRouter(prefix="/negotiations/{slug}", tags=["analytics"])


@router.get(
    "/positions",
    summary="Each party's standing value per term",
    description="Per term, per party: the latest live offer (or live agreement) carrying the "
    "term, converted to the term's unit at the latest recorded rate.",
    responses=READ_RESPONSES,
    response_model=PositionsPublic,
)
def read_positions(
    slug: SlugPath, services: ServicesDep, travel: TimeTravelDep
) -> Response | PositionsPublic:
    return positions_read(services.fresh_views(slug), slug, travel)


@router.get(
    "/gaps",
    summary="The gap metrics per term and pair of parties",
    description="Gap, midpoint, relative gap, ratio, initial gap, closed share, concessions, "
    "moves, days and rounds since the last move, the history and a forecast (GAP-METRICS).",
    responses=READ_RESPONSES,
    response_model=GapsPublic,
)
def read_gaps(
    slug: SlugPath,
    services: ServicesDep,
    travel: TimeTravelDep,
    today: TodayDep,
    term: Annotated[
        list[str] | None,
        Query(description="Only these terms (repeatable).", max_length=64),
    ] = None,
    pair: Annotated[
        str | None,
        Query(
            description="Only this pair of parties, as `P,Q` (either order).",
            max_length=80,
            pattern=r"^[^,]+,[^,]+$",
        ),
    ] = None,
) -> Response | GapsPublic:
    views = services.fresh_views(slug)
    return gaps_read(views, slug, travel, today, services.settings.max_pairs, term, pair)


@router.get(
    "/timeline",
    summary="The negotiation's events in the order they happened",
    description="Events by occurred_at (a date at 00:00 UTC), ties in recording order. "
    "Retracted events stay, flagged with the event that retracted them. Paged: `limit` "
    "events (200 unless asked), the next page from `cursor`.",
    responses=READ_RESPONSES,
    response_model=TimelinePublic,
)
def read_timeline(
    slug: SlugPath,
    services: ServicesDep,
    travel: TimeTravelDep,
    types: Annotated[
        list[str] | None,
        Query(alias="type", description="Only events of these types (repeatable)."),
    ] = None,
    party: Annotated[
        str | None, Query(max_length=32, description="Only events that name this party.")
    ] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            description="Occurred on or after (a date from its 00:00 UTC).",
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(max_length=64, description="Occurred on or before (a date: its whole day)."),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000, description="Events per page.")] = 200,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the page before.")
    ] = None,
) -> Response | TimelinePublic:
    wanted = timeline_filter(types, party, from_, to, limit, cursor)
    return timeline_read(services.fresh_views(slug), slug, travel, wanted)
