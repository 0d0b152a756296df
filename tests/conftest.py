"""Shared fixtures: a fixed clock, and one store fixture over memory, a SQLite file and PostgreSQL.

PostgreSQL runs whenever the local server answers; with ``PARLEY_TEST_POSTGRES=required``
(as in CI) an unreachable server fails the run instead of skipping those cases. Each test
gets a schema of its own inside one database created for this run.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support import PG_HOST, PG_PORT, PG_USER, fresh_database, postgres_admin

from api.store.store import StoreConfig, open_ledger, parse_database_url
from domain.ledger import Ledger

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


@pytest.fixture(scope="session")
def postgres_database() -> Iterator[str | None]:
    """A fresh database for this test run, dropped at the end; None when no server answers."""
    admin = postgres_admin()
    if admin is None:
        yield None
        return
    with fresh_database(admin, "parley_test") as name:
        yield name


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
