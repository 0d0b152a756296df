"""Where the ledger lives: one URL (``memory://``, ``sqlite:///file``, ``postgresql://…``).

This is the only module that knows the storage engines: it turns the URL into the
library's settings, creates tables once, and answers the few questions the library's
recorders do not (the log position of a stream's events).
"""

from __future__ import annotations

import contextlib
import fcntl
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit
from uuid import UUID

from eventsourcing.sqlite import SQLiteConnection, SQLiteConnectionPool, SQLiteFactory
from eventsourcing.utils import Environment, EnvType

from domain.ledger import IDEMPOTENCY_WINDOW, MAX_PARTIES, MAX_TERMS, Ledger, utc_now

POSTGRES_LEDGER_TABLES_LOCK = 0x7061726C6579  # "parley": serialises creating the ledger tables


class StoreURLError(ValueError):
    """The database URL names no store Parley knows."""


@dataclass(frozen=True)
class StoreConfig:
    kind: str  # "memory" | "sqlite" | "postgres"
    env: dict[str, str]
    description: str


POSTGRES_FACTORY_TOPIC = "api.store.store_postgres:BoundedPostgresFactory"
STORE_TIMEOUT_KEY = "PARLEY_STORE_TIMEOUT"
"""The library env key that carries ``store_timeout`` to ``BoundedPostgresFactory``."""


def parse_database_url(
    url: str, *, cache_size: int = 1000, store_timeout: float = 5.0
) -> StoreConfig:
    """The store a URL names. ``store_timeout``: the longest a call waits for the store (a
    PostgreSQL that gives no connection or no answer, a SQLite file another connection holds
    locked: a 503 then, never a hang)."""
    parts = urlsplit(url)
    common = {"AGGREGATE_CACHE_MAXSIZE": str(cache_size)}
    if parts.scheme == "memory":
        return StoreConfig("memory", {**common, "PERSISTENCE_MODULE": "eventsourcing.popo"}, url)
    if parts.scheme == "sqlite":
        path = (
            unquote(url.removeprefix("sqlite://").removeprefix("/")) if parts.netloc == "" else ""
        )
        if not path:
            msg = f"{url!r}: a SQLite URL names a file, e.g. sqlite:///./parley.db"
            raise StoreURLError(msg)
        return StoreConfig(
            "sqlite",
            {
                **common,
                "PERSISTENCE_MODULE": SQLITE_FACTORY_TOPIC,
                "SQLITE_DBNAME": path,
                STORE_TIMEOUT_KEY: str(store_timeout),
            },
            f"sqlite file {Path(path).resolve()}",
        )
    if parts.scheme in ("postgresql", "postgres"):
        dbname = parts.path.lstrip("/")
        if not dbname:
            msg = f"{url!r}: a PostgreSQL URL names a database, e.g. postgresql://postgres@127.0.0.1:5432/parley"
            raise StoreURLError(msg)
        env = {
            **common,
            "PERSISTENCE_MODULE": POSTGRES_FACTORY_TOPIC,
            STORE_TIMEOUT_KEY: str(store_timeout),
            # Idle connections a restart of the server broke are replaced at checkout.
            "POSTGRES_PRE_PING": "y",
            "POSTGRES_DBNAME": unquote(dbname),
            "POSTGRES_HOST": parts.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(parts.port or 5432),
            "POSTGRES_USER": unquote(parts.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(parts.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": str(max(1, math.ceil(store_timeout))),
            "POSTGRES_LOCK_TIMEOUT": "10",
            "POSTGRES_POOL_SIZE": "10",
            "POSTGRES_MAX_OVERFLOW": "20",
            "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
        }
        schema = parse_qs(parts.query).get("schema", [""])[0]
        if schema:
            env["POSTGRES_SCHEMA"] = schema
        host = parts.hostname or "127.0.0.1"
        return StoreConfig("postgres", env, f"postgresql {host}:{parts.port or 5432}/{dbname}")
    msg = f"{url!r}: use memory://, sqlite:///path/to/file.db or postgresql://user@host:port/db"
    raise StoreURLError(msg)


def prepare_store(config: StoreConfig) -> None:
    """Creates the tables once, before any worker starts (workers then run without it).

    On PostgreSQL an advisory lock serialises this, so several processes starting at once
    do not race on ``CREATE TABLE``; on SQLite a lock file beside the database does the
    same (switching a new file to WAL needs it alone, and SQLite does not wait for that).
    """
    if config.kind == "memory":
        return
    if config.kind == "sqlite":
        db = Path(config.env["SQLITE_DBNAME"])
        db.parent.mkdir(parents=True, exist_ok=True)
        with open(db.with_name(db.name + ".lock"), "a") as lock_file:
            fcntl.flock(lock_file, fcntl.LOCK_EX)
            try:
                with contextlib.closing(Ledger({**config.env, "CREATE_TABLE": "y"})):
                    return
            finally:
                fcntl.flock(lock_file, fcntl.LOCK_UN)
    import psycopg
    from psycopg.sql import SQL, Identifier

    env = config.env
    with psycopg.connect(
        dbname=env["POSTGRES_DBNAME"],
        host=env["POSTGRES_HOST"],
        port=env["POSTGRES_PORT"],
        user=env["POSTGRES_USER"],
        password=env["POSTGRES_PASSWORD"] or None,
        autocommit=True,
        connect_timeout=10,
    ) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (POSTGRES_LEDGER_TABLES_LOCK,))
        if env.get("POSTGRES_SCHEMA"):
            conn.execute(
                SQL("CREATE SCHEMA IF NOT EXISTS {}").format(Identifier(env["POSTGRES_SCHEMA"]))
            )
        try:
            with contextlib.closing(Ledger({**env, "CREATE_TABLE": "y"})):
                pass
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (POSTGRES_LEDGER_TABLES_LOCK,))


def open_ledger(
    config: StoreConfig,
    *,
    clock: Callable[[], datetime] = utc_now,
    create_tables: bool = False,
    idempotency_window: timedelta = IDEMPOTENCY_WINDOW,
    max_parties: int = MAX_PARTIES,
    max_terms: int = MAX_TERMS,
) -> Ledger:
    """A ledger on the configured store, with tables created first when asked."""
    if create_tables:
        prepare_store(config)
    create = "y" if config.kind == "memory" else "n"
    ledger = Ledger(
        {**config.env, "CREATE_TABLE": create},
        clock=clock,
        idempotency_window=idempotency_window,
        max_parties=max_parties,
        max_terms=max_terms,
    )
    ledger.set_position_lookup(_position_lookup(ledger, config.kind))
    return ledger


def postgres_events_statement(recorder: Any, text: str) -> Any:
    """``text`` as a psycopg statement, ``{events}`` naming the recorder's events table in its schema."""
    from psycopg.sql import SQL, Identifier

    return SQL(text).format(
        events=Identifier(recorder.datastore.schema, recorder.events_table_name)
    )


def _position_lookup(ledger: Ledger, kind: str) -> Callable[[UUID, int, int], dict[int, int]]:
    recorder: Any = ledger.recorder
    if kind == "sqlite":
        statement = (
            f"SELECT rowid, originator_version FROM {recorder.events_table_name} "  # noqa: S608
            "WHERE originator_id = ? AND originator_version BETWEEN ? AND ?"
        )

        def sqlite_lookup(nid: UUID, first: int, last: int) -> dict[int, int]:
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, (nid.hex, first, last))
                return {row[1]: row[0] for row in c.fetchall()}

        return sqlite_lookup
    if kind == "postgres":
        pg_statement = postgres_events_statement(
            recorder,
            "SELECT notification_id, originator_version FROM {events} "
            "WHERE originator_id = %s AND originator_version BETWEEN %s AND %s",
        )

        def postgres_lookup(nid: UUID, first: int, last: int) -> dict[int, int]:
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(pg_statement, (nid, first, last))
                return {
                    row["originator_version"]: row["notification_id"] for row in curs.fetchall()
                }

        return postgres_lookup

    def memory_lookup(nid: UUID, first: int, last: int) -> dict[int, int]:
        index = recorder._stored_events_index[str(nid)]
        return {v: index[v] + 1 for v in range(first, last + 1) if v in index}

    return memory_lookup


# ------------------------------------------------------------------ SQLite durability

SQLITE_FACTORY_TOPIC = "api.store.store:DurableSQLiteFactory"


class _DurableSQLitePool(SQLiteConnectionPool):
    """SQLite connections with ``synchronous=FULL``: a commit is on disk before the 201."""

    def _create_connection(self) -> SQLiteConnection:
        connection = super()._create_connection()
        # The library turns WAL on but keeps the build's default for synchronous, which a
        # build may set to NORMAL: in WAL mode that loses the last commits on power failure.
        connection._sqlite_conn.execute("PRAGMA synchronous=FULL")
        return connection


class DurableSQLiteFactory(SQLiteFactory):
    """eventsourcing's SQLite persistence, every connection made by ``_DurableSQLitePool``.

    eventsourcing 9.5.6 has no setting for ``synchronous``; PERSISTENCE_MODULE names this.
    The waits for the file's write lock (SQLite's busy timeout) and for a pooled connection
    are 80 % of ``PARLEY_STORE_TIMEOUT`` each: a file another connection keeps locked is
    then a 503, not a 30 s hang.
    """

    def __init__(self, env: Environment | EnvType | None) -> None:
        super().__init__(env)
        plain = self.datastore.pool  # made by the library, no connection opened yet
        bound = float(self.env.get(STORE_TIMEOUT_KEY) or 5.0) * 0.8
        self.datastore.pool = _DurableSQLitePool(
            db_name=plain.db_name,
            lock_timeout=bound,  # type: ignore[arg-type]  # sqlite3 takes a float
            pool_size=plain.pool_size,
            max_overflow=plain.max_overflow,
            pool_timeout=bound,
            max_age=plain.max_age,
            pre_ping=plain.pre_ping,
        )
        plain.close()
