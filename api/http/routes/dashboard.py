"""The dashboard: read-only pages at ``/`` and ``/n/{slug}``, their assets, and the charts.

The pages are static HTML and plain JavaScript that read the JSON API; the charts are drawn
by plotly.js served from the installed ``plotly`` package, so nothing is fetched from a CDN.
``/negotiations/{slug}/chart.json`` is the dance the page draws and ``chart.svg`` the same
dance rendered on the server for reports.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from pathlib import Path, PurePath
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Response, status
from fastapi.responses import FileResponse

from api.http.auth import AUTH_RESPONSES, Role, require
from api.http.deps import ChartTermQuery, ServicesDep, SlugPath, TimeTravelDep, TodayDep
from api.http.reads.chart import dance_read
from api.http.responses import READ_RESPONSES, SVG_CHART_RESPONSES, svg_response
from api.render.charts import Dance
from api.render.dance_svg import render

router = APIRouter()

STATIC = Path(__file__).resolve().parent.parent / "static"
MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".svg": "image/svg+xml",
}
ASSET_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}", re.ASCII)
# Pages change with each release while their URLs do not: revalidate, never guess.
NO_STALE = {"Cache-Control": "no-cache"}


def plotly_js() -> Path:
    """plotly.js as the ``plotly`` Python package ships it (the maintained, offline bundle)."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


def docs_asset(name: str) -> Path:
    """Swagger UI and ReDoc as the pinned ``fastapi-offline`` package ships them."""
    return Path(str(resources.files("fastapi_offline") / "static" / name))


VENDOR: dict[str, Any] = {
    "plotly.min.js": plotly_js,
    "swagger-ui-bundle.js": lambda: docs_asset("swagger-ui-bundle.js"),
    "swagger-ui.css": lambda: docs_asset("swagger-ui.css"),
    "redoc.standalone.js": lambda: docs_asset("redoc.standalone.js"),
}


def _page(name: str) -> FileResponse:
    return FileResponse(STATIC / name, media_type=MEDIA_TYPES[".html"], headers=NO_STALE)


@router.get("/", include_in_schema=False)
def index_page() -> FileResponse:
    return _page("index.html")


@router.get("/n/{slug}", include_in_schema=False)
def negotiation_page(slug: str) -> FileResponse:
    # One page for every slug: its script reads the slug from the URL and asks the API.
    return _page("negotiation.html")


@router.get("/docs", include_in_schema=False)
def swagger_page() -> FileResponse:
    return _page("docs.html")


@router.get("/redoc", include_in_schema=False)
def redoc_page() -> FileResponse:
    return _page("redoc.html")


@router.get("/static/vendor/{name}", include_in_schema=False)
def vendor_asset(name: str) -> FileResponse:
    locate = VENDOR.get(name)
    if locate is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND)
    path = locate()
    return FileResponse(path, media_type=MEDIA_TYPES[PurePath(path).suffix], headers=NO_STALE)


@router.get("/static/{name}", include_in_schema=False)
def static_asset(name: str) -> Response:
    # The name is checked before the filesystem sees it: NUL or an over-long name make
    # resolve() raise, and only plain names of files directly in api/http/static are served.
    media_type = MEDIA_TYPES.get(PurePath(name).suffix) if ASSET_NAME_RE.fullmatch(name) else None
    path = STATIC / name
    if media_type is None or not path.is_file():
        raise HTTPException(status.HTTP_404_NOT_FOUND)  # a problem, as every error
    return FileResponse(path, media_type=media_type, headers=NO_STALE)


charts = APIRouter(
    prefix="/negotiations/{slug}", tags=["charts"], dependencies=[require(Role.READER)]
)
"""The charts: read like the API (a reader key once keys exist), unlike the pages above."""


def requested_dance(
    slug: SlugPath,
    services: ServicesDep,
    travel: TimeTravelDep,
    today: TodayDep,
    term: ChartTermQuery = None,
) -> Dance:
    """The dance a chart request asks for: its term, as its time travel asks."""
    return dance_read(services.fresh_views(slug), slug, term, travel, today)


DanceDep = Annotated[Dance, Depends(requested_dance)]


@charts.get(
    "/chart.json",
    summary="The negotiation dance as chart data",
    description="Per party the step line of its position on one term (in occurred_at order), "
    "every live offer as a point (with the amount as originally stated), agreements, "
    "rejections and withdrawals, the midpoint and gap over time of the first pair, closed "
    "share and forecast. Decimals are strings; x values are UTC date-times.",
    responses={**READ_RESPONSES, **AUTH_RESPONSES},
    response_model=dict[str, Any],
)
def chart_json(chart: DanceDep) -> Response:
    # Plain JSON already (strings, lists, booleans): no encoder walks its thousands of points.
    return Response(
        json.dumps(chart.to_json(), ensure_ascii=False, separators=(",", ":")),
        media_type="application/json",
    )


@charts.get(
    "/chart.svg",
    summary="The negotiation dance as a static SVG",
    description="The same dance as the dashboard's, for embedding in reports: one step line "
    "per party, offers as points, agreements and rejections marked, the midpoint dashed.",
    responses={**READ_RESPONSES, **AUTH_RESPONSES, **SVG_CHART_RESPONSES},
    response_class=Response,
)
def chart_svg(chart: DanceDep) -> Response:
    return svg_response(render(chart, "svg"))
