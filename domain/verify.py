"""An offline verifier for Parley's ledger: proofs, checkpoints and hash chains.

It needs nothing from the server, only the standard library, so an auditor can copy this one
file and check what the ledger hands out: an inclusion proof against a checkpoint's root
(RFC 9162 §2.1.3.2), a consistency proof between two checkpoints (§2.1.4.2), and the
per-negotiation hash chain of exported canonical documents (docs/ledger-format.md). Hashes are
raw 32-byte values; leaf inputs are the raw bytes of an event's hash (see ``domain.merkle``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

HASH_SIZE = 32
GENESIS_HASH = "0" * 64
EMPTY_ROOT = hashlib.sha256(b"").digest()
CHECKPOINT_HEADER = b"parley-checkpoint/v1\n"


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _is_hash(value: object) -> bool:
    return isinstance(value, bytes) and len(value) == HASH_SIZE


def event_leaf_hash(event_hash_hex: str) -> bytes:
    """The Merkle leaf of an event: SHA-256(0x00 || the 32 raw bytes of its hash)."""
    raw = bytes.fromhex(event_hash_hex)
    if len(raw) != HASH_SIZE:
        msg = f"an event hash is {HASH_SIZE} bytes, got {len(raw)}"
        raise ValueError(msg)
    return hashlib.sha256(b"\x00" + raw).digest()


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, audit_path: Sequence[bytes], root: bytes
) -> bool:
    """Whether ``leaf`` (a leaf hash) is leaf ``leaf_index`` of the tree with ``root`` (RFC 9162 §2.1.3.2)."""
    if not (_is_hash(leaf) and _is_hash(root) and all(_is_hash(p) for p in audit_path)):
        return False
    # 1. An index outside the tree proves nothing.
    if not 0 <= leaf_index < tree_size:
        return False
    # 2.-3.
    fn, sn = leaf_index, tree_size - 1
    r = leaf
    # 4.
    for p in audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    # 5.
    return sn == 0 and r == root


def verify_consistency(
    m: int, n: int, root_m: bytes, root_n: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether the tree of ``n`` leaves with ``root_n`` extends the one of ``m`` with ``root_m`` (RFC 9162 §2.1.4.2).

    The RFC covers ``0 < m < n``. Outside it, as in Certificate Transparency practice: ``m == n``
    needs an empty proof and equal roots; ``m == 0`` an empty proof and ``root_m == EMPTY_ROOT``.
    """
    if not (_is_hash(root_m) and _is_hash(root_n) and all(_is_hash(c) for c in proof)):
        return False
    if not 0 <= m <= n:
        return False
    if m == 0:
        return not proof and root_m == EMPTY_ROOT
    if m == n:
        return not proof and root_m == root_n
    # 1.
    if not proof:
        return False
    # 2.
    path = [root_m, *proof] if m & (m - 1) == 0 else list(proof)
    # 3.
    fn, sn = m - 1, n - 1
    # 4.
    while fn & 1:
        fn >>= 1
        sn >>= 1
    # 5.
    fr = sr = path[0]
    # 6.
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = _node(c, fr)
            sr = _node(c, sr)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = _node(sr, c)
        fn >>= 1
        sn >>= 1
    # 7.
    return fr == root_m and sr == root_n and sn == 0


def format_timestamp(timestamp: datetime | str) -> str:
    """A checkpoint time in one spelling: UTC, microseconds, ``+00:00``."""
    moment = datetime.fromisoformat(timestamp) if isinstance(timestamp, str) else timestamp
    if moment.tzinfo is None:
        msg = "a checkpoint timestamp needs a UTC offset"
        raise ValueError(msg)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def checkpoint_payload(tree_size: int, root: bytes | str, timestamp: datetime | str) -> bytes:
    """The bytes a checkpoint's signature covers.

    ``parley-checkpoint/v1`` and a newline, then sorted-key compact JSON of ``root`` (64
    lower-case hex digits), ``timestamp`` (``format_timestamp``) and ``tree_size``. The header
    keeps a checkpoint signature from ever standing for any other signed document.
    """
    raw = bytes.fromhex(root) if isinstance(root, str) else root
    if len(raw) != HASH_SIZE:
        msg = f"a root is {HASH_SIZE} bytes, got {len(raw)}"
        raise ValueError(msg)
    if isinstance(tree_size, bool) or not isinstance(tree_size, int) or tree_size < 0:
        msg = f"a tree size is a non-negative integer, got {tree_size!r}"
        raise ValueError(msg)
    body = {"root": raw.hex(), "timestamp": format_timestamp(timestamp), "tree_size": tree_size}
    return CHECKPOINT_HEADER + json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def document_hash(document: Mapping[str, Any]) -> str:
    """SHA-256 over a canonical document's bytes, its own ``hash`` left out (docs/ledger-format.md)."""
    body = {key: value for key, value in document.items() if key != "hash"}
    encoded = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")
    return hashlib.sha256(encoded).hexdigest()


def verify_chain(
    documents: Sequence[Mapping[str, Any]], *, anchors: Mapping[str, str] | None = None
) -> int | None:
    """The index of the first document that breaks its negotiation's hash chain, or None.

    Each document is a canonical event document with its stored ``hash``; they come in log
    order, negotiations interleaved. A document is bad when its ``hash`` is not the hash of the
    rest of it, or its ``prev_hash`` is not the ``hash`` of its negotiation's previous document,
    or its version does not follow that one. A negotiation's first document must start the
    chain (version 1, ``prev_hash`` the genesis value) unless ``anchors`` names the hash of the
    event before it, for checking a stream that starts part way.
    """
    heads: dict[str, tuple[str, int | None]] = {
        slug: (head, None) for slug, head in (anchors or {}).items()
    }
    for position, document in enumerate(documents):
        try:
            slug, version = document["negotiation"], document["version"]
            stored, prev = document["hash"], document["prev_hash"]
            recomputed = document_hash(document)
        except (KeyError, TypeError, ValueError):
            return position
        if (
            not isinstance(slug, str)
            or isinstance(version, bool)
            or not isinstance(version, int)
            or stored != recomputed
        ):
            return position
        head, head_version = heads.get(slug, (GENESIS_HASH, 0))
        expected_version = None if head_version is None else head_version + 1
        if prev != head or (expected_version is not None and version != expected_version):
            return position
        heads[slug] = (stored, version)
    return None
