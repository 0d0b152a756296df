"""Materialised analytics per negotiation: the pure folds' output, kept up to date per batch.

The state of one negotiation lives in a small key-value space (``Space``), which a view
backend keeps in a table (``projections.views.analytics``) written in the same transaction
as its tracking row. Keys:

- ``meta``: the *shaping* records (opening, parties, terms, agreements and their
  rejections, rates, rounds, retractions): few, and every line needs them.
- ``line/<term>/<party>/<version>``: the records of one party's position line on a term, a
  row each (appended, never rewritten): its offers carrying the term and the withdrawals of
  those offers.
- ``tip/<term>/<party>``: where the line stands at its end (``line_tip``): its last trigger
  moment, the position before it, the current one and its last two changes.
- ``pt/<term>/<p>/<q>``: a pair's history in brief (``pair_tip``): how many points, the
  first and the last few.
- ``ref/<event id>``: the lines an offer or a withdrawal sits in (what a withdrawal or a
  retraction of it changes).
- ``positions``: ``{term: {party: entry}}``, the ``/positions`` entries.
- ``gap/<term>/<p>/<q>`` and ``hist/<term>/<p>/<q>``: a pair's ``/gaps`` entry (with what
  the read needs to work out the two clock-dependent counts) and its history, as JSON text.

A batch recomputes only the lines its events touch (an offer: its party's lines on its
terms; a withdrawal: the offer's; an agreement: its terms' lines) and the pairs on those
terms that involve those parties, by building a ``Book`` of the meta records and the
loaded lines and asking the pure folds (``positions``, ``gaps``) for them. Events that
reshape the negotiation (a party joins, a term or a rate is recorded, a shaping record is
retracted) recompute every line. So the stored state is the folds' output by construction;
``tests/properties`` check it against folding from scratch.

The common case costs O(1) per event instead of O(line) (``_extend``): a batch of offers
from joined parties, in their terms' units, each at or after every moment already on its
terms. Such an offer only appends to the end of its lines and their pairs' histories, so
the tips say everything the new entries need (the same numbers the folds give: the
property tests mix both paths). Anything else takes the fold.
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from itertools import combinations
from typing import Any, Protocol

from domain.values import Term, parse_occurred_at, sort_key
from projections import metrics
from projections.gaps import Point, history, pair_metrics
from projections.jsontext import compact
from projections.metrics import fmt
from projections.positions import Book, Line, Standing, build_book, quantity_json
from projections.records import Record, Stream, rebuild
from projections.rows import fields_from_payload
from projections.series import drop_other_lines, offer_step, write_steps

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


_dumps = compact
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


class _State:
    """One negotiation's state while a batch is folded into it."""

    def __init__(self, space: Space, found: Mapping[str, str] | None = None) -> None:
        self.space = space
        if found is None:
            found = space.get(["meta", "positions"])
        if "meta" not in found:
            found = {**found, **space.get(["meta"])}
        self.meta: list[dict[str, Any]] = json.loads(found.get("meta", "[]"))
        self.positions: dict[str, dict[str, Any]] = json.loads(found.get("positions", "{}"))
        self.lines: dict[tuple[str, str], list[Record]] = {}
        self.refs: dict[str, list[list[str]]] = {}
        self.changed: set[tuple[str, str]] = set()
        """Lines whose position may have changed: their pairs are recomputed."""
        self.full = False
        self.meta_dirty = False
        self.since = ""
        """The earliest moment the batch touches: no step of a line before it changes."""
        self._shaping: tuple[list[str], list[str]] | None = None

    # ---------------------------------------------------------------- loading

    def load_lines(self, keys: Iterable[tuple[str, str]]) -> None:
        wanted = [k for k in keys if k not in self.lines]
        if not wanted:
            return
        by_term: dict[str, set[str]] = {}
        for term, party in wanted:
            by_term.setdefault(term, set()).add(party)
        for term, parties in by_term.items():
            found: dict[str, list[Record]] = {p: [] for p in parties}
            if len(parties) == 1:
                (party,) = parties
                rows = self.space.scan(f"{line_key(term, party)}/")
            else:
                rows = self.space.scan(f"line/{term}/")
            for key, text in rows:
                parts = key.split("/")
                if len(parts) == 4 and parts[2] in found:  # (older rows: see load_all_lines)
                    found[parts[2]].append(line_record(text))
            for party, records in found.items():
                self.lines[term, party] = records

    def load_all_lines(self) -> None:
        """Every line anew (a whole line in one row, as an older layout kept it, is split)."""
        legacy: dict[str, str] = {}
        for key, text in self.space.scan("line/"):
            parts = key.split("/")
            if len(parts) == 3:
                for data in json.loads(text):
                    legacy[line_row_key(parts[1], parts[2], data["v"])] = _dumps(data)
                self.space.delete([key])
        self.space.put(legacy)
        self.lines = {}
        for key, text in self.space.scan("line/"):
            _, term, party, _ = key.split("/")
            self.lines.setdefault((term, party), []).append(line_record(text))

    def refs_of(self, event_id: str) -> list[list[str]] | None:
        if event_id not in self.refs:
            text = self.space.get([f"ref/{event_id}"]).get(f"ref/{event_id}")
            if text is None:
                return None
            self.refs[event_id] = json.loads(text)
        return self.refs[event_id]

    # ---------------------------------------------------------------- folding

    def shaping(self) -> tuple[list[str], list[str]]:
        """Live joined party ids and defined term ids (any order)."""
        if self._shaping is None:
            self._shaping = self._shape()
        return self._shaping

    def _shape(self) -> tuple[list[str], list[str]]:
        gone = {m["p"]["retracted_event_id"] for m in self.meta if m["t"] == "event_retracted"}
        live = [m for m in self.meta if m["id"] not in gone]
        parties = [m["p"]["party"]["id"] for m in live if m["t"] == "party_joined"]
        terms = [m["p"]["term"]["id"] for m in live if m["t"] == "term_defined"]
        return parties, terms

    def add(self, data: dict[str, Any]) -> None:
        kind = data["t"]
        payload = data["p"]
        if kind == "offer_made":
            party = payload.get("party")
            lines = [[term, party] for term in payload.get("values") or {}]
            self.refs[data["id"]] = lines
            self.space.put({f"ref/{data['id']}": _dumps(lines)})
            if party not in self.shaping()[0]:
                self.full = True  # an offer from a party that never joined: it joins the pairs
            self._into_lines(lines, data)
        elif kind == "offer_withdrawn":
            lines = self.refs_of(payload["offer_event_id"]) or []
            self.refs[data["id"]] = lines
            self.space.put({f"ref/{data['id']}": _dumps(lines)})
            self._into_lines(lines, data)
        else:
            self.meta.append(data)
            self.meta_dirty = True
            self._shaping = None
            if kind in RESHAPING_TYPES:
                self.full = True
            elif kind == "agreement_reached":
                self._touch_terms(payload.get("values") or {})
            elif kind == "agreement_rejected":
                target = next(
                    (m for m in self.meta if m["id"] == payload.get("agreement_event_id")), None
                )
                self._touch_terms({} if target is None else target["p"].get("values") or {})
            elif kind == "event_retracted":
                self.since = ""  # what it revives or removes may lie anywhere in the lines
                reach = self.refs_of(payload["retracted_event_id"])
                if reach is None:
                    self.full = True  # a shaping record: its reach is the whole negotiation
                else:
                    self.load_lines((t, p) for t, p in reach)
                    self.changed.update((t, p) for t, p in reach)

    def _into_lines(self, lines: list[list[str]], data: dict[str, Any]) -> None:
        keys = [(t, p) for t, p in lines]
        self.load_lines(keys)
        text = _dumps(data)
        record = line_record(text, data)
        for key in keys:
            self.lines[key].append(record)
            self.space.put({line_row_key(*key, data["v"]): text})
            self.changed.add(key)

    def _touch_terms(self, values: Mapping[str, Any]) -> None:
        # Every party's line on those terms: finish() loads the partners' lines anyway.
        for term in values:
            self.changed.update((term, party) for party in self.shaping()[0])

    # ---------------------------------------------------------------- output

    def book(self) -> Book:
        records: list[Record] = [record_of(m) for m in self.meta]
        for line in self.lines.values():
            records.extend(line)
        return build_book(rebuild(records))

    def finish(self) -> None:
        order = json.loads(self.space.get(["order"]).get("order", "{}"))
        if order.get("offer_only"):
            self.full = True  # the party order depends on offers in every line
        if order.get("v") != FORMAT:
            self.full = True  # stored in another layout (or new): every key anew
        if self.full:
            self.load_all_lines()
        book = self.book()
        parties = list(book.parties)
        terms = {t.id: t for t in book.terms}
        if self.full:
            changed = {(t, p) for t in terms for p in parties}
            self.positions = {}
            stale = [
                k for kind in ("gap/", "hist/", "pt/", "tip/") for k, _ in self.space.scan(kind)
            ]
            self.space.delete(stale)
        else:
            changed = {(t, p) for t, p in self.changed if t in terms and p in parties}
        # The partners' lines are needed for the pairs: load them, then build again.
        partners = {(t, q) for t, _ in changed for q in parties}
        if not partners <= set(self.lines):
            self.load_lines(partners)
            book = self.book()
        write_steps(
            self.space,
            {(t, p): book.line(terms[t], p) for t, p in sorted(changed)},
            "" if self.full else self.since,
        )
        if self.full:
            drop_other_lines(self.space, changed)
        for term_id, party in sorted(changed):
            standing = book.line(terms[term_id], party).current
            entries = self.positions.setdefault(term_id, {})
            if standing is None:
                entries.pop(party, None)
            else:
                entries[party] = {
                    "party": party,
                    "value": quantity_json(standing.value),
                    "original": quantity_json(standing.original),
                    "event_id": standing.record.event_id,
                    "at": standing.record.occurred_at.isoformat(),
                    "via": standing.via,
                }
        writes: dict[str, str] = {}
        gone: list[str] = []
        for term_id in sorted({t for t, _ in changed}):
            moved = {p for t, p in changed if t == term_id}
            term = terms[term_id]
            for party in parties:
                writes[tip_key(term_id, party)] = _dumps(line_tip(book, term, party))
            for p, q in combinations(parties, 2):
                if p in moved or q in moved:
                    line_p, line_q = book.line(term, p), book.line(term, q)
                    if line_p.changes or line_q.changes:
                        writes.update(_pair_rows(book, term, p, q))
                        writes[pair_key("pt", term_id, p, q)] = _dumps(pair_tip(line_p, line_q))
                    elif not self.full:
                        # Neither ever had a position: the read makes the entry (it costs a
                        # 150-party negotiation's opening nothing to store).
                        gone.extend(pair_key(k, term_id, p, q) for k in ("gap", "hist", "pt"))
        writes["positions"] = _dumps(sorted_positions(self.positions))
        terms_order = [(t.id, t.unit) for t in book.terms]
        writes["headline"] = _dumps(headline(self.space, terms_order, parties, writes, gone))
        joined = set(self.shaping()[0])
        writes["order"] = _dumps(
            {
                "slug": book.slug,
                "parties": parties,
                "terms": [{"id": t.id, "name": t.name, "unit": t.unit} for t in book.terms],
                "rounds": list(book.round_keys),
                "offer_only": [p for p in parties if p not in joined] or order.get("offer_only"),
                "v": FORMAT,
            }
        )
        if self.meta_dirty:
            writes["meta"] = _dumps(self.meta)
        self.space.delete([k for k in gone if k not in writes])
        self.space.put(writes)


def headline(
    space: Space,
    terms: Sequence[tuple[str, str]],
    parties: Sequence[str],
    writes: Mapping[str, str],
    gone: Sequence[str] = (),
) -> list[dict[str, Any]]:
    """Per term, the headline of its first pair (the first two parties): what the list shows."""
    if len(parties) < 2:
        return [{"term": t, "unit": unit, "pairs": []} for t, unit in terms]
    p, q = parties[0], parties[1]
    keys = [pair_key("gap", t, p, q) for t, _ in terms]
    # A pair row about to be deleted is stale: the read would make the empty entry.
    found = space.get([k for k in keys if k not in writes and k not in gone])
    out = []
    for (term, unit), key in zip(terms, keys, strict=True):
        text = writes.get(key) or found.get(key) or empty_pair_rows(term, p, q)[0]
        entry = json.loads(text)
        pairs = [{name: entry[name] for name in HEADLINE_FIELDS}]
        out.append({"term": term, "unit": unit, "pairs": pairs})
    return out


def empty_pair_rows(term_id: str, p: str, q: str) -> tuple[str, str]:
    """The stored rows of a pair where neither party ever had a position on the term."""
    rows = _pair_rows(build_book(Stream()), Term(term_id, term_id, ""), p, q)
    return rows[pair_key("gap", term_id, p, q)], rows[pair_key("hist", term_id, p, q)]


def _pair_rows(book: Book, term: Any, p: str, q: str) -> dict[str, str]:
    entry = pair_metrics(book, term, p, q, REFERENCE_DAY)
    history = entry.pop("history")
    entry.pop("days_since_last_move")
    entry.pop("rounds_since_last_move")
    # What the read needs for the two counts that move with the clock and the rounds.
    last = history[-1]["at"] if history and entry["reason"] is None else None
    entry["_last"] = None if last is None else sort_key(parse_occurred_at(last))
    return {
        pair_key("gap", term.id, p, q): _dumps(entry),
        pair_key("hist", term.id, p, q): _dumps(history),
    }


def apply_batch(space: Space, rows: Sequence[Any]) -> None:
    """Folds one negotiation's rows (in log order) into its stored analytics.

    The offers after the batch's last other record are applied after the rest, as a batch of
    their own (as if the log had been read in two batches): the O(1) path may take them. So
    a batch that opens a negotiation and carries its first thousand offers folds only the
    opening.
    """
    analytic = [r for r in rows if r.type in ANALYTIC_TYPES]
    cut = len(analytic)
    while cut and analytic[cut - 1].type == "offer_made":
        cut -= 1
    if 0 < cut < len(analytic):
        _apply(space, analytic[:cut])
        _apply(space, analytic[cut:])
    elif analytic:
        _apply(space, analytic)


def _apply(space: Space, rows: Sequence[Any]) -> None:
    chosen = [record_json(r) for r in rows]
    offers = all(d["t"] == "offer_made" for d in chosen)
    # The meta records only the fold reads (the O(1) path does not).
    found = space.get(["positions", "order"] if offers else ["meta", "positions", "order"])
    if offers and _extend(space, found, chosen):
        return
    buffered = Buffered(space)
    state = _State(buffered, found)
    state.since = min(r.sort_key for r in rows)
    for data in chosen:
        state.add(data)
    state.finish()
    buffered.flush()


# ------------------------------------------------------------- the O(1) path


class _Fallback(Exception):
    """The batch is not one ``_extend`` can apply: the fold takes it."""


def _extend(space: Space, found: Mapping[str, str], offers: Sequence[dict[str, Any]]) -> bool:
    """Applies a batch of offers that only append at the end of their lines, or returns False.

    Nothing is written unless the whole batch qualifies (see the module's docstring).
    """
    try:
        writes = _Extension(space, found).apply(offers)
    except _Fallback:
        return False
    space.put(writes)
    return True


class _Extension:
    def __init__(self, space: Space, found: Mapping[str, str]) -> None:
        if "order" not in found:
            raise _Fallback
        order = json.loads(found["order"])
        if order.get("v") != FORMAT or order.get("offer_only"):
            raise _Fallback
        self.space = space
        self.order = order
        self.parties: list[str] = order["parties"]
        self.units = {t["id"]: t["unit"] for t in order["terms"]}
        self.positions: dict[str, dict[str, Any]] = json.loads(found.get("positions", "{}"))
        self.tips: dict[str, dict[str, dict[str, Any]]] = {}
        self.pairs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.hist: dict[tuple[str, str, str], _History] = {}
        """Histories that change (or are new): each is read only then, and rewritten."""
        self.writes: dict[str, str] = {}

    def tips_of(self, term: str) -> dict[str, dict[str, Any]]:
        if term not in self.tips:
            found = {k.split("/")[2]: json.loads(v) for k, v in self.space.scan(f"tip/{term}/")}
            if set(found) != set(self.parties):
                raise _Fallback
            self.tips[term] = found
        return self.tips[term]

    def pair_of(self, term: str, p: str, q: str) -> dict[str, Any]:
        if (term, p, q) not in self.pairs:
            key = pair_key("pt", term, p, q)
            found = self.space.get([key]).get(key)
            if found is None:  # not stored: neither had a position; its rows are new
                self.pairs[term, p, q] = {"n": 0, "first": None, "tail": []}
                self.hist[term, p, q] = _History("[]")
            else:
                self.pairs[term, p, q] = json.loads(found)
        return self.pairs[term, p, q]

    def hist_of(self, term: str, p: str, q: str) -> _History:
        if (term, p, q) not in self.hist:
            key = pair_key("hist", term, p, q)
            self.hist[term, p, q] = _History(self.space.get([key]).get(key, "[]"))
        return self.hist[term, p, q]

    def apply(self, offers: Sequence[dict[str, Any]]) -> dict[str, str]:
        dirty: set[tuple[str, str, str]] = set()
        for data in offers:
            payload = data["p"]
            party = payload.get("party")
            if party not in self.parties:
                raise _Fallback
            values = payload.get("values") or {}
            lines = [[term, party] for term in values]
            self.writes[f"ref/{data['id']}"] = _dumps(lines)
            text = _dumps(data)
            occurred = parse_occurred_at(data["o"])
            moment = (sort_key(occurred), occurred.isoformat())
            for term, quantity in values.items():
                if self.units.get(term) != quantity["unit"]:
                    raise _Fallback  # another unit converts at a rate: the fold does that
                amount = Decimal(str(quantity["amount"]))
                dirty.update(self.offer(data, moment, term, party, amount))
                self.writes[line_row_key(term, party, data["v"])] = text
                # At the end of the term's time the offer is the line's standing from its
                # moment on: its step row is the one the fold would write (or rewrite).
                self.writes.update(offer_step(data, term, party, amount, self.units[term], moment))
        for term, p, q in sorted(dirty):
            self.writes.update(self.entry(term, p, q))
        for term, tips in self.tips.items():
            self.writes.update({tip_key(term, party): _dumps(tip) for party, tip in tips.items()})
        self.writes["positions"] = _dumps(sorted_positions(self.positions))
        terms = [(t["id"], t["unit"]) for t in self.order["terms"]]
        self.writes["headline"] = _dumps(headline(self.space, terms, self.parties, self.writes))
        return self.writes

    def offer(
        self,
        data: dict[str, Any],
        moment: tuple[str, str],
        term: str,
        party: str,
        amount: Decimal,
    ) -> list[tuple[str, str, str]]:
        """Moves the party's line on the term to the offer; returns the pairs it touches.

        ``moment``: the offer's sort key and its ``occurred_at`` as ISO text.
        """
        tips = self.tips_of(term)
        key, at = moment
        if any(t["last"] is not None and t["last"] > key for t in tips.values()):
            raise _Fallback  # not at the end of the term's time: the fold places it
        tip = tips[party]
        changes: list[list[Any]] = tip["lc"]
        identity: Identity = ["a", str(amount)]
        if tip["last"] is None or key > tip["last"]:
            before = changes[-1][3] if changes else None
            removed = False
        else:  # the same moment as the line's last trigger: its change there is decided anew
            before = tip["before"]
            removed = bool(changes) and changes[-1][0] == key
        added = not same_identity(identity, before)
        n = tip["n"]
        if removed:
            changes = changes[:-1]
            n -= 1
        if added:
            changes = [*changes, [key, at, str(amount), identity]][-2:]
            n += 1
        if len(changes) != min(n, 2):
            raise _Fallback  # a change before the one removed is not kept here: the fold has it
        tips[party] = {
            "last": key,
            "before": before,
            "cur": [str(amount), None],
            "n": n,
            "lc": changes,
        }
        self.positions.setdefault(term, {})[party] = {
            "party": party,
            "value": {"amount": fmt(amount), "unit": self.units[term]},
            "original": {"amount": fmt(amount), "unit": self.units[term]},
            "event_id": data["id"],
            "at": at,
            "via": "offer",
        }
        touched = []
        for other in self.parties:
            if other == party:
                continue
            p, q = (
                (party, other)
                if self.parties.index(party) < self.parties.index(other)
                else (other, party)
            )
            self.point(term, p, q, key, at if added else None)
            touched.append((term, p, q))
        return touched

    def point(self, term: str, p: str, q: str, key: str, added_at: str | None) -> None:
        """The pair's history after a change at ``key`` (the latest moment on the term)."""
        tips = self.tips[term]
        pair = self.pair_of(term, p, q)
        n, tail, first = pair["n"], list(pair["tail"]), pair["first"]
        if tail and tail[-1][0] == key:  # that moment's point is made anew
            tail.pop()
            n -= 1
            self.hist_of(term, p, q).drop_last(empty=n == 0)
            if n == 0:
                first = None
        changed_here = [
            (party, tips[party]["lc"][-1][1])
            for party in (p, q)
            if tips[party]["lc"] and tips[party]["lc"][-1][0] == key
        ]
        if changed_here:
            a = tips[p]["lc"][-1][2] if tips[p]["lc"] else None
            b = tips[q]["lc"][-1][2] if tips[q]["lc"] else None
            if a is not None and b is not None:
                # The latest-recorded change of that moment names it: the new offer if it
                # made one, else the other party's.
                at = added_at if added_at is not None else changed_here[0][1]
                point = [key, at, a, b]
                tail = [*tail, point][-TAIL:]
                n += 1
                if first is None:
                    first = point
                self.hist_of(term, p, q).items.append(_dumps(_history_item(point, p, q)))
        if len(tail) != min(n, TAIL):
            raise _Fallback  # a point before the one removed is not kept here: the fold has it
        self.pairs[term, p, q] = {"n": n, "first": first, "tail": tail}

    def entry(self, term: str, p: str, q: str) -> dict[str, str]:
        """The pair's stored rows from the tips: what ``_pair_rows`` makes from the folds."""
        tips = self.tips[term]
        pair = self.pairs[term, p, q]
        shown = {}
        reasons = []
        for party in (p, q):
            current = tips[party]["cur"]
            shown[party] = (
                None if current is None or current[0] is None else fmt(Decimal(current[0]))
            )
            if current is None:
                reasons.append(f"{party} has no position on {term}")
            elif current[0] is None:
                reasons.append(current[1])
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
            "forecast": None,
            "reason": None,
        }
        if reasons or pair["n"] == 0:
            entry["reason"] = "; ".join(reasons) or f"no moment when both {p} and {q} had positions"
            entry["_last"] = None
        else:
            first, last = pair["first"], pair["tail"][-1]
            a, b = Decimal(last[2]), Decimal(last[3])
            first_a, first_b = Decimal(first[2]), Decimal(first[3])
            gap = metrics.gap(a, b)
            initial_gap = metrics.gap(first_a, first_b)
            forecast = metrics.forecast(
                [
                    (datetime.fromisoformat(k), metrics.gap(Decimal(x), Decimal(y)))
                    for k, _, x, y in pair["tail"][-3:]
                ]
            )
            entry.update(
                gap=fmt(gap),
                midpoint=fmt(metrics.midpoint(a, b)),
                relative_gap=fmt(metrics.relative_gap(a, b)),
                ratio=fmt(metrics.ratio(a, b)),
                initial_gap=fmt(initial_gap),
                initial_at=first[1],
                closed_share=fmt(metrics.closed_share(gap, initial_gap)),
                concessions={
                    p: _tip_concession(tips[p], first_a, first_b, a, initial_gap),
                    q: _tip_concession(tips[q], first_b, first_a, b, initial_gap),
                },
                forecast=None if forecast is None else forecast.isoformat(),
            )
            entry["_last"] = sort_key(parse_occurred_at(last[1]))
        rows = {
            pair_key("gap", term, p, q): _dumps(entry),
            pair_key("pt", term, p, q): _dumps(self.pairs[term, p, q]),
        }
        if (term, p, q) in self.hist:  # changed or new; else it stays as stored
            rows[pair_key("hist", term, p, q)] = self.hist[term, p, q].text()
        return rows


class _History:
    """A pair's history text while a batch extends it: the text as read, then the new items.

    Joined once at the end, so a batch of n points into a history of m costs O(n + m), not
    O(n x m) (each point copying the whole text).
    """

    def __init__(self, text: str) -> None:
        self.base = text
        self.items: list[str] = []

    def drop_last(self, *, empty: bool) -> None:
        """Removes the last point (``empty``: it was the only one)."""
        if self.items:
            self.items.pop()
        elif empty:
            self.base = "[]"
        else:
            self.base = self.base[: self.base.rindex(',{"at":')] + "]"

    def text(self) -> str:
        if not self.items:
            return self.base
        items = ",".join(self.items)
        return f"[{items}]" if self.base == "[]" else f"{self.base[:-1]},{items}]"


def _history_item(point: list[str], p: str, q: str) -> dict[str, Any]:
    a, b = Decimal(point[2]), Decimal(point[3])
    return {"at": point[1], "positions": {p: fmt(a), q: fmt(b)}, "gap": fmt(metrics.gap(a, b))}


def _tip_concession(
    tip: dict[str, Any],
    own_initial: Decimal,
    other_initial: Decimal,
    own: Decimal,
    initial_gap: Decimal,
) -> dict[str, Any]:
    amount = metrics.concession(own_initial, other_initial, own)
    moves = max(tip["n"] - 1, 0)
    return {
        "amount": fmt(amount),
        "share": fmt(metrics.concession_share(amount, initial_gap)),
        "moves": moves,
        "last_move_at": tip["lc"][-1][1] if moves else None,
    }


# ------------------------------------------------------------------------ reads


def clock_counts(entry: dict[str, Any], round_keys: Sequence[str], today: date) -> None:
    """Sets ``days_since_last_move`` and ``rounds_since_last_move`` as ``pair_metrics`` would."""
    last = entry.pop("_last", None)
    if last is None:
        entry["days_since_last_move"] = None
        entry["rounds_since_last_move"] = None
        return
    last_date = datetime.fromisoformat(last).astimezone(UTC).date()
    entry["days_since_last_move"] = max((today - last_date).days, 0)
    entry["rounds_since_last_move"] = len(round_keys) - bisect.bisect_right(round_keys, last)


class Reader(Protocol):
    """What the reads need of the views (``Views.analytics_get``/``analytics_scan``)."""

    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]: ...

    def analytics_scan(self, slug: str, prefix: str) -> list[tuple[str, str]]: ...


class Order:
    """A negotiation's parties, terms and rounds as the folds order them, with its slug."""

    def __init__(self, text: str) -> None:
        data = json.loads(text)
        self.slug: str | None = data["slug"]
        self.parties: list[str] = data["parties"]
        self.terms: list[dict[str, str]] = data["terms"]
        self.rounds: list[str] = data["rounds"]
        self.current = data.get("v") == FORMAT
        """Kept in today's layout (an older one lacks rows the time-travel reads need)."""

    def pairs(self) -> list[tuple[str, str]]:
        return list(combinations(self.parties, 2))


def stored_order(reader: Reader, slug: str) -> Order | None:
    """None when the view holds nothing of that negotiation."""
    text = reader.analytics_get(slug, ["order"]).get("order")
    return None if text is None else Order(text)


def stored_positions(reader: Reader, slug: str) -> dict[str, Any] | None:
    """The ``/positions`` document (no ``as_of``) from two stored rows."""
    found = reader.analytics_get(slug, ["order", "positions"])
    if "order" not in found:
        return None
    order = Order(found["order"])
    entries: dict[str, dict[str, Any]] = json.loads(found.get("positions", "{}"))
    terms = []
    for term in order.terms:
        mine = entries.get(term["id"], {})
        terms.append(
            {
                "term": term["id"],
                "unit": term["unit"],
                "positions": [mine[p] for p in order.parties if p in mine],
            }
        )
    return {"negotiation": order.slug, "as_of": None, "terms": terms}


def stored_gap_entries(
    reader: Reader,
    slug: str,
    order: Order,
    today: date,
    terms: Sequence[str],
    pair: tuple[str, str] | None = None,
    *,
    history: bool = True,
) -> list[tuple[dict[str, str], list[str]]]:
    """Per chosen term (in order): the term and its pairs' entries as JSON text.

    The history is spliced in as stored (``history=False`` leaves it out: the headlines).
    """
    chosen = set(terms)
    pairs = order.pairs() if pair is None else [pair]
    out: list[tuple[dict[str, str], list[str]]] = []
    for term in order.terms:
        if term["id"] not in chosen:
            continue
        if pair is None:
            gaps = dict(reader.analytics_scan(slug, f"gap/{term['id']}/"))
            hist = dict(reader.analytics_scan(slug, f"hist/{term['id']}/")) if history else {}
        else:
            keys = [pair_key(kind, term["id"], *pair) for kind in ("gap", "hist")]
            found = reader.analytics_get(slug, keys if history else keys[:1])
            gaps = {keys[0]: found[keys[0]]} if keys[0] in found else {}
            hist = {keys[1]: found[keys[1]]} if keys[1] in found else {}
        texts = []
        for p, q in pairs:
            text = gaps.get(pair_key("gap", term["id"], p, q))
            history_text = hist.get(pair_key("hist", term["id"], p, q))
            if text is None:
                text, history_text = empty_pair_rows(term["id"], p, q)
            entry = json.loads(text)
            clock_counts(entry, order.rounds, today)
            encoded = _dumps(entry)
            if history:
                encoded = encoded[:-1] + ',"history":' + str(history_text) + "}"
            texts.append(encoded)
        out.append((term, texts))
    return out


def gaps_text(order: Order, entries: list[tuple[dict[str, str], list[str]]]) -> str:
    """The ``/gaps`` document (no ``as_of``) as JSON text, histories as stored."""
    terms = ",".join(
        '{"term":'
        + _dumps(term["id"])
        + ',"unit":'
        + _dumps(term["unit"])
        + ',"pairs":['
        + ",".join(texts)
        + "]}"
        for term, texts in entries
    )
    return '{"negotiation":' + _dumps(order.slug) + ',"as_of":null,"terms":[' + terms + "]}"
