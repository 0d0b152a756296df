"""The views' fast paths give exactly what the plain definitions they replace give."""

from __future__ import annotations

import dataclasses
import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from store_histories import record_every_fact_type

from domain import merkle
from domain.ledger import Ledger
from domain.negotiation import Negotiation
from projections.views import (
    EventRow,
    NegotiationRow,
    event_row,
    fold_negotiation,
    fold_negotiations,
    frontier,
    merkle_append,
)


def event_hash(i: int) -> str:
    return hashlib.sha256(str(i).encode()).hexdigest()


@pytest.mark.parametrize("batches", [[1], [7], [1, 1, 1, 5], [3, 8, 16, 1, 33], [64, 2, 31]])
def test_batched_merkle_appends_store_the_nodes_the_domain_tree_stores(
    batches: list[int],
) -> None:
    store = merkle.DictNodeStore()
    stored: dict[tuple[int, int], bytes] = {}
    size = 0
    for count in batches:
        hashes = [event_hash(size + i) for i in range(count)]
        expected = merkle.append(store, size, [merkle.event_leaf(h) for h in hashes])
        known = {a: stored[a] for a in frontier(size)}

        fresh = merkle_append(known, size, hashes)

        assert fresh == [(n.level, n.index, n.hash) for n in expected]
        store.put_many(expected)
        stored.update(((lv, ix), h) for lv, ix, h in fresh)
        size += count


def test_a_batched_merkle_append_without_its_frontier_is_refused() -> None:
    with pytest.raises(merkle.MissingNodeError):
        merkle_append({}, 3, [event_hash(3)])


T0 = datetime(2020, 4, 7, tzinfo=UTC)


def row(position: int, slug: str, version: int, kind: str, day: int, **payload: object) -> EventRow:
    occurred = f"2020-04-{day:02d}"
    return EventRow(
        position=position,
        negotiation=slug,
        version=version,
        event_id=f"e{position}",
        type=kind,
        occurred_at=occurred,
        sort_key=occurred + "T00:00:00.000000+00:00",
        recorded_at=T0 + timedelta(seconds=position % 5),
        recorded_by="test",
        party=None,
        payload=dict(payload),
        hash="0" * 64,
        prev_hash="0" * 64,
    )


def test_folding_a_batch_at_once_gives_the_rows_of_folding_event_by_event() -> None:
    events = [
        row(1, "a", 1, "negotiation_opened", 5, title="A", subject=None),
        row(2, "b", 1, "negotiation_opened", 3, title="B", subject="s"),
        row(3, "a", 2, "offer_made", 9),
        row(4, "a", 3, "statement_made", 2),
        row(5, "b", 2, "offer_made", 3),
        row(6, "a", 4, "status_changed", 4, status="suspended"),
        row(7, "a", 5, "offer_made", 9),
        row(8, "a", 6, "event_retracted", 28, retracted_event_id="e6"),
        row(9, "b", 3, "statement_made", 12),
        row(10, "a", 7, "offer_made", 11),
        row(11, "b", 4, "statement_made", 12),
    ]
    ids = {"a": "id-a", "b": "id-b"}
    one_by_one: dict[str, NegotiationRow] = {}
    for event in events:
        one_by_one[event.negotiation] = fold_negotiation(
            one_by_one.get(event.negotiation), event, ids[event.negotiation]
        )
    for split in range(len(events) + 1):
        batched: dict[str, NegotiationRow] = {}
        changed = fold_negotiations(batched, events[:split], ids)
        changed |= fold_negotiations(batched, events[split:], ids)

        assert batched == one_by_one
        assert [list(r.counts) for r in batched.values()] == [
            list(r.counts) for r in one_by_one.values()
        ]
        assert changed == {"a", "b"}


def test_an_event_row_is_the_row_its_constructor_makes_for_every_fact_type(
    ledger: Ledger,
) -> None:
    record_every_fact_type(ledger, "sma-11")
    events = ledger.stream("sma-11")
    assert len({type(e) for e in events}) == len(Negotiation.EVENT_CLASSES)

    for version, event in enumerate(events, 1):
        row = event_row(version, "sma-11", event)

        assert row == EventRow(**{f.name: getattr(row, f.name) for f in dataclasses.fields(row)})
        assert set(vars(row)) == {f.name for f in dataclasses.fields(EventRow)}
        assert row.retracted_by is None
