"""Known answers for the RFC 9162 tree and its proofs, for every tree of 1 to 8 leaves.

The expected roots and proofs are written out by hand as compositions of named leaves; the
hashes are built with ``hashlib`` here, and RFC 9162's recursive MTH, PATH and SUBPROOF are
written out again independently, so nothing expected comes from the code under test.
"""

from __future__ import annotations

import hashlib

import pytest

from domain import merkle
from domain.verify import verify_consistency, verify_inclusion


def h_leaf(data: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + data).digest()


def h_node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


# Leaf inputs are 32-byte values, as event hashes are: SHA-256 of b"0", b"1", ...
a, b, c, d, e, f, g, h = (h_leaf(hashlib.sha256(str(i).encode()).digest()) for i in range(8))
LEAVES = [a, b, c, d, e, f, g, h]
ab, cd, ef, gh = h_node(a, b), h_node(c, d), h_node(e, f), h_node(g, h)
abcd, efgh = h_node(ab, cd), h_node(ef, gh)
efg = h_node(ef, g)

ROOTS = {
    1: a,
    2: ab,
    3: h_node(ab, c),
    4: abcd,
    5: h_node(abcd, e),
    6: h_node(abcd, ef),
    7: h_node(abcd, efg),
    8: h_node(abcd, efgh),
}

# INCLUSION[n][i]: the audit path of leaf i in the tree of n leaves, leaf side first.
INCLUSION: dict[int, list[list[bytes]]] = {
    1: [[]],
    2: [[b], [a]],
    3: [[b, c], [a, c], [ab]],
    4: [[b, cd], [a, cd], [d, ab], [c, ab]],
    5: [[b, cd, e], [a, cd, e], [d, ab, e], [c, ab, e], [abcd]],
    6: [[b, cd, ef], [a, cd, ef], [d, ab, ef], [c, ab, ef], [f, abcd], [e, abcd]],
    7: [
        [b, cd, efg],
        [a, cd, efg],
        [d, ab, efg],
        [c, ab, efg],
        [f, g, abcd],
        [e, g, abcd],
        [ef, abcd],
    ],
    8: [
        [b, cd, efgh],
        [a, cd, efgh],
        [d, ab, efgh],
        [c, ab, efgh],
        [f, gh, abcd],
        [e, gh, abcd],
        [h, ef, abcd],
        [g, ef, abcd],
    ],
}

# CONSISTENCY[m, n] for 1 <= m < n <= 8; for m == n the proof is empty.
CONSISTENCY: dict[tuple[int, int], list[bytes]] = {
    (1, 2): [b],
    (1, 3): [b, c],
    (1, 4): [b, cd],
    (1, 5): [b, cd, e],
    (1, 6): [b, cd, ef],
    (1, 7): [b, cd, efg],
    (1, 8): [b, cd, efgh],
    (2, 3): [c],
    (2, 4): [cd],
    (2, 5): [cd, e],
    (2, 6): [cd, ef],
    (2, 7): [cd, efg],
    (2, 8): [cd, efgh],
    (3, 4): [c, d, ab],
    (3, 5): [c, d, ab, e],
    (3, 6): [c, d, ab, ef],
    (3, 7): [c, d, ab, efg],
    (3, 8): [c, d, ab, efgh],
    (4, 5): [e],
    (4, 6): [ef],
    (4, 7): [efg],
    (4, 8): [efgh],
    (5, 6): [e, f, abcd],
    (5, 7): [e, f, g, abcd],
    (5, 8): [e, f, gh, abcd],
    (6, 7): [ef, g, abcd],
    (6, 8): [ef, gh, abcd],
    (7, 8): [g, h, ef, abcd],
}

SIZES = range(1, 9)
LEAF_CASES = [(n, i) for n in SIZES for i in range(n)]
PAIRS = [(m, n) for n in SIZES for m in range(1, n + 1)]


def rfc_k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def rfc_mth(hashed: list[bytes]) -> bytes:
    if not hashed:
        return hashlib.sha256(b"").digest()
    if len(hashed) == 1:
        return hashed[0]
    k = rfc_k(len(hashed))
    return h_node(rfc_mth(hashed[:k]), rfc_mth(hashed[k:]))


def rfc_path(m: int, hashed: list[bytes]) -> list[bytes]:
    if len(hashed) == 1:
        return []
    k = rfc_k(len(hashed))
    if m < k:
        return [*rfc_path(m, hashed[:k]), rfc_mth(hashed[k:])]
    return [*rfc_path(m - k, hashed[k:]), rfc_mth(hashed[:k])]


def rfc_subproof(m: int, hashed: list[bytes], whole: bool) -> list[bytes]:
    if m == len(hashed):
        return [] if whole else [rfc_mth(hashed)]
    k = rfc_k(len(hashed))
    if m <= k:
        return [*rfc_subproof(m, hashed[:k], whole), rfc_mth(hashed[k:])]
    return [*rfc_subproof(m - k, hashed[k:], False), rfc_mth(hashed[:k])]


def grown_store(n: int) -> merkle.DictNodeStore:
    store = merkle.DictNodeStore()
    for size, leaf in enumerate(LEAVES[:n]):
        store.put_many(merkle.append(store, size, [leaf]))
    return store


def test_the_hash_primitives_follow_rfc_9162() -> None:
    assert merkle.leaf_hash(b"\x07" * 32) == h_leaf(b"\x07" * 32)
    assert merkle.node_hash(a, b) == h_node(a, b)
    assert merkle.EMPTY_ROOT.hex() == (
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )
    # The Certificate Transparency leaf hash of the empty input.
    assert merkle.leaf_hash(b"").hex() == (
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"
    )


def test_an_event_leaf_hashes_the_raw_bytes_of_the_event_hash() -> None:
    event_hash = hashlib.sha256(b"an event").hexdigest()
    assert merkle.event_leaf(event_hash) == h_leaf(bytes.fromhex(event_hash))
    assert merkle.event_leaf(event_hash) != h_leaf(event_hash.encode())
    with pytest.raises(ValueError, match="64 hex digits"):
        merkle.event_leaf(event_hash[:-2])


def test_roots_match_the_certificate_transparency_vectors() -> None:
    # The eight-entry test log of Certificate Transparency's merkle_tree_test.cc.
    inputs = [
        b"",
        b"\x00",
        b"\x10",
        b"\x20\x21",
        b"\x30\x31",
        b"\x40\x41\x42\x43",
        bytes(range(0x50, 0x58)),
        bytes(range(0x60, 0x70)),
    ]
    expected = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ]
    hashed = [merkle.leaf_hash(x) for x in inputs]
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, hashed))
    for n in SIZES:
        assert merkle.root(hashed[:n]).hex() == expected[n - 1]
        assert merkle.tree_root(store, n).hex() == expected[n - 1]


def test_the_empty_tree_has_the_empty_root() -> None:
    assert merkle.root([]) == merkle.tree_root(merkle.DictNodeStore(), 0) == merkle.EMPTY_ROOT


@pytest.mark.parametrize("n", SIZES)
def test_the_root_of_each_size_is_the_hand_derived_one(n: int) -> None:
    assert ROOTS[n] == rfc_mth(LEAVES[:n])
    assert merkle.root(LEAVES[:n]) == ROOTS[n]
    assert merkle.tree_root(grown_store(n), n) == ROOTS[n]
    # A store grown to 8 leaves still answers for every earlier size.
    assert merkle.tree_root(grown_store(8), n) == ROOTS[n]


@pytest.mark.parametrize(("n", "i"), LEAF_CASES)
def test_each_inclusion_proof_is_the_hand_derived_one(n: int, i: int) -> None:
    expected = INCLUSION[n][i]
    assert expected == rfc_path(i, LEAVES[:n])
    assert merkle.inclusion_proof(grown_store(8), i, n) == expected
    assert verify_inclusion(i, n, LEAVES[i], expected, ROOTS[n])


@pytest.mark.parametrize(("m", "n"), PAIRS)
def test_each_consistency_proof_is_the_hand_derived_one(m: int, n: int) -> None:
    expected = CONSISTENCY.get((m, n), [])
    assert expected == (rfc_subproof(m, LEAVES[:n], True) if m < n else [])
    assert merkle.consistency_proof(grown_store(8), m, n) == expected
    assert verify_consistency(m, n, ROOTS[m], ROOTS[n], expected)


@pytest.mark.parametrize(("n", "i"), LEAF_CASES)
def test_an_inclusion_proof_fails_for_any_other_leaf_of_the_tree(n: int, i: int) -> None:
    for other in range(n):
        if other != i:
            assert not verify_inclusion(i, n, LEAVES[other], INCLUSION[n][i], ROOTS[n])
            assert not verify_inclusion(other, n, LEAVES[i], INCLUSION[n][i], ROOTS[n])


@pytest.mark.parametrize(("m", "n"), PAIRS)
def test_a_consistency_proof_fails_against_any_other_pair_of_checkpoints(m: int, n: int) -> None:
    proof = CONSISTENCY.get((m, n), [])
    for m2, n2 in PAIRS:
        # An empty proof rightly holds between any checkpoint and itself.
        if (m2, n2) != (m, n) and (proof or m2 != n2):
            assert not verify_consistency(m2, n2, ROOTS[m2], ROOTS[n2], proof), (m2, n2)
