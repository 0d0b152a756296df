"""A negotiation's summary and list entry: its positions and headline gaps, stored or folded."""

from __future__ import annotations

import json
from datetime import date

from api.http.deps import view_storage_errors
from api.http.schemas import (
    GapHeadlinePublic,
    NegotiationListItem,
    NegotiationSummary,
    TermGapHeadlinesPublic,
    TermPositionsPublic,
    summary_of,
)
from domain.negotiation import Negotiation
from domain.values import OccurredAt
from projections.analytics import Order, Reader, stored_gap_entries, stored_order, stored_positions
from projections.asof import summary_book
from projections.gaps import gaps_of
from projections.index import entry_of
from projections.positions import Book, build_book, positions_of
from projections.records import Stream
from projections.views import NegotiationRow

HEADLINE_FIELDS = tuple(GapHeadlinePublic.model_fields)

Headlines = tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]]


def headline_terms(book: Book | Order, max_pairs: int) -> list[str]:
    """The terms whose headline gaps a summary carries: in order, while their pairs fit.

    A summary never computes more than ``max_pairs`` entries; ``/gaps?term=`` has the rest.
    """
    n = len(book.parties)
    ids = [t.id for t in book.terms] if isinstance(book, Book) else [t["id"] for t in book.terms]
    per_term = n * (n - 1) // 2
    chosen: list[str] = []
    total = 0
    for term_id in ids:
        total += per_term
        if total > max_pairs:
            break
        chosen.append(term_id)
    return chosen


def stored_headlines(views: Reader, slug: str, today: date, max_pairs: int) -> Headlines | None:
    """The summary's positions and headline gaps from the analytics view (or an ``Overlay``
    of it at a version)."""
    with view_storage_errors():
        document = stored_positions(views, slug)
        order = stored_order(views, slug)
        if document is None or order is None:
            return None
        entries = stored_gap_entries(
            views, slug, order, today, headline_terms(order, max_pairs), history=False
        )
    terms = [TermPositionsPublic.model_validate(t) for t in document["terms"]]
    headlines = [
        TermGapHeadlinesPublic(
            term=term["id"],
            unit=term["unit"],
            pairs=[GapHeadlinePublic.model_validate_json(text) for text in texts],
        )
        for term, texts in entries
    ]
    return terms, headlines


def stored_headlines_as_of(
    views: Reader, slug: str, as_of: OccurredAt, today: date, max_pairs: int
) -> Headlines | None:
    """The summary's positions and headline gaps at ``as_of``, from the stored series."""
    with view_storage_errors():
        order = stored_order(views, slug)
        if order is None or not order.current:
            return None
        book = summary_book(views, slug, order, as_of, headline_terms(order, max_pairs))
    return book_headlines(book, today, max_pairs)


def headlines_of(
    stream: Stream, as_of: OccurredAt | None, today: date, max_pairs: int = 2016
) -> Headlines:
    """The summary's current positions and headline gaps (nothing that moves with the clock)."""
    return book_headlines(build_book(stream, as_of), today, max_pairs)


def book_headlines(book: Book, today: date, max_pairs: int) -> Headlines:
    terms = [TermPositionsPublic.model_validate(t) for t in positions_of(book)]
    headlines = [
        TermGapHeadlinesPublic(
            term=term["term"],
            unit=term["unit"],
            pairs=[
                GapHeadlinePublic.model_validate({k: pair[k] for k in HEADLINE_FIELDS})
                for pair in term["pairs"]
            ],
        )
        for term in gaps_of(book, today, headline_terms(book, max_pairs))
    ]
    return terms, headlines


def full_summary(
    neg: Negotiation, stream: Stream, as_of: OccurredAt | None, today: date, max_pairs: int
) -> NegotiationSummary:
    """The summary with its headlines folded from ``stream``."""
    summary = summary_of(neg)
    summary.positions, summary.gaps = headlines_of(stream, as_of, today, max_pairs)
    summary.as_of = None if as_of is None else as_of.isoformat()
    return summary


def list_item_of(row: NegotiationRow, headline: str | None = None) -> NegotiationListItem:
    # entry_of: the one spelling of a row, which the terminal's list shows too.
    return NegotiationListItem(
        gaps=[] if headline is None else json.loads(headline), **entry_of(row)
    )
