"""Prometheus metrics, open like ``/health``: counts and timings, never data from the ledger."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, generate_latest

from api.http.observability import Metrics

router = APIRouter(tags=["operations"])


@router.get(
    "/metrics",
    summary="Metrics in the Prometheus text format",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(request: Request) -> Response:
    # A sync route on purpose: the views' lag is read from the store at scrape time.
    registry: Metrics = request.app.state.metrics
    return Response(generate_latest(registry.registry), media_type=CONTENT_TYPE_PLAIN_0_0_4)
