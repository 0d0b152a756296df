"""The analytics view holds the pure folds' output after every batch, on every store.

A random valid history (``test_time_travel_property``'s: offers in two currencies, backfilled
dates, withdrawals, rejections, agreements and their rejections, rates, rounds, status
changes and retractions, retractions of retractions included) is recorded on a memory app;
its events-view rows are then applied, in batches of one to three, to the analytics view
of the store under test alone. After each batch the stored ``/positions``, ``/gaps`` and
summary headlines must equal folding the rows so far from scratch.

A second property does the same with histories whose dates mostly move forward (ties
often, amounts often repeated): there most offers take the analytics' O(1) path (an offer
at the end of its terms' time extends the stored tips, without the fold), mixed with every
other kind of event, which takes the fold.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import warnings
from datetime import date
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning
from test_jsontext import same_json
from test_time_travel_property import (
    HISTORIES,
    PARTY,
    PICKS,
    SLUG,
    STEPS,
    Step,
    record_history,
)
from view_batches import BATCH_SIZES, as_negotiation, in_batches, view_examples

from api.http.app import create_app
from api.settings import Settings
from domain.ledger import Ledger
from projections import jsontext
from projections.analytics import (
    HEADLINE_FIELDS,
    gaps_text,
    stored_gap_entries,
    stored_order,
    stored_positions,
)
from projections.analytics import batch as applying
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


def check_every_batch(views: Views, recorded: list[EventRow], sizes: list[int]) -> None:
    """Applies a history's rows in batches of those sizes; after each, stored == folds."""
    # Each example is a negotiation of its own, later in the log than the last one.
    slug = f"example-{next(EXAMPLES)}"
    start = views.tracked_positions()[ANALYTICS_VIEW]
    rows = as_negotiation(recorded, slug, start)
    for before, batch in in_batches(rows, sizes):
        views.apply(batch, {ANALYTICS_VIEW: start + before}, start + before + len(batch))
        done = before + len(batch)
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


# Offers mostly, amounts from a few (repeats are no change), in both terms' units and not.
OFFERS = st.builds(
    Step,
    kind=st.just("offer"),
    day=st.just(0),
    party=PARTY,
    money=st.none() | st.sampled_from([1000, 1000, 1200, 900]),
    share=st.none() | st.sampled_from([3, 3, 5]),
    in_usd=st.sampled_from([False, False, False, True]),
    choice=st.integers(0, 3),
)
WITHDRAWALS = st.builds(Step, kind=st.just("withdraw"), day=st.just(0), pick=PICKS)
FORWARD_STEPS = st.one_of(OFFERS, OFFERS, OFFERS, WITHDRAWALS, STEPS)


@st.composite
def forward_histories(draw: st.DrawFn) -> list[list[Step]]:
    """Histories whose steps' days never go back (a step of 0 days: the same moment)."""
    batches = draw(
        st.lists(st.lists(FORWARD_STEPS, min_size=1, max_size=3), min_size=3, max_size=16)
    )
    day = 0
    out = []
    for batch in batches:
        steps = []
        for step in batch:
            day += draw(st.sampled_from([0, 0, 1, 3]))
            steps.append(dataclasses.replace(step, day=day))
        out.append(steps)
    return out


# The histories the view properties run on: any valid one, and those whose offers come at the
# end of their terms' time (their step rows written on the O(1) path).
HISTORY_KINDS = [
    pytest.param(HISTORIES, id="any_history"),
    pytest.param(forward_histories(), id="offers_extend_the_lines"),
]


@pytest.mark.parametrize("histories", HISTORY_KINDS)
@view_examples(12)
@given(data=st.data(), sizes=BATCH_SIZES)
def test_stored_analytics_are_the_folds_after_every_batch(
    analytics_views: Views,
    histories: st.SearchStrategy[list[list[Step]]],
    data: st.DataObject,
    sizes: list[int],
) -> None:
    history = data.draw(histories, label="history")
    check_every_batch(analytics_views, history_rows(history), sizes)


def test_offers_at_the_end_of_their_terms_time_take_the_o1_path(
    analytics_views: Views, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The property above is about both paths: this makes sure the O(1) one is really taken."""
    taken: list[bool] = []
    extend = applying.extend

    def counted(*args: Any) -> bool:
        taken.append(extend(*args))
        return taken[-1]

    offer = Step("offer", 0, money=1000, share=3)
    history = [
        [dataclasses.replace(offer, day=1)],
        [dataclasses.replace(offer, day=1, party=1, money=1200)],
        [dataclasses.replace(offer, day=1)],  # the same moment and amount: no change
        [dataclasses.replace(offer, day=2, money=1100)],
        [dataclasses.replace(offer, day=2, money=1000)],  # the same moment, back again
        [dataclasses.replace(offer, day=3, party=1, money=1150)],
    ]
    recorded = history_rows(history)
    monkeypatch.setattr(applying, "extend", counted)
    check_every_batch(analytics_views, recorded, [1])

    assert taken == [True] * len(history)


@view_examples(8)
@given(data=st.data(), sizes=BATCH_SIZES)
def test_what_the_o1_path_keeps_decoded_is_what_its_text_decodes_to(
    analytics_views: Views, data: st.DataObject, sizes: list[int]
) -> None:
    """The next batch takes a row this one wrote as the value it wrote it from
    (``projections.jsontext.kept``): that value must be the one the text decodes to."""
    history = data.draw(forward_histories(), label="history")
    recorded = history_rows(history)
    keep = jsontext._keep
    kept: list[str] = []

    def checked(text: str, value: Any) -> None:
        assert same_json(value, json.loads(text)), text
        kept.append(text)
        keep(text, value)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(jsontext, "_keep", checked)
        jsontext._kept.clear()
        check_every_batch(analytics_views, recorded, sizes)
