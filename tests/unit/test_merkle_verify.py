"""The offline verifier: proof edge cases, the checkpoint's signed bytes, and hash chains."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any
from uuid import UUID

import pytest
from support import memory_ledger

from domain import facts, merkle
from domain.canonical import GENESIS_HASH, canonical_document, event_hash, stored_document
from domain.values import Party, Quantity, Term
from domain.verify import (
    EMPTY_ROOT,
    checkpoint_payload,
    document_hash,
    event_leaf_hash,
    verify_chain,
    verify_consistency,
    verify_inclusion,
)

KST = timezone(timedelta(hours=9))
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def tree(n: int) -> tuple[list[bytes], merkle.DictNodeStore]:
    hashed = [merkle.leaf_hash(hashlib.sha256(bytes([i])).digest()) for i in range(n)]
    store = merkle.DictNodeStore()
    store.put_many(merkle.append(store, 0, hashed))
    return hashed, store


def test_the_verifier_computes_leaves_as_the_tree_does() -> None:
    digest = hashlib.sha256(b"event").hexdigest()
    assert event_leaf_hash(digest) == merkle.event_leaf(digest)
    assert EMPTY_ROOT == merkle.EMPTY_ROOT


@pytest.mark.parametrize(("leaf_index", "tree_size"), [(0, 0), (5, 5), (9, 5), (-1, 5)])
def test_inclusion_of_a_leaf_outside_the_tree_never_verifies(
    leaf_index: int, tree_size: int
) -> None:
    hashed, store = tree(5)
    root = merkle.tree_root(store, 5)
    assert not verify_inclusion(leaf_index, tree_size, hashed[0], [], root)
    assert not verify_inclusion(leaf_index, tree_size, hashed[0], [hashed[1]], root)


def test_an_inclusion_path_one_element_too_long_or_too_short_fails() -> None:
    hashed, store = tree(6)
    root = merkle.tree_root(store, 6)
    path = merkle.inclusion_proof(store, 2, 6)
    assert verify_inclusion(2, 6, hashed[2], path, root)
    assert not verify_inclusion(2, 6, hashed[2], path[:-1], root)
    assert not verify_inclusion(2, 6, hashed[2], [*path, hashed[0]], root)


def test_values_that_are_not_sha256_hashes_fail_instead_of_raising() -> None:
    hashed, store = tree(2)
    root = merkle.tree_root(store, 2)
    assert verify_inclusion(0, 2, hashed[0], [hashed[1]], root)
    assert not verify_inclusion(0, 2, hashed[0] + b"\x00", [hashed[1]], root)
    assert not verify_inclusion(0, 2, hashed[0], [hashed[1][:31]], root)
    assert not verify_inclusion(0, 2, hashed[0], [hashed[1]], root.hex().encode())
    assert not verify_consistency(1, 2, hashed[0], root[:16], [hashed[1]])


def test_the_single_leaf_tree_proves_its_leaf_with_an_empty_path() -> None:
    hashed, _ = tree(1)
    assert verify_inclusion(0, 1, hashed[0], [], hashed[0])
    assert not verify_inclusion(0, 1, hashed[0], [hashed[0]], hashed[0])


def test_the_empty_tree_is_consistent_with_every_tree_by_an_empty_proof() -> None:
    _, store = tree(5)
    root = merkle.tree_root(store, 5)
    assert verify_consistency(0, 5, EMPTY_ROOT, root, [])
    assert verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    assert not verify_consistency(0, 5, root, root, [])
    assert not verify_consistency(0, 5, EMPTY_ROOT, root, [root])


def test_a_tree_is_consistent_with_itself_only_by_an_empty_proof_and_equal_roots() -> None:
    hashed, store = tree(5)
    root = merkle.tree_root(store, 5)
    assert verify_consistency(5, 5, root, root, [])
    assert not verify_consistency(5, 5, root, root, [hashed[0]])
    assert not verify_consistency(5, 5, root, merkle.tree_root(store, 4), [])


def test_consistency_never_verifies_for_a_shrinking_tree_or_an_empty_proof() -> None:
    _, store = tree(6)
    r3, r6 = merkle.tree_root(store, 3), merkle.tree_root(store, 6)
    proof = merkle.consistency_proof(store, 3, 6)
    assert verify_consistency(3, 6, r3, r6, proof)
    assert not verify_consistency(6, 3, r6, r3, proof)
    assert not verify_consistency(3, 6, r3, r6, [])
    assert not verify_consistency(-1, 6, r3, r6, proof)


def test_the_checkpoint_payload_is_a_header_then_sorted_compact_json() -> None:
    root = bytes(range(32))
    payload = checkpoint_payload(42, root, datetime(2026, 1, 1, 21, 0, 0, 250000, tzinfo=KST))
    assert payload == (
        b"parley-checkpoint/v1\n"
        b'{"root":"000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f",'
        b'"timestamp":"2026-01-01T12:00:00.250000+00:00","tree_size":42}'
    )


def test_the_checkpoint_payload_is_the_same_from_the_published_strings() -> None:
    root = hashlib.sha256(b"root").digest()
    from_values = checkpoint_payload(7, root, T0)
    assert checkpoint_payload(7, root.hex(), "2026-01-01T12:00:00+00:00") == from_values
    assert checkpoint_payload(7, root.hex(), "2026-01-01T21:00:00.000000+09:00") == from_values


def test_each_checkpoint_field_changes_the_signed_bytes() -> None:
    root = hashlib.sha256(b"root").digest()
    other = hashlib.sha256(b"other").digest()
    payloads = {
        checkpoint_payload(7, root, T0),
        checkpoint_payload(8, root, T0),
        checkpoint_payload(7, other, T0),
        checkpoint_payload(7, root, T0 + timedelta(microseconds=1)),
    }
    assert len(payloads) == 4


@pytest.mark.parametrize(
    ("tree_size", "root", "timestamp", "message"),
    [
        (1, b"\x00" * 31, T0, "32 bytes"),
        (-1, b"\x00" * 32, T0, "non-negative"),
        (True, b"\x00" * 32, T0, "non-negative"),
        (1, b"\x00" * 32, datetime(2026, 1, 1), "UTC offset"),
        (1, b"\x00" * 32, "2026-01-01T12:00:00", "UTC offset"),
    ],
)
def test_a_checkpoint_payload_is_refused_for_malformed_fields(
    tree_size: Any, root: bytes, timestamp: Any, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        checkpoint_payload(tree_size, root, timestamp)


def chained(slug: str, fact_list: list[facts.Fact], start: int) -> list[dict[str, Any]]:
    documents = []
    prev = GENESIS_HASH
    for version, fact in enumerate(fact_list, start=1):
        document = canonical_document(
            fact=fact,
            negotiation=slug,
            version=version,
            event_id=UUID(int=start + version),
            recorded_at=T0 + timedelta(seconds=start + version),
            recorded_by="clerk",
            prev_hash=prev,
        )
        prev = event_hash(document)
        documents.append({**document, "hash": prev})
    return documents


@pytest.fixture
def log() -> list[dict[str, Any]]:
    """Two negotiations' chains, interleaved as a global log interleaves them."""
    day = date(2020, 4, 7)
    sma = chained(
        "sma",
        [
            facts.NegotiationOpened(slug="sma", title="SMA", occurred_at=day),
            facts.RoundHeld(number=1, occurred_at=day),
            facts.StatementMade(party="ROK", speaker="정은보", summary="13%", occurred_at=day),
            facts.StatusChanged(status="suspended", occurred_at=day),
        ],
        start=0,
    )
    fta = chained(
        "fta",
        [
            facts.NegotiationOpened(slug="fta", title="FTA", occurred_at=day),
            facts.RoundHeld(number=1, occurred_at=day),
            facts.RoundHeld(number=2, occurred_at=day),
        ],
        start=100,
    )
    return [sma[0], fta[0], sma[1], sma[2], fta[1], fta[2], sma[3]]


def test_an_untouched_interleaved_log_has_no_broken_link(log: list[dict[str, Any]]) -> None:
    assert verify_chain(log) is None
    assert verify_chain([]) is None


def test_the_verifier_hashes_documents_as_the_ledger_does(log: list[dict[str, Any]]) -> None:
    for document in log:
        assert document_hash(document) == document["hash"]


def test_a_changed_byte_in_a_payload_is_the_first_bad_index(log: list[dict[str, Any]]) -> None:
    log[3] = {**log[3], "payload": {**log[3]["payload"], "summary": "14%"}}
    assert verify_chain(log) == 3


@pytest.mark.parametrize(
    "field", ["recorded_at", "recorded_by", "occurred_at", "event_id", "type", "hash"]
)
def test_a_changed_field_breaks_the_chain_at_that_event(
    log: list[dict[str, Any]], field: str
) -> None:
    value = log[4][field]
    log[4] = {**log[4], field: value[:-1] + ("0" if value[-1] != "0" else "1")}
    assert verify_chain(log) == 4


def test_a_rehashed_forgery_breaks_the_link_of_the_next_event(
    log: list[dict[str, Any]],
) -> None:
    forged = {**log[2], "recorded_by": "mallory"}
    forged["hash"] = document_hash(forged)
    log[2] = forged
    assert verify_chain(log) == 3


def test_a_dropped_event_breaks_its_successor(log: list[dict[str, Any]]) -> None:
    del log[2]
    assert verify_chain(log) == 2


def test_two_events_of_a_negotiation_swapped_break_at_the_first(
    log: list[dict[str, Any]],
) -> None:
    log[2], log[3] = log[3], log[2]
    assert verify_chain(log) == 2


def test_a_negotiation_must_start_at_the_genesis_hash(log: list[dict[str, Any]]) -> None:
    assert verify_chain(log[2:]) == 0


def test_a_stream_that_starts_part_way_verifies_from_its_anchor(
    log: list[dict[str, Any]],
) -> None:
    sma = [d for d in log if d["negotiation"] == "sma"]
    assert verify_chain(sma[2:], anchors={"sma": sma[1]["hash"]}) is None
    assert verify_chain(sma[2:], anchors={"sma": sma[0]["hash"]}) == 0


def test_a_malformed_document_is_reported_not_raised(log: list[dict[str, Any]]) -> None:
    missing = dict(log[1])
    del missing["version"]
    assert verify_chain([log[0], missing]) == 1
    assert verify_chain([log[0], {**log[1], "payload": {"amount": Decimal(1)}}]) == 1
    assert verify_chain([{**log[0], "version": True}]) == 0
    assert verify_chain([{**log[0], "position": 1}]) == 0


def test_documents_rebuilt_from_a_real_ledger_verify(clock: Callable[[], datetime]) -> None:
    ledger = memory_ledger(clock)
    for slug in ("sma", "fta"):
        ledger.open_negotiation(
            facts.NegotiationOpened(slug=slug, title=slug, occurred_at=date(2019, 9, 1)),
            [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
            [Term("contribution", "Annual contribution", "USD")],
        )
    ledger.record(
        "sma",
        [
            facts.OfferMade(
                party="USA",
                kind="demand",
                values={"contribution": Quantity(Decimal("5E+9"), "USD")},
                occurred_at=datetime(2019, 9, 24, 10, 0, tzinfo=KST),
            )
        ],
    )
    documents = []
    for slug in ("sma", "fta"):
        for event in ledger.stream(slug):
            document = stored_document(event, slug)
            documents.append({**document, "hash": event.hash})
    assert len(documents) == 9
    assert verify_chain(documents) is None
    tampered = documents[4]["payload"]["values"]["contribution"]
    tampered["amount"] = "5000000001"
    assert verify_chain(documents) == 4
