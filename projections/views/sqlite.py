"""The views in the ledger's SQLite file, tracked in the library's ``tracking`` table."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from typing import Any, cast

from eventsourcing.persistence import IntegrityError, OperationalError, PersistenceError, Tracking
from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTrackingRecorder

from projections.views.base import VIEWS
from projections.views.sql import SQLViews

SYNCHRONOUS_NORMAL = 1


@contextlib.contextmanager
def sqlite_write_transaction(datastore: Any, *, durable: bool = True) -> Iterator[SQLiteCursor]:
    """A write transaction on the library's SQLite datastore that takes the lock first.

    BEGIN IMMEDIATE waits for the write lock up front: a deferred transaction that reads
    and then writes fails with SQLITE_BUSY when another process wrote in between.

    ``durable=False``: the commit does not wait for the disk (``synchronous=NORMAL`` for
    this transaction, the connection's own setting restored after). For what can be
    worked out again from the log, the views: in WAL mode such a commit is still atomic
    and in order, a power failure can only lose it whole, with the tracking row committed
    in it, and the next durable commit on the file (an append's) syncs it too. Waiting
    for the disk held the file's only write lock, which every append waits for, about
    0.7 ms per batch.
    """
    with datastore.get_connection(commit=True) as conn:
        cursor = conn.cursor()
        try:
            relaxed = None
            if not durable:
                cursor.execute("PRAGMA synchronous")
                level = int(cursor.fetchone()[0])
                if level > SYNCHRONOUS_NORMAL:
                    cursor.execute(f"PRAGMA synchronous={SYNCHRONOUS_NORMAL}")
                    relaxed = level
            try:
                cursor.execute("BEGIN IMMEDIATE")
                try:
                    yield cursor
                except BaseException:
                    conn.rollback()
                    raise
                conn.commit()
            finally:
                if relaxed is not None:
                    cursor.execute(f"PRAGMA synchronous={relaxed}")
        except sqlite3.IntegrityError as e:
            raise IntegrityError(e) from e
        except sqlite3.OperationalError as e:
            raise OperationalError(e) from e
        except sqlite3.Error as e:
            raise PersistenceError(e) from e


class SQLiteViews(SQLViews, SQLiteTrackingRecorder):
    """The views in the ledger's SQLite file, tracked in the library's ``tracking`` table."""

    kind = "sqlite"
    placeholder = "?"
    poll_interval = 0.05
    coalesce = 0.05
    """While appends stream in, a batch gathers up to 50 ms of them: each batch pays ~0.4 ms
    of SQLite commit and lock, so at ~500 appends/s batches of ~13 (10 ms) cost the runner
    0.27 ms per event and batches of ~27 0.21 ms (thread CPU under wrk). A reader waiting
    for its write cuts the wait short (``ProjectionRunner.wait_for``)."""
    plans_ahead = True

    def _schema_version(self, cursor: Any) -> Any:
        cursor.execute("PRAGMA schema_version")
        return cursor.fetchone()[0]

    def __init__(self, datastore: SQLiteDatastore) -> None:
        super().__init__(datastore)
        pool = datastore.pool
        # Reads of a file take connections of their own, one per thread, outside the
        # library's pool: its fairness queue lets a writer waiting for the write lock hold
        # every reader up (a read waited behind each of 16 appenders and the runner's batch).
        # WAL readers never wait for a writer. An in-memory file keeps the pool's interlock.
        self._own_readers = not pool.is_sqlite_memory_mode
        self._db_name = pool.db_name
        self._read_timeout = pool.lock_timeout or 5
        self._readers = threading.local()

    def quote(self, name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    def construct_create_table_statements(self) -> list[str]:
        statements = super().construct_create_table_statements()
        for view in VIEWS:
            statements += self.ddl(view, view)
        return statements

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        for name in VIEWS:
            c.execute(
                "INSERT INTO tracking (application_name, notification_id) VALUES (?, 0) "
                "ON CONFLICT (application_name) DO NOTHING",
                (name,),
            )

    def create_tables(self) -> None:
        # The library's create_table(), but under BEGIN IMMEDIATE: its deferred BEGIN reads
        # the schema, then fails at once (SQLITE_BUSY_SNAPSHOT, no waiting for the lock) when
        # a runner of another app on the file commits before its tracking insert.
        try:
            migration = self.max_tracking_id(self.table_migration_identifier)
        except OperationalError:
            pass
        else:
            self.tracking_migration_current = self.tracking_migration_previous = migration
            self.tracking_table_exists = True
        with self._writing() as cursor:
            self._create_table(cursor)

    def _writing(self) -> contextlib.AbstractContextManager[SQLiteCursor]:
        # The views and their tracking are worked out again from the log if a commit is
        # lost: no waiting for the disk (see ``sqlite_write_transaction``).
        return sqlite_write_transaction(self.datastore, durable=False)

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        if not self._own_readers:
            with self.datastore.transaction(commit=False) as shared:
                yield shared
            return
        try:
            connection = self._reader()
            cursor = connection.cursor()
            cursor.execute("BEGIN")  # one snapshot for every statement of the read
        except sqlite3.Error as e:
            raise OperationalError(e) from e
        try:
            yield cursor
        except sqlite3.OperationalError as e:
            raise OperationalError(e) from e
        except sqlite3.Error as e:
            raise PersistenceError(e) from e
        finally:
            with contextlib.suppress(sqlite3.Error):
                connection.rollback()

    def reading(self) -> contextlib.AbstractContextManager[Any]:
        """A read transaction's cursor, on this thread's own connection to a file."""
        return self._reading()

    def _reader(self) -> sqlite3.Connection:
        connection: sqlite3.Connection | None = getattr(self._readers, "connection", None)
        if connection is None:
            connection = sqlite3.connect(
                self._db_name,
                uri=True,
                check_same_thread=False,
                isolation_level=None,
                timeout=self._read_timeout,
            )
            connection.row_factory = sqlite3.Row
            self._readers.connection = connection
        return connection

    def tracked_positions(self) -> dict[str, int]:
        marks = ", ".join("?" * len(VIEWS))
        found = self._select(
            f"SELECT application_name, notification_id FROM tracking "  # noqa: S608
            f"WHERE application_name IN ({marks})",
            VIEWS,
        )
        positions = dict.fromkeys(VIEWS, 0)
        positions.update({r["application_name"]: int(r["notification_id"]) for r in found})
        return positions

    def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        # BEGIN IMMEDIATE already holds the database's only write lock.
        marks = ", ".join("?" * len(names))
        cursor.execute(
            "SELECT application_name, notification_id FROM tracking "  # noqa: S608
            f"WHERE application_name IN ({marks})",
            list(names),
        )
        positions = dict.fromkeys(names, 0)
        positions.update(
            {r["application_name"]: int(r["notification_id"]) for r in cursor.fetchall()}
        )
        return positions

    def _track(self, cursor: Any, name: str, position: int) -> None:
        self._insert_tracking(cast(SQLiteCursor, cursor), Tracking(name, position))

    def _track_all(self, cursor: Any, names: Sequence[str], position: int) -> None:
        if not self.datastore.single_row_tracking:
            super()._track_all(cursor, names, position)
            return
        # What the library's insert does to each row (it only moves forward), in one
        # statement: four upserts, each returning its row, cost a batch of a dozen events
        # as much as its analytics rows.
        marks = ", ".join("?" * len(names))
        raw: sqlite3.Cursor = getattr(cursor, "sqlite_cursor", cursor)  # the library's wraps it
        raw.execute(
            "UPDATE tracking SET notification_id = ? "  # noqa: S608
            f"WHERE application_name IN ({marks}) AND notification_id < ?",
            [position, *names, position],
        )
        moved = raw.rowcount
        if moved == len(names):
            return
        # A row it did not move is missing (the library's insert adds it), or else not
        # behind (which the library's insert refuses).
        raw.execute(
            f"SELECT application_name FROM tracking WHERE application_name IN ({marks})",  # noqa: S608
            list(names),
        )
        present = {row[0] for row in raw.fetchall()}
        if moved != len(present):
            msg = f"tracking of {', '.join(names)} is not behind {position}"
            raise IntegrityError(msg)
        for name in names:
            if name not in present:
                self._track(cursor, name, position)

    def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
        cursor.execute(
            "INSERT INTO tracking (application_name, notification_id) VALUES (?, ?) "
            "ON CONFLICT (application_name) DO UPDATE SET notification_id = excluded.notification_id",
            (name, position),
        )

    def _rename(self, cursor: Any, view: str, fresh: str) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {self.quote(view)}")
        cursor.execute(f"ALTER TABLE {self.quote(fresh)} RENAME TO {self.quote(view)}")

    def _add_unique(self, cursor: Any, live: str, fresh: str, number: int, columns: str) -> None:
        # SQLite cannot add a constraint to a table, and keeps an index's name through a
        # rename: the index is named after the live table, in whichever of two spellings
        # the live table's own index (if it came from a rebuild too) does not hold.
        name = f"{live}_c{number}"
        cursor.execute("SELECT 1 FROM sqlite_master WHERE type = 'index' AND name = ?", (name,))
        if cursor.fetchone() is not None:
            name += "b"
        cursor.execute(f"CREATE UNIQUE INDEX {self.quote(name)} ON {self.quote(fresh)} ({columns})")
