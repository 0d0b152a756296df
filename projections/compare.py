"""Negotiations side by side on one term: the share of the initial gap closed over the days
since both sides first had positions (comparable whatever the units), the raw gaps where the
units agree, and how much of the initial gap each side had conceded by each round."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC
from decimal import Decimal
from typing import Any

from domain.values import Term
from projections import metrics
from projections.gaps import Point, history
from projections.metrics import fmt
from projections.positions import Book


class CompareError(ValueError):
    """A negotiation cannot take part in the comparison (``field`` says which parameter)."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Side:
    """One negotiation of a comparison: its book, its title and the pair compared."""

    slug: str
    title: str
    book: Book
    pair: tuple[str, str]


def common_term(books: list[Book]) -> str:
    """The first term of the first negotiation that every negotiation defines."""
    for term in books[0].terms:
        if all(any(t.id == term.id for t in book.terms) for book in books[1:]):
            return term.id
    raise CompareError("the negotiations define no term in common: name one", "term")


def term_of(book: Book, term_id: str) -> Term:
    for term in book.terms:
        if term.id == term_id:
            return term
    msg = f"{book.slug} has no term {term_id!r}"
    raise CompareError(msg, "term")


def default_pair(book: Book) -> tuple[str, str]:
    """The first two parties to join (as the dance's gap uses them)."""
    if len(book.parties) < 2:
        msg = f"{book.slug} has fewer than two parties"
        raise CompareError(msg, "n")
    return book.parties[0], book.parties[1]


def compare(sides: list[Side], term_id: str) -> dict[str, Any]:
    """The comparison document (decimals as strings)."""
    terms = [term_of(side.book, term_id) for side in sides]
    units = {t.unit for t in terms}
    raw = len(units) == 1
    return {
        "term": term_id,
        "unit": terms[0].unit if raw else None,
        "units_agree": raw,
        "negotiations": [
            _side(side, term, raw=raw) for side, term in zip(sides, terms, strict=True)
        ],
    }


def _side(side: Side, term: Term, *, raw: bool) -> dict[str, Any]:
    book = side.book
    p, q = side.pair
    points = history(book.line(term, p), book.line(term, q))
    entry: dict[str, Any] = {
        "negotiation": side.slug,
        "title": side.title,
        "term_name": term.name,
        "unit": term.unit,
        "parties": [p, q],
        "party_names": {party: book.party_names.get(party, party) for party in (p, q)},
        "initial_gap": None,
        "initial_at": None,
        "closed_share": None,
        "points": [],
        "rounds": [],
        "reason": None,
    }
    if not points:
        entry["reason"] = f"no moment when both {p} and {q} had positions on {term.id}"
        return entry
    first = points[0]
    initial = first.gap
    start = first.moment
    entry["initial_gap"] = fmt(initial)
    entry["initial_at"] = first.trigger.occurred_at.isoformat()
    entry["closed_share"] = fmt(metrics.closed_share(points[-1].gap, initial))
    entry["points"] = [
        {
            "at": point.trigger.occurred_at.isoformat(),
            "days": fmt(metrics.days_between(start, point.moment)),
            "closed_share": fmt(metrics.closed_share(point.gap, initial)),
            "gap": fmt(point.gap) if raw else None,
            "positions": {p: fmt(point.a), q: fmt(point.b)} if raw else None,
        }
        for point in points
    ]
    entry["rounds"] = _rounds(book, points, p, q)
    return entry


def _rounds(book: Book, points: list[Point], p: str, q: str) -> list[dict[str, Any]]:
    """Per round (after both had positions): the share of the initial gap each side had conceded."""
    first = points[0]
    initial = first.gap
    found = []
    number = 0
    for key in book.round_keys:
        number += 1
        if key < first.key:
            continue
        standing = [pt for pt in points if pt.key <= key][-1]
        conceded = {
            p: metrics.concession(first.a, first.b, standing.a),
            q: metrics.concession(first.b, first.a, standing.b),
        }
        found.append(
            {
                "round": number,
                "at": _day(key),
                "concessions": {
                    party: {
                        "amount": fmt(amount),
                        "share": fmt(metrics.concession_share(amount, initial)),
                    }
                    for party, amount in conceded.items()
                },
            }
        )
    return found


def _day(key: str) -> str:
    from datetime import datetime

    return datetime.fromisoformat(key).astimezone(UTC).isoformat()


def share_points(entry: dict[str, Any]) -> list[tuple[float, float]]:
    """(days, closed share) of one negotiation of a comparison, for a chart."""
    return [
        (float(Decimal(pt["days"])), float(Decimal(pt["closed_share"])))
        for pt in entry["points"]
        if pt["closed_share"] is not None
    ]
