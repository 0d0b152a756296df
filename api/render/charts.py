"""The negotiation dance as chart data, and its static rendering (SVG or PNG, by matplotlib).

:func:`dance` folds one negotiation's stream at a moment into a :class:`Dance`: per party the
step line of its position on one term (the same positions ``/positions`` and ``/gaps`` give,
from ``projections``), every live offer carrying the term as a point, agreements, rejections
and withdrawals as markers, the midpoint and gap of the first pair over time, closed share
and forecast. The dashboard draws it with plotly from ``Dance.to_json()``; reports embed
:func:`render` of the same object, so the two pictures never disagree.

Amounts stay ``Decimal`` in the data; only the drawing turns them into floats, divided by the
axis scale (e.g. trillions of KRW).
"""

from __future__ import annotations

import dataclasses
import io
import threading
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

from domain.values import OccurredAt, Quantity, Term, is_currency, parse_occurred_at, sort_key
from projections import metrics
from projections.gaps import history, pair_metrics
from projections.metrics import fmt
from projections.positions import Book, build_book
from projections.records import Record, Stream

# Okabe-Ito: tells parties apart for colour-blind readers and in greyscale print.
PALETTE = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000")
MIDPOINT_COLOR = "#777777"
SCALES = (
    (Decimal(10) ** 12, "trillions"),
    (Decimal(10) ** 9, "billions"),
    (Decimal(10) ** 6, "millions"),
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC).replace(tzinfo=None)
MarkerKind = Literal["agreement", "agreement_rejected", "offer_rejected", "offer_withdrawn"]


#: The x range's bounds, naive UTC as every x: the first and last moments of the calendar.
FIRST_X = datetime(1, 1, 1, tzinfo=UTC).replace(tzinfo=None)
LAST_X = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).replace(tzinfo=None)


def moment_of(key: str) -> datetime:
    """A sort key (fixed-width UTC ISO) as a naive UTC datetime, the x of every chart."""
    return datetime.fromisoformat(key).astimezone(UTC).replace(tzinfo=None)


def day_number(moment: datetime) -> float:
    """matplotlib's date number of a naive UTC datetime: days since its epoch (set to 1970)."""
    return (moment - EPOCH).total_seconds() / 86400


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


def _in_term_unit(book: Book, term: Term, quantity: Quantity, at_key: str) -> Decimal | None:
    if quantity.unit == term.unit:
        return quantity.amount
    if is_currency(quantity.unit) and is_currency(term.unit):
        return metrics.convert(quantity.amount, quantity.unit, term.unit, book.rates, at_key)
    return None


def _scale_of(term: Term | None, amounts: Iterable[Decimal]) -> tuple[Decimal, str | None]:
    largest = max((abs(a) for a in amounts), default=Decimal(0))
    if term is None or not is_currency(term.unit):
        return Decimal(1), None
    for factor, label in SCALES:
        if largest >= factor:
            return factor, label
    return Decimal(1), None


def _x_range(book: Book, stream: Stream, span: Sequence[str] | None) -> tuple[datetime, datetime]:
    keys: list[str] = [r.key for r in book.records] if span is None else list(span)
    if not keys and stream.opened is not None:
        keys = [stream.opened.key]
    if not keys:
        now = datetime(2000, 1, 1, tzinfo=UTC).replace(tzinfo=None)
        return now, now + timedelta(days=1)
    low, high = moment_of(min(keys)), moment_of(max(keys))
    if book.as_of is not None:
        high = max(high, moment_of(sort_key(book.as_of)))
    width = max(high - low, timedelta(days=10))
    pad = width * 0.04
    # Events may sit at the calendar's edges (0001-01-01, as_of=9999-12-31): pad only as
    # far as the calendar goes, and no further than matplotlib can label.
    low, high = min(low, LAST_X), min(high, LAST_X)
    return low - min(pad, low - FIRST_X), high + min(pad, LAST_X - high)


def _y_range(amounts: list[Decimal]) -> tuple[Decimal, Decimal]:
    if not amounts:
        return Decimal(0), Decimal(1)
    low, high = min(amounts), max(amounts)
    span = high - low or abs(high) or Decimal(1)
    pad = span * Decimal("0.08")
    bottom = low - pad
    if low >= 0 > bottom:
        bottom = Decimal(0)  # never draw negative room under amounts that are all positive
    return bottom, high + pad


def _markers(book: Book, term: Term, offers: Mapping[str, OfferPoint]) -> list[Marker]:
    agreements: dict[str, tuple[Record, Decimal]] = {}
    found: list[Marker] = []
    for record in book.records:
        if record.type == "agreement_reached" and term.id in record.values:
            amount = _in_term_unit(book, term, record.values[term.id], record.key)
            if amount is None:
                continue
            agreements[record.event_id] = (record, amount)
            found.append(
                Marker(
                    kind="agreement",
                    event_id=record.event_id,
                    at=moment_of(record.key),
                    occurred_at=record.occurred_at.isoformat(),
                    amount=amount,
                    label=f"{record.get('status')} agreement: "
                    f"{amount_text(record.values[term.id])}",
                    party=None,
                    sources=tuple(sources_json(record.get("sources"))),
                    rejected=record.event_id in book.ends,
                )
            )
        elif record.type == "agreement_rejected" and record.target in agreements:
            _, amount = agreements[record.target]
            reason = record.get("reason")
            found.append(
                Marker(
                    kind="agreement_rejected",
                    event_id=record.event_id,
                    at=moment_of(record.key),
                    occurred_at=record.occurred_at.isoformat(),
                    amount=amount,
                    label=f"{record.party} rejected the agreement"
                    + (f": {reason}" if reason else ""),
                    party=record.party,
                    sources=tuple(sources_json(record.get("sources"))),
                    target=record.target,
                )
            )
        elif record.type in ("offer_rejected", "offer_withdrawn") and record.target in offers:
            offer = offers[str(record.target)]
            rejected = record.type == "offer_rejected"
            verb = "rejected" if rejected else "withdrew"
            found.append(
                Marker(
                    kind="offer_rejected" if rejected else "offer_withdrawn",
                    event_id=record.event_id,
                    at=moment_of(record.key),
                    occurred_at=record.occurred_at.isoformat(),
                    amount=offer.amount,
                    label=f"{record.party} {verb} {offer.party}'s {offer.kind.replace('_', ' ')} "
                    f"of {amount_text(offer.original)}",
                    party=record.party,
                    sources=tuple(sources_json(record.get("sources"))),
                    target=record.target,
                )
            )
    return found


def dance(
    stream: Stream,
    *,
    term: str | None = None,
    as_of: OccurredAt | str | None = None,
    today: date,
    span: Sequence[str] | None = None,
    parties: Sequence[str] | None = None,
) -> Dance:
    """The dance of one term (the first defined when ``term`` is None) at ``as_of``.

    ``stream`` may hold only what the chart of that term reads (``stored_dance``): then
    ``span`` gives the least and greatest keys of the negotiation's live events by ``as_of``
    (the time axis) and ``parties`` every party in the negotiation's order.
    """
    book = build_book(stream, as_of)
    if parties is not None:
        names = {p: book.party_names.get(p, p) for p in parties}
        book = dataclasses.replace(book, parties=tuple(parties), party_names=names)
    opened = stream.opened
    chosen = book.terms[0] if book.terms and term is None else None
    if term is not None:
        chosen = next((t for t in book.terms if t.id == term), None)
        if chosen is None:
            known = ", ".join(t.id for t in book.terms) or "none"
            raise UnknownTerm(f"no term {term!r} in this negotiation (terms: {known})")
    x_low, x_high = _x_range(book, stream, span)
    series: list[Series] = []
    offers: dict[str, OfferPoint] = {}
    markers: list[Marker] = []
    gap_points: list[GapPoint] = []
    unconverted: list[str] = []
    pair: tuple[str, str] | None = None
    headline: Mapping[str, Any] = {}
    if chosen is not None:
        for i, party in enumerate(book.parties):
            line = book.line(chosen, party)
            steps = tuple(
                Step(
                    at=moment_of(change.key),
                    amount=None if change.standing is None else change.standing.amount,
                    event_id=change.trigger.event_id,
                    occurred_at=change.trigger.occurred_at.isoformat(),
                )
                for change in line.changes
            )
            series.append(
                Series(
                    party=party,
                    name=book.party_names.get(party, party),
                    color=PALETTE[i % len(PALETTE)],
                    steps=steps,
                )
            )
        rejected_by: dict[str, list[str]] = {}
        for record in book.records:
            if record.type == "offer_rejected" and record.target and record.party:
                rejected_by.setdefault(record.target, []).append(record.party)
        for record in book.records:
            if record.type != "offer_made" or chosen.id not in record.values:
                continue
            original = record.values[chosen.id]
            amount = _in_term_unit(book, chosen, original, record.key)
            if amount is None:
                unconverted.append(record.event_id)
                continue
            offers[record.event_id] = OfferPoint(
                event_id=record.event_id,
                party=record.party or "",
                kind=str(record.get("kind")),
                at=moment_of(record.key),
                occurred_at=record.occurred_at.isoformat(),
                amount=amount,
                original=original,
                conditions=record.get("conditions"),
                sources=tuple(sources_json(record.get("sources"))),
                withdrawn=record.event_id in book.ends,
                rejected_by=tuple(rejected_by.get(record.event_id, ())),
            )
        markers = _markers(book, chosen, offers)
        if len(book.parties) >= 2:
            p, q = book.parties[0], book.parties[1]
            pair = (p, q)
            for point in history(book.line(chosen, p), book.line(chosen, q)):
                gap_points.append(
                    GapPoint(
                        at=moment_of(point.key),
                        occurred_at=point.trigger.occurred_at.isoformat(),
                        gap=point.gap,
                        midpoint=metrics.midpoint(point.a, point.b),
                        positions={p: point.a, q: point.b},
                    )
                )
            headline = pair_metrics(book, chosen, p, q, today)
    amounts = [s.amount for ser in series for s in ser.steps if s.amount is not None]
    amounts += [o.amount for o in offers.values()] + [m.amount for m in markers]
    scale, scale_label = _scale_of(chosen, amounts)
    forecast = headline.get("forecast")

    def dec(name: str) -> Decimal | None:
        value = headline.get(name)
        return None if value is None else Decimal(value)

    return Dance(
        negotiation=stream.slug or "",
        title="" if opened is None else str(opened.get("title")),
        as_of=None if book.as_of is None else book.as_of.isoformat(),
        terms=book.terms,
        term=chosen,
        series=tuple(series),
        offers=tuple(offers.values()),
        markers=tuple(markers),
        pair=pair,
        gaps=tuple(gap_points),
        gap_open=headline.get("gap") is not None,
        current_gap=dec("gap"),
        closed_share=dec("closed_share"),
        initial_gap=dec("initial_gap"),
        forecast=None if forecast is None else date.fromisoformat(forecast),
        x_range=(x_low, x_high),
        y_range=_y_range(amounts),
        scale=scale,
        scale_label=scale_label,
        unconverted=tuple(unconverted),
    )


# ------------------------------------------------------------------ static rendering

# matplotlib's rcParams are process-global: one drawing at a time.
_RENDER_LOCK = threading.Lock()
ChartFormat = Literal["svg", "png"]


def step_xy(series: Series, x_end: datetime) -> tuple[list[datetime], list[float | None]]:
    """The step line's vertices (drawn steps-post), held to the right edge."""
    xs: list[datetime] = [s.at for s in series.steps]
    ys: list[Decimal | None] = [s.amount for s in series.steps]
    if xs and xs[-1] < x_end:
        xs.append(x_end)
        ys.append(ys[-1])
    return xs, [None if y is None else float(y) for y in ys]


def render(chart: Dance, fmt_: ChartFormat = "svg", *, width: float = 9.0) -> bytes:
    """The dance as a static picture: one step path per party (``<g id="dance-PARTY">``),
    the offers as points (``<g id="offers-PARTY">``), markers, the midpoint and an "as of"
    edge. The plot area is ``<g id="plot-area">``; its limits are ``x_range``/``y_range``.
    """
    import matplotlib
    from matplotlib import dates
    from matplotlib.figure import Figure

    mdates: Any = dates  # its locators and formatters are untyped
    rc: Any = {
        "svg.fonttype": "none",  # text stays text: smaller, selectable, searchable
        "svg.hashsalt": "parley",  # stable ids: the same data gives the same file
        "date.epoch": "1970-01-01T00:00:00",  # what day_number counts from
        "font.size": 9,
        "font.family": "DejaVu Sans",
        # Titles and names are the client's text: `$…$` is dollars, never TeX.
        "text.parse_math": False,
    }
    with _RENDER_LOCK, matplotlib.rc_context(rc):
        fig = Figure(figsize=(width, width * 0.55), layout="constrained")
        ax = fig.add_subplot()
        ax.patch.set_gid("plot-area")
        s = chart.scale
        x_low, x_high = chart.x_range
        if chart.as_of is not None:
            edge = moment_of(sort_key(parse_occurred_at(chart.as_of, "as_of")))
            ax.axvline(day_number(edge), color="#999999", linestyle=":", linewidth=1, gid="as-of")
        if chart.gaps:
            mid_x = [day_number(g.at) for g in chart.gaps]
            mid_y = [float(g.midpoint / s) for g in chart.gaps]
            if chart.gap_open:
                mid_x.append(day_number(x_high))
                mid_y.append(mid_y[-1])
            ax.plot(
                mid_x,
                mid_y,
                drawstyle="steps-post",
                color=MIDPOINT_COLOR,
                linestyle="--",
                linewidth=1,
                label="midpoint",
                gid="midpoint",
            )
        for series in chart.series:
            xs, ys = step_xy(series, x_high)
            values = [float("nan") if y is None else y / float(s) for y in ys]
            ax.plot(
                [day_number(x) for x in xs],
                values,
                drawstyle="steps-post",
                color=series.color,
                linewidth=2,
                label=f"{series.name} ({series.party})",
                gid=f"dance-{series.party}",
            )
            own = [o for o in chart.offers if o.party == series.party]
            if own:
                ax.plot(
                    [day_number(o.at) for o in own],
                    [chart.scaled(o.amount) for o in own],
                    linestyle="none",
                    marker="o",
                    markersize=6,
                    markerfacecolor=series.color,
                    markeredgecolor="white",
                    label=f"{series.party} offer",
                    gid=f"offers-{series.party}",
                )
        styles: dict[str, dict[str, Any]] = {
            "agreement": {"marker": "D", "color": "#009E73", "label": "agreement"},
            "agreement_rejected": {"marker": "X", "color": "#B00020", "label": "rejection"},
            "offer_rejected": {"marker": "X", "color": "#B00020", "label": "rejection"},
            "offer_withdrawn": {"marker": "x", "color": "#555555", "label": "withdrawal"},
        }
        labelled: set[str] = set()
        for kind, style in styles.items():
            chosen = [m for m in chart.markers if m.kind == kind]
            if not chosen:
                continue
            label = style["label"] if style["label"] not in labelled else None
            labelled.add(style["label"])
            ax.plot(
                [day_number(m.at) for m in chosen],
                [chart.scaled(m.amount) for m in chosen],
                linestyle="none",
                marker=style["marker"],
                markersize=8,
                color=style["color"],
                label=label,
                gid=f"markers-{kind}",
            )
        ax.set_xlim(day_number(x_low), day_number(x_high))
        ax.set_ylim(float(chart.y_range[0] / s), float(chart.y_range[1] / s))
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
        ax.grid(True, color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.set_ylabel(chart.y_title)
        ax.set_xlabel("when it occurred (UTC)")
        term_name = chart.term.name if chart.term else "no terms defined"
        when = f", as of {chart.as_of}" if chart.as_of else ""
        ax.set_title(f"{chart.title}\n{term_name}{when}", loc="left", fontsize=10)
        if chart.series:
            fig.legend(loc="outside lower center", ncols=4, fontsize=8, frameon=False)
        buffer = io.BytesIO()
        metadata = {"Date": None} if fmt_ == "svg" else None
        fig.savefig(buffer, format=fmt_, metadata=metadata, dpi=None if fmt_ == "svg" else 150)
    return buffer.getvalue()
