"""What the read routes share beside their models: the problems they document, stored JSON as it
is, SVG charts."""

from __future__ import annotations

import json
from typing import Any

from fastapi import Response

from api.http.schemas import Problem

READ_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No negotiation has that slug (at that moment)"},
    422: {"model": Problem, "description": "A parameter is invalid"},
    503: {
        "model": Problem,
        "description": "The read views lag behind the ledger (view-lagging, with Retry-After), "
        "or the store is unavailable",
    },
}
"""The answers of a negotiation's reads other than 200."""


SVG = "image/svg+xml"
SVG_CHART_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {SVG: {}}, "description": "The chart"},
}
"""A chart route's answer: the drawing as SVG."""


def svg_response(svg: bytes) -> Response:
    return Response(svg, media_type=SVG)


def json_response(document: Any) -> Response:
    """A stored document as it is: the schema in the route's ``response_model`` describes it."""
    return Response(json.dumps(document, separators=(",", ":")), media_type="application/json")
