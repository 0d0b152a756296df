"""A batch's view writes worked out before the write transaction, which then only writes them.

SQLite has one writer: while the runner's transaction works out view rows in Python, every
append waits for the lock (and its busy handler sleeps). So on SQLite the batch is worked
out first, in a read snapshot: ``Deferred`` is a cursor that runs the reads there and
records the statements that write instead of running them, and the view writers
(``write_events``, ``write_index``, ``write_merkle``, and ``write_analytics`` through an
``OverlaySpace`` that lays the batch's own writes over what it reads) run against it
unchanged. The write transaction then replays what they recorded, after checking that the
views have not moved since the snapshot: their tracking rows (which only move forward) and
the schema's version (which a rebuild's swap changes). If the schema moved, the batch is
worked out again inside the transaction, as before; if the tracking did, it is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from projections.checkpoints import prefix_end
from projections.views.analytics import SQLSpace

Write = tuple[bool, str, Any]
"""``(many, statement, parameters)``: one ``executemany`` or ``execute`` to replay."""


class Deferred:
    """A cursor that reads from a snapshot and records its writes for ``replay``."""

    def __init__(self, reader: Any) -> None:
        self._reader = reader
        self.writes: list[Write] = []

    def execute(self, statement: str, params: Sequence[Any] = ()) -> Deferred:
        if statement.lstrip()[:6].upper() == "SELECT":
            self._reader.execute(statement, params)
        else:
            self.writes.append((False, statement, params))
        return self

    def executemany(self, statement: str, params: Sequence[Any]) -> None:
        self.writes.append((True, statement, list(params)))

    def fetchall(self) -> list[Any]:
        return list(self._reader.fetchall())

    def fetchone(self) -> Any:
        return self._reader.fetchone()

    def replay(self, cursor: Any) -> None:
        """Runs the recorded writes, in their order, on a write transaction's cursor."""
        for many, statement, params in self.writes:
            if many:
                if params:
                    cursor.executemany(statement, params)
            else:
                cursor.execute(statement, params)


class OverlaySpace(SQLSpace):
    """A negotiation's analytics keys as the batch has left them so far, before they are written.

    Reads go to the snapshot, with the batch's own puts and deletes laid over them (keys
    compare as the table's byte-order collation does: by code point).
    """

    def __init__(self, cursor: Any, sql: Callable[[str], str], table: str, slug: str) -> None:
        super().__init__(cursor, sql, table, slug)
        self._over: dict[str, str | None] = {}

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        over = self._over
        found = super().get([k for k in keys if k not in over])
        for key in keys:
            body = over.get(key)
            if body is not None:
                found[key] = body
        return found

    def _merged(
        self, stored: list[tuple[str, str]], inside: Callable[[str], bool]
    ) -> list[tuple[str, str]]:
        found = dict(stored)
        for key, body in self._over.items():
            if inside(key):
                if body is None:
                    found.pop(key, None)
                else:
                    found[key] = body
        return sorted(found.items())

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        end = prefix_end(prefix)
        return self._merged(super().scan(prefix), lambda k: prefix <= k < end)

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        if last and not any(low <= k <= high for k in self._over):
            return super().range(low, high, last=True)
        found = self._merged(super().range(low, high), lambda k: low <= k <= high)
        return found[-1:] if last else found

    def put(self, items: Mapping[str, str]) -> None:
        super().put(items)
        self._over.update(items)

    def delete(self, keys: Sequence[str]) -> None:
        super().delete(keys)
        self._over.update(dict.fromkeys(keys))
