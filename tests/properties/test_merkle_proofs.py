"""Properties of the Merkle tree over random logs: honest proofs verify, any altered byte fails."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from functools import cache

from hypothesis import given, settings
from hypothesis import strategies as st

from domain import merkle
from domain.verify import verify_consistency, verify_inclusion

MAX_LEAVES = 300


@cache
def log_of(seed: int, n: int) -> tuple[tuple[bytes, ...], merkle.DictNodeStore]:
    """A log of ``n`` distinct events and its grown store (cached: tests only read it)."""
    hashed = tuple(
        merkle.leaf_hash(hashlib.sha256(f"{seed}/{i}".encode()).digest()) for i in range(n)
    )
    return hashed, grown(hashed, seed)


def grown(hashed: Sequence[bytes], seed: int) -> merkle.DictNodeStore:
    """A store grown in uneven batches, as a live log grows."""
    store = merkle.DictNodeStore()
    size = 0
    while size < len(hashed):
        batch = hashed[size : size + 1 + (seed + size) % 7]
        store.put_many(merkle.append(store, size, batch))
        size += len(batch)
    return store


def flip(value: bytes, position: int, mask: int) -> bytes:
    altered = bytearray(value)
    altered[position % len(value)] ^= mask
    return bytes(altered)


seeds = st.integers(0, 3)
masks = st.integers(1, 255)


@st.composite
def leaf_in_a_log(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, MAX_LEAVES))
    return draw(seeds), n, draw(st.integers(0, n - 1))


@st.composite
def two_sizes(draw: st.DrawFn) -> tuple[int, int, int]:
    n = draw(st.integers(1, MAX_LEAVES))
    return draw(seeds), draw(st.integers(1, n)), n


@settings(max_examples=150, deadline=None)
@given(seeds, st.integers(0, MAX_LEAVES))
def test_the_stored_root_equals_the_recursive_tree_hash(seed: int, n: int) -> None:
    hashed, store = log_of(seed, MAX_LEAVES)
    assert merkle.tree_root(store, n) == merkle.root(hashed[:n])


@settings(max_examples=300, deadline=None)
@given(leaf_in_a_log())
def test_every_inclusion_proof_verifies(case: tuple[int, int, int]) -> None:
    seed, n, i = case
    hashed, store = log_of(seed, MAX_LEAVES)
    proof = merkle.inclusion_proof(store, i, n)
    assert verify_inclusion(i, n, hashed[i], proof, merkle.tree_root(store, n))


@settings(max_examples=300, deadline=None)
@given(two_sizes())
def test_every_consistency_proof_verifies(case: tuple[int, int, int]) -> None:
    seed, m, n = case
    _, store = log_of(seed, MAX_LEAVES)
    proof = merkle.consistency_proof(store, m, n)
    root_m, root_n = merkle.tree_root(store, m), merkle.tree_root(store, n)
    assert verify_consistency(m, n, root_m, root_n, proof)


@settings(max_examples=300, deadline=None)
@given(leaf_in_a_log(), st.integers(-1, 40), st.integers(0, 31), masks)
def test_a_flipped_byte_anywhere_in_an_inclusion_check_fails(
    case: tuple[int, int, int], target: int, position: int, mask: int
) -> None:
    seed, n, i = case
    hashed, store = log_of(seed, MAX_LEAVES)
    leaf, proof, root = hashed[i], merkle.inclusion_proof(store, i, n), merkle.tree_root(store, n)
    # target -1 is the leaf, 0 the root, k >= 1 the (k-1)-th path element (mod its length).
    if target == -1:
        leaf = flip(leaf, position, mask)
    elif target == 0 or not proof:
        root = flip(root, position, mask)
    else:
        k = (target - 1) % len(proof)
        proof = [*proof[:k], flip(proof[k], position, mask), *proof[k + 1 :]]
    assert not verify_inclusion(i, n, leaf, proof, root)


@settings(max_examples=300, deadline=None)
@given(two_sizes(), st.integers(-1, 40), st.integers(0, 31), masks)
def test_a_flipped_byte_anywhere_in_a_consistency_check_fails(
    case: tuple[int, int, int], target: int, position: int, mask: int
) -> None:
    seed, m, n = case
    _, store = log_of(seed, MAX_LEAVES)
    proof = merkle.consistency_proof(store, m, n)
    root_m, root_n = merkle.tree_root(store, m), merkle.tree_root(store, n)
    # target -1 is the old root, 0 the new root, k >= 1 a proof element (mod its length).
    if target == -1:
        root_m = flip(root_m, position, mask)
    elif target == 0 or not proof:
        root_n = flip(root_n, position, mask)
    else:
        k = (target - 1) % len(proof)
        proof = [*proof[:k], flip(proof[k], position, mask), *proof[k + 1 :]]
    assert not verify_consistency(m, n, root_m, root_n, proof)


@settings(max_examples=300, deadline=None)
@given(leaf_in_a_log(), st.integers(1, MAX_LEAVES))
def test_an_inclusion_proof_is_bound_to_its_leaf_index(
    case: tuple[int, int, int], other: int
) -> None:
    seed, n, i = case
    wrong = other % n
    hashed, store = log_of(seed, MAX_LEAVES)
    proof, root = merkle.inclusion_proof(store, i, n), merkle.tree_root(store, n)
    assert verify_inclusion(wrong, n, hashed[i], proof, root) == (wrong == i)


@settings(max_examples=300, deadline=None)
@given(leaf_in_a_log(), st.integers(1, MAX_LEAVES))
def test_an_inclusion_proof_fails_against_a_checkpoint_of_another_size(
    case: tuple[int, int, int], other: int
) -> None:
    seed, n, i = case
    hashed, store = log_of(seed, MAX_LEAVES)
    proof = merkle.inclusion_proof(store, i, n)
    claimed = max(other, i + 1)
    root = merkle.tree_root(store, claimed)
    assert verify_inclusion(i, claimed, hashed[i], proof, root) == (claimed == n)


@settings(max_examples=300, deadline=None)
@given(two_sizes(), st.integers(1, MAX_LEAVES), st.integers(1, MAX_LEAVES))
def test_a_consistency_proof_fails_for_any_other_pair_of_checkpoints(
    case: tuple[int, int, int], other_m: int, other_n: int
) -> None:
    seed, m, n = case
    _, store = log_of(seed, MAX_LEAVES)
    proof = merkle.consistency_proof(store, m, n)
    m2, n2 = min(other_m, other_n), max(other_m, other_n)
    roots = merkle.tree_root(store, m2), merkle.tree_root(store, n2)
    honest = (m2, n2) == (m, n) or (not proof and m2 == n2)
    assert verify_consistency(m2, n2, *roots, proof) == honest


@settings(max_examples=200, deadline=None)
@given(leaf_in_a_log(), st.booleans())
def test_an_inclusion_path_with_an_element_added_or_removed_fails(
    case: tuple[int, int, int], add: bool
) -> None:
    seed, n, i = case
    hashed, store = log_of(seed, MAX_LEAVES)
    proof, root = merkle.inclusion_proof(store, i, n), merkle.tree_root(store, n)
    altered = [*proof, hashed[0]] if add or not proof else proof[:-1]
    assert not verify_inclusion(i, n, hashed[i], altered, root)


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=MAX_LEAVES),
    st.integers(0, 6),
    st.data(),
)
def test_proofs_over_arbitrary_leaf_bytes_verify_and_break_on_a_flipped_byte(
    inputs: list[bytes], seed: int, data: st.DataObject
) -> None:
    hashed = [merkle.leaf_hash(x) for x in inputs]
    store = grown(hashed, seed)
    n = data.draw(st.integers(1, len(hashed)), label="tree_size")
    i = data.draw(st.integers(0, n - 1), label="leaf_index")
    m = data.draw(st.integers(1, n), label="old_size")
    root_n, root_m = merkle.tree_root(store, n), merkle.tree_root(store, m)
    assert root_n == merkle.root(hashed[:n])
    path, proof = merkle.inclusion_proof(store, i, n), merkle.consistency_proof(store, m, n)
    assert verify_inclusion(i, n, hashed[i], path, root_n)
    assert verify_consistency(m, n, root_m, root_n, proof)
    position = data.draw(st.integers(0, 31), label="byte")
    mask = data.draw(masks, label="mask")
    assert not verify_inclusion(i, n, flip(hashed[i], position, mask), path, root_n)
    assert not verify_inclusion(i, n, hashed[i], path, flip(root_n, position, mask))
    for k in range(len(path)):
        altered = [*path[:k], flip(path[k], position, mask), *path[k + 1 :]]
        assert not verify_inclusion(i, n, hashed[i], altered, root_n)
    assert not verify_consistency(m, n, flip(root_m, position, mask), root_n, proof)
    assert not verify_consistency(m, n, root_m, flip(root_n, position, mask), proof)
    for k in range(len(proof)):
        altered = [*proof[:k], flip(proof[k], position, mask), *proof[k + 1 :]]
        assert not verify_consistency(m, n, root_m, root_n, altered)
