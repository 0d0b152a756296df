"""The analytics view holds the pure folds' output after every batch, on every store.

A random valid history (``test_time_travel_property``'s: offers in two currencies, backfilled
dates, withdrawals, rejections, agreements and their rejections, rates, rounds, status
changes and retractions, retractions of retractions included) is recorded on a memory app;
its events-view rows are then applied, in batches of one to three, to the analytics view
of the store under test alone. After each batch the stored ``/positions``, ``/gaps`` and
summary headlines must equal folding the rows so far from scratch.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import warnings
from datetime import date
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning
from test_time_travel_property import HISTORIES, SLUG, Step, record_history

from api.app import create_app
from api.settings import Settings
from domain.ledger import Ledger
from projections.analytics import (
    HEADLINE_FIELDS,
    gaps_text,
    stored_gap_entries,
    stored_order,
    stored_positions,
)
from projections.gaps import gaps
from projections.positions import positions
from projections.rows import stream_from_rows
from projections.views import ANALYTICS_VIEW, EventRow, Views, open_views

with warnings.catch_warnings():  # as in tests/api/conftest.py
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

TODAY = date(2021, 6, 1)
EXAMPLES = itertools.count(1)


def history_rows(history: list[list[Step]]) -> list[EventRow]:
    with TestClient(
        create_app(Settings(database_url="memory://")), base_url="http://localhost"
    ) as client:
        record_history(client, history)
        runner = client.app.state.runner  # type: ignore[attr-defined]
        assert runner.wait_for(timeout=10)
        rows: list[EventRow] = runner.views.events_of(SLUG)
        return rows


def stored(views: Views, slug: str) -> tuple[Any, Any]:
    order = stored_order(views, slug)
    assert order is not None
    terms = [t["id"] for t in order.terms]
    entries = stored_gap_entries(views, slug, order, TODAY, terms)
    return stored_positions(views, slug), json.loads(gaps_text(order, entries))


@pytest.fixture
def analytics_views(ledger: Ledger) -> Views:
    return open_views(ledger.recorder)


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(history=HISTORIES, sizes=st.lists(st.integers(1, 3), min_size=1, max_size=8))
def test_stored_analytics_are_the_folds_after_every_batch(
    analytics_views: Views, history: list[list[Step]], sizes: list[int]
) -> None:
    views = analytics_views
    # Each example is a negotiation of its own, later in the log than the last one.
    slug = f"example-{next(EXAMPLES)}"
    start = views.tracked_positions()[ANALYTICS_VIEW]
    rows = [
        dataclasses.replace(row, negotiation=slug, position=start + i)
        for i, row in enumerate(history_rows(history), 1)
    ]
    done = 0
    for size in itertools.cycle(sizes):
        if done >= len(rows):
            break
        batch = rows[done : done + size]
        views.apply(batch, {ANALYTICS_VIEW: start + done}, start + done + len(batch))
        done += len(batch)
        stream = stream_from_rows(rows[:done])
        got_positions, got_gaps = stored(views, slug)
        assert got_positions == positions(stream), done
        expected = gaps(stream, today=TODAY)
        assert got_gaps == expected, done
        headline = json.loads(views.analytics_of([slug], "headline")[slug])
        assert headline == [
            {
                "term": term["term"],
                "unit": term["unit"],
                "pairs": [{k: pair[k] for k in HEADLINE_FIELDS} for pair in term["pairs"][:1]],
            }
            for term in expected["terms"]
        ], done
