"""Gaps: per term, per pair of parties, every metric of GAP-METRICS, plus the history.

Readings of the contract (positions themselves are read as ``projections.positions`` says):

- **Pairs.** Every pair of parties, each pair once, parties in the order they joined (by
  ``occurred_at``, ties in recording order): ``[p, q]`` with ``p`` the earlier.
- **History.** One point per *moment* (distinct ``occurred_at`` instant) at which either
  party's position changed, once both have one: changes at the same instant make one point.
  A moment after which either party has no position, or one that cannot be converted to the
  term's unit, makes no point (the gap is undefined there). A point's ``at`` is the
  ``occurred_at``, as recorded, of the latest-recorded event that changed a position at that
  moment; ``positions`` are the amounts in the term's unit; points are in time order.
- **Initial.** ``initial_at``/``initial_gap`` are those of the first history point.
- **Concessions.** Per party, from its position at the initial moment to its current one
  (``metrics.concession``). ``moves`` and ``last_move_at`` come from the party's own
  positions on the term, independent of the pair: how many times its position changed
  after it was first set (falling back to no position counts), and the ``occurred_at`` of the
  event that made the last change (null when it never moved).
- **Since the last move.** The pair's last move is its last history point: the latest moment
  either position changed while both were set, i.e. the initial moment if nobody moved
  since. ``days_since_last_move`` is the whole number of days from that point's UTC date to
  the reference date: ``as_of``'s date (a datetime's UTC date), or ``today`` (a parameter:
  the folds never read the clock) when there is no ``as_of``; never negative.
  ``rounds_since_last_move`` counts live ``round_held`` events that occurred after that
  moment and by ``as_of``.
- **Forecast.** ``metrics.forecast`` over the last three history points, as an ISO date.
- **Null metrics.** When either party has no current position, or one that cannot be
  converted, every metric is null (``concessions`` too) and ``reason`` says why; the
  ``positions`` map shows the amounts that exist in the term's unit (null otherwise) and
  ``history`` still lists the moments when both were set. Otherwise ``reason`` is null.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import combinations, groupby
from typing import Any

from domain.values import OccurredAt, Term
from projections import metrics
from projections.metrics import fmt
from projections.positions import Book, Line, build_book, format_at
from projections.records import Record, Stream


@dataclass(frozen=True)
class Point:
    """One point of a pair's history."""

    key: str
    trigger: Record
    a: Decimal
    b: Decimal

    @property
    def gap(self) -> Decimal:
        return metrics.gap(self.a, self.b)

    @property
    def moment(self) -> datetime:
        return datetime.fromisoformat(self.key)


def history(line_p: Line, line_q: Line) -> list[Point]:
    """The pair's history: a point per moment either position changed, once both are set."""
    steps = sorted(
        [(c.key, c.trigger.version, 0, i) for i, c in enumerate(line_p.changes)]
        + [(c.key, c.trigger.version, 1, i) for i, c in enumerate(line_q.changes)]
    )
    lines = (line_p, line_q)
    current: list[Decimal | None] = [None, None]
    points: list[Point] = []
    # All changes of one instant make one point, taken after the last of them.
    for key, group in groupby(steps, key=lambda step: step[0]):
        changes = []
        for _, _, side, index in group:
            change = lines[side].changes[index]
            current[side] = None if change.standing is None else change.standing.amount
            changes.append(change)
        a, b = current
        if a is not None and b is not None:
            trigger = max((c.trigger for c in changes), key=lambda r: r.version)
            points.append(Point(key, trigger, a, b))
    return points


def _reference_date(as_of: OccurredAt | None, today: date) -> date:
    if as_of is None:
        return today
    if isinstance(as_of, datetime):
        return as_of.astimezone(UTC).date()
    return as_of


def _no_position_reason(book: Book, term: Term, line: Line, party: str) -> str | None:
    current = line.current
    if current is None:
        when = "" if book.as_of is None else f" as of {book.as_of.isoformat()}"
        return f"{party} has no position on {term.id}{when}"
    if current.amount is None:
        return current.reason
    return None


def pair_metrics(book: Book, term: Term, p: str, q: str, today: date) -> dict[str, Any]:
    line_p, line_q = book.line(term, p), book.line(term, q)
    points = history(line_p, line_q)
    shown = {
        party: fmt(line.current.amount if line.current is not None else None)
        for party, line in ((p, line_p), (q, line_q))
    }
    entry: dict[str, Any] = {
        "parties": [p, q],
        "positions": shown,
        "gap": None,
        "midpoint": None,
        "relative_gap": None,
        "ratio": None,
        "initial_gap": None,
        "initial_at": None,
        "closed_share": None,
        "concessions": None,
        "days_since_last_move": None,
        "rounds_since_last_move": None,
        "history": [
            {
                "at": point.trigger.occurred_at.isoformat(),
                "positions": {p: fmt(point.a), q: fmt(point.b)},
                "gap": fmt(point.gap),
            }
            for point in points
        ],
        "forecast": None,
        "reason": None,
    }
    reasons = [
        r
        for r in (
            _no_position_reason(book, term, line_p, p),
            _no_position_reason(book, term, line_q, q),
        )
        if r is not None
    ]
    if reasons or not points:
        entry["reason"] = "; ".join(reasons) or f"no moment when both {p} and {q} had positions"
        return entry
    first, last = points[0], points[-1]
    a, b = last.a, last.b  # the current positions: nothing changed after the last point
    gap = metrics.gap(a, b)
    initial_gap = first.gap
    last_date = last.moment.astimezone(UTC).date()
    days = (_reference_date(book.as_of, today) - last_date).days
    forecast = metrics.forecast([(point.moment, point.gap) for point in points])
    entry.update(
        gap=fmt(gap),
        midpoint=fmt(metrics.midpoint(a, b)),
        relative_gap=fmt(metrics.relative_gap(a, b)),
        ratio=fmt(metrics.ratio(a, b)),
        initial_gap=fmt(initial_gap),
        initial_at=first.trigger.occurred_at.isoformat(),
        closed_share=fmt(metrics.closed_share(gap, initial_gap)),
        concessions={
            p: _concession(line_p, first.a, first.b, a, initial_gap),
            q: _concession(line_q, first.b, first.a, b, initial_gap),
        },
        days_since_last_move=max(days, 0),
        rounds_since_last_move=sum(1 for k in book.round_keys if k > last.key),
        forecast=None if forecast is None else forecast.isoformat(),
    )
    return entry


def _concession(
    line: Line, own_initial: Decimal, other_initial: Decimal, own: Decimal, initial_gap: Decimal
) -> dict[str, Any]:
    amount = metrics.concession(own_initial, other_initial, own)
    last_move = line.last_move
    return {
        "amount": fmt(amount),
        "share": fmt(metrics.concession_share(amount, initial_gap)),
        "moves": line.moves,
        "last_move_at": None if last_move is None else last_move.trigger.occurred_at.isoformat(),
    }


def ordered_pair(book: Book, pair: tuple[str, str]) -> tuple[str, str] | None:
    """A pair named in either order, as ``/gaps`` orders it (joining order); None if unknown."""
    p, q = pair
    if p == q or p not in book.parties or q not in book.parties:
        return None
    return (p, q) if book.parties.index(p) < book.parties.index(q) else (q, p)


def term_gaps(
    book: Book, term: Term, today: date, pair: tuple[str, str] | None = None
) -> dict[str, Any]:
    """One term's entry of ``/gaps``: every pair of parties on it, or only ``pair``."""
    pairs = combinations(book.parties, 2) if pair is None else [pair]
    return {
        "term": term.id,
        "unit": term.unit,
        "pairs": [pair_metrics(book, term, p, q, today) for p, q in pairs],
    }


def gaps_of(
    book: Book,
    today: date,
    terms: Iterable[str] | None = None,
    pair: tuple[str, str] | None = None,
) -> list[dict[str, Any]]:
    """Every term's gaps, or only those of the named terms and pair (computing nothing else)."""
    chosen = None if terms is None else set(terms)
    return [
        term_gaps(book, term, today, pair)
        for term in book.terms
        if chosen is None or term.id in chosen
    ]


def pair_count(book: Book, terms: Iterable[str] | None = None, *, one_pair: bool = False) -> int:
    """How many (term, pair) entries ``gaps_of`` would compute: the fan-out a read asks for."""
    n = len(book.parties)
    per_term = min(1, n * (n - 1) // 2) if one_pair else n * (n - 1) // 2
    known = {t.id for t in book.terms}
    count = len(known) if terms is None else len(known & set(terms))
    return count * per_term


def gaps(
    stream: Stream,
    *,
    as_of: OccurredAt | str | None = None,
    today: date,
    terms: Iterable[str] | None = None,
    pair: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """The ``/gaps`` document; ``today`` is the reference date when there is no ``as_of``."""
    book = build_book(stream, as_of)
    return {
        "negotiation": book.slug,
        "as_of": format_at(book.as_of),
        "terms": gaps_of(book, today, terms, pair),
    }
