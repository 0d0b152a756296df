"""Materialised read views, kept with tracking records written in the same transaction.

Three views, each tracked under its own name (eventsourcing's ``Tracking``), one module each:

- ``events`` (``parley_view_events``): one row per stored negotiation event, by log position.
- ``index`` (``parley_view_negotiations``): one row per negotiation, the fold of
  ``projections.index``, for the list and the summaries.
- ``merkle`` (``parley_view_merkle``): the RFC 9162 tree over the global log, appended by
  ``domain.merkle.extend``.

One module per backend keeps them: ``memory`` (in-process dicts), ``schema`` (the SQL
tables), ``sql`` (what SQL backends share: the exactly-once apply and the rebuild),
``sql_reads`` (their shared reads), ``plan`` (a batch's writes worked out before the write
transaction, on SQLite), ``sqlite`` and ``postgres``. ``base`` holds the names and the ``Views`` interface;
``open_views`` picks the backend of a store.
"""

from __future__ import annotations

import functools
from typing import Any, cast

from eventsourcing.persistence import ApplicationRecorder

from projections.index import SHAPING_TYPES, NegotiationRow, fold_negotiation, fold_negotiations
from projections.storage import store_kind
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    IN_CHUNK,
    INDEX_VIEW,
    MERKLE_VIEW,
    REBUILD_SUFFIX,
    VIEWS,
    ViewMovedError,
    check_views,
    merkle_tables,
    table_names,
)
from projections.views.events import EVENT_COLUMNS, EventRow, event_row
from projections.views.index import INDEX_COLUMNS
from projections.views.interface import ReadBatch, Views
from projections.views.memory import MemoryViews
from projections.views.merkle import LEAF_COLUMNS, LeafRow, frontier, leaf_rows, merkle_append
from projections.views.schema import CONSTRAINTS, DEFERRED, table_ddl
from projections.views.sql import SQLViews
from projections.views.sqlite import SQLiteViews, sqlite_write_transaction

__all__ = [
    "ANALYTICS_VIEW",
    "CONSTRAINTS",
    "DEFERRED",
    "EVENTS_VIEW",
    "EVENT_COLUMNS",
    "INDEX_COLUMNS",
    "INDEX_VIEW",
    "IN_CHUNK",
    "LEAF_COLUMNS",
    "MERKLE_VIEW",
    "REBUILD_SUFFIX",
    "SHAPING_TYPES",
    "VIEWS",
    "EventRow",
    "LeafRow",
    "MemoryViews",
    "NegotiationRow",
    "ReadBatch",
    "SQLViews",
    "SQLiteViews",
    "ViewMovedError",
    "Views",
    "check_views",
    "event_row",
    "fold_negotiation",
    "fold_negotiations",
    "frontier",
    "leaf_rows",
    "merkle_append",
    "merkle_tables",
    "open_views",
    "postgres_views_class",
    "sqlite_write_transaction",
    "table_ddl",
    "table_names",
]


@functools.cache
def postgres_views_class() -> type[SQLViews]:
    """The PostgreSQL views (imported on first use: psycopg is an optional dependency)."""
    from projections.views.postgres import PostgresViews

    return PostgresViews


def open_views(recorder: ApplicationRecorder, *, create_tables: bool = True) -> Views:
    """The views of the store the ledger's recorder writes to."""
    kind = store_kind(recorder, "views")
    store = cast(Any, recorder)
    views: Views
    if kind == "memory":
        views = MemoryViews(recorder)
    elif kind == "sqlite":
        views = SQLiteViews(store.datastore)
    else:
        views = cast(Any, postgres_views_class())(store.datastore, channel=store.channel_name)
    if create_tables:
        views.create_tables()
    return views
