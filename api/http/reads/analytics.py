"""A negotiation's positions, gaps and timeline: stored analytics, checkpoints, or the fold.

Time travel: ``as_of_version`` and ``as_of_recorded`` cut the stream (what the ledger held
then: the analytics at the fold checkpoint below N plus at most K events,
``projections.checkpoints``; the timeline's rows cut at N), ``as_of`` cuts the world (what
had occurred by then, as now known: the stored series, ``projections.asof``). A negotiation
kept in an older layout, and a read with both, fold the events.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from fastapi import Response

from api.http.deps import TimeTravel, unspaced_offset, view_storage_errors
from api.http.paging import decode_timeline_cursor
from api.http.presenters.timeline import timeline_page, timeline_text
from api.http.reads.travel import rewound, stream_of_view, travel_version
from api.http.responses import json_response
from api.http.schemas import GapsPublic, PositionsPublic
from domain.errors import InvalidValue, NegotiationNotFound
from domain.facts import FACT_TYPES
from domain.values import OccurredAt, end_of_key, parse_occurred_at, sort_key
from projections.analytics import (
    Order,
    Reader,
    gaps_text,
    stored_gap_entries,
    stored_order,
    stored_positions,
)
from projections.asof import gaps_as_of, positions_as_of
from projections.gaps import gaps_of
from projections.positions import Book, build_book, format_at, positions
from projections.records import END_OF_TIME
from projections.views import Views


def positions_read(views: Views, slug: str, travel: TimeTravel) -> Response | PositionsPublic:
    """``GET /negotiations/{slug}/positions``'s answer."""
    reader: Reader | None = rewound(views, slug, travel) if travel.rewinds else views
    if reader is not None and travel.as_of is None:
        with view_storage_errors():
            document = stored_positions(reader, slug)
        if document is not None:
            return json_response(document)
        if not travel.rewinds:
            raise NegotiationNotFound(f"no negotiation {slug!r}")
    if reader is not None and travel.as_of is not None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is not None and order.current:
                return json_response(positions_as_of(reader, slug, order, travel.as_of))
    stream = stream_of_view(views, slug, travel)
    return PositionsPublic.model_validate(positions(stream, as_of=travel.as_of))


def gaps_read(
    views: Views,
    slug: str,
    travel: TimeTravel,
    today: date,
    max_pairs: int,
    term: list[str] | None = None,
    pair: str | None = None,
) -> Response | GapsPublic:
    """``GET /negotiations/{slug}/gaps``'s answer, for ``term``s and a ``pair`` if asked."""
    reader: Reader | None = rewound(views, slug, travel) if travel.rewinds else views
    if reader is not None and travel.as_of is None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is None and not travel.rewinds:
                raise NegotiationNotFound(f"no negotiation {slug!r}")
            if order is not None:
                chosen = check_gap_filters(order, term, pair, max_pairs)
                ids = [t["id"] for t in order.terms] if term is None else term
                entries = stored_gap_entries(reader, slug, order, today, ids, chosen)
                return Response(gaps_text(order, entries), media_type="application/json")
    if reader is not None and travel.as_of is not None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is not None and order.current:
                chosen = check_gap_filters(order, term, pair, max_pairs)
                document = gaps_as_of(reader, slug, order, travel.as_of, today, term, chosen)
                return GapsPublic.model_validate(document)
    stream = stream_of_view(views, slug, travel)
    book = build_book(stream, travel.as_of)
    chosen = check_gap_filters(book, term, pair, max_pairs)
    document = {
        "negotiation": book.slug,
        "as_of": format_at(book.as_of),
        "terms": gaps_of(book, today, term, chosen),
    }
    return GapsPublic.model_validate(document)


def check_gap_filters(
    book: Book | Order, terms: list[str] | None, pair: str | None, max_pairs: int
) -> tuple[str, str] | None:
    """The pair asked for, in the gaps' order; 422 for unknown names or too wide a read."""
    parties = list(book.parties)
    known = {t.id for t in book.terms} if isinstance(book, Book) else {t["id"] for t in book.terms}
    unknown = sorted(set(terms or ()) - known)
    if unknown:
        raise InvalidValue(
            f"no term {', '.join(unknown)} in this negotiation; its terms are "
            f"{', '.join(sorted(known)) or 'none'}",
            field="term",
        )
    chosen = None
    if pair is not None:
        p, q = (part.strip() for part in pair.split(",", 1))
        chosen = None
        if p != q and p in parties and q in parties:
            chosen = (p, q) if parties.index(p) < parties.index(q) else (q, p)
        if chosen is None:
            raise InvalidValue(
                f"pair {pair!r} is not two distinct parties of this negotiation", field="pair"
            )
    n = len(parties)
    per_term = 1 if chosen is not None else n * (n - 1) // 2
    count = per_term * len(known if terms is None else known & set(terms))
    if count > max_pairs:
        raise InvalidValue(
            f"these gaps are {count} (term, pair) entries, more than the {max_pairs} one read "
            "computes (max_pairs): ask for fewer with term= or pair=P,Q",
            field="pair",
            limit=max_pairs,
        )
    return chosen


@dataclass(frozen=True)
class TimelineFilter:
    """Which entries of the timeline a read asks for, checked before any view is read."""

    types: tuple[str, ...] = ()
    party: str | None = None
    low: OccurredAt | None = None
    high: OccurredAt | None = None
    limit: int = 200
    after: tuple[str, int] | None = None


def timeline_filter(
    types: list[str] | None = None,
    party: str | None = None,
    from_: str | None = None,
    to: str | None = None,
    limit: int = 200,
    cursor: str | None = None,
) -> TimelineFilter:
    """The timeline's query parameters, parsed; 422 for an unknown type, date or cursor."""
    unknown = sorted(set(types or ()) - set(FACT_TYPES))
    if unknown:
        raise InvalidValue(
            f"unknown event type(s) {', '.join(unknown)}; the types are "
            f"{', '.join(sorted(FACT_TYPES))}",
            field="type",
        )
    low = None if from_ is None else parse_occurred_at(unspaced_offset(from_), "from")
    high = None if to is None else parse_occurred_at(unspaced_offset(to), "to")
    after = None if cursor is None else decode_timeline_cursor(cursor)
    return TimelineFilter(tuple(types or ()), party, low, high, limit, after)


def timeline_read(views: Views, slug: str, travel: TimeTravel, wanted: TimelineFilter) -> Response:
    """``GET /negotiations/{slug}/timeline``'s answer: a page of entries as stored."""
    # A rewinding read: the first N events' rows, each retracted only by then (no fold).
    version = travel_version(views, slug, travel) if travel.rewinds else None
    low_key = "" if wanted.low is None else sort_key(wanted.low)
    high_key = END_OF_TIME if wanted.high is None else end_of_key(wanted.high)
    if travel.as_of is not None:
        high_key = min(high_key, end_of_key(travel.as_of))
    with view_storage_errors():
        texts, last = timeline_page(
            views,
            slug,
            wanted.after,
            wanted.limit,
            low_key,
            high_key,
            wanted.types,
            wanted.party,
            version,
        )
        if not texts and views.negotiation_row(slug) is None:
            raise NegotiationNotFound(f"no negotiation {slug!r}")
    return Response(timeline_text(slug, travel.as_of, texts, last), media_type="application/json")
