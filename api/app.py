"""The FastAPI application: ``create_app(settings)`` builds it; nothing is opened at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from api import problems
from api.deps import ViewLaggingError
from api.routes import analytics, audit, dashboard, events, health, ledger, negotiations
from api.settings import Settings
from api.store import open_ledger, parse_database_url
from projections.runner import open_runner

DESCRIPTION = """\
An event-sourced negotiation ledger: who offered what, when, and how far apart the parties are.

Events are immutable facts; a wrong one is answered by a later `event_retracted`.
Amounts are decimals written as JSON strings. Every error is `application/problem+json`.
"""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings if settings is not None else Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        config = parse_database_url(settings.database_url, cache_size=settings.cache_size)
        ledger = open_ledger(config, create_tables=settings.create_tables)
        try:
            if settings.demo:
                from api.demo import ensure_demo  # written separately; only needed when asked

                ensure_demo(ledger)
            # The runner object is needed either way: reads wait on the views' positions,
            # which another process (`parley project`) may be moving.
            runner = open_runner(ledger)
            app.state.ledger = ledger
            app.state.runner = runner
            app.state.store_kind = config.kind
            if settings.project_in_process:
                runner.start()
            try:
                yield
            finally:
                runner.stop()
        finally:
            ledger.close()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
    )
    app.state.settings = settings
    problems.install(app)
    app.add_exception_handler(ViewLaggingError, handle_view_lagging)
    app.include_router(negotiations.router)
    app.include_router(events.router)
    app.include_router(analytics.router)
    app.include_router(health.router)
    app.include_router(ledger.router)
    app.include_router(audit.router)
    app.include_router(dashboard.router)
    return app


def handle_view_lagging(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ViewLaggingError)  # noqa: S101 - registered for this class only
    return problems.problem_response(
        503,
        "Read views lagging",
        type_=problems.problem_type(exc.code),
        detail=f"{exc}; try again shortly",
        headers={"Retry-After": str(exc.retry_after)},
        position=exc.target,
        view_position=exc.reached,
    )
