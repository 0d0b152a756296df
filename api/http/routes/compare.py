"""Negotiations side by side on one term: ``GET /compare`` and its chart."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response
from fastapi.responses import FileResponse

from api.http.deps import Services, ServicesDep, view_storage_errors
from api.http.responses import READ_RESPONSES, SVG_CHART_RESPONSES, svg_response
from api.render.compare_chart import render_compare
from domain.errors import InvalidValue, NegotiationNotFound
from domain.values import SLUG_RE
from projections.compare import CompareError, Side, common_term, compare, default_pair
from projections.positions import build_book
from projections.rows import stream_from_rows

router = APIRouter(tags=["compare"])
pages = APIRouter()
"""The compare page's shell: open, like the dashboard's other pages (what it fetches is not)."""
PAGE = Path(__file__).resolve().parent.parent / "static" / "compare.html"

MAX_COMPARED = 8
DESCRIPTION = """\
Each negotiation's gap between its first two parties on one term, normalised: the share of
its initial gap closed against the days since both had positions, so talks in different
currencies and years compare. Where every negotiation states the term in the same unit the
raw gaps and positions come too (`units_agree`). `rounds`: per round held after both had
positions, how much of the initial gap each side had conceded by then.
"""

SlugsQuery = Annotated[
    list[str],
    Query(
        alias="n",
        description="A negotiation's slug; repeat for each (two to eight)",
        examples=[["us-rok-sma-2020", "us-rok-sma-2021"]],
    ),
]
TermQuery = Annotated[
    str | None,
    Query(description="The term compared (default: the first every negotiation defines)"),
]


def comparison(slugs: list[str], term: str | None, services: Services) -> dict[str, Any]:
    if not 1 <= len(slugs) <= MAX_COMPARED or len(set(slugs)) != len(slugs):
        raise InvalidValue(f"name one to {MAX_COMPARED} different negotiations with n=", field="n")
    views = services.fresh_views()
    sides = []
    for slug in slugs:
        # A slug no negotiation can have is not found before a store sees it (NUL: PostgreSQL).
        with view_storage_errors():
            rows = views.events_of(slug) if SLUG_RE.fullmatch(slug) else []
        if not rows:
            raise NegotiationNotFound(f"no negotiation {slug!r}")
        stream = stream_from_rows(rows)
        book = build_book(stream)
        opened = stream.opened
        title = str(opened.get("title")) if opened is not None else slug
        try:
            sides.append(Side(slug, title, book, default_pair(book)))
        except CompareError as e:
            raise InvalidValue(str(e), field=e.field) from None
    try:
        chosen = term if term is not None else common_term([s.book for s in sides])
        return compare(sides, chosen)
    except CompareError as e:
        raise InvalidValue(str(e), field=e.field) from None


@router.get(
    "/compare",
    summary="Negotiations side by side on one term",
    description=DESCRIPTION,
    responses=READ_RESPONSES,
)
def compare_negotiations(
    services: ServicesDep,
    n: SlugsQuery,
    term: TermQuery = None,
) -> dict[str, Any]:
    return comparison(n, term, services)


@router.get(
    "/compare/chart.svg",
    summary="The comparison as a static SVG",
    description="Each negotiation's share of its initial gap closed against the days since "
    "both sides had positions, one line each.",
    responses={**READ_RESPONSES, **SVG_CHART_RESPONSES},
    response_class=Response,
)
def compare_chart(
    services: ServicesDep,
    n: SlugsQuery,
    term: TermQuery = None,
) -> Response:
    document = comparison(n, term, services)
    return svg_response(render_compare(document))


@pages.get("/c", include_in_schema=False)
def compare_page() -> FileResponse:
    # The negotiations come in the query (?n=...&n=...&term=...); its script asks the API.
    return FileResponse(
        PAGE, media_type="text/html; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )
