"""Operations: Prometheus metrics, a request id on every request, and its access log line.

Each app has a registry of its own (several apps share one test process). One pure ASGI
middleware gives each request its id (``X-Request-ID``, kept when the client sends a sane
one), counts and times it by route template, and writes one access log line. The ledger's
appends are timed where they happen, and the views' lag is read when Prometheus scrapes.
"""

from __future__ import annotations

import contextvars
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from eventsourcing.persistence import InterfaceError, OperationalError
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from domain.errors import ParleyError, StorageUnavailable

if TYPE_CHECKING:
    from fastapi import FastAPI

    from domain.ledger import Ledger, Recorded

log = logging.getLogger("api.access")

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:/+=-]{1,128}$")
UNMATCHED_ROUTE = "<unmatched>"
"""The route label of requests no route matched: raw paths would make labels unbounded."""

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
OTHER_METHOD = "<other>"
"""The method label of any other request method: clients invent them, labels must stay few."""

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "parley_request_id", default=None
)


def current_request_id() -> str | None:
    """The id of the request being served in this context, if any."""
    return _request_id.get()


def request_id_from(headers: list[tuple[bytes, bytes]]) -> str:
    """The client's ``X-Request-ID`` when it is short and plain, else a fresh one."""
    for name, value in headers:
        if name.lower() == b"x-request-id":
            text = value.decode("latin-1").strip()
            if _SANE_REQUEST_ID.match(text):
                return text
            break
    return fresh_request_id(os.urandom(16))


def fresh_request_id(random: bytes) -> str:
    """``uuid.UUID(bytes=random, version=4).hex``, without building the UUID (5 us a request)."""
    number = int.from_bytes(random)
    number = (number & ~(0xC000 << 48)) | (0x8000 << 48)  # the RFC 4122 variant
    number = (number & ~(0xF000 << 64)) | (4 << 76)  # version 4
    return f"{number:032x}"


# ------------------------------------------------------------------ metrics

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    """The app's collectors, in a registry of its own."""

    def __init__(self, app: FastAPI) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "parley_http_requests",
            "HTTP requests answered, by method, route template and status",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.request_seconds = Histogram(
            "parley_http_request_duration_seconds",
            "Time to answer an HTTP request, by method and route template",
            ["method", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "parley_http_requests_in_progress",
            "HTTP requests being served now, by method",
            ["method"],
            registry=self.registry,
        )
        self.append_seconds = Histogram(
            "parley_append_duration_seconds",
            "Time for the ledger to append (decide, hash, commit), by operation and outcome",
            ["operation", "outcome"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.events_recorded = Counter(
            "parley_events_recorded",
            "Events this process appended to the ledger, by event type",
            ["type"],
            registry=self.registry,
        )
        self.appends = InFlight()
        self.registry.register(ScrapeTimeCollector(app))
        self._children: dict[tuple[Any, ...], Any] = {}

    def child(self, metric: Any, *labels: str) -> Any:
        """``metric.labels(*labels)``, kept: the library validates and locks on every call.

        The labels are few (methods, route templates, statuses, operations, event types) and
        a labelled child is never removed, so the first one stays the one to count on.
        """
        key = (id(metric), *labels)
        found = self._children.get(key)
        if found is None:
            found = self._children[key] = metric.labels(*labels)
        return found


class InFlight:
    """Counts appends under way, so shutdown can let them finish before closing the store."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    @property
    def count(self) -> int:
        return self._count

    def __enter__(self) -> None:
        with self._idle:
            self._count += 1

    def __exit__(self, *exc: object) -> None:
        with self._idle:
            self._count -= 1
            if self._count == 0:
                self._idle.notify_all()

    def wait_idle(self, timeout: float) -> bool:
        """True once no append is under way; False if some still are after ``timeout``."""
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout=timeout)


class ScrapeTimeCollector(Collector):
    """The ledger's head and the views' lag, read from the store when Prometheus scrapes."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    def describe(self) -> list[GaugeMetricFamily]:
        # Without this the registry would call collect() at registration, before the store opens.
        return [self._head_family(), self._lag_family()]

    @staticmethod
    def _head_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "parley_ledger_head_position",
            "Position of the last event in the ledger (events recorded by every process)",
        )

    @staticmethod
    def _lag_family() -> GaugeMetricFamily:
        return GaugeMetricFamily(
            "parley_view_lag_events",
            "How many ledger positions each read view is behind the head",
            labels=["view"],
        )

    def collect(self) -> Iterator[GaugeMetricFamily]:
        runner = getattr(self.app.state, "runner", None)
        if runner is None:  # the lifespan has not opened the store yet
            return
        try:
            lag = runner.lag()
            head = runner.head()
        except (OperationalError, InterfaceError, StorageUnavailable) as e:
            # A scrape must still answer: the request metrics say more about an outage.
            logging.getLogger(__name__).warning("view lag not read: %s", e)
            return
        head_family = self._head_family()
        head_family.add_metric([], head)
        yield head_family
        lag_family = self._lag_family()
        for view, behind in lag.items():
            lag_family.add_metric([view], behind)
        yield lag_family


def instrument_ledger(ledger: Ledger, metrics: Metrics) -> None:
    """Times the ledger's appends and counts the events they record.

    Both command entry points are wrapped on this instance (the per-fact helpers go through
    ``record``), so every writer of the app is measured without the domain knowing.
    """
    record, open_negotiation = ledger.record, ledger.open_negotiation

    def timed(operation: str, call: Callable[..., Recorded]) -> Callable[..., Recorded]:
        def append(*args: Any, **kwargs: Any) -> Recorded:
            started = time.perf_counter()
            outcome = "failed"
            try:
                with metrics.appends:
                    recorded = call(*args, **kwargs)
                outcome = "replayed" if recorded.replayed else "recorded"
            except ParleyError as e:
                outcome = "failed" if isinstance(e, StorageUnavailable) else "refused"
                raise
            finally:
                metrics.child(metrics.append_seconds, operation, outcome).observe(
                    time.perf_counter() - started
                )
            if not recorded.replayed:
                for event in recorded.events:
                    metrics.child(metrics.events_recorded, event.type).inc()
            return recorded

        return append

    ledger.record = timed("record", record)  # type: ignore[method-assign]
    ledger.open_negotiation = timed("open", open_negotiation)  # type: ignore[method-assign]


# --------------------------------------------------------------- middleware


def method_label(method: str) -> str:
    """The request's method when it is a standard one the API uses, else one fixed label."""
    return method if method in KNOWN_METHODS else OTHER_METHOD


def route_template(scope: Scope) -> str:
    """``/negotiations/{slug}/events`` rather than the raw path, once routing has run."""
    route = scope.get("route")
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


def add_missing(message: Message, headers: tuple[tuple[bytes, bytes], ...]) -> None:
    """Appends to a response's start each of ``headers`` whose name it does not carry yet.

    What ``MutableHeaders(scope=message)``'s ``in`` and ``append`` did header by header
    (names compared as sent), without decoding and encoding each name every time.
    """
    raw = message["headers"] = list(message["headers"])
    present = {name for name, _ in raw}
    raw.extend(header for header in headers if header[0] not in present)


class RequestObserver:
    """Request id, metrics and one access log line for each HTTP request (pure ASGI)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = request_id_from(scope["headers"])
        token = _request_id.set(request_id)
        method = method_label(scope["method"])
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                add_missing(message, ((b"x-request-id", request_id.encode("latin-1")),))
            await send(message)

        metrics = self.metrics
        in_progress = metrics.child(metrics.in_progress, method)
        in_progress.inc()
        failed = True
        try:
            await self.app(scope, receive, send_with_id)
            failed = False
        finally:
            in_progress.dec()
            elapsed = time.perf_counter() - started
            route = route_template(scope)
            metrics.child(metrics.requests, method, route, str(status)).inc()
            metrics.child(metrics.request_seconds, method, route).observe(elapsed)
            log.log(
                logging.ERROR if status >= 500 else logging.INFO,
                "%s %s %d",
                method,
                route,
                status,
                extra={
                    "method": method,
                    "route": route,
                    "path": scope.get("path"),  # never the query string: it may carry tokens
                    "status": status,
                    "duration_ms": round(elapsed * 1000, 3),
                },
            )
            if not failed:
                # On a failure the id stays set: the 500 answer is written outside this
                # middleware (Starlette's ServerErrorMiddleware) and quotes it.
                _request_id.reset(token)


def install(app: FastAPI) -> Metrics:
    """Gives the app its metrics registry and the observing middleware (outermost of ours)."""
    metrics = Metrics(app)
    app.state.metrics = metrics
    app.add_middleware(RequestObserver, metrics=metrics)
    return metrics
