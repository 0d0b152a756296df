"""Tables of ours beside the events (API keys, cosignatures): kept in the ledger's own store.

Each lives in the ledger's SQLite file or PostgreSQL schema and is written in that
datastore's transactions; it is created when first opened, once across processes. The
``memory://`` store keeps such records in the process instead: :func:`open_side_table`
picks the kind for the store a ledger writes to. Storage errors go through the ledger's one
table (``domain.ledger.storage``), as the ledger's own reads and writes do.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from domain.ledger import Ledger
from domain.ledger.storage import translate_storage_errors
from projections.storage import store_kind
from projections.views import sqlite_write_transaction

__all__ = [
    "PostgresTable",
    "SQLTable",
    "SQLiteTable",
    "open_side_table",
]


class SQLTable:
    """A table of ours in the ledger's SQL store; the class using it gives its DDL."""

    mark = "?"
    """The driver's parameter placeholder."""
    table: str
    datastore: Any

    def ddl(self) -> list[str]:
        raise NotImplementedError

    def _transaction(self, *, commit: bool) -> contextlib.AbstractContextManager[Any]:
        raise NotImplementedError

    def create_table(self) -> None:
        with translate_storage_errors("write"), self._transaction(commit=True) as cursor:
            for statement in self.ddl():
                cursor.execute(statement)


class SQLiteTable(SQLTable):
    """In the ledger's SQLite file: writes take the file's write lock, as the ledger's do."""

    def _transaction(self, *, commit: bool) -> contextlib.AbstractContextManager[Any]:
        if commit:
            return sqlite_write_transaction(self.datastore)
        return self.datastore.transaction(commit=False)  # type: ignore[no-any-return]

    def create_table(self) -> None:
        # Most starts find the table there: look before taking the write lock.
        with translate_storage_errors("read"), self.datastore.transaction(commit=False) as cursor:
            cursor.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (self.table,)
            )
            if cursor.fetchone() is not None:
                return
        super().create_table()


class PostgresTable(SQLTable):
    """In the ledger's PostgreSQL schema; ``create_lock`` serialises its CREATE TABLE."""

    mark = "%s"
    create_lock: int

    @staticmethod
    def qualified(datastore: Any, name: str) -> str:
        """The table's name inside the datastore's schema, quoted."""
        return '"' + str(datastore.schema).replace('"', '""') + '".' + name

    def _transaction(self, *, commit: bool) -> contextlib.AbstractContextManager[Any]:
        return self.datastore.transaction(commit=commit)  # type: ignore[no-any-return]

    def create_table(self) -> None:
        # CREATE TABLE IF NOT EXISTS races between processes; the lock serialises it.
        with translate_storage_errors("write"), self._transaction(commit=True) as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", (self.create_lock,))
            for statement in self.ddl():
                cursor.execute(statement)


class _Creatable(Protocol):
    def create_table(self) -> None: ...


Memory = TypeVar("Memory")
Table = TypeVar("Table", bound=_Creatable)


def open_side_table(
    ledger: Ledger,
    what: str,
    memory: Callable[[], Memory],
    sqlite: Callable[[Any], Table],
    postgres: Callable[[Any], Table],
) -> Memory | Table:
    """The ``what`` of the store the ledger writes to, its table created if missing."""
    recorder: Any = ledger.recorder
    kind = store_kind(recorder, what)
    if kind == "memory":
        return memory()
    store = (sqlite if kind == "sqlite" else postgres)(recorder.datastore)
    store.create_table()
    return store
