"""An offline verifier for Parley's ledger: proofs, checkpoints and hash chains.

It needs nothing from the server, only the standard library, so an auditor can copy this one
file and check what the ledger hands out: an inclusion proof against a checkpoint's root
(RFC 9162 §2.1.3.2), a consistency proof between two checkpoints (§2.1.4.2), and the
per-negotiation hash chain of exported canonical documents (docs/ledger-format.md), in either
ledger format: 1 (Python's sorted compact JSON) or 2 (RFC 8785, the JSON Canonicalization
Scheme). Hashes are raw 32-byte values; leaf inputs are the raw bytes of an event's hash (see
``domain.merkle``).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from json.encoder import encode_basestring
from typing import Any

HASH_SIZE = 32
GENESIS_HASH = "0" * 64
EMPTY_ROOT = hashlib.sha256(b"").digest()
CHECKPOINT_HEADER = b"parley-checkpoint/v1\n"
MAX_SAFE_INTEGER = 2**53 - 1
"""The largest integer an IEEE 754 double holds exactly: RFC 8785 numbers are doubles."""
FORMAT_KEY = "ledger_format"
"""The hashed key naming a document's ledger format; documents without it are format 1."""
LEDGER_FORMATS = (1, 2)

_encode_string = encode_basestring


def jcs_number(value: int | float) -> str:
    """An RFC 8785 number (§3.2.2.3): ECMAScript's Number.prototype.toString of a double.

    Integers are accepted only within ±(2^53 - 1), where the double is exact; NaN and the
    infinities are not JSON.
    """
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            msg = f"integer {value} is beyond ±(2^53 - 1), which RFC 8785 numbers hold exactly"
            raise ValueError(msg)
        return str(value)
    if not math.isfinite(value):
        msg = f"{value!r} is not a JSON number"
        raise ValueError(msg)
    if value == 0:
        return "0"  # -0 too
    # repr is the shortest digit string that reads back as the same double, as ECMAScript's is.
    sign, digit_tuple, exponent = Decimal(repr(value)).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    k = len(digits)
    n = int(exponent) + len(digit_tuple)  # the decimal point's place, as ECMAScript counts
    if k <= n <= 21:
        text = digits + "0" * (n - k)
    elif 0 < n <= 21:
        text = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        text = "0." + "0" * -n + digits
    else:
        mantissa = digits[0] + ("." + digits[1:] if k > 1 else "")
        text = f"{mantissa}e{'+' if n - 1 >= 0 else '-'}{abs(n - 1)}"
    return "-" + text if sign else text


def _utf16_order(key: str) -> bytes:
    # Big-endian UTF-16 bytes compare as the sequences of 16-bit code units do (RFC 8785 §3.2.3).
    return key.encode("utf-16-be", "surrogatepass")


def _jcs(value: Any, out: list[str]) -> None:
    # Only the escapes RFC 8785 §3.2.2.2 requires: \", \\, \b \f \n \r \t and the other
    # controls as lower-case \u00xx; everything else (U+2028, U+007F, astral) as itself. That
    # is exactly the json module's non-ASCII string encoder.
    kind = type(value)
    if kind is str:
        out.append(_encode_string(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif kind is dict or isinstance(value, Mapping):
        for key in value:
            if not isinstance(key, str):
                msg = f"an object key is a string, not {type(key).__name__}"
                raise TypeError(msg)
        out.append("{")
        first = True
        for key in sorted(value, key=_utf16_order):
            if not first:
                out.append(",")
            first = False
            out.append(_encode_string(key))
            out.append(":")
            _jcs(value[key], out)
        out.append("}")
    elif kind is list or kind is tuple or isinstance(value, list | tuple):
        out.append("[")
        first = True
        for item in value:
            if not first:
                out.append(",")
            first = False
            _jcs(item, out)
        out.append("]")
    elif isinstance(value, int | float):
        out.append(jcs_number(value))
    elif isinstance(value, str):
        out.append(_encode_string(value))
    else:
        msg = f"{type(value).__name__} is not JSON data"
        raise TypeError(msg)


def jcs_bytes(value: Any) -> bytes:
    """RFC 8785 canonical JSON of plain JSON data, as UTF-8 (a lone surrogate is refused)."""
    out: list[str] = []
    _jcs(value, out)
    return "".join(out).encode("utf-8")


def legacy_bytes(value: Any) -> bytes:
    """Ledger format 1: keys sorted by code point, compact, UTF-8, Python's escapes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    ).encode("utf-8")


def document_format(document: Mapping[str, Any]) -> int:
    """The ledger format of a canonical document: its ``ledger_format``, else 1."""
    if FORMAT_KEY not in document:
        return 1
    found = document[FORMAT_KEY]
    # Format 1 is spelt only by leaving the key out, so each document has one encoding.
    if isinstance(found, bool) or found not in LEDGER_FORMATS or found == 1:
        msg = f"{FORMAT_KEY} {found!r} is not a ledger format this verifier knows (2)"
        raise ValueError(msg)
    return int(found)


def document_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a canonical document's hash covers, in its own ledger format."""
    if document_format(document) == 1:
        return legacy_bytes(document)
    return jcs_bytes(document)


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
    return hashlib.sha256(document_bytes(body)).hexdigest()


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
