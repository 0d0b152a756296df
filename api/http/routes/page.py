"""Everything a negotiation's dashboard page shows, in one request.

The page used to ask for the summary, the chart, positions, gaps and the timeline (twice
when time travelling, plus the chart as of now): six or seven round trips per load. This
route answers them together, each part exactly what its own route answers.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Response

from api.http.deps import (
    LedgerDep,
    RunnerDep,
    SettingsDep,
    SlugPath,
    TimeTravel,
    TimeTravelDep,
    TodayDep,
)
from api.http.routes import analytics, negotiations
from api.http.routes.analytics import RESPONSES
from api.http.routes.dashboard import TermQuery, _dance
from domain.errors import InvalidValue

router = APIRouter(prefix="/negotiations/{slug}", tags=["charts"])


def _plain(found: Any) -> Any:
    """A route's answer as JSON data: stored documents come as responses already."""
    if isinstance(found, Response):
        return json.loads(bytes(found.body))
    return found.model_dump(mode="json")


@router.get(
    "/page.json",
    summary="What the negotiation page shows, in one request",
    description="`summary`, `chart` (chart.json for `term`), `positions`, `gaps` (the chart's "
    "term), `timeline` (its first page), as their own routes answer them with the same time "
    "travel; with time travel also `chart_now` and `timeline_now`, the same without it.",
    responses=RESPONSES,
)
def page_json(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
    today: TodayDep,
    term: TermQuery = None,
) -> dict[str, Any]:
    summary = negotiations.get_negotiation(
        slug, ledger, runner, settings, travel, today, Response()
    )
    chart = _dance(slug, term, ledger, runner, settings, travel, today).to_json()
    chosen = chart["term"]["id"] if chart.get("term") else None
    try:
        gaps = _plain(
            analytics.read_gaps(
                slug,
                ledger,
                runner,
                settings,
                travel,
                today,
                term=None if chosen is None else [chosen],
            )
        )
    except InvalidValue:
        gaps = {"negotiation": slug, "as_of": None, "terms": []}  # too wide: no headline
    document: dict[str, Any] = {
        "summary": _plain(summary),
        "chart": chart,
        "positions": _plain(analytics.read_positions(slug, ledger, runner, settings, travel)),
        "gaps": gaps,
        "timeline": _plain(analytics.read_timeline(slug, ledger, runner, settings, travel)),
        "chart_now": None,
        "timeline_now": None,
    }
    if travel.rewinds or travel.as_of is not None:
        now = TimeTravel()
        document["chart_now"] = _dance(slug, chosen, ledger, runner, settings, now, today).to_json()
        document["timeline_now"] = _plain(
            analytics.read_timeline(slug, ledger, runner, settings, now)
        )
    return document
