"""The Merkle view and the ledger's verification on every store, and tampering caught in SQL stores."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
from ledger_tamper import (
    corrupt,
    delete_row,
    edit_state,
    rehash,
    replace_bytes,
    skip_positions,
)
from store_histories import open_seed, record_every_fact_type, statements

from api.services.checkpoints import make_checkpoint
from api.services.ledger_proofs import consistency, extends, inclusion
from api.services.ledger_scan import BadEvent, verify_ledger
from domain import facts, merkle, verify
from domain.ledger import Ledger
from domain.values import Quantity
from projections.runner import ProjectionRunner
from projections.views import MERKLE_VIEW, LeafRow

AMOUNT = Decimal("987654321")
NOW = datetime(2026, 1, 2, tzinfo=UTC)


def history(ledger: Ledger) -> None:
    """Two negotiations, their events interleaved in the global log."""
    record_every_fact_type(ledger, "sma-11")
    open_seed(ledger, "sma-10")
    ledger.record("sma-10", statements(4, "negotiator"))
    ledger.record("sma-11", statements(3, "late"))


def offer(ledger: Ledger, slug: str, amount: Decimal = AMOUNT) -> int:
    """Records an offer; returns its log position."""
    made = facts.OfferMade(
        party="ROK",
        kind="offer",
        values={"annual_contribution": Quantity(amount, "USD")},
        occurred_at="2020-03-01",
    )
    return ledger.record(slug, [made]).position


def all_leaves(runner: ProjectionRunner) -> list[LeafRow]:
    return runner.views.leaves(0, 10_000)


def test_merkle_view_holds_every_event_as_a_gap_free_leaf_in_log_order(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)

    runner.catch_up()

    leaves = all_leaves(runner)
    head = ledger.head_position()
    assert [leaf.leaf_index for leaf in leaves] == list(range(head))
    assert [leaf.position for leaf in leaves] == list(range(1, head + 1))
    for slug in ("sma-11", "sma-10"):
        events = ledger.stream(slug)
        mine = [leaf for leaf in leaves if leaf.negotiation == slug]
        assert [(x.event_id, x.version, x.hash) for x in mine] == [
            (str(e.event_id), e.originator_version, e.hash) for e in events
        ]
    assert runner.views.tree_size() == head


def test_merkle_root_is_rfc_9162_root_of_the_event_hashes(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()

    leaves = all_leaves(runner)
    made = make_checkpoint(runner.views, NOW)

    reference = merkle.root([merkle.event_leaf(leaf.hash) for leaf in leaves])
    assert made.root == reference.hex()
    assert made.tree_size == len(leaves)


def test_every_inclusion_proof_verifies_against_the_checkpoint_root(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    leaves = all_leaves(runner)

    for size in (1, 7, len(leaves)):
        root = bytes.fromhex(make_checkpoint_of(runner, size))
        for leaf in leaves[:size]:
            proof = inclusion(runner.views, leaf.event_id, size)
            assert proof.leaf_index == leaf.leaf_index
            assert verify.verify_inclusion(
                proof.leaf_index,
                size,
                verify.event_leaf_hash(proof.event_hash),
                [bytes.fromhex(p) for p in proof.audit_path],
                root,
            ), (size, leaf.leaf_index)


def make_checkpoint_of(runner: ProjectionRunner, size: int) -> str:
    """The root of the first ``size`` leaves, by the reference definition."""
    return merkle_root(all_leaves(runner)[:size])


def merkle_root(leaves: list[LeafRow]) -> str:
    return merkle.root([merkle.event_leaf(leaf.hash) for leaf in leaves]).hex()


def test_consistency_proofs_between_sizes_verify_with_the_standalone_verifier(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    leaves = all_leaves(runner)
    n = len(leaves)

    for old in range(n + 1):
        for new in (old, min(n, old + 1), n):
            proof = consistency(runner.views, old, new)
            assert verify.verify_consistency(
                old,
                new,
                bytes.fromhex(merkle_root(leaves[:old])),
                bytes.fromhex(merkle_root(leaves[:new])),
                [bytes.fromhex(p) for p in proof.proof],
            ), (old, new)


def test_rebuilt_merkle_view_equals_the_one_kept_batch_by_batch(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    kept = runner.views.dump(MERKLE_VIEW)

    counts = runner.rebuild(MERKLE_VIEW, batch_size=3)

    assert counts[MERKLE_VIEW] == ledger.head_position()
    assert runner.views.dump(MERKLE_VIEW) == kept
    assert runner.views.node_rows()  # the nodes came along through the swap


def test_the_tree_grows_by_consistent_extension_as_events_arrive(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    open_seed(ledger, "sma")
    runner.catch_up()
    before = make_checkpoint(runner.views, NOW)

    ledger.record("sma", statements(11, "later"))
    runner.catch_up()

    assert extends(runner.views, before) == (
        True,
        f"the ledger's tree of {runner.views.tree_size()} leaves extends the checkpoint's "
        f"{before.tree_size}",
    )


def test_an_untouched_ledger_verifies_with_the_checkpoint_root(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()

    report = verify_ledger(ledger, runner.views)

    head = ledger.head_position()
    assert report.ok
    assert report.first_bad is None
    assert (report.events_checked, report.head, report.tree_size) == (head, head, head)
    assert report.root == make_checkpoint(runner.views, NOW).root


def test_verify_checks_events_the_merkle_view_has_not_reached_yet(
    ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    runner.catch_up()
    ledger.record("sma-10", statements(3, "unprojected"))

    report = verify_ledger(ledger, runner.views)

    assert report.ok
    assert report.events_checked == ledger.head_position()
    assert report.tree_size == ledger.head_position() - 3


# ------------------------------------------------------------------ tampering

sql_stores = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


@pytest.fixture
def tampered(ledger: Ledger, runner: ProjectionRunner) -> tuple[int, str]:
    """A projected history with an offer in the middle: its position and event id."""
    history(ledger)
    position = offer(ledger, "sma-10")
    ledger.record("sma-10", statements(2, "after"))
    ledger.record("sma-11", statements(2, "after"))
    runner.catch_up()
    leaf = all_leaves(runner)[position - 1]
    assert leaf.position == position
    return position, leaf.event_id


def first_bad(ledger: Ledger, runner: ProjectionRunner, event_id: str) -> BadEvent:
    """What verify names first: it must be the event tampered with."""
    report = verify_ledger(ledger, runner.views)
    assert not report.ok
    assert report.first_bad is not None
    assert report.first_bad.event_id == event_id
    return report.first_bad


@sql_stores
def test_an_amount_edited_in_the_database_is_caught_and_named(
    store_url: str, ledger: Ledger, runner: ProjectionRunner, tampered: tuple[int, str]
) -> None:
    position, event_id = tampered

    edit_state(store_url, position, replace_bytes(b"987654321", b"987654329"))

    report = verify_ledger(ledger, runner.views)
    assert not report.ok
    assert report.first_bad is not None
    assert report.first_bad.event_id == event_id
    assert (report.first_bad.position, report.first_bad.negotiation) == (position, "sma-10")
    assert report.first_bad.reason == "its stored hash does not match its stored content"
    assert report.events_checked == position


@sql_stores
def test_bytes_that_no_longer_decode_are_named_not_a_crash(
    store_url: str, ledger: Ledger, runner: ProjectionRunner, tampered: tuple[int, str]
) -> None:
    position, event_id = tampered

    edit_state(store_url, position, corrupt)

    bad = first_bad(ledger, runner, event_id)
    assert (bad.position, bad.negotiation) == (position, "sma-10")
    assert bad.reason.startswith("the stored bytes no longer decode")


@sql_stores
def test_a_deleted_row_is_named_from_its_merkle_leaf(
    store_url: str, ledger: Ledger, runner: ProjectionRunner, tampered: tuple[int, str]
) -> None:
    position, event_id = tampered

    delete_row(store_url, position)

    bad = first_bad(ledger, runner, event_id)
    assert bad.position == position
    assert (bad.negotiation, bad.version) == ("sma-10", 11)
    assert "no longer has it" in bad.reason


@sql_stores
def test_deleting_the_last_row_of_the_log_is_caught(
    store_url: str, ledger: Ledger, runner: ProjectionRunner, tampered: tuple[int, str]
) -> None:
    head = ledger.head_position()
    last = all_leaves(runner)[-1]

    delete_row(store_url, head)

    assert first_bad(ledger, runner, last.event_id).position == head


@sql_stores
def test_an_edit_with_its_hash_recomputed_is_caught_by_the_chain_and_the_tree(
    store_url: str, ledger: Ledger, runner: ProjectionRunner, tampered: tuple[int, str]
) -> None:
    position, event_id = tampered
    edit_state(store_url, position, replace_bytes(b"987654321", b"987654329"))

    rehash(store_url, position, "sma-10")

    bad = first_bad(ledger, runner, event_id)
    assert bad.reason == f"it differs from Merkle leaf {position - 1}"


@sql_stores
def test_a_rewritten_history_passes_its_own_checks_but_not_an_earlier_checkpoint(
    store_url: str, ledger: Ledger, runner: ProjectionRunner
) -> None:
    history(ledger)
    position = offer(ledger, "sma-10")  # the last event of its stream: nothing chains to it
    ledger.record("sma-11", statements(2, "after"))
    runner.catch_up()
    saved = make_checkpoint(runner.views, NOW)

    # A careful intruder: edits the amount, recomputes the hash, rebuilds the tree.
    edit_state(store_url, position, replace_bytes(b"987654321", b"987654329"))
    rehash(store_url, position, "sma-10")
    runner.rebuild(MERKLE_VIEW)

    assert verify_ledger(ledger, runner.views).ok
    consistent, why = extends(runner.views, saved)
    assert not consistent
    assert "rewritten" in why


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_leaves_stay_gap_free_where_postgresql_skips_log_positions(
    store_url: str, ledger: Ledger, runner: ProjectionRunner
) -> None:
    open_seed(ledger, "sma")
    skip_positions(store_url, 5)
    ledger.record("sma", statements(3, "after the gap"))
    runner.catch_up()

    leaves = all_leaves(runner)
    assert [leaf.leaf_index for leaf in leaves] == list(range(len(leaves)))
    assert leaves[-1].position == len(leaves) + 5
    assert verify_ledger(ledger, runner.views).ok
    last = inclusion(runner.views, leaves[-1].event_id)
    assert last.leaf_index == len(leaves) - 1
