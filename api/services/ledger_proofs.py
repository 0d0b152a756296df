"""Checkpoints and proofs of the global Merkle tree, read from the Merkle view.

A checkpoint is ``{tree_size, root, timestamp}`` of the tree the view holds, signed with
Ed25519 over ``domain.verify.checkpoint_payload`` when a signing key is configured. Proofs
fetch the nodes they need in one read (``domain.merkle.inclusion_nodes`` /
``consistency_nodes``) and are built by ``domain.merkle``; anyone can check them with
``domain.verify`` alone.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api import signed_note
from api.errors import EventNotInLedger as EventNotInLedger  # raised here; imported from here too
from api.errors import TileNotFound as TileNotFound
from api.errors import TreeSizeOutOfRange as TreeSizeOutOfRange
from domain import merkle, verify
from projections.views import Views


@functools.cache
def _private_key(seed: bytes) -> Any:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed)


def public_key_of(seed: bytes) -> str:
    """The raw 32-byte public key of a seed, in base64."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    public = _private_key(seed).public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    return base64.b64encode(public).decode("ascii")


def signature_valid(payload: bytes, signature_b64: str, public_key_b64: str) -> bool:
    """Whether an Ed25519 signature (base64) over ``payload`` is by that public key (base64)."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key_b64, validate=True))
        key.verify(base64.b64decode(signature_b64, validate=True), payload)
    except (InvalidSignature, binascii.Error, ValueError):
        return False
    return True


# ------------------------------------------------------------------ checkpoints


@dataclass(frozen=True)
class Checkpoint:
    tree_size: int
    root: str
    timestamp: str
    signature: str | None = None
    public_key: str | None = None

    def payload(self) -> bytes:
        return verify.checkpoint_payload(self.tree_size, self.root, self.timestamp)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "tree_size": self.tree_size,
            "root": self.root,
            "timestamp": self.timestamp,
        }
        if self.signature is not None:
            body["signature"] = self.signature
            body["public_key"] = self.public_key
        return body

    @classmethod
    def from_json(cls, data: Any) -> Checkpoint:
        """A checkpoint saved earlier; ``ValueError`` when it is not one."""
        if not isinstance(data, dict):
            msg = "a checkpoint is a JSON object"
            raise ValueError(msg)
        try:
            found = cls(
                tree_size=data["tree_size"],
                root=data["root"],
                timestamp=data["timestamp"],
                signature=data.get("signature"),
                public_key=data.get("public_key"),
            )
            found.payload()  # checks size, root and timestamp
        except KeyError as e:
            msg = f"a checkpoint has {e.args[0]!r}"
            raise ValueError(msg) from None
        except TypeError as e:
            raise ValueError(str(e)) from None
        return found

    def signature_ok(self) -> bool | None:
        """None when unsigned; else whether the signature verifies with its public key."""
        if self.signature is None:
            return None
        if not isinstance(self.signature, str) or not isinstance(self.public_key, str):
            return False
        return signature_valid(self.payload(), self.signature, self.public_key)


def tree_root_of(views: Views, size: int) -> bytes:
    """The root of the first ``size`` leaves, from O(log n) stored nodes read at once."""
    if size == 0:
        return merkle.EMPTY_ROOT
    return merkle.tree_root(views.node_store(merkle.subtree_nodes(0, size)), size)


def make_checkpoint(views: Views, now: datetime, signing_seed: bytes | None = None) -> Checkpoint:
    """The checkpoint of the tree the Merkle view holds now, signed when there is a key."""
    size = views.tree_size()
    root = tree_root_of(views, size).hex()
    timestamp = verify.format_timestamp(now)
    unsigned = Checkpoint(size, root, timestamp)
    if signing_seed is None:
        return unsigned
    signature = _private_key(signing_seed).sign(unsigned.payload())
    return Checkpoint(
        size,
        root,
        timestamp,
        base64.b64encode(signature).decode("ascii"),
        public_key_of(signing_seed),
    )


# ------------------------------------------------------------------ proofs


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


# ------------------------------------------------------------------ signed notes (C2SP)

TIMESTAMP_EXTENSION = "timestamp"
"""The checkpoint extension line ``timestamp <recorded_at>``: when the tree's newest event was
recorded. It is a property of the tree, not of the request, so every checkpoint of one tree
size is the same bytes (Ed25519 is deterministic) and witnesses' cosignatures stay valid."""


def newest_recorded_at(views: Views, size: int) -> str | None:
    """When the ``size``-th leaf's event was recorded (None for the empty tree)."""
    if size == 0:
        return None
    leaves = views.leaves(size - 1, 1)
    if not leaves:
        return None
    rows = views.event_rows(leaves[0].position - 1, 1)
    if not rows or rows[0].position != leaves[0].position:
        return None
    return verify.format_timestamp(rows[0].recorded_at)


def checkpoint_body(views: Views, origin: str, size: int | None = None) -> str:
    """The C2SP checkpoint text of the tree of ``size`` leaves (default: the tree now)."""
    size = views.tree_size() if size is None else size
    recorded = newest_recorded_at(views, size)
    extensions = [f"{TIMESTAMP_EXTENSION} {recorded}"] if recorded is not None else []
    return signed_note.checkpoint_text(origin, size, tree_root_of(views, size), extensions)


def log_verifier(origin: str, seed: bytes) -> signed_note.Verifier:
    """The log's verifier key: its name is the checkpoint origin."""
    return signed_note.signer_verifier(origin, seed)


def checkpoint_note(
    views: Views,
    origin: str,
    seed: bytes,
    size: int | None = None,
    cosignatures: Sequence[signed_note.Signature] = (),
) -> signed_note.Note:
    """Today's tree (or the tree of ``size``) as a C2SP checkpoint signed by the log's key."""
    text = checkpoint_body(views, origin, size)
    return signed_note.Note(text, (signed_note.sign(text, origin, seed), *cosignatures))


# ------------------------------------------------------------------ tiles (C2SP tlog-tiles)

TILE_HEIGHT = 8
TILE_WIDTH = 1 << TILE_HEIGHT
MAX_TILE_LEVEL = 63


@dataclass(frozen=True)
class TileRef:
    """A tile: ``level`` (``None`` for an entry bundle), ``index``, ``width`` (256 = full)."""

    level: int | None
    index: int
    width: int

    @property
    def full(self) -> bool:
        return self.width == TILE_WIDTH

    def path(self) -> str:
        """The path below ``tile/``: ``<L>/<N>[.p/<W>]`` or ``entries/<N>[.p/<W>]``."""
        head = "entries" if self.level is None else str(self.level)
        tail = "" if self.full else f".p/{self.width}"
        return f"{head}/{encode_tile_index(self.index)}{tail}"

    def leaves_needed(self) -> int:
        """The smallest tree size that holds every hash (or entry) of this tile."""
        level = 0 if self.level is None else self.level
        return (self.index * TILE_WIDTH + self.width) << (TILE_HEIGHT * level)


def encode_tile_index(index: int) -> str:
    """``1234067`` → ``x001/x234/067``: 3-digit groups, all but the last prefixed with x."""
    groups = [f"{index % 1000:03d}"]
    index //= 1000
    while index:
        groups.append(f"x{index % 1000:03d}")
        index //= 1000
    return "/".join(reversed(groups))


def parse_tile_path(path: str) -> TileRef:
    """The tile a ``tile/...`` path names; ``TileNotFound`` unless it is the canonical spelling."""
    head, _, rest = path.partition("/")
    if head == "entries":
        level: int | None = None
    elif head.isascii() and head.isdigit() and str(int(head)) == head:
        level = int(head)
        if level > MAX_TILE_LEVEL:
            raise TileNotFound(f"no tile is at tile/{path}")
    else:
        raise TileNotFound(f"no tile is at tile/{path}")
    width = TILE_WIDTH
    if ".p/" in rest:
        rest, _, width_text = rest.partition(".p/")
        if (
            not (width_text.isascii() and width_text.isdigit())
            or str(int(width_text)) != width_text
        ):
            raise TileNotFound(f"no tile is at tile/{path}")
        width = int(width_text)
        if not 1 <= width < TILE_WIDTH:
            raise TileNotFound(f"no tile is at tile/{path}")
    groups = rest.split("/")
    if any(len(g) != (4 if i < len(groups) - 1 else 3) for i, g in enumerate(groups)):
        raise TileNotFound(f"no tile is at tile/{path}")
    digits = "".join(g.removeprefix("x") for g in groups)
    if not (digits.isascii() and digits.isdigit()) or any(g[0] != "x" for g in groups[:-1]):
        raise TileNotFound(f"no tile is at tile/{path}")
    tile = TileRef(level, int(digits), width)
    if tile.path() != path:  # x000/005 for 005, and the like: one spelling per tile
        raise TileNotFound(f"no tile is at tile/{path}")
    return tile


def tile_data(views: Views, tile: TileRef, size: int | None = None) -> bytes:
    """A tile's bytes from the Merkle view: hashes (32 bytes each) or an entry bundle.

    Hash ``i`` of tile ``N`` at level ``L`` is the stored node at tree level ``8 * L`` and index
    ``N * 256 + i``. An entry is a leaf's input, the 32 raw bytes of its event's hash, written
    with its big-endian 16-bit length.
    """
    size = views.tree_size() if size is None else size
    if tile.leaves_needed() > size:
        raise TileNotFound(
            f"tile/{tile.path()} needs a tree of {tile.leaves_needed()} leaves; it has {size}"
        )
    first = tile.index * TILE_WIDTH
    if tile.level is None:
        leaves = views.leaves(first, tile.width)
        if len(leaves) != tile.width:
            raise merkle.MissingNodeError(f"the Merkle view lacks leaves of {tile.path()}")
        size_prefix = merkle.HASH_SIZE.to_bytes(2, "big")
        return b"".join(size_prefix + bytes.fromhex(leaf.hash) for leaf in leaves)
    level = tile.level * TILE_HEIGHT
    addresses = [(level, first + i) for i in range(tile.width)]
    found = views.merkle_nodes(addresses)
    try:
        return b"".join(found[address] for address in addresses)
    except KeyError as e:
        raise merkle.MissingNodeError(f"merkle node {e.args[0]} is not stored") from None
