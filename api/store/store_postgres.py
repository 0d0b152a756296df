"""PostgreSQL with bounded outages: a store that gives no connection is a quick 503, not a hang.

And a store that stops answering (a stalled network, a hung server: the connection stays
open, nothing comes back) ends each wait within the bound too: see ``BoundedConnection``.

Imported only through ``PERSISTENCE_MODULE`` (see ``api.store.store``), so that a SQLite-only
install needs no PostgreSQL driver.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
from eventsourcing.persistence import InterfaceError, OperationalError
from eventsourcing.postgres import (
    PostgresAggregateRecorder,
    PostgresApplicationRecorder,
    PostgresFactory,
    PostgresProcessRecorder,
    PostgresTrackingRecorder,
)
from eventsourcing.utils import Environment, EnvType

log = logging.getLogger(__name__)

STORE_TIMEOUT_KEY = "PARLEY_STORE_TIMEOUT"  # kept in step with api.store.store
DEFAULT_STORE_TIMEOUT = 5.0
CONNECTION_WAIT_SHARE = 0.8
"""The share of the bound a call may wait for a connection (the rest is its own work)."""
PROBE_EVERY = 0.5
"""While the store is known down, how often one call may try it again (the others fail)."""
ATTEMPTS = 3


class BoundedConnection(psycopg.Connection[Any]):
    """A psycopg connection whose every wait for the server ends within ``answer_timeout``.

    Socket options cannot bound it: the kernel of whatever sits in between (a proxy, a
    load balancer) acknowledges the bytes while the server never answers, and a server
    that hangs keeps its TCP alive. So each wait psycopg makes for an answer (a statement,
    a COMMIT, a fetch) is given a timeout; past it the connection is closed (its state is
    unknown: the pool drops it) and the call fails as an OperationalError, which the API
    answers 503; the breaker opens, so that other calls fail at once rather than each wait
    the bound out. Waits that name their own timeout (LISTEN's ``notifies``) keep it.
    """

    answer_timeout: float | None = None
    breaker: StoreBreaker | None = None

    def wait(self, gen: Any, interval: float = 0.1, timeout: float | None = None) -> Any:
        bound = self.answer_timeout if timeout is None else None
        try:
            return super().wait(gen, interval, timeout if bound is None else bound)
        except psycopg.OperationalError as e:
            if bound is None or type(e).__name__ != "_WaitTimeout":
                raise
            log.warning("the store gave no answer within %.1f s: connection closed", bound)
            self.pgconn.finish()
            if self.breaker is not None:
                self.breaker.failed()
            msg = f"the store gave no answer within {bound:.1f} s"
            raise psycopg.OperationalError(msg) from None


def bounded_connection_class(
    answer_timeout: float, breaker: StoreBreaker
) -> type[BoundedConnection]:
    attributes = {"answer_timeout": answer_timeout, "breaker": breaker}
    return type("BoundedConnection", (BoundedConnection,), attributes)


class StoreBreaker:
    """Remembers that the store gave no connection, so calls fail at once instead of waiting.

    The first call that cannot get a connection within the wait opens it; while open, one
    call every ``probe_every`` seconds tries the store (and closes it when it answers), the
    others fail immediately with an OperationalError, which the API answers 503.
    """

    def __init__(self, probe_every: float = PROBE_EVERY) -> None:
        self.probe_every = probe_every
        self.down_since: float | None = None
        self._next_probe = 0.0
        self._lock = threading.Lock()

    @property
    def is_open(self) -> bool:
        return self.down_since is not None

    def admit(self) -> None:
        if self.down_since is None:
            return
        now = time.monotonic()
        with self._lock:
            if self.down_since is not None and now < self._next_probe:
                down = now - self.down_since
                msg = f"the store has given no connection for {down:.1f} s"
                raise OperationalError(msg)
            self._next_probe = now + self.probe_every

    def failed(self) -> None:
        now = time.monotonic()
        with self._lock:
            if self.down_since is None:
                self.down_since = now
                log.warning("store unreachable: answering 503 until it gives a connection")
            self._next_probe = now + self.probe_every

    def succeeded(self) -> None:
        if self.down_since is None:
            return
        with self._lock:
            if self.down_since is not None:
                log.warning(
                    "store reachable again after %.1f s", time.monotonic() - self.down_since
                )
                self.down_since = None


def _bounded(datastore: Any, breaker: StoreBreaker) -> Callable[[], Any]:
    """``datastore.get_connection`` that trips ``breaker`` when no connection comes in time."""
    get_connection = datastore.get_connection

    @contextlib.contextmanager
    def bounded_connection() -> Iterator[Any]:
        breaker.admit()
        got = False
        try:
            with get_connection() as conn:
                got = True
                yield conn
        except (OperationalError, InterfaceError):
            if not got:  # a query on a connection that broke is retried on a fresh one
                breaker.failed()
            raise
        breaker.succeeded()

    return bounded_connection


def _retried_within_bound(func: Callable[..., Any]) -> Callable[..., Any]:
    """The library's retry (10 attempts, 0.2 s apart) kept short: a few quick attempts,
    none once the breaker is open, so a call never outlasts one connection wait."""

    @functools.wraps(func)
    def call(self: Any, *args: Any, **kwargs: Any) -> Any:
        breaker: StoreBreaker | None = getattr(self.datastore, "breaker", None)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                return func(self, *args, **kwargs)
            except (InterfaceError, OperationalError):
                if attempt == ATTEMPTS or (breaker is not None and breaker.is_open):
                    raise
                time.sleep(0.05 * attempt)
        raise AssertionError  # pragma: no cover - the loop returns or raises

    return call


def _without_long_retries(cls: type[Any]) -> type[Any]:
    """A subclass of a library recorder whose retried methods retry within the bound."""
    overrides = {}
    for name in dir(cls):
        method = getattr(cls, name, None)
        inner = getattr(method, "__wrapped__", None)
        if callable(method) and inner is not None and not name.startswith("__"):
            overrides[name] = _retried_within_bound(inner)
    return type(cls.__name__, (cls,), overrides)


class BoundedPostgresFactory(PostgresFactory):
    """eventsourcing's PostgreSQL persistence, with every store call bounded in time.

    By default a call waits ``POSTGRES_CONNECT_TIMEOUT`` for a connection, ten times over
    (the library's retry): with the server gone an append hung for up to ~100 s. Here a call
    waits at most 80 % of ``PARLEY_STORE_TIMEOUT`` for one, retries briefly, and once the
    store gave none, a breaker fails calls at once (probing twice a second) until it does.
    The pool's own reconnection gives up within the bound too, so a returning server is
    found by the next probe rather than after the pool's exponential back-off. A store that
    keeps a connection open but stops answering ends each wait within the bound as well
    (``BoundedConnection``).
    """

    aggregate_recorder_class = _without_long_retries(PostgresAggregateRecorder)
    application_recorder_class = _without_long_retries(PostgresApplicationRecorder)
    tracking_recorder_class = _without_long_retries(PostgresTrackingRecorder)
    process_recorder_class = _without_long_retries(PostgresProcessRecorder)

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        bound = float(self.env.get(STORE_TIMEOUT_KEY) or DEFAULT_STORE_TIMEOUT)
        datastore: Any = self.datastore
        pool = datastore.pool  # made by the library, not opened yet
        pool.timeout = bound * CONNECTION_WAIT_SHARE
        pool.reconnect_timeout = bound
        datastore.breaker = StoreBreaker()
        pool.connection_class = bounded_connection_class(bound, datastore.breaker)
        datastore.get_connection = _bounded(datastore, datastore.breaker)
