"""The tree kept as stored complete subtrees: what appending stores, and what a proof reads."""

from __future__ import annotations

import hashlib
import math
import random

import pytest

from domain import merkle

BIG = 1 << 16


class CountingStore:
    """A store that counts reads, to pin the cost of a proof without timing it."""

    def __init__(self, inner: merkle.DictNodeStore) -> None:
        self.inner = inner
        self.reads = 0

    def get(self, level: int, index: int) -> bytes | None:
        self.reads += 1
        return self.inner.get(level, index)

    def put_many(self, nodes: object) -> None:
        raise AssertionError("a proof never writes")


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(i.to_bytes(8, "big")).digest()) for i in range(n)]


@pytest.fixture(scope="module")
def big_store() -> merkle.DictNodeStore:
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, leaves(BIG)))
    return store


def bound(n: int) -> int:
    return 2 * math.ceil(math.log2(n)) + 2


def sizes_to_probe() -> list[int]:
    picked = {1, 2, 3, BIG - 1, BIG}
    for k in range(1, 17):
        picked |= {(1 << k) - 1, 1 << k, (1 << k) + 1}
    rng = random.Random(9162)
    picked |= {rng.randrange(1, BIG + 1) for _ in range(20)}
    return sorted(s for s in picked if 1 <= s <= BIG)


def test_appending_a_leaf_stores_it_and_every_subtree_it_completes() -> None:
    hashed = leaves(8)
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, hashed[:7]))
    added = merkle.append(store, 7, [hashed[7]])
    assert [(n.level, n.index) for n in added] == [(0, 7), (1, 3), (2, 1), (3, 0)]
    assert added[-1].hash == merkle.root(hashed)


def test_append_returns_the_nodes_and_leaves_the_store_alone() -> None:
    store = merkle.DictNodeStore()
    added = merkle.append(store, 0, leaves(3))
    assert store.nodes == {}
    assert [(n.level, n.index) for n in added] == [(0, 0), (0, 1), (1, 0), (0, 2)]


def test_a_batch_stores_the_same_nodes_as_one_leaf_at_a_time() -> None:
    hashed = leaves(37)
    one_by_one = merkle.DictNodeStore()
    for size, leaf in enumerate(hashed):
        one_by_one.put_many(merkle.append(one_by_one, size, [leaf]))
    batched = merkle.DictNodeStore()
    batched.put_many(merkle.append(batched, 0, hashed[:10]))
    batched.put_many(merkle.append(batched, 10, hashed[10:]))
    assert batched.nodes == one_by_one.nodes


@pytest.mark.parametrize("n", [1, 2, 5, 8, 100, 1023, 1024])
def test_the_store_holds_two_nodes_per_leaf_less_one_per_perfect_subtree(n: int) -> None:
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, leaves(n)))
    assert len(store.nodes) == 2 * n - bin(n).count("1")


def test_appending_refuses_a_leaf_that_is_not_a_sha256_hash() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        merkle.append(merkle.DictNodeStore(), 0, [b"short"])
    with pytest.raises(ValueError, match="negative"):
        merkle.append(merkle.DictNodeStore(), -1, leaves(1))


def test_a_complete_aligned_subtree_is_one_read(big_store: merkle.DictNodeStore) -> None:
    counting = CountingStore(big_store)
    expected = merkle.root(leaves(1 << 10)[512:768])
    assert merkle.subtree_root(counting, 512, 768) == expected
    assert counting.reads == 1


def test_the_root_of_any_size_reads_one_node_per_set_bit(big_store: merkle.DictNodeStore) -> None:
    for n in sizes_to_probe():
        counting = CountingStore(big_store)
        merkle.tree_root(counting, n)
        assert counting.reads == bin(n).count("1"), n


def test_an_inclusion_proof_reads_logarithmically_many_nodes(
    big_store: merkle.DictNodeStore,
) -> None:
    rng = random.Random(6962)
    for n in sizes_to_probe():
        for i in {0, n - 1, n // 2, rng.randrange(n)}:
            counting = CountingStore(big_store)
            merkle.inclusion_proof(counting, i, n)
            assert counting.reads <= bound(n), (i, n, counting.reads)


def test_a_consistency_proof_reads_logarithmically_many_nodes(
    big_store: merkle.DictNodeStore,
) -> None:
    rng = random.Random(9162)
    for n in sizes_to_probe():
        for m in {1, n - 1 or 1, n // 2 or 1, rng.randrange(1, n + 1), n}:
            counting = CountingStore(big_store)
            merkle.consistency_proof(counting, m, n)
            assert counting.reads <= bound(n), (m, n, counting.reads)


def test_the_named_nodes_are_all_a_proof_needs(big_store: merkle.DictNodeStore) -> None:
    rng = random.Random(1)
    for _ in range(50):
        n = rng.randrange(2, BIG + 1)
        i, m = rng.randrange(n), rng.randrange(1, n)
        wanted = merkle.inclusion_nodes(i, n)
        prefetched = merkle.DictNodeStore(
            merkle.Node(level, index, big_store.nodes[level, index]) for level, index in wanted
        )
        assert merkle.inclusion_proof(prefetched, i, n) == merkle.inclusion_proof(big_store, i, n)
        assert len(wanted) <= bound(n)
        wanted = merkle.consistency_nodes(m, n)
        prefetched = merkle.DictNodeStore(
            merkle.Node(level, index, big_store.nodes[level, index]) for level, index in wanted
        )
        assert merkle.consistency_proof(prefetched, m, n) == merkle.consistency_proof(
            big_store, m, n
        )


def test_a_proof_beyond_the_stored_leaves_reports_the_missing_node() -> None:
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, leaves(5)))
    with pytest.raises(merkle.MissingNodeError, match=r"level 1, index 2"):
        merkle.inclusion_proof(store, 0, 6)
    with pytest.raises(merkle.MissingNodeError):
        merkle.tree_root(store, 7)


@pytest.mark.parametrize(("leaf_index", "tree_size"), [(0, 0), (3, 3), (-1, 4)])
def test_an_inclusion_proof_is_refused_for_a_leaf_outside_the_tree(
    leaf_index: int, tree_size: int
) -> None:
    with pytest.raises(ValueError, match="is not in a tree"):
        merkle.inclusion_proof(merkle.DictNodeStore(), leaf_index, tree_size)


@pytest.mark.parametrize(("old", "new"), [(5, 4), (-1, 3)])
def test_a_consistency_proof_is_refused_when_the_old_tree_is_not_a_prefix(
    old: int, new: int
) -> None:
    with pytest.raises(ValueError, match="no consistency proof"):
        merkle.consistency_proof(merkle.DictNodeStore(), old, new)


def test_there_is_nothing_to_prove_from_the_empty_tree_or_to_the_same_size() -> None:
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, leaves(4)))
    assert merkle.consistency_proof(store, 0, 4) == []
    assert merkle.consistency_proof(store, 4, 4) == []


def test_an_unaligned_range_still_has_its_rfc_tree_hash() -> None:
    hashed = leaves(16)
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, hashed))
    for start in range(16):
        for end in range(start + 1, 17):
            assert merkle.subtree_root(store, start, end) == merkle.root(hashed[start:end])
