"""Verifying the whole ledger from the stored rows themselves, for ``GET /ledger/verify`` and ``parley verify``.

The scan reads every stored event row in log order straight from the store, as raw values
(``RawRow``): an edited row must be caught and named even when its bytes no longer decode,
so nothing here trusts the library's decoding to succeed. For each row it rebuilds the
canonical document (``domain.canonical``), recomputes the hash and checks it against the
stored one, checks the per-negotiation chain (``prev_hash`` and consecutive versions), and
checks the row against the Merkle view's leaf of the same index: a deleted row leaves a
leaf with no row, an edited hash a leaf that no longer matches. Rows and leaves are read a
page at a time, so memory is flat in the number of events (it grows only with the number
of negotiations, one chain head each).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from uuid import UUID

from eventsourcing.persistence import StoredEvent

from domain import merkle
from domain.canonical import GENESIS_HASH, event_hash, stored_document
from domain.ledger import Ledger
from domain.negotiation import Negotiation
from projections.views import LeafRow, Views

PAGE = 1000


@dataclass(frozen=True)
class RawRow:
    """One stored event row as the store holds it, nothing decoded or trusted."""

    position: int
    originator_id: str
    version: Any
    topic: Any
    state: bytes | None


@dataclass(frozen=True)
class BadEvent:
    """The first stored event that does not match what the ledger recorded."""

    position: int | None
    event_id: str | None
    negotiation: str | None
    version: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "event_id": self.event_id,
            "negotiation": self.negotiation,
            "version": self.version,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class VerifyReport:
    ok: bool
    events_checked: int
    head: int
    """The log position the scan reached."""
    tree_size: int
    """How many of the checked events were also checked against the Merkle view's leaves."""
    root: str | None
    """The Merkle root recomputed from those leaves (hex), when everything matched."""
    first_bad: BadEvent | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "ok": self.ok,
            "events_checked": self.events_checked,
            "head": self.head,
            "tree_size": self.tree_size,
            "root": self.root,
        }
        if self.first_bad is not None:
            body["first_bad"] = self.first_bad.to_json()
        return body


# ------------------------------------------------------------------ raw rows


def _as_bytes(value: Any) -> bytes | None:
    # SQLite keeps whatever type an UPDATE wrote: an edited state may come back as text.
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return None


def scan_rows(ledger: Ledger, *, up_to: int, page: int = PAGE) -> Iterator[RawRow]:
    """Every stored event row with a log position up to ``up_to``, in log order."""
    recorder: Any = ledger.recorder
    kind = type(recorder).__module__.rsplit(".", 1)[-1]
    if kind == "sqlite":
        statement = (
            "SELECT rowid AS position, originator_id, originator_version, topic, state "  # noqa: S608
            f"FROM {recorder.events_table_name} WHERE rowid > ? AND rowid <= ? "
            "ORDER BY rowid LIMIT ?"
        )

        def sqlite_page(after: int) -> list[RawRow]:
            with recorder.datastore.transaction(commit=False) as c:
                c.execute(statement, (after, up_to, page))
                return [_raw(r) for r in c.fetchall()]

        yield from _paged(sqlite_page)
    elif kind == "postgres":
        from psycopg.sql import SQL, Identifier

        pg_statement = SQL(
            "SELECT notification_id AS position, originator_id::text AS originator_id, "
            "originator_version, topic, state FROM {schema}.{table} "
            "WHERE notification_id > %s AND notification_id <= %s "
            "ORDER BY notification_id LIMIT %s"
        ).format(
            schema=Identifier(recorder.datastore.schema),
            table=Identifier(recorder.events_table_name),
        )

        def postgres_page(after: int) -> list[RawRow]:
            with recorder.datastore.transaction(commit=False) as curs:
                curs.execute(pg_statement, (after, up_to, page))
                return [_raw(r) for r in curs.fetchall()]

        yield from _paged(postgres_page)
    else:
        # The in-process store holds the library's objects: nothing outside can edit them.
        def memory_page(after: int) -> list[RawRow]:
            found = recorder.select_notifications(start=after + 1, limit=page, stop=up_to)
            return [
                RawRow(n.id, str(n.originator_id), n.originator_version, n.topic, n.state)
                for n in found
            ]

        yield from _paged(memory_page)


def _raw(row: Any) -> RawRow:
    return RawRow(
        position=int(row["position"]),
        originator_id=str(row["originator_id"]),
        version=row["originator_version"],
        topic=row["topic"],
        state=_as_bytes(row["state"]),
    )


def _paged(read: Any) -> Iterator[RawRow]:
    after = 0
    while rows := read(after):
        yield from rows
        after = rows[-1].position


def _leaves(views: Views, size: int) -> Iterator[LeafRow]:
    start = 0
    while start < size and (found := views.leaves(start, min(PAGE, size - start))):
        yield from found
        start = found[-1].leaf_index + 1


# ------------------------------------------------------------------ verifying


@dataclass
class _Chain:
    slug: str
    hash: str
    version: int


class _Root:
    """The RFC 9162 root of leaves pushed one at a time, keeping only the frontier."""

    def __init__(self) -> None:
        self.stack: list[tuple[int, bytes]] = []
        self.size = 0

    def push(self, leaf: bytes) -> None:
        level, current = 0, leaf
        while self.stack and self.stack[-1][0] == level:
            current = merkle.node_hash(self.stack.pop()[1], current)
            level += 1
        self.stack.append((level, current))
        self.size += 1

    def root(self) -> bytes:
        if not self.stack:
            return merkle.EMPTY_ROOT
        current = self.stack[-1][1]
        for _, left in reversed(self.stack[:-1]):
            current = merkle.node_hash(left, current)
        return current


def decode(ledger: Ledger, row: RawRow) -> Negotiation.Event | str:
    """The stored event of a raw row, or why it cannot be read."""
    if row.state is None or not isinstance(row.topic, str) or not isinstance(row.version, int):
        return "the stored row is incomplete"
    try:
        stored = StoredEvent(
            originator_id=UUID(row.originator_id),
            originator_version=row.version,
            topic=row.topic,
            state=row.state,
        )
        event = ledger.mapper.to_domain_event(stored)
    # Edited bytes may fail in any way at all: that failure is the finding, not a bug.
    except Exception as e:
        return f"the stored bytes no longer decode ({type(e).__name__})"
    if not isinstance(event, Negotiation.Event):
        return "the stored row is not a negotiation event"
    return event


def _document_hash(event: Negotiation.Event, slug: str) -> str | None:
    try:
        return event_hash(stored_document(event, slug, event))  # type: ignore[arg-type]
    except (TypeError, ValueError, AttributeError, KeyError):
        return None  # decoded into something no fact holds: it cannot have been recorded


def verify_ledger(
    ledger: Ledger, views: Views, *, on_event: Callable[[], object] | None = None
) -> VerifyReport:
    """Re-hashes every stored event and compares it with its chain and its Merkle leaf."""
    # The tree first: every leaf it holds then has a position at or below the head read next.
    size = views.tree_size()
    head = ledger.recorder.max_notification_id() or 0
    leaves = _leaves(views, size)
    chains: dict[str, _Chain] = {}
    recomputed = _Root()
    checked = 0
    reached = 0
    leaf = next(leaves, None)

    def report(bad: BadEvent | None) -> VerifyReport:
        root = recomputed.root().hex() if bad is None else None
        return VerifyReport(bad is None, checked, reached, recomputed.size, root, bad)

    for row in scan_rows(ledger, up_to=head):
        if leaf is not None and leaf.position < row.position:
            return report(_missing(leaf))
        matched = leaf if leaf is not None and leaf.position == row.position else None
        checked += 1
        if on_event is not None:
            on_event()
        reached = row.position
        chain = chains.get(row.originator_id)
        slug = chain.slug if chain is not None else None
        event = decode(ledger, row)
        if isinstance(event, str):
            event_id = matched.event_id if matched is not None else None
            version = row.version if isinstance(row.version, int) else None
            return report(BadEvent(row.position, event_id, slug, version, event))
        if isinstance(event, Negotiation.NegotiationOpened):
            slug = event.slug
        version = event.originator_version
        reason = _check(event, slug, chain)
        if reason is None and leaf is not None and matched is None:
            reason = "it is not in the Merkle tree where its position puts it"
        if (
            reason is None
            and matched is not None
            and (matched.event_id != str(event.event_id) or matched.hash != event.hash)
        ):
            reason = f"it differs from Merkle leaf {matched.leaf_index}"
        if reason is not None:
            return report(BadEvent(row.position, str(event.event_id), slug, version, reason))
        if matched is not None:
            recomputed.push(merkle.event_leaf(matched.hash))
            leaf = next(leaves, None)
        chains[row.originator_id] = _Chain(cast(str, slug), event.hash, version)
    if leaf is not None:
        return report(_missing(leaf))
    return _check_root(views, report(None))


def _check(event: Negotiation.Event, slug: str | None, chain: _Chain | None) -> str | None:
    """Why a decoded event does not fit its stream, or None when it does."""
    if slug is None:
        return "no negotiation_opened precedes it in its stream"
    if _document_hash(event, slug) != event.hash:
        return "its stored hash does not match its stored content"
    version = event.originator_version
    expected = 1 if chain is None else chain.version + 1
    opening = isinstance(event, Negotiation.NegotiationOpened)
    if version != expected or (chain is not None and opening):
        return f"version {version} where the stream expects {expected}"
    if event.prev_hash != (GENESIS_HASH if chain is None else chain.hash):
        return "its prev_hash is not the hash of the event before it"
    return None


def _missing(leaf: LeafRow) -> BadEvent:
    return BadEvent(
        leaf.position,
        leaf.event_id,
        leaf.negotiation,
        leaf.version,
        f"Merkle leaf {leaf.leaf_index} names it, the store no longer has it",
    )


def _check_root(views: Views, found: VerifyReport) -> VerifyReport:
    """The stored nodes must give the root the leaves give: proofs are built from them."""
    size = found.tree_size
    if size == 0:
        return found
    try:
        stored = merkle.tree_root(views.node_store(merkle.subtree_nodes(0, size)), size)
    except merkle.MissingNodeError:
        stored = None
    if stored is not None and stored.hex() == found.root:
        return found
    bad = BadEvent(None, None, None, None, "the Merkle view's stored nodes do not match its leaves")
    return VerifyReport(False, found.events_checked, found.head, size, None, bad)
