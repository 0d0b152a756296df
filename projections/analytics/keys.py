"""The analytics view's keys and the JSON of what they hold: records, tips, pair rows, the ``Space``."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.values import Term, parse_occurred_at
from projections.gaps import Point, history
from projections.jsontext import compact
from projections.positions import Book, Line, Standing
from projections.records import Record
from projections.rows import fields_from_payload

LINE_TYPES = frozenset({"offer_made", "offer_withdrawn"})
"""Records kept in lines; every other analytic record is a shaping one, kept in ``meta``."""
ANALYTIC_TYPES = frozenset(
    {
        "negotiation_opened",
        "party_joined",
        "term_defined",
        "offer_made",
        "offer_withdrawn",
        "agreement_reached",
        "agreement_rejected",
        "exchange_rate_recorded",
        "round_held",
        "event_retracted",
    }
)
"""What positions and gaps read (``build_book``); statements, calls, notes… change nothing."""
RESHAPING_TYPES = frozenset(
    {"negotiation_opened", "party_joined", "term_defined", "exchange_rate_recorded"}
)
REFERENCE_DAY = date(2000, 1, 1)
"""The ``today`` the runner computes with: the two clock-dependent counts are set at read."""
FORMAT = 3
"""In ``order``: the layout of the keys (a negotiation stored in another is recomputed).
3: with the step rows of ``projections.series``, which the ``as_of`` reads need."""
TAIL = 5
"""History points a pair's tip keeps (the forecast reads three; the rest covers removals)."""


HEADLINE_FIELDS = (
    "parties",
    "positions",
    "gap",
    "midpoint",
    "relative_gap",
    "ratio",
    "initial_gap",
    "initial_at",
    "closed_share",
    "reason",
)
"""A pair's headline: what the summary and the list show (nothing that moves with the clock)."""


class Space(Protocol):
    """One negotiation's keys in the analytics view, inside a write transaction."""

    def get(self, keys: Sequence[str]) -> dict[str, str]: ...

    def scan(self, prefix: str) -> list[tuple[str, str]]: ...

    def put(self, items: Mapping[str, str]) -> None: ...

    def delete(self, keys: Sequence[str]) -> None: ...

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        """Rows with ``low <= key <= high`` by key (``last``: only the last of them)."""
        ...


class Buffered:
    """A ``Space`` whose writes wait, merged by key (the last value wins), until a read.

    A fold puts a row or two per event (its line rows, its ``ref``) and more at the end; one
    ``put`` per batch instead of one per event spares a large batch (a rebuild's) a statement
    per row. Every read (and ``flush``) writes what waits first, so reads see every write; a
    delete drops what waits under its keys, then deletes: the rows end as written in order.
    """

    def __init__(self, space: Space) -> None:
        self.space = space
        self.pending: dict[str, str] = {}

    def flush(self) -> None:
        if self.pending:
            pending, self.pending = self.pending, {}
            self.space.put(pending)

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        self.flush()
        return self.space.get(keys)

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        self.flush()
        return self.space.scan(prefix)

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        self.flush()
        return self.space.range(low, high, last=last)

    def put(self, items: Mapping[str, str]) -> None:
        self.pending.update(items)

    def delete(self, keys: Sequence[str]) -> None:
        if not keys:
            return
        for key in keys:
            self.pending.pop(key, None)
        self.space.delete(keys)


dumps = compact
"""Every body's JSON text (orjson: see ``projections.jsontext``)."""


def record_json(row: Any) -> dict[str, Any]:
    """What the analytics keep of an events-view row: enough to rebuild its ``Record``."""
    return {
        "t": row.type,
        "id": row.event_id,
        "v": row.version,
        "o": row.occurred_at,
        "r": row.recorded_at.isoformat(),
        "b": row.recorded_by,
        "p": row.payload,
    }


def record_of(data: Mapping[str, Any]) -> Record:
    return Record(
        type=data["t"],
        event_id=data["id"],
        version=data["v"],
        occurred_at=parse_occurred_at(data["o"]),
        recorded_at=datetime.fromisoformat(data["r"]),
        recorded_by=data["b"],
        fields=fields_from_payload(data["p"]),
    )


_PARSED: dict[str, Record] = {}
PARSED_CACHE_SIZE = 20_000
"""Line rows parsed lately, by their text: a refold reads the same rows batch after batch."""


def line_record(text: str, data: Mapping[str, Any] | None = None) -> Record:
    """The record of a line row's text (rows never change: a text is always the same record).

    ``data``: what the text encodes, when the caller has it (no need to parse the text).
    """
    found = _PARSED.get(text)
    if found is None:
        if len(_PARSED) >= PARSED_CACHE_SIZE:
            _PARSED.clear()
        found = _PARSED[text] = record_of(json.loads(text) if data is None else data)
    return found


def line_key(term: str, party: str) -> str:
    return f"line/{term}/{party}"


def line_row_key(term: str, party: str, version: int) -> str:
    return f"line/{term}/{party}/{version:010d}"


def tip_key(term: str, party: str) -> str:
    return f"tip/{term}/{party}"


def sorted_positions(positions: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """The ``positions`` row in one order whichever batches made it."""
    return {t: {p: positions[t][p] for p in sorted(positions[t])} for t in sorted(positions)}


# ----------------------------------------------------------------- tips

Identity = list[str] | None
"""A standing's identity as JSON: ``["a", amount]``, ``["u", amount, unit]`` or None."""


def identity_json(standing: Standing | None) -> Identity:
    if standing is None:
        return None
    if standing.amount is not None:
        return ["a", str(standing.amount)]
    return ["u", str(standing.original.amount), standing.original.unit]


def same_identity(x: Identity, y: Identity) -> bool:
    """As ``Standing.identity`` compares: amounts by value."""
    if x is None or y is None:
        return x is y
    return x[0] == y[0] and Decimal(x[1]) == Decimal(y[1]) and x[2:] == y[2:]


def change_json(key: str, at: str, standing: Standing | None) -> list[Any]:
    """``[moment, trigger's occurred_at, amount or None, identity]``."""
    amount = None if standing is None or standing.amount is None else str(standing.amount)
    return [key, at, amount, identity_json(standing)]


def line_tip(book: Book, term: Term, party: str) -> dict[str, Any]:
    """What the end of a line says: enough to append an offer after it without the line."""
    line = book.line(term, party)
    keys = []
    for record in book.candidate_records(term.id, party):
        keys.append(record.key)
        end = book.ends.get(record.event_id)
        if end is not None:
            keys.append(end.key)
    last = max(keys) if keys else None
    earlier = [c for c in line.changes if last is not None and c.key < last]
    current = line.current
    return {
        "last": last,
        "before": identity_json(earlier[-1].standing) if earlier else None,
        "cur": None
        if current is None
        else [None if current.amount is None else str(current.amount), current.reason],
        "n": len(line.changes),
        "lc": [
            change_json(c.key, c.trigger.occurred_at.isoformat(), c.standing)
            for c in line.changes[-2:]
        ],
    }


def point_json(point: Point) -> list[str]:
    return [point.key, point.trigger.occurred_at.isoformat(), str(point.a), str(point.b)]


def pair_tip(line_p: Line, line_q: Line) -> dict[str, Any]:
    points = history(line_p, line_q)
    return {
        "n": len(points),
        "first": point_json(points[0]) if points else None,
        "tail": [point_json(point) for point in points[-TAIL:]],
    }


def pair_key(kind: str, term: str, p: str, q: str) -> str:
    return f"{kind}/{term}/{p}/{q}"
