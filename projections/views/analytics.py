"""The analytics view: each negotiation's positions, gaps and their inputs, kept per batch.

``parley_view_analytics`` is a key-value table per negotiation (``negotiation, key, body``)
holding what ``projections.analytics`` folds (see there for the keys). Its interface: the
table's DDL, a ``Space`` per negotiation over a SQL cursor or a dict (what the fold writes
through, inside the batch's transaction), and ``write_analytics`` that folds a batch (with
its fold checkpoints, ``projections.checkpoints``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from projections.checkpoints import apply_checkpointed, checkpoint_every, prefix_end
from projections.views.base import IN_CHUNK
from projections.views.events import EventRow

if TYPE_CHECKING:
    from projections.analytics import Space

ANALYTICS_COLUMNS = ("negotiation", "key", "body")


class Remembers(Protocol):
    """What a batch reads instead of the table (``projections.views.plan.Remembered``)."""

    def space(self, slug: str, inner: Any) -> Any:
        """``inner``, a negotiation's space, answering first from the remembered rows."""


def analytics_ddl(name: str, ident: Callable[[str], str], table: str, collate: str) -> list[str]:
    """The table, its primary key a named constraint (renamed with a rebuilt table)."""
    return [
        f"CREATE TABLE IF NOT EXISTS {name} ("
        "negotiation TEXT NOT NULL, "
        f"key TEXT {collate}NOT NULL, "
        "body TEXT NOT NULL, "
        f"CONSTRAINT {ident(table + '_c1')} PRIMARY KEY (negotiation, key))"
    ]


def by_negotiation(rows: Sequence[EventRow]) -> dict[str, list[EventRow]]:
    found: dict[str, list[EventRow]] = {}
    for row in rows:
        found.setdefault(row.negotiation, []).append(row)
    return found


class DictSpace:
    """A negotiation's keys in a dict (the ``memory://`` views)."""

    def __init__(self, data: dict[str, str]) -> None:
        self.data = data

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        return {k: self.data[k] for k in keys if k in self.data}

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        return sorted((k, v) for k, v in self.data.items() if k.startswith(prefix))

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        found = sorted((k, v) for k, v in self.data.items() if low <= k <= high)
        return found[-1:] if last else found

    def put(self, items: Mapping[str, str]) -> None:
        self.data.update(items)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            self.data.pop(key, None)


class SQLSpace:
    """A negotiation's keys in the analytics table, through a cursor."""

    def __init__(self, cursor: Any, sql: Callable[[str], str], table: str, slug: str) -> None:
        self.cursor, self.sql, self.table, self.slug = cursor, sql, table, slug

    def _by_keys(self, statement: str, keys: Sequence[str]) -> Iterator[None]:
        """Runs ``statement`` (its ``IN`` list as ``{marks}``) for the keys, a chunk at a time."""
        for at in range(0, len(keys), IN_CHUNK):
            chunk = keys[at : at + IN_CHUNK]
            marks = ", ".join(["%s"] * len(chunk))
            self.cursor.execute(
                self.sql(statement.format(table=self.table, marks=marks)), [self.slug, *chunk]
            )
            yield

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        statement = "SELECT key, body FROM {table} WHERE negotiation = %s AND key IN ({marks})"
        for _ in self._by_keys(statement, list(dict.fromkeys(keys))):
            found.update((r["key"], r["body"]) for r in self.cursor.fetchall())
        return found

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        self.cursor.execute(
            self.sql(
                f"SELECT key, body FROM {self.table} "  # noqa: S608
                "WHERE negotiation = %s AND key >= %s AND key < %s ORDER BY key"
            ),
            [self.slug, prefix, prefix_end(prefix)],
        )
        return [(r["key"], r["body"]) for r in self.cursor.fetchall()]

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        self.cursor.execute(
            self.sql(
                f"SELECT key, body FROM {self.table} "  # noqa: S608
                "WHERE negotiation = %s AND key >= %s AND key <= %s "
                + ("ORDER BY key DESC LIMIT 1" if last else "ORDER BY key")
            ),
            [self.slug, low, high],
        )
        return [(r["key"], r["body"]) for r in self.cursor.fetchall()]

    def put(self, items: Mapping[str, str]) -> None:
        if not items:
            return
        self.cursor.executemany(
            self.sql(
                f"INSERT INTO {self.table} (negotiation, key, body) VALUES (%s, %s, %s) "  # noqa: S608
                "ON CONFLICT (negotiation, key) DO UPDATE SET body = excluded.body"
            ),
            [(self.slug, k, v) for k, v in items.items()],
        )

    def delete(self, keys: Sequence[str]) -> None:
        statement = "DELETE FROM {table} WHERE negotiation = %s AND key IN ({marks})"
        for _ in self._by_keys(statement, list(keys)):
            pass


def write_analytics(
    cursor: Any,
    sql: Callable[[str], str],
    table: str,
    rows: Sequence[EventRow],
    space: type[SQLSpace] = SQLSpace,
    memo: Remembers | None = None,
) -> None:
    """Folds a batch into the (quoted) table, one negotiation at a time (through ``space``).

    ``memo``: rows the batches before left, read from there rather than the table.
    """
    every = checkpoint_every()
    for slug, found in by_negotiation(rows).items():
        chosen: Space = space(cursor, sql, table, slug)
        if memo is not None:
            chosen = memo.space(slug, chosen)
        apply_checkpointed(chosen, found, every)


def apply_in_memory(tables: dict[str, dict[str, str]], rows: Sequence[EventRow]) -> None:
    for slug, found in by_negotiation(rows).items():
        apply_checkpointed(DictSpace(tables.setdefault(slug, {})), found)
