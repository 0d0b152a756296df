"""Positions: per term, per party, the standing value at a moment ``as_of``.

Reading of GAP-METRICS "Position", as implemented here:

- Everything follows ``occurred_at`` (a date sorts at 00:00 UTC), ties in recording order
  (version). ``as_of`` includes every event whose ``occurred_at`` is on or before it; a date
  includes its whole day (``end_of_key``). No ``as_of`` means everything on record.
- A retracted event counts nowhere, at any ``as_of``, whatever the retraction's own
  ``occurred_at``: the retraction corrects the record, it does not happen in the world. So a
  retracted withdrawal or rejection revives what it answered.
- Candidates for party P on term T: P's own ``offer_made`` events carrying T, and every
  ``agreement_reached`` carrying T (an agreement fixes every party at the agreed value).
  Offers without a value for T (undisclosed amounts) are not candidates, so they do not move
  the position. ``offer_rejected`` does not touch positions: only the offering party can take
  an offer off the table, by withdrawing it.
- A candidate is live at moment t when it occurred at or before t and no live withdrawal
  (offers) or rejection (agreements, by any party) occurred at or before t: withdrawals and
  rejections take effect from their own ``occurred_at``.
- The position at t is the live candidate latest by ``(occurred_at, version)``. When a
  withdrawal or rejection kills it, the position falls back to the latest one still live,
  or to none.
- Money in another ISO 4217 currency is converted to the term's unit at the latest rate on or
  before the candidate's own ``occurred_at`` (see ``metrics.convert``). Without one the value
  stays in its own unit (``value`` = ``original``) and gaps involving it are null.

A party's position *changes* at a moment when its standing amount (after conversion) differs
from the one just before: re-offering the same amount is not a change, though the newer
event becomes the standing one. Falling back to no position is a change; so is moving from
or to an amount that cannot be converted.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from domain.values import OccurredAt, Quantity, Term, end_of_key, is_currency, parse_occurred_at
from projections.metrics import Rate, Rates, convert, fmt
from projections.records import END_OF_TIME, Record, Stream, live_records


@dataclass(frozen=True)
class Standing:
    """A party's value on a term from one offer or agreement."""

    party: str
    term: Term
    record: Record
    via: str
    original: Quantity
    amount: Decimal | None
    """In the term's unit; None when no rate converts it."""
    reason: str | None = None

    @property
    def identity(self) -> tuple[Any, ...]:
        """What counts as "the same position": the amount in the term's unit."""
        if self.amount is not None:
            return ("amount", self.amount)
        return ("unconverted", self.original.amount, self.original.unit)

    @property
    def value(self) -> Quantity:
        if self.amount is None:
            return self.original
        return Quantity(self.amount, self.term.unit)


@dataclass(frozen=True)
class Change:
    """A party's position changed at ``key``; ``trigger`` is the event that changed it."""

    key: str
    trigger: Record
    standing: Standing | None


@dataclass(frozen=True)
class Line:
    """A party's positions on a term over time, up to ``as_of``."""

    changes: tuple[Change, ...]
    current: Standing | None
    steps: tuple[Change, ...] = ()
    """Every moment the standing offer or agreement changed (``changes`` and re-offers of the
    same amount): what the line is at any earlier moment (``up_to``)."""

    def up_to(self, key: str) -> Line:
        """The line as ``build_book`` makes it with an ``as_of`` whose end key is ``key``.

        Cutting the world at a moment keeps every candidate, end and trigger at or before it
        and changes nothing before it, so the cut line is a prefix of this one: found by
        bisection, not by folding again.
        """
        steps = self.steps[: bisect.bisect_right(self.steps, key, key=lambda c: c.key)]
        changes = self.changes[: bisect.bisect_right(self.changes, key, key=lambda c: c.key)]
        return Line(changes, steps[-1].standing if steps else None, steps)

    @property
    def moves(self) -> int:
        """How many times the position changed after it was first set."""
        return max(len(self.changes) - 1, 0)

    @property
    def last_move(self) -> Change | None:
        return self.changes[-1] if self.moves else None


@dataclass(frozen=True)
class Book:
    """What a negotiation's analytics need at one ``as_of``, gathered once per view."""

    slug: str | None
    as_of: OccurredAt | None
    as_of_key: str
    parties: tuple[str, ...]
    party_names: Mapping[str, str]
    terms: tuple[Term, ...]
    records: tuple[Record, ...]
    """Live records that occurred by ``as_of``, in world order."""
    ends: Mapping[str, Record]
    """Offer/agreement id -> the earliest live withdrawal/rejection by ``as_of``."""
    rates: Rates
    round_keys: tuple[str, ...]
    _lines: dict[tuple[str, str], Line] = field(default_factory=dict, compare=False)
    _offers: dict[tuple[str, str], list[Record]] = field(default_factory=dict, compare=False)
    _agreements: dict[str, list[Record]] = field(default_factory=dict, compare=False)
    _indexed: list[bool] = field(default_factory=list, compare=False)

    def candidate_records(self, term: str, party: str) -> list[Record]:
        """The party's offers carrying the term and every agreement carrying it, in world order.

        Indexed once per book: a line then costs its own records, not the negotiation's.
        """
        if not self._indexed:
            for r in self.records:
                if r.type == "agreement_reached":
                    for term_id in r.values:
                        self._agreements.setdefault(term_id, []).append(r)
                elif r.type == "offer_made" and r.party is not None:
                    for term_id in r.values:
                        self._offers.setdefault((term_id, r.party), []).append(r)
            self._indexed.append(True)
        own = self._offers.get((term, party), [])
        agreed = self._agreements.get(term, [])
        if not agreed:
            return own
        return list(heapq.merge(own, agreed, key=lambda r: r.order))

    def line(self, term: Term, party: str) -> Line:
        cached = self._lines.get((term.id, party))
        if cached is None:
            cached = _line(self, term, party)
            self._lines[(term.id, party)] = cached
        return cached


def parse_as_of(as_of: OccurredAt | str | None) -> OccurredAt | None:
    return None if as_of is None else parse_occurred_at(as_of, "as_of")


def format_at(at: OccurredAt | None) -> str | None:
    return None if at is None else at.isoformat()


def build_book(stream: Stream, as_of: OccurredAt | str | None = None) -> Book:
    moment = parse_as_of(as_of)
    as_of_key = END_OF_TIME if moment is None else end_of_key(moment)
    live = live_records(stream.records)
    # Definitions count whenever they occurred: a party's offers may be backfilled before
    # the date its joining was recorded with.
    parties: dict[str, str] = {}
    terms: dict[str, Term] = {}
    for record in live:
        if record.type == "party_joined":
            party = record.get("party")
            parties.setdefault(party.id, party.name)
        elif record.type == "term_defined":
            term = record.get("term")
            terms.setdefault(term.id, term)
    for record in live:
        if record.type == "offer_made" and record.party is not None:
            parties.setdefault(record.party, record.party)
    by_time = tuple(r for r in live if r.key <= as_of_key)
    ends: dict[str, Record] = {}
    for record in by_time:
        if record.type in ("offer_withdrawn", "agreement_rejected") and record.target:
            ends.setdefault(record.target, record)  # world order: the first one counts
    rates = Rates(
        Rate(r.key, r.version, r.get("base"), r.get("quote"), r.get("rate"))
        for r in live
        if r.type == "exchange_rate_recorded"
    )
    return Book(
        slug=stream.slug,
        as_of=moment,
        as_of_key=as_of_key,
        parties=tuple(parties),
        party_names=parties,
        terms=tuple(terms.values()),
        records=by_time,
        ends=ends,
        rates=rates,
        round_keys=tuple(r.key for r in by_time if r.type == "round_held"),
    )


def _standing(book: Book, term: Term, party: str, record: Record) -> Standing:
    original = record.values[term.id]
    via = "agreement" if record.type == "agreement_reached" else "offer"
    amount: Decimal | None
    reason = None
    if original.unit == term.unit:
        amount = original.amount
    elif is_currency(original.unit) and is_currency(term.unit):
        amount = convert(original.amount, original.unit, term.unit, book.rates, record.key)
        if amount is None:
            reason = (
                f"no exchange rate between {original.unit} and {term.unit} on or before "
                f"{record.occurred_at.isoformat()} converts {party}'s position"
            )
    else:
        amount = None
        reason = f"{original.unit} does not convert to {term.unit}"
    return Standing(party, term, record, via, original, amount, reason)


def _candidates(book: Book, term: Term, party: str) -> list[Standing]:
    return [_standing(book, term, party, r) for r in book.candidate_records(term.id, party)]


def _line(book: Book, term: Term, party: str) -> Line:
    """Sweeps the moments where a candidate starts or ends, keeping only real changes."""
    candidates = _candidates(book, term, party)  # already in world order
    triggers: dict[str, Record] = {}
    for c in candidates:
        _note_trigger(triggers, c.record)
        end = book.ends.get(c.record.event_id)
        if end is not None:
            _note_trigger(triggers, end)
    changes: list[Change] = []
    steps: list[Change] = []
    started: list[Standing] = []
    standing: Standing | None = None
    previous: tuple[Any, ...] | None = None
    i = 0
    for key in sorted(triggers):
        while i < len(candidates) and candidates[i].record.key <= key:
            started.append(candidates[i])
            i += 1
        # `started` is in world order, so its top is the latest; an ended candidate never
        # comes back, so popping it for good is safe.
        while started and _ended(book, started[-1], key):
            started.pop()
        before = standing
        standing = started[-1] if started else None
        if standing is not before:
            steps.append(Change(key, triggers[key], standing))
        identity = None if standing is None else standing.identity
        if identity != previous:
            changes.append(Change(key, triggers[key], standing))
            previous = identity
    return Line(tuple(changes), standing, tuple(steps))


def _note_trigger(triggers: dict[str, Record], record: Record) -> None:
    known = triggers.get(record.key)
    if known is None or known.version < record.version:
        triggers[record.key] = record


def _ended(book: Book, standing: Standing, key: str) -> bool:
    end = book.ends.get(standing.record.event_id)
    return end is not None and end.key <= key


def quantity_json(quantity: Quantity) -> dict[str, Any]:
    return {"amount": fmt(quantity.amount), "unit": quantity.unit}


def position_entry(party: str, standing: Standing) -> dict[str, Any]:
    """A party's entry of ``/positions`` on a term."""
    return {
        "party": party,
        "value": quantity_json(standing.value),
        "original": quantity_json(standing.original),
        "event_id": standing.record.event_id,
        "at": standing.record.occurred_at.isoformat(),
        "via": standing.via,
    }


def positions_of(book: Book) -> list[dict[str, Any]]:
    terms = []
    for term in book.terms:
        entries = []
        for party in book.parties:
            standing = book.line(term, party).current
            if standing is None:
                continue
            entries.append(position_entry(party, standing))
        terms.append({"term": term.id, "unit": term.unit, "positions": entries})
    return terms


def positions(stream: Stream, *, as_of: OccurredAt | str | None = None) -> dict[str, Any]:
    """The ``/positions`` document."""
    book = build_book(stream, as_of)
    return {
        "negotiation": book.slug,
        "as_of": format_at(book.as_of),
        "terms": positions_of(book),
    }
