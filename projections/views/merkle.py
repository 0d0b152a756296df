"""The Merkle view: the RFC 9162 tree over the global log (``domain.merkle``).

``parley_view_merkle`` is two tables: ``…_leaves`` (one row per event: a gap-free
``leaf_index`` counted from 0, its log position, event id, negotiation, version and hash;
PostgreSQL may skip log positions, leaves never skip) and ``…_nodes`` (``level, idx,
hash``: every complete subtree above the leaves, written once and never changed; level 0
is the leaves' own hashes, read from ``…_leaves``). The tree's size is the
number of leaves. Appending is ``domain.merkle.extend``, which reads only the frontier.
Its interface: ``LeafRow``, ``leaf_rows``, ``merkle_append`` and, for the SQL backends,
``leaf_from``, ``fetch_nodes`` and ``write_merkle``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from domain import merkle
from domain.merkle import event_leaf, frontier
from projections.views.base import IN_CHUNK
from projections.views.events import EventRow

if TYPE_CHECKING:
    from projections.views.plan import Remembered

__all__ = ["LEAF_COLUMNS", "LeafRow", "fetch_nodes", "frontier", "leaf_rows", "merkle_append"]

LEAF_COLUMNS = ("leaf_index", "position", "event_id", "negotiation", "version", "hash")


@dataclass(frozen=True)
class LeafRow:
    """One leaf of the Merkle view: the ``leaf_index``-th event of the global log."""

    leaf_index: int
    position: int
    event_id: str
    negotiation: str
    version: int
    hash: str
    """The event's own hash (hex); the leaf hash is ``domain.merkle.event_leaf`` of it."""


def leaf_rows(size: int, rows: Sequence[EventRow]) -> list[LeafRow]:
    """The leaves that events (in log order) add to a tree of ``size`` leaves."""
    return [
        LeafRow(size + i, r.position, r.event_id, r.negotiation, r.version, r.hash)
        for i, r in enumerate(rows)
    ]


def merkle_append(
    known: Mapping[tuple[int, int], bytes], size: int, event_hashes: Sequence[str]
) -> list[tuple[int, int, bytes]]:
    """``domain.merkle.extend`` for a batch of events, as ``(level, index, hash)`` rows to insert.

    ``known`` holds the tree's ``frontier(size)``; a tree without it is refused.
    """
    for level, index in frontier(size):
        if (level, index) not in known:
            msg = f"the tree of {size} leaves lacks its node ({level}, {index})"
            raise merkle.MissingNodeError(msg)
    event_leaf = merkle.event_leaf
    return merkle.extend(
        lambda level, index: known[level, index], size, [event_leaf(h) for h in event_hashes]
    )


def leaf_from(found: Mapping[str, Any]) -> LeafRow:
    """The leaf read back from its columns."""
    return LeafRow(
        leaf_index=int(found["leaf_index"]),
        position=int(found["position"]),
        event_id=found["event_id"],
        negotiation=found["negotiation"],
        version=int(found["version"]),
        hash=found["hash"],
    )


def _nodes_where(addresses: Sequence[tuple[int, int]]) -> tuple[str, list[int]]:
    """A WHERE clause matching exactly those node addresses (each term uses the primary key)."""
    clause = " OR ".join(["(level = %s AND idx = %s)"] * len(addresses))
    return clause, [part for address in addresses for part in address]


def fetch_nodes(
    cursor: Any,
    sql: Callable[[str], str],
    table: str,
    addresses: Iterable[tuple[int, int]],
    leaves: str,
) -> dict[tuple[int, int], bytes]:
    """The nodes at those addresses: level 0 from the (quoted) leaves table, the rest stored.

    Level 0 is not stored (a leaf's hash is ``event_leaf`` of the hash its leaf row keeps):
    a node per event was half of what appending wrote. A store written before keeps its
    level-0 rows; they are not read.
    """
    chosen = sorted(set(addresses))
    found: dict[tuple[int, int], bytes] = {}
    bottom = [index for level, index in chosen if level == 0]
    for at in range(0, len(bottom), IN_CHUNK):
        chunk = bottom[at : at + IN_CHUNK]
        cursor.execute(
            sql(
                f"SELECT leaf_index, hash FROM {leaves} "  # noqa: S608
                f"WHERE leaf_index IN ({', '.join(['%s'] * len(chunk))})"
            ),
            chunk,
        )
        found.update(((0, int(r["leaf_index"])), event_leaf(r["hash"])) for r in cursor.fetchall())
    upper = [address for address in chosen if address[0] > 0]
    for at in range(0, len(upper), IN_CHUNK // 2):
        clause, params = _nodes_where(upper[at : at + IN_CHUNK // 2])
        cursor.execute(
            sql(f"SELECT level, idx, hash FROM {table} WHERE {clause}"),  # noqa: S608
            params,
        )
        found.update(
            ((int(r["level"]), int(r["idx"])), bytes(r["hash"])) for r in cursor.fetchall()
        )
    return found


def write_merkle(
    cursor: Any,
    sql: Callable[[str], str],
    leaves: str,
    nodes: str,
    rows: Sequence[EventRow],
    memo: Remembered | None = None,
) -> None:
    """Adds the rows as leaves and stores the subtrees they complete (tables quoted).

    Appending reads only the frontier of the tree so far (at most log2 n nodes, one
    query); every other node it needs is one it is writing. ``memo``: the tree's size and
    frontier as the batch before left them, used instead of reading them.
    """
    if memo is not None and memo.merkle is not None:
        size, known = memo.merkle
    else:
        cursor.execute(f"SELECT MAX(leaf_index) AS last FROM {leaves}")  # noqa: S608
        last = cursor.fetchone()["last"]
        size = 0 if last is None else int(last) + 1
        known = fetch_nodes(cursor, sql, nodes, frontier(size), leaves)
    fresh = merkle_append(known, size, [r.hash for r in rows])
    if memo is not None:
        reached = {**known, **{(level, index): node for level, index, node in fresh}}
        grown = size + len(rows)
        edge = frontier(grown)
        memo.merkle = (
            (grown, {a: reached[a] for a in edge}) if all(a in reached for a in edge) else None
        )
    marks = ", ".join(["%s"] * len(LEAF_COLUMNS))
    cursor.executemany(
        sql(f"INSERT INTO {leaves} ({', '.join(LEAF_COLUMNS)}) VALUES ({marks})"),  # noqa: S608
        # The columns of leaf_rows(size, rows), without building a LeafRow per event.
        [
            (size + i, r.position, r.event_id, r.negotiation, r.version, r.hash)
            for i, r in enumerate(rows)
        ],
    )
    cursor.executemany(
        sql(f"INSERT INTO {nodes} (level, idx, hash) VALUES (%s, %s, %s)"),  # noqa: S608
        [node for node in fresh if node[0] > 0],  # level 0 is read from the leaves
    )
