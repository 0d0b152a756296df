"""``as_of_version=N`` from a fold checkpoint and at most K events equals the fold of N events.

A random valid history (``test_time_travel_property``'s: offers in two currencies, backfilled
dates, withdrawals, rejections, agreements and their rejections, rates, rounds, status
changes and retractions) is recorded on a memory app; its events-view rows are applied, in
batches of one to three, to the analytics view of the store under test, with a checkpoint
every 3 versions (``PARLEY_CHECKPOINT_EVERY``) so that they are written mid-batch and read
often. Then for every N, the analytics at N (``projections.checkpoints.analytics_at``) read
by the plain reads' readers (``/positions``, ``/gaps``, the summary's headlines) must equal
the pure folds of the first N rows (with ``as_of`` too the route folds: no step rows kept); and the analytics (checkpoints
included) kept batch by batch must equal those kept from one batch (what a rebuild does).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from support import counting_reads
from test_analytics_property import (  # noqa: F401
    HISTORY_KINDS,
    TODAY,
    analytics_views,
    history_rows,
    stored,
)
from test_time_travel_property import Step
from view_batches import BATCH_SIZES, as_negotiation, in_batches, view_examples

from projections import checkpoints
from projections.analytics import HEADLINE_FIELDS, stored_gap_entries, stored_order
from projections.checkpoints import PREFIX, analytics_at, checkpoint_key
from projections.gaps import gaps
from projections.positions import positions
from projections.rows import stream_from_rows
from projections.views import ANALYTICS_VIEW, EVENTS_VIEW, EventRow, Views

K = 3
EXAMPLES = itertools.count(1)


@pytest.fixture(autouse=True)
def small_k(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_CHECKPOINT_EVERY", str(K))


def apply_in_batches(
    views: Views,
    recorded: list[EventRow],
    sizes: list[int],
    slug: str,
    chosen: tuple[str, ...] = (ANALYTICS_VIEW, EVENTS_VIEW),
) -> None:
    """Applies the rows as ``slug``'s, in batches of those sizes, to the ``chosen`` views (a
    read at a version reads the events view too; event ids are unique there)."""
    tracked = views.tracked_positions()
    start = max(tracked[name] for name in chosen)
    rows = as_negotiation(recorded, slug, start)
    for before, batch in in_batches(rows, sizes):
        at = {name: tracked[name] if before == 0 else start + before for name in chosen}
        views.apply(batch, at, start + before + len(batch))


def rows_of(views: Views, slug: str) -> list[tuple[str, str]]:
    return [(key, body) for s, key, body in views.analytics_rows() if s == slug]


def check_checkpoints(views: Views, recorded: list[EventRow], sizes: list[int]) -> None:
    n = next(EXAMPLES)
    slug, whole = f"cp-{n}", f"cp-whole-{n}"
    apply_in_batches(views, recorded, sizes, slug)
    apply_in_batches(views, recorded, [len(recorded)], whole, (ANALYTICS_VIEW,))
    # Batch by batch or in one batch (a rebuild's), the same rows: checkpoints included.
    kept = rows_of(views, slug)
    assert kept == rows_of(views, whole)
    marks = [key for key, _ in kept if key.startswith(PREFIX)]
    assert marks == [checkpoint_key(v) for v in range(K, len(recorded) + 1, K)]

    for version in range(1, len(recorded) + 2):
        stream = stream_from_rows(recorded[:version])
        at = analytics_at(views, slug, version)
        assert at is not None
        got_positions, got_gaps = stored(at, slug)  # type: ignore[arg-type]
        assert got_positions == positions(stream), version
        expected = gaps(stream, today=TODAY)
        assert got_gaps == expected, version
        order = stored_order(at, slug)
        assert order is not None
        assert order.current
        terms = [t["id"] for t in order.terms]
        headlines = [
            (term["id"], [_headline(text) for text in texts])
            for term, texts in stored_gap_entries(at, slug, order, TODAY, terms, history=False)
        ]
        assert headlines == [
            (term["term"], [{k: p[k] for k in HEADLINE_FIELDS} for p in term["pairs"]])
            for term in expected["terms"]
        ], version


def _headline(text: str) -> dict[str, Any]:
    entry = json.loads(text)
    return {k: entry[k] for k in HEADLINE_FIELDS}


@pytest.mark.parametrize("histories", HISTORY_KINDS)
@view_examples(10)
@given(data=st.data(), sizes=BATCH_SIZES)
def test_the_analytics_at_each_version_are_the_fold_of_that_many_events(
    analytics_views: Views,  # noqa: F811
    histories: st.SearchStrategy[list[list[Step]]],
    data: st.DataObject,
    sizes: list[int],
) -> None:
    history = data.draw(histories, label="history")
    check_checkpoints(analytics_views, history_rows(history), sizes)


def test_a_read_at_a_version_folds_at_most_k_events(analytics_views: Views) -> None:  # noqa: F811
    """The fold starts at the checkpoint below N: it reads fewer than K events, never N."""
    offer = Step("offer", 0, money=1000, share=3)
    history = [[dataclasses.replace(offer, day=d, party=d % 2, money=1000 + d)] for d in range(20)]
    recorded = history_rows(history)
    apply_in_batches(analytics_views, recorded, [4], "counted")
    read = counting_reads(analytics_views)
    for version in range(1, len(recorded) + 1):
        read.clear()
        assert analytics_at(analytics_views, "counted", version) is not None
        assert sum(read) < K, version


def test_a_negotiation_kept_without_checkpoints_is_left_to_the_fold(
    analytics_views: Views,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An older layout (no ``ckk``): ``analytics_at`` says so, the route folds the events."""
    recorded = history_rows([[Step("offer", 1, money=1000)]])
    monkeypatch.setattr(checkpoints, "MARK", "not-kept")  # as if written before checkpoints
    apply_in_batches(analytics_views, recorded, [1], "older")
    monkeypatch.undo()
    assert analytics_at(analytics_views, "older", 1) is None
    assert analytics_at(analytics_views, "nothing-here", 1) is None
