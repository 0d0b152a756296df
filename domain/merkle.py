"""The RFC 9162 Merkle tree over the global log, kept as stored complete subtrees.

Leaf ``i`` is the ``i``-th event of the global log (notification order, counted from 0). The
leaf input is the **32 raw bytes** of the event's SHA-256 hash (``bytes.fromhex(event.hash)``),
not its 64-character hex spelling, so::

    leaf_hash = SHA-256(0x00 || bytes.fromhex(event_hash))
    node_hash = SHA-256(0x01 || left || right)

and the tree hash of ``n`` leaves is RFC 9162 §2.1.1's MTH (``EMPTY_ROOT`` for ``n == 0``).

Storage: node ``(level, index)`` is the root of the complete subtree over leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Appending leaf
``n`` stores it and every subtree it completes (amortised one node per leaf, at most
``log2 n + 1``). Such nodes never change once the log grows, so nothing is rewritten. Any
subtree an RFC 9162 proof names is either complete and aligned (one stored node) or runs to the
right edge of the tree, where its hash is the fold of at most ``log2 n`` stored nodes; so a
proof or a root costs ``O(log n)`` reads. ``inclusion_nodes``/``consistency_nodes`` name those
reads in advance, for a store that fetches them in one query.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""MTH({}) = SHA-256() per RFC 9162 §2.1.1: the root of the empty log."""


@dataclass(frozen=True, slots=True)
class Node:
    """A stored subtree root: the hash of leaves ``[index * 2**level, (index + 1) * 2**level)``."""

    level: int
    index: int
    hash: bytes


class NodeStore(Protocol):
    """Where the complete subtrees live; a database table backs it in the service."""

    def get(self, level: int, index: int) -> bytes | None: ...

    def put_many(self, nodes: Iterable[Node]) -> None: ...


class DictNodeStore:
    """An in-memory ``NodeStore``."""

    def __init__(self, nodes: Iterable[Node] = ()) -> None:
        self.nodes: dict[tuple[int, int], bytes] = {}
        self.put_many(nodes)

    def get(self, level: int, index: int) -> bytes | None:
        return self.nodes.get((level, index))

    def put_many(self, nodes: Iterable[Node]) -> None:
        for node in nodes:
            self.nodes[node.level, node.index] = node.hash


class MissingNodeError(LookupError):
    """The store lacks a node that a tree of the asked size must have: storage is incomplete."""


def leaf_hash(data: bytes) -> bytes:
    """RFC 9162 leaf hash: SHA-256(0x00 || data)."""
    return hashlib.sha256(LEAF_PREFIX + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 interior node hash: SHA-256(0x01 || left || right)."""
    return hashlib.sha256(NODE_PREFIX + left + right).digest()


def event_leaf(event_hash_hex: str) -> bytes:
    """The leaf hash of an event, from its stored hex ``hash``."""
    if len(event_hash_hex) != 2 * HASH_SIZE:
        msg = f"an event hash is {2 * HASH_SIZE} hex digits, got {len(event_hash_hex)}"
        raise ValueError(msg)
    return leaf_hash(bytes.fromhex(event_hash_hex))


def largest_power_of_two_below(n: int) -> int:
    """RFC 9162's k: the largest power of two smaller than ``n`` (``n > 1``)."""
    if n < 2:
        msg = f"no power of two splits {n} leaves"
        raise ValueError(msg)
    return 1 << ((n - 1).bit_length() - 1)


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH over already hashed leaves, by RFC 9162's recursive definition (a reference, O(n))."""
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(root(leaf_hashes[:k]), root(leaf_hashes[k:]))


def frontier(size: int) -> list[tuple[int, int]]:
    """The complete subtrees that make up a tree of ``size`` leaves: all that appending reads."""
    return [(level, (size >> level) - 1) for level in range(size.bit_length()) if size >> level & 1]


def extend(
    lookup: Callable[[int, int], bytes], size: int, leaf_hashes: Iterable[bytes]
) -> list[tuple[int, int, bytes]]:
    """The nodes that ``leaf_hashes`` complete after a tree of ``size`` leaves, as ``(level, index, hash)``.

    The one definition of appending. The left sibling of every node a leaf completes is the
    last node made at its level: one made in this batch, or else a node of ``frontier(size)``,
    which ``lookup(level, index)`` gives (it raises ``MissingNodeError`` when it has none). So
    appending reads at most the frontier (this runs for every event).
    """
    if size < 0:
        msg = f"a tree size is never negative, got {size}"
        raise ValueError(msg)
    last: dict[int, bytes] = {}
    sha256, node_prefix = hashlib.sha256, NODE_PREFIX
    fresh: list[tuple[int, int, bytes]] = []
    add = fresh.append
    for index, current in enumerate(leaf_hashes, size):
        if len(current) != HASH_SIZE:
            msg = f"a leaf hash is {HASH_SIZE} bytes, got {len(current)}"
            raise ValueError(msg)
        level = 0
        add((0, index, current))
        # Leaf n completes the subtree at each level where it is a right child.
        while index & 1:
            left = last.get(level)
            if left is None:
                left = lookup(level, index - 1)
            current = sha256(node_prefix + left + current).digest()
            level, index = level + 1, index >> 1
            add((level, index, current))
        last[level] = current
    return fresh


def append(store: NodeStore, size: int, leaf_hashes: Sequence[bytes]) -> list[Node]:
    """The nodes to store when ``leaf_hashes`` follow a tree of ``size`` leaves (the store is not written)."""
    return [
        Node(level, index, value)
        for level, index, value in extend(functools.partial(_get, store), size, leaf_hashes)
    ]


def subtree_nodes(start: int, end: int) -> list[tuple[int, int]]:
    """The stored nodes whose hashes make MTH of leaves ``[start, end)``, left to right."""
    if not 0 <= start < end:
        msg = f"no subtree over leaves [{start}, {end})"
        raise ValueError(msg)
    found: list[tuple[int, int]] = []
    _collect(start, end, found)
    return found


def subtree_root(store: NodeStore, start: int, end: int) -> bytes:
    """MTH of leaves ``[start, end)``: one read when complete and aligned, O(log n) for a prefix."""
    if not 0 <= start < end:
        msg = f"no subtree over leaves [{start}, {end})"
        raise ValueError(msg)
    return _mth(start, end, lambda level, index: _get(store, level, index))


def tree_root(store: NodeStore, size: int) -> bytes:
    """MTH of the first ``size`` leaves (``EMPTY_ROOT`` for none)."""
    if size < 0:
        msg = f"a tree size is never negative, got {size}"
        raise ValueError(msg)
    return EMPTY_ROOT if size == 0 else subtree_root(store, 0, size)


def inclusion_ranges(leaf_index: int, tree_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PATH(leaf_index, D[tree_size]), leaf side first."""
    if not 0 <= leaf_index < tree_size:
        msg = f"leaf {leaf_index} is not in a tree of {tree_size} leaves"
        raise ValueError(msg)
    ranges: list[tuple[int, int]] = []
    start, end = 0, tree_size
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if leaf_index < start + k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
    ranges.reverse()
    return ranges


def consistency_ranges(old_size: int, new_size: int) -> list[tuple[int, int]]:
    """The leaf ranges whose MTHs make PROOF(old_size, D[new_size]), per RFC 9162 §2.1.4.1.

    Empty when ``old_size`` is 0 or equals ``new_size``: there is nothing to prove.
    """
    if not 0 <= old_size <= new_size:
        msg = f"no consistency proof from {old_size} leaves to {new_size}"
        raise ValueError(msg)
    if old_size in (0, new_size):
        return []
    ranges: list[tuple[int, int]] = []
    # SUBPROOF(m, D[start:end], b) unrolled; m stays absolute, so m - start is the RFC's m.
    start, end, whole = 0, new_size, True
    while old_size != end:
        k = largest_power_of_two_below(end - start)
        if old_size - start <= k:
            ranges.append((start + k, end))
            end = start + k
        else:
            ranges.append((start, start + k))
            start += k
            whole = False
    if not whole:
        ranges.append((start, end))
    ranges.reverse()
    return ranges


def inclusion_nodes(leaf_index: int, tree_size: int) -> set[tuple[int, int]]:
    """Every node ``inclusion_proof`` reads: O(log n) of them."""
    return {node for r in inclusion_ranges(leaf_index, tree_size) for node in subtree_nodes(*r)}


def consistency_nodes(old_size: int, new_size: int) -> set[tuple[int, int]]:
    """Every node ``consistency_proof`` reads: O(log n) of them."""
    return {node for r in consistency_ranges(old_size, new_size) for node in subtree_nodes(*r)}


def inclusion_proof(store: NodeStore, leaf_index: int, tree_size: int) -> list[bytes]:
    """The audit path of leaf ``leaf_index`` in the tree of ``tree_size`` leaves (RFC 9162 PATH)."""
    return [subtree_root(store, *r) for r in inclusion_ranges(leaf_index, tree_size)]


def consistency_proof(store: NodeStore, old_size: int, new_size: int) -> list[bytes]:
    """The proof that the tree of ``new_size`` leaves extends that of ``old_size`` (RFC 9162 PROOF)."""
    return [subtree_root(store, *r) for r in consistency_ranges(old_size, new_size)]


def _get(store: NodeStore, level: int, index: int) -> bytes:
    found = store.get(level, index)
    if found is None:
        msg = f"merkle node (level {level}, index {index}) is not stored"
        raise MissingNodeError(msg)
    return found


def _stored(start: int, end: int) -> tuple[int, int] | None:
    """The node address of ``[start, end)`` when it is a complete aligned subtree."""
    width = end - start
    if width & (width - 1) == 0 and start % width == 0:
        level = width.bit_length() - 1
        return level, start >> level
    return None


def _collect(start: int, end: int, found: list[tuple[int, int]]) -> None:
    address = _stored(start, end)
    if address is not None:
        found.append(address)
        return
    k = largest_power_of_two_below(end - start)
    _collect(start, start + k, found)
    _collect(start + k, end, found)


def _mth(start: int, end: int, lookup: Callable[[int, int], bytes]) -> bytes:
    address = _stored(start, end)
    if address is not None:
        return lookup(*address)
    # The RFC's split; for ranges that start aligned (every range in a proof, every prefix)
    # the left half is a stored node and only the right edge recurses.
    k = largest_power_of_two_below(end - start)
    return node_hash(_mth(start, start + k, lookup), _mth(start + k, end, lookup))
