"""The FastAPI application: ``create_app(settings)`` builds it; nothing is opened at import."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from fastapi import FastAPI

from api import problems
from api.routes import events, health, negotiations
from api.settings import Settings
from api.store import open_ledger, parse_database_url

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
            app.state.ledger = ledger
            app.state.store_kind = config.kind
            yield
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
    app.include_router(negotiations.router)
    app.include_router(events.router)
    app.include_router(health.router)
    return app
