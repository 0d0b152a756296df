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

A batch also starts from what the batch before it left (``Remembered``): the small analytics
rows every batch of offers reads back (``order``, ``positions``, tips, pairs' rows), the
negotiations' index rows and the Merkle tree's frontier, as that batch wrote them. They are
used only while every view's tracking row still holds the position that batch committed
and the schema is the same; anything else (another runner, a rebuild, a failure) forgets them.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
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
        writes = self.writes
        if writes and writes[-1][0] and writes[-1][1] == statement:
            # The same statement again (the analytics of the next negotiation): one call runs
            # both, in the same order.
            writes[-1][2].extend(params)
        else:
            writes.append((True, statement, list(params)))

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


# ------------------------------------------------------------------ remembered rows

CACHED_KEYS = frozenset({"order", "positions", "meta", "headline", "ckk"})
"""Analytics keys a batch reads back whole: remembered from one batch to the next."""
CACHED_PREFIXES = ("tip/", "pt/", "gap/")
"""Analytics key families read back per line or pair (small, rewritten in place). Not the
rows that grow with the negotiation (``line/``, ``st/``, ``ref/``, ``hist/``, ``ck/``):
they are read from the store as before."""
MAX_KEYS = 4096
"""Keys remembered of one negotiation (beyond that, none: it is read from the store)."""
MAX_NEGOTIATIONS = 256
"""Negotiations remembered (the least recently written are forgotten first)."""


class Known:
    """One negotiation's remembered analytics rows: ``rows`` (None: known absent) and the
    prefixes whose rows are all in ``rows`` (``complete``)."""

    def __init__(self) -> None:
        self.rows: dict[str, str | None] = {}
        self.complete: set[str] = set()
        self.off = False
        """Grown past ``MAX_KEYS``: nothing is remembered of it (forgotten at the commit)."""

    def covers(self, prefix: str) -> bool:
        return prefix.startswith(tuple(self.complete))

    def record(self, items: Iterable[tuple[str, str | None]]) -> None:
        """Remembers what the rows under those keys now hold (the keys it keeps)."""
        if self.off:
            return
        rows = self.rows
        rows.update({k: v for k, v in items if k in CACHED_KEYS or k.startswith(CACHED_PREFIXES)})
        if len(rows) > MAX_KEYS:
            self.off = True
            rows.clear()
            self.complete.clear()


class RememberingSpace:
    """A ``Space`` that answers from the rows remembered of a negotiation, else from ``inner``.

    What it reads or writes of the remembered keys is remembered: after the batch commits,
    ``rows`` is what the table holds (an upsert or a delete per write, replayed in order).
    """

    def __init__(self, inner: Any, known: Known) -> None:
        self.inner, self.known = inner, known

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        rows = self.known.rows
        found: dict[str, str] = {}
        missing = []
        for key in keys:
            if key in rows:
                body = rows[key]
                if body is not None:
                    found[key] = body
            else:
                missing.append(key)
        if missing:
            read = self.inner.get(missing)
            found.update(read)
            self.known.record((key, read.get(key)) for key in missing)
        return found

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        known = self.known
        if known.covers(prefix):
            rows = [(k, v) for k, v in known.rows.items() if v is not None and k.startswith(prefix)]
            rows.sort()
            return rows
        found: list[tuple[str, str]] = self.inner.scan(prefix)
        if prefix.startswith(CACHED_PREFIXES) and not known.off:
            # The scan says which of them are there.
            known.record([*((k, None) for k in known.rows if k.startswith(prefix)), *found])
            if not known.off:
                known.complete.add(prefix)
        return found

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = self.inner.range(low, high, last=last)
        return found

    def put(self, items: Mapping[str, str]) -> None:
        self.inner.put(items)
        self.known.record(items.items())

    def delete(self, keys: Sequence[str]) -> None:
        self.inner.delete(keys)
        self.known.record((key, None) for key in keys)


class Remembered:
    """What the batches this process committed left in the views, for the next batch to start
    from instead of reading it back: some analytics rows, the index rows, the Merkle frontier.

    Valid for a view only while its tracking row holds the position the last batch committed
    and the schema is the same (``at``): a batch that starts anywhere else (another runner or
    a rebuild moved the view) or fails forgets it all. A batch whose writes commit has its
    tracking row checked in the same transaction, so the rows it started from were the
    table's.
    """

    def __init__(self) -> None:
        self.at: dict[str, tuple[Any, int]] = {}
        self.analytics: dict[str, Known] = {}
        self.index: dict[str, Any] = {}
        self.merkle: tuple[int, dict[tuple[int, int], bytes]] | None = None

    def forget(self) -> None:
        self.at.clear()
        self.analytics.clear()
        self.index.clear()
        self.merkle = None

    def check(self, version: Any, start: Mapping[str, int], names: Sequence[str]) -> None:
        """Forgets everything unless every view to write is where the last batch left it."""
        if any(self.at.get(name) != (version, start[name]) for name in names):
            self.forget()

    def committed(self, version: Any, names: Sequence[str], end: int) -> None:
        for name in names:
            self.at[name] = (version, end)
        for slug in [s for s, k in self.analytics.items() if k.off]:
            del self.analytics[slug]
        _trim(self.analytics)
        _trim(self.index)

    def space(self, slug: str, inner: Any) -> RememberingSpace:
        known = self.analytics.pop(slug, None) or Known()
        self.analytics[slug] = known  # the most recently written last
        return RememberingSpace(inner, known)


def _trim(memo: dict[str, Any]) -> None:
    for slug in list(memo)[: max(0, len(memo) - MAX_NEGOTIATIONS)]:
        del memo[slug]
