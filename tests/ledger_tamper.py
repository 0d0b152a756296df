"""Editing stored event rows behind the ledger's back, directly in SQLite or PostgreSQL.

What an intruder (or a careless operator) with database access could do: the audit tests
use these to check that ``/ledger/verify``, ``parley verify`` and checkpoints notice.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

from eventsourcing.persistence import StoredEvent
from support import recomputed_hash

from api.store.store import open_ledger, parse_database_url
from domain.negotiation import Negotiation

SQLITE_TABLE = "stored_events"
POSTGRES_TABLE = "parley_events"  # the library names it after the application there


@contextlib.contextmanager
def _connection(url: str) -> Iterator[tuple[Any, str, str]]:
    """A connection, the events table's qualified name and the position column."""
    if url.startswith("sqlite:"):
        path = url.removeprefix("sqlite:///")
        conn = sqlite3.connect(path, timeout=30)
        try:
            yield conn, SQLITE_TABLE, "rowid"
            conn.commit()
        finally:
            conn.close()
        return
    import psycopg

    parts = urlsplit(url)
    schema = parse_qs(parts.query).get("schema", ["public"])[0]
    with psycopg.connect(
        dbname=parts.path.lstrip("/"),
        host=parts.hostname,
        port=parts.port,
        user=parts.username,
        autocommit=True,
    ) as pg:
        yield pg, f'"{schema}"."{POSTGRES_TABLE}"', "notification_id"


def _sql(url: str, statement: str) -> str:
    return statement if url.startswith("sqlite:") else statement.replace("?", "%s")


def stored_state(url: str, position: int) -> bytes:
    with _connection(url) as (conn, table, column):
        found = conn.execute(
            _sql(url, f"SELECT state FROM {table} WHERE {column} = ?"),
            (position,),
        ).fetchone()
    return bytes(found[0])


def write_state(url: str, position: int, state: bytes) -> None:
    with _connection(url) as (conn, table, column):
        conn.execute(
            _sql(url, f"UPDATE {table} SET state = ? WHERE {column} = ?"),
            (state, position),
        )


def edit_state(url: str, position: int, edit: Callable[[bytes], bytes]) -> None:
    """Rewrites a stored row's state bytes in place."""
    before = stored_state(url, position)
    after = edit(before)
    assert after != before, "the edit changed nothing"
    write_state(url, position, after)


def replace_bytes(old: bytes, new: bytes) -> Callable[[bytes], bytes]:
    def edit(state: bytes) -> bytes:
        assert old in state, f"{old!r} is not in the stored row"
        return state.replace(old, new, 1)

    return edit


def corrupt(state: bytes) -> bytes:
    """Bytes that are no longer JSON at all."""
    return b"\xff\xfe" + state[len(state) // 2 :]


def delete_row(url: str, position: int) -> None:
    with _connection(url) as (conn, table, column):
        conn.execute(_sql(url, f"DELETE FROM {table} WHERE {column} = ?"), (position,))


def rehash(url: str, position: int, slug: str) -> None:
    """Recomputes a stored event's own hash after its content was edited (a careful intruder)."""
    ledger = open_ledger(parse_database_url(url))
    try:
        notification = ledger.recorder.select_notifications(start=position, limit=1)[0]
        stored = StoredEvent(
            originator_id=notification.originator_id,
            originator_version=notification.originator_version,
            topic=notification.topic,
            state=notification.state,
        )
        event = ledger.mapper.to_domain_event(stored)
        assert isinstance(event, Negotiation.Event)
        fresh = recomputed_hash(event, slug)
    finally:
        ledger.close()
    edit_state(url, position, replace_bytes(event.hash.encode(), fresh.encode()))


def skip_positions(url: str, count: int) -> None:
    """Uses up PostgreSQL notification ids, as rolled-back inserts do."""
    with _connection(url) as (conn, table, column):
        conn.execute(
            f"SELECT nextval(pg_get_serial_sequence('{table}', '{column}')) "
            "FROM generate_series(1, %s)",
            (count,),
        )
