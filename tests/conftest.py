"""Shared fixtures: a fixed clock, and one store fixture over memory, a SQLite file and PostgreSQL.

PostgreSQL runs whenever the local server answers; with ``PARLEY_TEST_POSTGRES=required``
(as in CI) an unreachable server fails the run instead of skipping those cases. Each test
gets a schema of its own inside one database created for this run.
"""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from api.store.store import StoreConfig, open_ledger, parse_database_url
from domain.ledger import Ledger

PG_HOST = os.environ.get("PARLEY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PARLEY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PARLEY_TEST_PG_USER", "postgres")
STORES = ("memory", "sqlite", "postgres")


class FixedClock:
    """A clock that stands still unless told to move: the domain never reads real time in tests."""

    def __init__(self, start: datetime = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> datetime:
        self.now += timedelta(**kwargs)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


def _postgres_required() -> bool:
    return os.environ.get("PARLEY_TEST_POSTGRES", "").lower() == "required"


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh database for this test run, dropped at the end; None when no server answers."""
    try:
        import psycopg
    except ImportError:
        if _postgres_required():
            pytest.fail("PARLEY_TEST_POSTGRES=required but psycopg is not installed")
        yield None
        return
    name = f"parley_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        admin = psycopg.connect(
            dbname="postgres",
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as e:
        if _postgres_required():
            pytest.fail(f"PARLEY_TEST_POSTGRES=required but PostgreSQL is unreachable: {e}")
        yield None
        return
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


_schemas = itertools.count(1)


@pytest.fixture(params=STORES)
def store_url(request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None) -> str:
    """A database URL for an empty store, for each of the three stores."""
    kind = request.param
    if kind == "memory":
        return "memory://"
    if kind == "sqlite":
        return f"sqlite:///{tmp_path}/parley.db"
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    schema = f"t{os.getpid()}_{next(_schemas)}"
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{postgres_database}?schema={schema}"


@pytest.fixture
def store_config(store_url: str) -> StoreConfig:
    return parse_database_url(store_url)


@pytest.fixture
def ledger_factory(store_config: StoreConfig, clock: FixedClock) -> Iterator[Callable[[], Ledger]]:
    """Makes ledgers on one store (several of them model several processes or restarts)."""
    made: list[Ledger] = []
    prepared = False

    def make() -> Ledger:
        nonlocal prepared
        ledger = open_ledger(store_config, clock=clock, create_tables=not prepared)
        prepared = True
        made.append(ledger)
        return ledger

    yield make
    for ledger in made:
        ledger.close()


@pytest.fixture
def ledger(ledger_factory: Callable[[], Ledger]) -> Ledger:
    return ledger_factory()
