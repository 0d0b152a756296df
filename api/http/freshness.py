"""Where a negotiation's last event sits in the log: what a read of it waits for.

A read of one negotiation needs the views to hold that negotiation's last event, not every
event of the log: waiting for the global head makes readers wait on writers of other
negotiations. One indexed query per store (the events table is keyed by originator and
version); the memory store reads its own index.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from api.store.store import postgres_events_statement
from domain.ledger import Ledger
from domain.negotiation import negotiation_id
from projections.storage import store_kind
from projections.views import SQLiteViews, Views

Lookup = Callable[[str], int | None]


def last_position_lookup(ledger: Ledger, views: Views | None = None) -> Lookup:
    """``slug -> log position of its last event`` (None: no such negotiation).

    On a SQLite file, through the views' own read connections (``views``): the library's
    pool makes a read queue behind every append waiting for the write lock.
    """
    recorder: Any = ledger.recorder
    kind = store_kind(recorder, "position lookup")
    if kind == "sqlite":
        statement = (
            f"SELECT rowid FROM {recorder.events_table_name} "  # noqa: S608
            "WHERE originator_id = ? ORDER BY originator_version DESC LIMIT 1"
        )

        if isinstance(views, SQLiteViews):
            reading = views.reading

            def own_lookup(slug: str) -> int | None:
                with reading() as c:
                    c.execute(statement, (negotiation_id(slug).hex,))
                    row = c.fetchone()
                    return None if row is None else int(row[0])

            return own_lookup

        def sqlite_lookup(slug: str) -> int | None:
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, (negotiation_id(slug).hex,))
                row = c.fetchone()
                return None if row is None else int(row[0])

        return sqlite_lookup
    if kind == "memory":

        def memory_lookup(slug: str) -> int | None:
            with recorder._database_lock:
                index = recorder._stored_events_index.get(str(negotiation_id(slug)))
                if not index:
                    return None
                # Versions run 1..n without gaps: the last is the count.
                last = index.get(len(index))
                return int(max(index.values()) if last is None else last) + 1

        return memory_lookup
    pg_statement = postgres_events_statement(
        recorder,
        "SELECT notification_id FROM {events} "
        "WHERE originator_id = %s ORDER BY originator_version DESC LIMIT 1",
    )

    def postgres_lookup(slug: str) -> int | None:
        with recorder.datastore.transaction(commit=False) as curs:
            curs.execute(pg_statement, (negotiation_id(slug),))
            row = curs.fetchone()
            return None if row is None else int(row["notification_id"])

    return postgres_lookup
