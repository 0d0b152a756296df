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
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api.errors import EventNotInLedger as EventNotInLedger  # raised here; imported from here too
from api.errors import TreeSizeOutOfRange as TreeSizeOutOfRange
from domain import merkle, verify
from projections.views import Views


class SigningKeyError(ValueError):
    """The configured signing key is not an Ed25519 private key seed."""


# ------------------------------------------------------------------ keys


def key_bytes(text: str) -> bytes:
    """The 32 bytes of an Ed25519 seed written as 64 hex digits or in base64."""
    cleaned = text.strip()
    raw: bytes | None = None
    if len(cleaned) == 2 * merkle.HASH_SIZE:
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        msg = "a signing key is a 32-byte Ed25519 seed as 64 hex digits or base64"
        raise SigningKeyError(msg)
    return raw


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
