"""Helpers the test suites share beside the fixtures of ``tests/conftest.py``.

A ledger opened on a URL and closed afterwards; a deterministic in-memory ledger; PostgreSQL
databases made for a test run; and an event's hash recomputed from nothing but what the store
gave back (the contract fact rebuilt from the stored event's fields, not the ledger's code).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any, NoReturn

import pytest

from api.store.store import open_ledger, parse_database_url
from domain import facts
from domain.canonical import event_hash, stored_document
from domain.ledger import Ledger
from domain.values import Party, Term

PG_HOST = os.environ.get("PARLEY_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("PARLEY_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("PARLEY_TEST_PG_USER", "postgres")


@contextlib.contextmanager
def opened(url: str) -> Iterator[Ledger]:
    """A ledger on the store at ``url`` (tables created), closed afterwards."""
    ledger = open_ledger(parse_database_url(url), create_tables=True)
    try:
        yield ledger
    finally:
        ledger.close()


def memory_ledger(clock: Callable[[], datetime], **options: Any) -> Ledger:
    """An in-memory ledger on ``clock`` whose event ids are UUID(1), UUID(2), ...

    ``options``: the ledger's other keyword arguments (an idempotency window, say).
    """
    counter = itertools.count(1)
    return Ledger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=clock,
        new_id=lambda: uuid.UUID(int=next(counter)),
        **options,
    )


def sma_book(clock: Callable[[], datetime], **options: Any) -> Ledger:
    """An in-memory ledger holding the SMA talks opened as ``sma``: ROK, USA, one USD term."""
    ledger = memory_ledger(clock, **options)
    ledger.open_negotiation(
        facts.NegotiationOpened(slug="sma", title="SMA talks", occurred_at=date(2019, 9, 1)),
        [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD")],
    )
    return ledger


# ------------------------------------------------------------------ hashes


contract_fact = facts.fact_of
"""The contract fact a stored event carries (without the ledger's metadata)."""


def recomputed_hash(event: Any, slug: str) -> str:
    """The hash of a stored event, recomputed from nothing but what the store gave back."""
    return event_hash(stored_document(event, slug))


# ------------------------------------------------------------------ PostgreSQL


def skip_or_fail(message: str, variable: str) -> NoReturn:
    """Skips the test, loudly; fails it instead when ``variable`` says ``required`` (as in CI)."""
    if os.environ.get(variable, "").lower() == "required":
        pytest.fail(message)
    pytest.skip(message)


def postgres_required() -> bool:
    """CI sets PARLEY_TEST_POSTGRES=required: an unreachable server fails, not skips."""
    return os.environ.get("PARLEY_TEST_POSTGRES", "").lower() == "required"


def postgres_admin() -> Any | None:
    """An autocommit connection to the server's ``postgres`` database; None when none answers."""
    try:
        import psycopg
    except ImportError:
        if postgres_required():
            pytest.fail("PARLEY_TEST_POSTGRES=required but psycopg is not installed")
        return None
    try:
        return psycopg.connect(
            dbname="postgres",
            host=PG_HOST,
            port=PG_PORT,
            user=PG_USER,
            autocommit=True,
            connect_timeout=5,
        )
    except psycopg.OperationalError as e:
        if postgres_required():
            pytest.fail(f"PARLEY_TEST_POSTGRES=required but PostgreSQL is unreachable: {e}")
        return None


@contextlib.contextmanager
def fresh_database(admin: Any, prefix: str) -> Iterator[str]:
    """A new database's name, dropped afterwards (and ``admin`` closed)."""
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield name
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ processes


def stop_process(proc: subprocess.Popen[Any], timeout: float = 10) -> None:
    """Asks ``proc`` to stop (SIGTERM) and waits; kills it if it has not within ``timeout``."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=timeout)


# ------------------------------------------------------------------ views


def counting_reads(views: Any) -> list[int]:
    """Counts the rows each ``events_of`` of ``views`` returns from now on (what a read refolds)."""
    counts: list[int] = []
    events_of = views.events_of

    def counted(slug: str, after_version: int = 0, limit: int | None = None) -> list[Any]:
        rows = events_of(slug, after_version, limit)
        counts.append(len(rows))
        return rows

    views.events_of = counted
    return counts
