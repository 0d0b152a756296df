"""The baseline of ``bench_http``: the least an HTTP append on eventsourcing can do.

One FastAPI endpoint appends one event, with the JSON body as it came and no validation, to
one aggregate (created on its first append), saved through eventsourcing's SQLite store like
Parley's, with the same aggregate cache. No hash chain, no rules, no idempotency, no views.

Serve it with ``uvicorn --factory http_baseline_app:create_app`` from ``bench/`` and
``BASELINE_SQLITE=/path/to/file.db``.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import AsyncIterator
from typing import Annotated, Any
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate, event
from eventsourcing.persistence import IntegrityError
from fastapi import Body, FastAPI, Request


class Stream(Aggregate):
    """A named stream of events, taken as they come."""

    def __init__(self, name: str) -> None:
        self.name = name

    @staticmethod
    def create_id(name: str) -> UUID:
        return uuid5(NAMESPACE_URL, f"/streams/{name}")

    @event("Appended")
    def append(self, data: dict[str, Any]) -> None:
        pass


class Streams(Application[UUID]):
    def __init__(self, env: dict[str, str]) -> None:
        super().__init__(env)
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def append(self, name: str, data: dict[str, Any]) -> int:
        # Writers take turns per stream, as Parley's do; a clash with another process retries.
        with self._guard:
            lock = self._locks.setdefault(name, threading.Lock())
        with lock:
            while True:
                try:
                    stream = self.repository.get(Stream.create_id(name))
                except AggregateNotFoundError:
                    stream = Stream(name)
                stream.append(data)
                try:
                    self.save(stream)
                except IntegrityError:
                    continue
                return stream.version


def create_app() -> FastAPI:
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": os.environ["BASELINE_SQLITE"],
        "SQLITE_LOCK_TIMEOUT": "30",
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "CREATE_TABLE": "y",
    }

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.streams = Streams(env)
        try:
            yield
        finally:
            app.state.streams.close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/streams/{name}/events", status_code=201)
    def append(
        name: str, request: Request, data: Annotated[dict[str, Any], Body()]
    ) -> dict[str, Any]:
        version = request.app.state.streams.append(name, data)
        return {"stream": name, "version": version}

    return app
