"""Materialised analytics per negotiation: the pure folds' output, kept up to date per batch.

The state of one negotiation lives in a small key-value space (``Space``), which a view
backend keeps in a table (``projections.views.analytics``) written in the same transaction
as its tracking row. Keys:

- ``meta``: the *shaping* records (opening, parties, terms, agreements and their
  rejections, rates, rounds, retractions): few, and every line needs them.
- ``line/<term>/<party>``: the records of one party's position line on a term: its offers
  carrying the term and the withdrawals of those offers.
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
"""

from __future__ import annotations

import bisect
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from itertools import combinations
from typing import Any, Protocol

from domain.values import Term, parse_occurred_at, sort_key
from projections.gaps import pair_metrics
from projections.positions import Book, build_book, quantity_json
from projections.records import Record, Stream, rebuild
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


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


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


def line_key(term: str, party: str) -> str:
    return f"line/{term}/{party}"


def pair_key(kind: str, term: str, p: str, q: str) -> str:
    return f"{kind}/{term}/{p}/{q}"


class _State:
    """One negotiation's state while a batch is folded into it."""

    def __init__(self, space: Space) -> None:
        self.space = space
        found = space.get(["meta", "positions"])
        self.meta: list[dict[str, Any]] = json.loads(found.get("meta", "[]"))
        self.positions: dict[str, dict[str, Any]] = json.loads(found.get("positions", "{}"))
        self.lines: dict[tuple[str, str], list[dict[str, Any]]] = {}
        self.dirty_lines: set[tuple[str, str]] = set()
        self.refs: dict[str, list[list[str]]] = {}
        self.changed: set[tuple[str, str]] = set()
        """Lines whose position may have changed: their pairs are recomputed."""
        self.full = False
        self.meta_dirty = False

    # ---------------------------------------------------------------- loading

    def load_lines(self, keys: Iterable[tuple[str, str]]) -> None:
        wanted = [k for k in keys if k not in self.lines]
        if not wanted:
            return
        found = self.space.get([line_key(t, p) for t, p in wanted])
        for term, party in wanted:
            text = found.get(line_key(term, party))
            self.lines[term, party] = json.loads(text) if text else []

    def load_all_lines(self) -> None:
        for key, text in self.space.scan("line/"):
            _, term, party = key.split("/", 2)
            if (term, party) not in self.lines:
                self.lines[term, party] = json.loads(text)

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
                reach = self.refs_of(payload["retracted_event_id"])
                if reach is None:
                    self.full = True  # a shaping record: its reach is the whole negotiation
                else:
                    self.load_lines((t, p) for t, p in reach)
                    self.changed.update((t, p) for t, p in reach)

    def _into_lines(self, lines: list[list[str]], data: dict[str, Any]) -> None:
        keys = [(t, p) for t, p in lines]
        self.load_lines(keys)
        for key in keys:
            self.lines[key].append(data)
            self.dirty_lines.add(key)
            self.changed.add(key)

    def _touch_terms(self, values: Mapping[str, Any]) -> None:
        # Every party's line on those terms: finish() loads the partners' lines anyway.
        for term in values:
            self.changed.update((term, party) for party in self.shaping()[0])

    # ---------------------------------------------------------------- output

    def book(self) -> Book:
        records: list[Record] = [record_of(m) for m in self.meta]
        for line in self.lines.values():
            records.extend(record_of(d) for d in line)
        return build_book(rebuild(records))

    def _headline(
        self, book: Book, parties: list[str], writes: Mapping[str, str], gone: Sequence[str]
    ) -> list[dict[str, Any]]:
        """Per term, the headline of its first pair (the first two parties): what the list shows."""
        if len(parties) < 2:
            return [{"term": t.id, "unit": t.unit, "pairs": []} for t in book.terms]
        p, q = parties[0], parties[1]
        keys = [pair_key("gap", t.id, p, q) for t in book.terms]
        # A pair row about to be deleted is stale: the read would make the empty entry.
        found = self.space.get([k for k in keys if k not in writes and k not in gone])
        out = []
        for term, key in zip(book.terms, keys, strict=True):
            text = writes.get(key) or found.get(key) or empty_pair_rows(term.id, p, q)[0]
            entry = json.loads(text)
            pairs = [{name: entry[name] for name in HEADLINE_FIELDS}]
            out.append({"term": term.id, "unit": term.unit, "pairs": pairs})
        return out

    def finish(self) -> None:
        order = json.loads(self.space.get(["order"]).get("order", "{}"))
        if order.get("offer_only"):
            self.full = True  # the party order depends on offers in every line
        if self.full:
            self.load_all_lines()
        book = self.book()
        parties = list(book.parties)
        terms = {t.id: t for t in book.terms}
        if self.full:
            changed = {(t, p) for t in terms for p in parties}
            self.positions = {}
            stale = [k for k, _ in self.space.scan("gap/")] + [
                k for k, _ in self.space.scan("hist/")
            ]
            self.space.delete(stale)
        else:
            changed = {(t, p) for t, p in self.changed if t in terms and p in parties}
        # The partners' lines are needed for the pairs: load them, then build again.
        partners = {(t, q) for t, _ in changed for q in parties}
        if not partners <= set(self.lines):
            self.load_lines(partners)
            book = self.book()
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
            for p, q in combinations(parties, 2):
                if p in moved or q in moved:
                    if book.line(term, p).changes or book.line(term, q).changes:
                        writes.update(_pair_rows(book, term, p, q))
                    elif not self.full:
                        # Neither ever had a position: the read makes the entry (it costs a
                        # 150-party negotiation's opening nothing to store).
                        gone.extend(pair_key(k, term_id, p, q) for k in ("gap", "hist"))
        writes["positions"] = _dumps(self.positions)
        writes["headline"] = _dumps(self._headline(book, parties, writes, gone))
        joined = set(self.shaping()[0])
        writes["order"] = _dumps(
            {
                "slug": book.slug,
                "parties": parties,
                "terms": [{"id": t.id, "unit": t.unit} for t in book.terms],
                "rounds": list(book.round_keys),
                "offer_only": [p for p in parties if p not in joined] or order.get("offer_only"),
            }
        )
        if self.meta_dirty:
            writes["meta"] = _dumps(self.meta)
        writes.update({line_key(t, p): _dumps(self.lines[t, p]) for t, p in self.dirty_lines})
        self.space.delete([k for k in gone if k not in writes])
        self.space.put(writes)


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
    """Folds one negotiation's rows (in log order) into its stored analytics."""
    chosen = [r for r in rows if r.type in ANALYTIC_TYPES]
    if not chosen:
        return
    state = _State(space)
    for row in chosen:
        state.add(record_json(row))
    state.finish()


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
