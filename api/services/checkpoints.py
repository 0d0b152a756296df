"""What the log says its tree is: the root of a size, and checkpoints of it, signed.

A JSON checkpoint is ``{tree_size, root, timestamp}`` of the tree the Merkle view holds,
signed with Ed25519 over ``domain.verify.checkpoint_payload`` when a signing key is
configured; a C2SP checkpoint note is the same tree as signed text that witnesses cosign.
"""

from __future__ import annotations

import base64
import binascii
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from api import signed_note
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
