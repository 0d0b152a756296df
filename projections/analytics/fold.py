"""The fold of a batch into one negotiation's analytics: the lines it touches and their pairs, recomputed."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from itertools import combinations
from typing import Any

from domain.values import Term, parse_occurred_at, sort_key
from projections.analytics.keys import (
    FORMAT,
    HEADLINE_FIELDS,
    REFERENCE_DAY,
    RESHAPING_TYPES,
    Space,
    dumps,
    line_key,
    line_record,
    line_row_key,
    line_tip,
    pair_key,
    pair_tip,
    record_of,
    sorted_positions,
    tip_key,
)
from projections.gaps import pair_metrics
from projections.jsontext import parsed
from projections.positions import Book, build_book, position_entry
from projections.records import Record, Stream, rebuild
from projections.series import drop_other_lines, write_steps


class State:
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
                    legacy[line_row_key(parts[1], parts[2], data["v"])] = dumps(data)
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
            self.space.put({f"ref/{data['id']}": dumps(lines)})
            if party not in self.shaping()[0]:
                self.full = True  # an offer from a party that never joined: it joins the pairs
            self._into_lines(lines, data)
        elif kind == "offer_withdrawn":
            lines = self.refs_of(payload["offer_event_id"]) or []
            self.refs[data["id"]] = lines
            self.space.put({f"ref/{data['id']}": dumps(lines)})
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
        text = dumps(data)
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
                entries[party] = position_entry(party, standing)
        writes: dict[str, str] = {}
        gone: list[str] = []
        for term_id in sorted({t for t, _ in changed}):
            moved = {p for t, p in changed if t == term_id}
            term = terms[term_id]
            for party in parties:
                writes[tip_key(term_id, party)] = dumps(line_tip(book, term, party))
            for p, q in combinations(parties, 2):
                if p in moved or q in moved:
                    line_p, line_q = book.line(term, p), book.line(term, q)
                    if line_p.changes or line_q.changes:
                        writes.update(pair_rows(book, term, p, q))
                        writes[pair_key("pt", term_id, p, q)] = dumps(pair_tip(line_p, line_q))
                    elif not self.full:
                        # Neither ever had a position: the read makes the entry (it costs a
                        # 150-party negotiation's opening nothing to store).
                        gone.extend(pair_key(k, term_id, p, q) for k in ("gap", "hist", "pt"))
        writes["positions"] = dumps(sorted_positions(self.positions))
        terms_order = [(t.id, t.unit) for t in book.terms]
        writes["headline"] = headline_text(self.space, terms_order, parties, writes, gone)
        joined = set(self.shaping()[0])
        writes["order"] = dumps(
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
            writes["meta"] = dumps(self.meta)
        self.space.delete([k for k in gone if k not in writes])
        self.space.put(writes)


def headline_text(
    space: Space,
    terms: Sequence[tuple[str, str]],
    parties: Sequence[str],
    writes: Mapping[str, str],
    gone: Sequence[str] = (),
) -> str:
    """Per term, the headline of its first pair (the first two parties): what the list shows.

    As JSON text: made of those pairs' gap rows alone, so the text of the same rows is
    remembered (a batch that leaves them be makes the same headline).
    """
    if len(parties) < 2:
        return dumps([{"term": t, "unit": unit, "pairs": []} for t, unit in terms])
    p, q = parties[0], parties[1]
    keys = [pair_key("gap", t, p, q) for t, _ in terms]
    # A pair row about to be deleted is stale: the read would make the empty entry.
    found = space.get([k for k in keys if k not in writes and k not in gone])
    texts = tuple(writes.get(key) or found.get(key) for key in keys)
    made = (tuple(terms), p, q, texts)
    text = _HEADLINES.get(made)
    if text is None:
        text = dumps(_headline(terms, p, q, texts))
        if len(_HEADLINES) >= HEADLINES_LIMIT:
            _HEADLINES.clear()
        _HEADLINES[made] = text
    return text


_HEADLINES: dict[tuple[Any, ...], str] = {}
"""Headline texts by what they are made of (``headline_text``)."""
HEADLINES_LIMIT = 1024


def _headline(
    terms: Sequence[tuple[str, str]], p: str, q: str, texts: Sequence[str | None]
) -> list[dict[str, Any]]:
    out = []
    for (term, unit), text in zip(terms, texts, strict=True):
        entry = parsed(text or empty_pair_rows(term, p, q)[0])  # read only
        pairs = [{name: entry[name] for name in HEADLINE_FIELDS}]
        out.append({"term": term, "unit": unit, "pairs": pairs})
    return out


def empty_pair_rows(term_id: str, p: str, q: str) -> tuple[str, str]:
    """The stored rows of a pair where neither party ever had a position on the term."""
    rows = pair_rows(build_book(Stream()), Term(term_id, term_id, ""), p, q)
    return rows[pair_key("gap", term_id, p, q)], rows[pair_key("hist", term_id, p, q)]


def pair_rows(book: Book, term: Any, p: str, q: str) -> dict[str, str]:
    entry = pair_metrics(book, term, p, q, REFERENCE_DAY)
    history = entry.pop("history")
    entry.pop("days_since_last_move")
    entry.pop("rounds_since_last_move")
    # What the read needs for the two counts that move with the clock and the rounds.
    last = history[-1]["at"] if history and entry["reason"] is None else None
    entry["_last"] = None if last is None else sort_key(parse_occurred_at(last))
    return {
        pair_key("gap", term.id, p, q): dumps(entry),
        pair_key("hist", term.id, p, q): dumps(history),
    }
