"""The FastAPI application: ``create_app(settings)`` builds it; nothing is opened at import."""

from __future__ import annotations

import contextlib
import gc
import signal
import sys
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import FastAPI

from api.http import limits, observability, security
from api.http.auth import AUTH_RESPONSES, Gate, Role, is_loopback, require
from api.http.feed import EventHub
from api.http.problems import handlers as problem_handlers
from api.http.problems import openapi as problem_openapi
from api.http.routes import (
    analytics,
    audit,
    compare,
    dashboard,
    events,
    feed,
    health,
    keys,
    ledger,
    metrics,
    negotiations,
    page,
    problem_pages,
    tiles,
)
from api.services.cosignatures import open_cosignatures
from api.settings import Settings
from api.store.keys import open_keys
from api.store.store import open_ledger, parse_database_url
from projections.runner import open_runner

DESCRIPTION = """\
An event-sourced negotiation ledger: who offered what, when, and how far apart the parties are.

Events are immutable facts; a wrong one is answered by a later `event_retracted`.
Amounts are decimals written as JSON strings. Every error is `application/problem+json`.
"""


GIL_SWITCH_INTERVAL = 0.0005
"""Seconds a thread may keep the GIL while another waits for it (Python's default: 0.005)."""


def create_app(settings: Settings | None = None) -> FastAPI:
    settings = settings if settings is not None else Settings()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # A request takes the GIL back a dozen times (socket, SQLite, thread hops); each time
        # a busy thread (the runner folding a large batch, a heavy read) may keep it for a
        # whole switch interval, 5 ms by default. With 0.5 ms, /health during the runner's
        # fold of a 150-party batch answered 2-3x as often, its worst ~100 ms, not 130-370.
        sys.setswitchinterval(GIL_SWITCH_INTERVAL)
        config = parse_database_url(
            settings.database_url,
            cache_size=settings.cache_size,
            store_timeout=settings.store_timeout_seconds,
        )
        ledger = open_ledger(
            config,
            create_tables=settings.create_tables,
            idempotency_window=settings.idempotency_window(),
            max_parties=settings.max_parties,
            max_terms=settings.max_terms,
        )
        observability.instrument_ledger(ledger, app.state.metrics)
        try:
            if settings.demo:
                from api.services.demo import (
                    ensure_demo,  # written separately; only needed when asked
                )

                ensure_demo(ledger)
            # The runner object is needed either way: reads wait on the views' positions,
            # which another process (`parley project`) may be moving.
            runner = open_runner(ledger)
            # A server told to listen beyond loopback never runs open, even without keys.
            app.state.gate = Gate(open_keys(ledger), open_allowed=is_loopback(settings.host))
            app.state.cosignatures = open_cosignatures(ledger)
            app.state.ledger = ledger
            app.state.runner = runner
            app.state.store_kind = config.kind
            hub = app.state.hub = EventHub(runner, capacity=settings.stream_buffer)
            if settings.project_in_process:
                runner.start()
            # What start-up built lives as long as the app: frozen, a full collection no
            # longer walks it. In-process, one came every ~12,000 appends and took half
            # as long frozen. No gc.collect() first: each app start in tests would pay it.
            gc.freeze()
            try:
                with _streams_end_on_signal(hub):
                    yield
            finally:
                gc.unfreeze()
                hub.join()
                # uvicorn has waited for open requests; an append whose request timed out
                # still runs in its thread, so let it commit before the store closes.
                app.state.metrics.appends.wait_idle(settings.graceful_shutdown_seconds)
                runner.stop()
        finally:
            ledger.close()

    app = FastAPI(
        title="Parley",
        version="0.1.0",
        description=DESCRIPTION,
        lifespan=lifespan,
        # Served by api/http/routes/dashboard.py from a pinned package, without inline scripts.
        docs_url=None,
        redoc_url=None,
    )
    app.state.settings = settings
    problem_handlers.install(app)
    problem_openapi.install_openapi(app)  # errors documented as sent: problem+json
    limits.install(app, settings.max_body_bytes)
    app.add_middleware(security.SecurityMiddleware)  # inside the observer: refusals are counted
    observability.install(app)  # added last: outermost, so it sees every answer and its time
    # Every read needs a reader key once keys exist; writes ask for more in their routes.
    # /health, the dashboard's pages and the API docs stay open (see api/http/auth.py).
    # The append route first: each request is matched against the routers in turn.
    app.include_router(events.appends, responses=AUTH_RESPONSES)  # checks its own principal
    app.include_router(negotiations.router, **READERS)
    app.include_router(events.router, **READERS)
    app.include_router(feed.router, **READERS)
    app.include_router(compare.router, **READERS)
    app.include_router(compare.pages)
    app.include_router(analytics.router, **READERS)
    app.include_router(page.router, **READERS)
    app.include_router(health.router)
    app.include_router(metrics.router)  # open like /health: counts and timings only
    app.include_router(ledger.router, **READERS)
    app.include_router(tiles.router, **READERS)
    app.include_router(audit.router, **READERS)
    app.include_router(keys.router, responses=AUTH_RESPONSES)
    app.include_router(dashboard.router)
    app.include_router(dashboard.charts)
    app.include_router(problem_pages.router)
    return app


READERS: dict[str, Any] = {
    "dependencies": [require(Role.READER)],
    "responses": AUTH_RESPONSES,
}


@contextlib.contextmanager
def _streams_end_on_signal(hub: EventHub) -> Iterator[None]:
    """On SIGTERM (or SIGINT) the event streams end, so that the server's graceful stop need not wait for them.

    uvicorn waits for open responses before it stops, and a stream never ends by itself. Its
    handler (installed before the app starts) still runs after ours. Only the main thread
    may set handlers: under a test client, streams end when the app stops.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {sig: signal.getsignal(sig) for sig in (signal.SIGTERM, signal.SIGINT)}

    def on_signal(signum: int, frame: Any) -> None:
        hub.close()
        handler = previous[signal.Signals(signum)]
        if callable(handler):
            handler(signum, frame)

    for sig in previous:
        signal.signal(sig, on_signal)
    try:
        yield
    finally:
        for sig, handler in previous.items():
            if signal.getsignal(sig) is on_signal:
                signal.signal(sig, handler)
