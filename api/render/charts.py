"""The negotiation dance as chart data: what one term's chart shows at a moment, as ``chart.json``.

A :class:`Dance` holds, per party, the step line of its position on one term, every live
offer carrying the term as a point, agreements, rejections and withdrawals as markers, the
midpoint and gap of the first pair over time, closed share and forecast.
``api.render.dance_fold.dance`` folds a stream into one; the dashboard draws it with plotly
from ``Dance.to_json()`` and reports embed ``api.render.dance_svg.render`` of the same
object, so the two pictures never disagree.

Amounts stay ``Decimal`` in the data; only the drawing turns them into floats, divided by the
axis scale (e.g. trillions of KRW).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any, Literal

from domain.values import Quantity, Term
from projections.metrics import fmt

# Okabe-Ito: tells parties apart for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MarkerKind = Literal["agreement", "agreement_rejected", "offer_rejected", "offer_withdrawn"]


def moment_of(key: str) -> datetime:
    """A sort key (fixed-width UTC ISO) as a naive UTC datetime, the x of every chart."""
    return datetime.fromisoformat(key).astimezone(UTC).replace(tzinfo=None)


def x_text(moment: datetime) -> str:
    """The x value as plotly reads dates: ``YYYY-MM-DD HH:MM:SS`` (UTC)."""
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def sources_json(sources: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "title": s.title,
            "url": s.url,
            "publisher": s.publisher,
            "published_on": None if s.published_on is None else s.published_on.isoformat(),
        }
        for s in sources or ()
    ]


def amount_text(quantity: Quantity) -> str:
    """An amount as a person reads it: ``5,000,000,000 USD`` (exact, no rounding)."""
    sign, digits = ("-", -quantity.amount) if quantity.amount < 0 else ("", quantity.amount)
    text = format(digits, "f")
    whole, _, fraction = text.partition(".")
    grouped = f"{int(whole):,}" + (f".{fraction}" if fraction else "")
    return f"{sign}{grouped} {quantity.unit}"


@dataclass(frozen=True)
class Step:
    """A party's position from ``at`` on; ``amount`` None means no position (or unconverted)."""

    at: datetime
    amount: Decimal | None
    event_id: str
    occurred_at: str


@dataclass(frozen=True)
class Series:
    party: str
    name: str
    color: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class OfferPoint:
    event_id: str
    party: str
    kind: str
    at: datetime
    occurred_at: str
    amount: Decimal
    """In the term's unit."""
    original: Quantity
    conditions: str | None
    sources: tuple[Mapping[str, Any], ...]
    withdrawn: bool
    rejected_by: tuple[str, ...]


@dataclass(frozen=True)
class Marker:
    kind: MarkerKind
    event_id: str
    at: datetime
    occurred_at: str
    amount: Decimal
    label: str
    party: str | None
    sources: tuple[Mapping[str, Any], ...]
    target: str | None = None
    """The offer or agreement a rejection or withdrawal answers."""
    rejected: bool = False
    """For an agreement: a live rejection of it occurred by ``as_of``."""


@dataclass(frozen=True)
class GapPoint:
    at: datetime
    occurred_at: str
    gap: Decimal
    midpoint: Decimal
    positions: Mapping[str, Decimal]


@dataclass(frozen=True)
class Dance:
    """Everything the dance and the gap chart of one term show, at one moment."""

    negotiation: str
    title: str
    as_of: str | None
    terms: tuple[Term, ...]
    term: Term | None
    series: tuple[Series, ...]
    offers: tuple[OfferPoint, ...]
    markers: tuple[Marker, ...]
    pair: tuple[str, str] | None
    gaps: tuple[GapPoint, ...]
    """The first pair's history: one point per change once both had positions."""
    gap_open: bool
    """Whether the pair's gap is defined up to the right edge (both still have positions)."""
    current_gap: Decimal | None
    closed_share: Decimal | None
    initial_gap: Decimal | None
    forecast: date | None
    x_range: tuple[datetime, datetime]
    y_range: tuple[Decimal, Decimal]
    scale: Decimal
    scale_label: str | None
    unconverted: tuple[str, ...] = field(default=())
    """Offers left off the chart: no rate converts their currency to the term's."""

    @property
    def y_title(self) -> str:
        if self.term is None:
            return ""
        unit = self.term.unit
        return f"{unit}, {self.scale_label}" if self.scale_label else unit

    def scaled(self, amount: Decimal) -> float:
        return float(amount / self.scale)

    def to_json(self) -> dict[str, Any]:
        """The ``chart.json`` document: decimals as strings, x values as UTC date-times."""
        return {
            "negotiation": self.negotiation,
            "title": self.title,
            "as_of": self.as_of,
            "terms": [{"id": t.id, "name": t.name, "unit": t.unit} for t in self.terms],
            "term": None
            if self.term is None
            else {"id": self.term.id, "name": self.term.name, "unit": self.term.unit},
            "y_title": self.y_title,
            "scale": fmt(self.scale),
            "scale_label": self.scale_label,
            "x_range": [x_text(x) for x in self.x_range],
            "y_range": [fmt(y) for y in self.y_range],
            "series": [
                {
                    "party": s.party,
                    "name": s.name,
                    "color": s.color,
                    "steps": [
                        {
                            "x": x_text(step.at),
                            "amount": fmt(step.amount),
                            "event_id": step.event_id,
                            "occurred_at": step.occurred_at,
                        }
                        for step in s.steps
                    ],
                }
                for s in self.series
            ],
            "offers": [
                {
                    "event_id": o.event_id,
                    "party": o.party,
                    "kind": o.kind,
                    "x": x_text(o.at),
                    "occurred_at": o.occurred_at,
                    "amount": fmt(o.amount),
                    "original": {"amount": fmt(o.original.amount), "unit": o.original.unit},
                    "original_text": amount_text(o.original),
                    "conditions": o.conditions,
                    "sources": list(o.sources),
                    "withdrawn": o.withdrawn,
                    "rejected_by": list(o.rejected_by),
                }
                for o in self.offers
            ],
            "markers": [
                {
                    "kind": m.kind,
                    "event_id": m.event_id,
                    "x": x_text(m.at),
                    "occurred_at": m.occurred_at,
                    "amount": fmt(m.amount),
                    "label": m.label,
                    "party": m.party,
                    "sources": list(m.sources),
                    "target": m.target,
                    "rejected": m.rejected,
                }
                for m in self.markers
            ],
            "pair": None if self.pair is None else list(self.pair),
            "gaps": [
                {
                    "x": x_text(g.at),
                    "occurred_at": g.occurred_at,
                    "gap": fmt(g.gap),
                    "midpoint": fmt(g.midpoint),
                    "positions": {p: fmt(a) for p, a in g.positions.items()},
                }
                for g in self.gaps
            ],
            "gap_open": self.gap_open,
            "current_gap": fmt(self.current_gap),
            "closed_share": fmt(self.closed_share),
            "initial_gap": fmt(self.initial_gap),
            "forecast": None if self.forecast is None else self.forecast.isoformat(),
            "unconverted": list(self.unconverted),
        }


class UnknownTerm(ValueError):
    """The chart was asked for a term the negotiation does not define."""
