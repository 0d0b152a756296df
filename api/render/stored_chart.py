"""A chart's input from the analytics view: the records of one term, not the whole negotiation.

``dance`` reads of a negotiation only what the chart of one term shows: the shaping records
(opening, parties, terms, agreements and their rejections, rates, rounds, retractions: the
analytics' ``meta``), each party's offers carrying the term and their withdrawals (its
``line`` rows), the rejections of offers (an index range of the events view by type), and
the time axis (the least and greatest keys of the live events: two index reads). These are
the records the fold of the whole stream would use for that term, so the dance is the same.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass

from domain.values import OccurredAt, end_of_key
from projections.analytics import Order, Reader, line_record, record_of
from projections.records import END_OF_TIME, Record, Stream, rebuild
from projections.rows import record_from_row
from projections.views import Views

PAGE = 1000


@dataclass(frozen=True)
class ChartInput:
    stream: Stream
    span: tuple[str, ...]
    parties: list[str]


def chart_input(
    views: Views,
    slug: str,
    term: str | None,
    as_of: OccurredAt | None,
    at: tuple[Reader, int] | None = None,
) -> ChartInput | None:
    """What ``dance`` needs for ``term`` (the first term when None); None: nothing stored.

    ``at``: the analytics after the first N events (``projections.checkpoints.analytics_at``)
    and N: the chart as it was then (the events view's rows cut at N).
    """
    analytics: Reader = views if at is None else at[0]
    version = None if at is None else at[1]
    found = analytics.analytics_get(slug, ["order", "meta"])
    if "order" not in found:
        return None
    order = Order(found["order"])
    if not order.current:
        return None  # an older layout: the fold of the events draws it
    chosen = term if term is not None else (order.terms[0]["id"] if order.terms else None)
    records: list[Record] = [record_of(m) for m in json.loads(found.get("meta", "[]"))]
    # An unknown term has no rows to read (and may hold text a store refuses, NUL on
    # PostgreSQL): without them ``dance`` answers that the term is unknown.
    if chosen is not None and any(t["id"] == chosen for t in order.terms):
        # A record a row, parsed once (rows never change).
        records.extend(
            line_record(text) for _, text in analytics.analytics_scan(slug, f"line/{chosen}/")
        )
        records.extend(
            r for r in _offer_rejections(views, slug) if version is None or r.version <= version
        )
    high = END_OF_TIME if as_of is None else end_of_key(as_of)
    span = views.occurred_span(slug, high, version)
    return ChartInput(rebuild(records), () if span is None else span, order.parties)


def _offer_rejections(views: Views, slug: str) -> list[Record]:
    found: list[Record] = []
    after: tuple[str, int] | None = None
    while True:
        page = views.timeline_rows(slug, after, PAGE, types=["offer_rejected"])
        # The rows come with their payload as stored text beside them, not in them.
        found.extend(
            record_from_row(dataclasses.replace(row, payload=json.loads(payload)))
            for row, payload in page
        )
        if len(page) < PAGE:
            return found
        after = (page[-1][0].sort_key, page[-1][0].version)
