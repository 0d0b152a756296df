"""The views in the ledger's PostgreSQL schema, tracked in ``parley_view_tracking``.

Imported on first use (``projections.views.open_views``): psycopg is an optional dependency.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import psycopg
from eventsourcing.persistence import IntegrityError, PersistenceError, Tracking
from eventsourcing.postgres import PostgresDatastore, PostgresTrackingRecorder
from psycopg.sql import SQL, Identifier

from projections.views.base import VIEWS
from projections.views.schema import CONSTRAINTS
from projections.views.sql import SQLViews

POSTGRES_TRACKING_TABLE = "parley_view_tracking"
POSTGRES_VIEW_TABLES_LOCK = 0x7061726C6576  # "parlev": serialises creating the view tables


class PostgresViews(SQLViews, PostgresTrackingRecorder):
    """The views in the ledger's PostgreSQL schema, tracked in ``parley_view_tracking``."""

    kind = "postgres"
    big_integer = "BIGINT"
    binary = "BYTEA"
    collate = 'COLLATE "C" '
    poll_interval = 1.0
    """LISTEN wakes the runner; the bounded poll covers a lost NOTIFY."""
    coalesce = 0.025
    """A NOTIFY per insert would otherwise cost a batch (~3 ms of CPU) per event."""

    def __init__(self, datastore: PostgresDatastore, *, channel: str) -> None:
        super().__init__(datastore, tracking_table_name=POSTGRES_TRACKING_TABLE)
        self.channel = channel
        self.schema = datastore.schema
        for view in VIEWS:
            self.sql_create_statements += [SQL(s).format() for s in self.ddl(view, view)]

    def quote(self, name: str) -> str:
        def ident(part: str) -> str:
            return '"' + part.replace('"', '""') + '"'

        return ident(self.schema) + "." + ident(name)

    def _create_table(self, curs: Any) -> None:
        # CREATE TABLE IF NOT EXISTS races between processes; the lock serialises it.
        curs.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_VIEW_TABLES_LOCK,))
        super()._create_table(curs)
        for name in VIEWS:
            curs.execute(
                f"INSERT INTO {self.quote(self.tracking_table_name)} "  # noqa: S608
                "(application_name, notification_id) VALUES (%s, 0) "
                "ON CONFLICT (application_name) DO NOTHING",
                (name,),
            )

    def create_tables(self) -> None:
        try:
            self.create_table()
        except IntegrityError:
            # Another process created the tracking table between our check and our
            # lock, and its migration row is already there: the tables exist now.
            self.create_table()

    @contextlib.contextmanager
    def _writing(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=True) as cursor:
            yield cursor

    @contextlib.contextmanager
    def _reading(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            yield cursor

    def tracked_positions(self) -> dict[str, int]:
        found = self._select(
            "SELECT application_name, notification_id FROM "  # noqa: S608
            f"{self.quote(self.tracking_table_name)} WHERE application_name = ANY(%s)",
            [list(VIEWS)],
        )
        positions = dict.fromkeys(VIEWS, 0)
        positions.update({r["application_name"]: int(r["notification_id"]) for r in found})
        return positions

    def _lock_tracking(self, cursor: Any, names: Sequence[str]) -> dict[str, int]:
        cursor.execute(
            "SELECT application_name, notification_id FROM "  # noqa: S608
            f"{self.quote(self.tracking_table_name)} WHERE application_name = ANY(%s) "
            "ORDER BY application_name FOR UPDATE",
            [list(names)],
        )
        positions = dict.fromkeys(names, 0)
        positions.update(
            {r["application_name"]: int(r["notification_id"]) for r in cursor.fetchall()}
        )
        return positions

    def _track(self, cursor: Any, name: str, position: int) -> None:
        self._insert_tracking(cursor, Tracking(name, position))

    def _set_tracking(self, cursor: Any, name: str, position: int) -> None:
        cursor.execute(
            f"INSERT INTO {self.quote(self.tracking_table_name)} "  # noqa: S608
            "(application_name, notification_id) VALUES (%s, %s) "
            "ON CONFLICT (application_name) DO UPDATE "
            "SET notification_id = excluded.notification_id",
            (name, position),
        )

    def _rename(self, cursor: Any, view: str, fresh: str) -> None:
        cursor.execute(f"DROP TABLE IF EXISTS {self.quote(view)}")
        cursor.execute(
            SQL("ALTER TABLE {} RENAME TO {}").format(
                SQL(self.quote(fresh)),
                Identifier(view),
            )
        )
        for i in range(1, CONSTRAINTS[view] + 1):
            cursor.execute(
                SQL("ALTER TABLE {} RENAME CONSTRAINT {} TO {}").format(
                    SQL(self.quote(view)),
                    Identifier(f"{fresh}_c{i}"),
                    Identifier(f"{view}_c{i}"),
                )
            )

    def _add_unique(self, cursor: Any, live: str, fresh: str, number: int, columns: str) -> None:
        cursor.execute(
            SQL("ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({})").format(
                SQL(self.quote(fresh)),
                Identifier(f"{fresh}_c{number}"),
                SQL(columns),
            )
        )

    def listen(self, wake: threading.Event) -> Callable[[], None]:
        stopping = threading.Event()

        def run() -> None:
            while not stopping.is_set():
                try:
                    with self.datastore.get_connection() as conn:
                        conn.execute(SQL("LISTEN {}").format(Identifier(self.channel)))
                        while not stopping.is_set():
                            for _ in conn.notifies(timeout=0.2, stop_after=1):
                                wake.set()
                except (PersistenceError, psycopg.Error):
                    # The bounded poll keeps the runner going; listen again shortly.
                    stopping.wait(1.0)

        thread = threading.Thread(target=run, name="parley-views-listen", daemon=True)
        thread.start()

        def stop() -> None:
            stopping.set()
            thread.join(timeout=5)

        return stop
