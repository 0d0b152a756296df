"""Inclusion and consistency proofs of the global Merkle tree, read from the Merkle view.

Proofs fetch the nodes they need in one read (``domain.merkle.inclusion_nodes`` /
``consistency_nodes``) and are built by ``domain.merkle``; anyone can check them with
``domain.verify`` alone. Checkpoints are :mod:`api.services.checkpoints`, tiles
:mod:`api.services.tiles`: callers import those names from there.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from api.errors import EventNotInLedger, TreeSizeOutOfRange
from api.services.checkpoints import Checkpoint, tree_root_of
from domain import merkle, verify
from projections.views import Views


@dataclass(frozen=True)
class InclusionProof:
    leaf_index: int
    tree_size: int
    audit_path: list[str]
    event_id: str
    event_hash: str
    position: int


@dataclass(frozen=True)
class ConsistencyProof:
    old_size: int
    new_size: int
    proof: list[str]


def _size_within(views: Views, tree_size: int | None, field: str) -> int:
    size = views.tree_size()
    if tree_size is None:
        return size
    if tree_size > size:
        raise TreeSizeOutOfRange(
            f"the tree has {size} leaves; there is no tree of {tree_size} yet",
            field=field,
            tree_size=size,
        )
    return tree_size


def inclusion(views: Views, event_id: str, tree_size: int | None = None) -> InclusionProof:
    """The audit path of an event in the tree of ``tree_size`` leaves (default: today's)."""
    try:
        # Only a UUID reaches the store: PostgreSQL refuses some text (NUL) outright.
        event_id = str(uuid.UUID(event_id))
    except ValueError:
        raise EventNotInLedger(
            f"no event {event_id[:64]!r} in the ledger: an event id is a UUID", field="event_id"
        ) from None
    leaf = views.leaf_of(event_id)
    if leaf is None:
        raise EventNotInLedger(f"no event {event_id} in the ledger's Merkle tree", field="event_id")
    size = _size_within(views, tree_size, "tree_size")
    if leaf.leaf_index >= size:
        raise TreeSizeOutOfRange(
            f"event {event_id} is leaf {leaf.leaf_index}: it is not in a tree of {size} leaves",
            field="tree_size",
            leaf_index=leaf.leaf_index,
        )
    store = views.node_store(merkle.inclusion_nodes(leaf.leaf_index, size))
    path = merkle.inclusion_proof(store, leaf.leaf_index, size)
    return InclusionProof(
        leaf.leaf_index, size, [p.hex() for p in path], leaf.event_id, leaf.hash, leaf.position
    )


def consistency(views: Views, old_size: int, new_size: int | None = None) -> ConsistencyProof:
    """The proof that the tree of ``new_size`` leaves (default: today's) extends ``old_size``."""
    size = _size_within(views, new_size, "to")
    if old_size > size:
        raise TreeSizeOutOfRange(
            f"a tree of {old_size} leaves cannot be extended by one of {size}", field="from"
        )
    store = views.node_store(merkle.consistency_nodes(old_size, size))
    proof = merkle.consistency_proof(store, old_size, size)
    return ConsistencyProof(old_size, size, [p.hex() for p in proof])


def extends(views: Views, saved: Checkpoint) -> tuple[bool, str]:
    """Whether today's tree is a consistent extension of a saved checkpoint, and why not."""
    size = views.tree_size()
    if saved.tree_size > size:
        return False, (
            f"the checkpoint has {saved.tree_size} leaves, the ledger's tree only {size}: "
            "history was removed (or the Merkle view is behind: run `parley project`)"
        )
    proof = consistency(views, saved.tree_size, size)
    root = tree_root_of(views, size)
    ok = verify.verify_consistency(
        saved.tree_size,
        size,
        bytes.fromhex(saved.root),
        root,
        [bytes.fromhex(p) for p in proof.proof],
    )
    if not ok:
        return False, (
            f"the ledger's tree of {size} leaves does not extend the checkpoint's tree of "
            f"{saved.tree_size}: history before the checkpoint was rewritten"
        )
    return True, f"the ledger's tree of {size} leaves extends the checkpoint's {saved.tree_size}"
