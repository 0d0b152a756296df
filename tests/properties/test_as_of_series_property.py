"""``as_of`` from the stored position series equals folding the events that occurred by then.

A random valid history (``test_time_travel_property``'s: offers in two currencies, backfilled
dates, withdrawals, rejections, agreements and their rejections, rates, rounds, status changes
and retractions) is recorded on a memory app; its events-view rows are applied in batches of
one to three to the analytics view of the store under test. After each batch, at moments
around the history's days, ``/positions``, ``/gaps`` and the summary's book read from the
stored series (by bisection, ``projections.asof``) must equal the pure folds of the rows so
far cut at that moment; and in the pure folds, every line at a moment is the whole line cut
there (``Line.up_to``).
"""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_analytics_property import (  # noqa: F401
    HISTORY_KINDS,
    analytics_views,
    history_rows,
)
from test_time_travel_property import OPENED_ON, Step
from view_batches import BATCH_SIZES, as_negotiation, in_batches, view_examples

from domain.values import end_of_key
from projections.analytics import stored_order
from projections.asof import gaps_as_of, positions_as_of, summary_book
from projections.gaps import gaps, gaps_of
from projections.positions import build_book, positions, positions_of
from projections.rows import stream_from_rows
from projections.views import ANALYTICS_VIEW, Views

TODAY = date(2021, 6, 1)
EXAMPLES = itertools.count(1)
# Days around the histories' (0..700 after the opening), a datetime within a day too.
MOMENTS = st.lists(
    st.one_of(
        st.integers(-10, 720).map(lambda d: OPENED_ON + timedelta(days=d)),
        st.integers(-10, 720).map(
            lambda d: datetime.combine(OPENED_ON + timedelta(days=d), time(12), tzinfo=UTC)
        ),
    ),
    min_size=1,
    max_size=4,
)


@pytest.mark.parametrize("histories", HISTORY_KINDS)
@view_examples(10)
@given(data=st.data(), sizes=BATCH_SIZES, moments=MOMENTS)
def test_as_of_from_the_stored_series_is_the_fold_of_what_had_occurred(
    analytics_views: Views,  # noqa: F811
    histories: st.SearchStrategy[list[list[Step]]],
    data: st.DataObject,
    sizes: list[int],
    moments: list[date | datetime],
) -> None:
    check_as_of(analytics_views, data.draw(histories, label="history"), sizes, moments)


def check_as_of(
    analytics_views: Views,  # noqa: F811
    history: list[list[Step]],
    sizes: list[int],
    moments: list[date | datetime],
) -> None:
    views = analytics_views
    slug = f"as-of-{next(EXAMPLES)}"
    start = views.tracked_positions()[ANALYTICS_VIEW]
    rows = as_negotiation(history_rows(history), slug, start)
    for before, batch in in_batches(rows, sizes):
        views.apply(batch, {ANALYTICS_VIEW: start + before}, start + before + len(batch))
        done = before + len(batch)
        stream = stream_from_rows(rows[:done])
        whole = build_book(stream)
        order = stored_order(views, slug)
        assert order is not None
        for moment in moments:
            assert positions_as_of(views, slug, order, moment) == positions(stream, as_of=moment), (
                done,
                moment,
            )
            expected = gaps(stream, as_of=moment, today=TODAY)
            got = gaps_as_of(views, slug, order, moment, TODAY, None, None)
            assert got == expected, (done, moment)
            if len(order.parties) >= 2:
                pair = (order.parties[1], order.parties[0])[::-1]
                one = gaps_as_of(views, slug, order, moment, TODAY, None, pair)
                assert one["terms"] == [
                    {**t, "pairs": t["pairs"][:1]} for t in expected["terms"]
                ], (done, moment)
            cut = build_book(stream, moment)
            book = summary_book(views, slug, order, moment, [t["id"] for t in order.terms[:1]])
            assert positions_of(book) == positions_of(cut), (done, moment)
            assert gaps_of(book, TODAY, [t.id for t in cut.terms[:1]]) == gaps_of(
                cut, TODAY, [t.id for t in cut.terms[:1]]
            ), (done, moment)
            for term in whole.terms:
                for party in whole.parties:
                    assert whole.line(term, party).up_to(end_of_key(moment)) == cut.line(
                        term, party
                    ), (done, moment, term.id, party)
