"""The SQL schema of the views: the statements that create each view's tables.

Shared by the SQLite and PostgreSQL backends; every index is a named constraint, so a
rebuilt table carries its indexes through the rename.
"""

from __future__ import annotations

from collections.abc import Callable

from projections.views.analytics import analytics_ddl
from projections.views.base import (
    ANALYTICS_VIEW,
    EVENTS_VIEW,
    INDEX_VIEW,
    MERKLE_VIEW,
    merkle_tables,
)


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


LEAVES_TABLE = merkle_tables(MERKLE_VIEW)[0]
DEFERRED: dict[str, tuple[tuple[int, str], ...]] = {
    EVENTS_VIEW: (
        (2, "event_id"),
        (3, "negotiation, version"),
        # (negotiation, version) is unique, so this is too: the occurred-order index.
        (4, "negotiation, sort_key, version"),
    ),
    LEAVES_TABLE: ((2, "position"), (3, "event_id")),
}
"""The unique constraints a rebuild adds after its bulk load, by live table: ``(number, columns)``.

Random event ids make every insert into an index on them a random B-tree write, which slows
the load as the table grows; one sort at the end is far cheaper, and checks uniqueness.
"""


def table_ddl(
    view: str,
    table: str,
    quote: Callable[[str], str],
    big: str,
    binary: str = "BLOB",
    *,
    bulk: bool = False,
    collate: str = "",
) -> list[str]:
    """The statements that create a view's tables under a name (constraints named after them).

    Every index is a named constraint, so a rebuilt table carries its indexes through the
    rename (SQLite renames its automatic indexes; PostgreSQL constraints are renamed).
    ``bulk`` leaves out the ``DEFERRED`` constraints: a rebuild adds them after loading.
    """
    name, ident = quote(table), _ident

    def unique(created: str, live: str) -> str:
        if bulk:
            return ""
        return "".join(
            f", CONSTRAINT {ident(created + f'_c{i}')} UNIQUE ({columns})"
            for i, columns in DEFERRED[live]
        )

    if view == ANALYTICS_VIEW:
        return analytics_ddl(name, ident, table, collate)
    if view == MERKLE_VIEW:
        leaves, nodes = merkle_tables(table)
        return [
            f"CREATE TABLE IF NOT EXISTS {quote(leaves)} ("
            f"leaf_index {big} NOT NULL, "
            f"position {big} NOT NULL, "
            "event_id TEXT NOT NULL, "
            "negotiation TEXT NOT NULL, "
            f"version {big} NOT NULL, "
            "hash TEXT NOT NULL, "
            f"CONSTRAINT {ident(leaves + '_c1')} PRIMARY KEY (leaf_index)"
            f"{unique(leaves, LEAVES_TABLE)})",
            f"CREATE TABLE IF NOT EXISTS {quote(nodes)} ("
            "level INTEGER NOT NULL, "
            f"idx {big} NOT NULL, "
            f"hash {binary} NOT NULL, "
            f"CONSTRAINT {ident(nodes + '_c1')} PRIMARY KEY (level, idx))",
        ]
    if view == EVENTS_VIEW:
        return [
            f"CREATE TABLE IF NOT EXISTS {name} ("
            f"position {big} NOT NULL, "
            "negotiation TEXT NOT NULL, "
            f"version {big} NOT NULL, "
            "event_id TEXT NOT NULL, "
            "type TEXT NOT NULL, "
            "occurred_at TEXT NOT NULL, "
            "sort_key TEXT NOT NULL, "
            "recorded_at TEXT NOT NULL, "
            "recorded_by TEXT NOT NULL, "
            "party TEXT, "
            "payload TEXT NOT NULL, "
            "hash TEXT NOT NULL, "
            "prev_hash TEXT NOT NULL, "
            "retracted_by TEXT, "
            f"CONSTRAINT {ident(table + '_c1')} PRIMARY KEY (position)"
            f"{unique(table, EVENTS_VIEW)})"
        ]
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ("
        "slug TEXT NOT NULL, "
        "negotiation_id TEXT NOT NULL, "
        "title TEXT NOT NULL, "
        "subject TEXT, "
        "status TEXT NOT NULL, "
        "parties TEXT NOT NULL, "
        "terms TEXT NOT NULL, "
        "counts TEXT NOT NULL, "
        f"version {big} NOT NULL, "
        "last_occurred_at TEXT NOT NULL, "
        "last_occurred_key TEXT NOT NULL, "
        "last_recorded_at TEXT NOT NULL, "
        f"opened_position {big} NOT NULL, "
        "status_changes TEXT NOT NULL, "
        f"CONSTRAINT {ident(table + '_c1')} PRIMARY KEY (slug), "
        f"CONSTRAINT {ident(table + '_c2')} UNIQUE (opened_position), "
        f"CONSTRAINT {ident(table + '_c3')} UNIQUE (negotiation_id))"
    ]


CONSTRAINTS = {
    EVENTS_VIEW: 4,
    INDEX_VIEW: 3,
    ANALYTICS_VIEW: 1,
    merkle_tables(MERKLE_VIEW)[0]: 3,
    merkle_tables(MERKLE_VIEW)[1]: 1,
}
