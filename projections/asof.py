"""``as_of`` reads from the stored position series: a moment in the world, found by bisection.

``as_of`` keeps what had occurred by a moment, as now known. Every line is then a prefix of
the stored one (``Line.up_to``), so a read takes each line's rows up to that moment from the
analytics view (``projections.series``) and the pure folds compute the documents from them:
``/positions`` reads one row per (term, party), ``/gaps`` and the summary the rows of the
lines they show, never the negotiation's events.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from typing import Any

from domain.values import OccurredAt, Term, end_of_key
from projections.analytics import Order, Reader
from projections.gaps import gaps_of
from projections.positions import Book, format_at, positions_of
from projections.series import book_as_of, current_as_of, line_as_of


class SlugRows:
    """One negotiation's key ranges in the views (``series.Rows``)."""

    def __init__(self, reader: Any, slug: str) -> None:
        self.reader, self.slug = reader, slug

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = self.reader.analytics_range(self.slug, low, high, last=last)
        return found


def terms_of(order: Order) -> list[Term]:
    return [Term(t["id"], t.get("name", t["id"]), t["unit"]) for t in order.terms]


def book_at(
    reader: Reader,
    slug: str,
    order: Order,
    moment: OccurredAt,
    *,
    current: Iterable[tuple[str, str]] = (),
    whole: Iterable[tuple[str, str]] = (),
) -> Book:
    """A book at ``moment`` with the ``current`` standings and the ``whole`` lines asked for."""
    rows = SlugRows(reader, slug)
    key = end_of_key(moment)
    terms = terms_of(order)
    book = book_as_of(
        slug=order.slug,
        moment=moment,
        as_of_key=key,
        parties=order.parties,
        terms=terms,
        round_keys=order.rounds,
    )
    by_id = {t.id: t for t in terms}
    for term_id, party in current:
        book._lines[term_id, party] = current_as_of(rows, by_id[term_id], party, key)
    for term_id, party in whole:
        book._lines[term_id, party] = line_as_of(rows, by_id[term_id], party, key)
    return book


def every_line(order: Order, terms: Iterable[str] | None = None) -> list[tuple[str, str]]:
    chosen = None if terms is None else set(terms)
    return [
        (t["id"], p)
        for t in order.terms
        if chosen is None or t["id"] in chosen
        for p in order.parties
    ]


def positions_as_of(reader: Reader, slug: str, order: Order, moment: OccurredAt) -> dict[str, Any]:
    """The ``/positions`` document at ``moment``: one stored row per (term, party)."""
    book = book_at(reader, slug, order, moment, current=every_line(order))
    return {"negotiation": book.slug, "as_of": format_at(moment), "terms": positions_of(book)}


def gaps_as_of(
    reader: Reader,
    slug: str,
    order: Order,
    moment: OccurredAt,
    today: date,
    terms: Sequence[str] | None,
    pair: tuple[str, str] | None,
) -> dict[str, Any]:
    """The ``/gaps`` document at ``moment`` from the stored lines of the terms and pair shown."""
    parties = order.parties if pair is None else list(pair)
    lines = [(t, p) for t, p in every_line(order, terms) if p in parties]
    book = book_at(reader, slug, order, moment, whole=lines)
    return {
        "negotiation": book.slug,
        "as_of": format_at(moment),
        "terms": gaps_of(book, today, terms, pair),
    }


def summary_book(
    reader: Reader, slug: str, order: Order, moment: OccurredAt, headline: Sequence[str]
) -> Book:
    """The book a summary at ``moment`` reads: every current standing, whole headline lines."""
    whole = every_line(order, headline)
    current = [line for line in every_line(order) if line not in set(whole)]
    return book_at(reader, slug, order, moment, current=current, whole=whole)
