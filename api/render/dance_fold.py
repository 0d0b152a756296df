"""The fold of a chart: one negotiation's stream at a moment into the :class:`Dance` of one term."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from api.render.charts import (
    PALETTE,
    Dance,
    GapPoint,
    Marker,
    MarkerKind,
    OfferPoint,
    Series,
    Step,
    UnknownTerm,
    amount_text,
    moment_of,
    sources_json,
)
from domain.values import OccurredAt, Quantity, Term, is_currency, sort_key
from projections import metrics
from projections.gaps import history, pair_metrics
from projections.positions import Book, build_book
from projections.records import Record, Stream

SCALES = (
    (Decimal(10) ** 12, "trillions"),
    (Decimal(10) ** 9, "billions"),
    (Decimal(10) ** 6, "millions"),
)

#: The x range's bounds, naive UTC as every x: the first and last moments of the calendar.
FIRST_X = datetime(1, 1, 1, tzinfo=UTC).replace(tzinfo=None)
LAST_X = datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC).replace(tzinfo=None)


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


def _marker_of(
    record: Record,
    kind: MarkerKind,
    amount: Decimal,
    label: str,
    *,
    party: str | None,
    target: str | None = None,
    rejected: bool = False,
) -> Marker:
    """A marker at ``record``: its event, moment and sources, with what it marks."""
    return Marker(
        kind=kind,
        event_id=record.event_id,
        at=moment_of(record.key),
        occurred_at=record.occurred_at.isoformat(),
        amount=amount,
        label=label,
        party=party,
        sources=tuple(sources_json(record.get("sources"))),
        target=target,
        rejected=rejected,
    )


def _markers(book: Book, term: Term, offers: Mapping[str, OfferPoint]) -> list[Marker]:
    agreements: dict[str, tuple[Record, Decimal]] = {}
    found: list[Marker] = []
    for record in book.records:
        if record.type == "agreement_reached" and term.id in record.values:
            amount = _in_term_unit(book, term, record.values[term.id], record.key)
            if amount is None:
                continue
            agreements[record.event_id] = (record, amount)
            label = f"{record.get('status')} agreement: {amount_text(record.values[term.id])}"
            found.append(
                _marker_of(
                    record,
                    "agreement",
                    amount,
                    label,
                    party=None,
                    rejected=record.event_id in book.ends,
                )
            )
        elif record.type == "agreement_rejected" and record.target in agreements:
            _, amount = agreements[record.target]
            reason = record.get("reason")
            label = f"{record.party} rejected the agreement" + (f": {reason}" if reason else "")
            found.append(
                _marker_of(
                    record,
                    "agreement_rejected",
                    amount,
                    label,
                    party=record.party,
                    target=record.target,
                )
            )
        elif record.type in ("offer_rejected", "offer_withdrawn") and record.target in offers:
            offer = offers[str(record.target)]
            rejected = record.type == "offer_rejected"
            verb = "rejected" if rejected else "withdrew"
            label = (
                f"{record.party} {verb} {offer.party}'s {offer.kind.replace('_', ' ')} "
                f"of {amount_text(offer.original)}"
            )
            found.append(
                _marker_of(
                    record,
                    "offer_rejected" if rejected else "offer_withdrawn",
                    offer.amount,
                    label,
                    party=record.party,
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
