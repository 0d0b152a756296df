"""Everything a negotiation's dashboard page shows, in one request.

The page used to ask for the summary, the chart, positions, gaps and the timeline (twice
when time travelling, plus the chart as of now): six or seven round trips per load. This
route answers them together, each part exactly what its own route answers (the same reads,
``api.http.reads``, each after its own wait for the views).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from api.http.deps import (
    ChartTermQuery,
    ServicesDep,
    SlugPath,
    TimeTravel,
    TimeTravelDep,
    TodayDep,
)
from api.http.reads.analytics import gaps_read, positions_read, timeline_filter, timeline_read
from api.http.reads.chart import dance_read
from api.http.reads.summary import summary_read
from api.http.responses import READ_RESPONSES
from domain.errors import InvalidValue

router = APIRouter(prefix="/negotiations/{slug}", tags=["charts"])


def _plain(found: Any) -> Any:
    """A read's answer as JSON data: stored documents come as responses already."""
    if isinstance(found, Response):
        return json.loads(bytes(found.body))
    return found.model_dump(mode="json")


@router.get(
    "/page.json",
    summary="What the negotiation page shows, in one request",
    description="`summary`, `chart` (chart.json for `term`), `positions`, `gaps` (the chart's "
    "term), `timeline` (its first page), as their own routes answer them with the same time "
    "travel; with time travel also `chart_now` and `timeline_now`, the same without it.",
    responses=READ_RESPONSES,
)
def page_json(
    slug: SlugPath,
    services: ServicesDep,
    travel: TimeTravelDep,
    today: TodayDep,
    term: ChartTermQuery = None,
) -> dict[str, Any]:
    max_pairs = services.settings.max_pairs
    first_page = timeline_filter()
    summary = summary_read(services, slug, travel, today, Response())
    chart = dance_read(services.fresh_views(slug), slug, term, travel, today).to_json()
    chosen = chart["term"]["id"] if chart.get("term") else None
    try:
        gaps = _plain(
            gaps_read(
                services.fresh_views(slug),
                slug,
                travel,
                today,
                max_pairs,
                term=None if chosen is None else [chosen],
            )
        )
    except InvalidValue:
        gaps = {"negotiation": slug, "as_of": None, "terms": []}  # too wide: no headline
    document: dict[str, Any] = {
        "summary": _plain(summary),
        "chart": chart,
        "positions": _plain(positions_read(services.fresh_views(slug), slug, travel)),
        "gaps": gaps,
        "timeline": _plain(timeline_read(services.fresh_views(slug), slug, travel, first_page)),
        "chart_now": None,
        "timeline_now": None,
    }
    if travel.rewinds or travel.as_of is not None:
        now = TimeTravel()
        views = services.fresh_views(slug)
        document["chart_now"] = dance_read(views, slug, chosen, now, today).to_json()
        document["timeline_now"] = _plain(
            timeline_read(services.fresh_views(slug), slug, now, first_page)
        )
    return document
