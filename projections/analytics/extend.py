"""The O(1) path: a batch of offers that only append at the end of their lines, applied from the tips."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

from domain.values import parse_occurred_at, sort_key
from projections import metrics
from projections.analytics.fold import headline_text
from projections.analytics.keys import (
    FORMAT,
    TAIL,
    Identity,
    Space,
    dumps,
    line_row_key,
    pair_key,
    same_identity,
    sorted_positions,
    tip_key,
)
from projections.jsontext import kept, parsed
from projections.metrics import fmt
from projections.series import offer_step


class _Fallback(Exception):
    """The batch is not one ``extend`` can apply: the fold takes it."""


def extend(space: Space, found: Mapping[str, str], offers: Sequence[dict[str, Any]]) -> bool:
    """Applies a batch of offers that only append at the end of their lines, or returns False.

    Nothing is written unless the whole batch qualifies (see the module's docstring), and
    no row is rewritten with the text it holds (``found`` and what is read here).
    """
    try:
        extension = _Extension(space, found)
        writes = extension.apply(offers)
    except _Fallback:
        return False
    read = extension.read
    space.put({k: v for k, v in writes.items() if read.get(k) != v})
    return True


class _Extension:
    def __init__(self, space: Space, found: Mapping[str, str]) -> None:
        if "order" not in found:
            raise _Fallback
        # The values ``parsed`` gives are shared (``projections.jsontext``): what changes is
        # copied (``positions``) or replaced whole (a tip, a pair), never changed in place.
        order = parsed(found["order"])
        if order.get("v") != FORMAT or order.get("offer_only"):
            raise _Fallback
        self.space = space
        self.read: dict[str, str] = dict(found)
        """The texts read of each key: what the rows hold until this batch writes."""
        self.order = order
        self.parties: list[str] = order["parties"]
        self.units = {t["id"]: t["unit"] for t in order["terms"]}
        self.positions: dict[str, dict[str, Any]] = {
            term: dict(entries) for term, entries in parsed(found.get("positions", "{}")).items()
        }
        self.tips: dict[str, dict[str, dict[str, Any]]] = {}
        self.moved: list[tuple[str, str]] = []
        """The lines whose tip changes, in the order they first did."""
        self.pairs: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.hist: dict[tuple[str, str, str], _History] = {}
        """Histories that change (or are new): each is read only then, and rewritten."""
        self.writes: dict[str, str] = {}

    def tips_of(self, term: str) -> dict[str, dict[str, Any]]:
        if term not in self.tips:
            rows = self.space.scan(f"tip/{term}/")
            self.read.update(rows)
            found = {k.split("/")[2]: parsed(v) for k, v in rows}
            if set(found) != set(self.parties):
                raise _Fallback
            self.tips[term] = found
        return self.tips[term]

    def pair_of(self, term: str, p: str, q: str) -> dict[str, Any]:
        if (term, p, q) not in self.pairs:
            key = pair_key("pt", term, p, q)
            # With its gap row, which the batch rewrites: unless it comes out the same.
            rows = self.space.get([key, pair_key("gap", term, p, q)])
            self.read.update(rows)
            found = rows.get(key)
            if found is None:  # not stored: neither had a position; its rows are new
                self.pairs[term, p, q] = {"n": 0, "first": None, "tail": []}
                self.hist[term, p, q] = _History("[]")
            else:
                self.pairs[term, p, q] = parsed(found)
        return self.pairs[term, p, q]

    def hist_of(self, term: str, p: str, q: str) -> _History:
        if (term, p, q) not in self.hist:
            key = pair_key("hist", term, p, q)
            found = self.space.get([key])
            self.read.update(found)
            self.hist[term, p, q] = _History(found.get(key, "[]"))
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
            self.writes[f"ref/{data['id']}"] = dumps(lines)
            text = dumps(data)
            moment = _moment(data["o"])
            for term, quantity in values.items():
                if self.units.get(term) != quantity["unit"]:
                    raise _Fallback  # another unit converts at a rate: the fold does that
                amount = Decimal(str(quantity["amount"]))
                dirty.update(self.offer(data, moment, term, party, amount))
                self.writes[line_row_key(term, party, data["v"])] = text
                # At the end of the term's time the offer is the line's standing from its
                # moment on: its step row is the one the fold would write (or rewrite).
                self.writes.update(offer_step(data, term, party, amount, self.units[term], moment))
        for term, party in self.moved:  # the other tips stay as read
            self.writes[tip_key(term, party)] = kept(self.tips[term][party])
        for term, p, q in sorted(dirty):
            self.writes.update(self.pair_rows(term, p, q))
        self.writes["positions"] = kept(sorted_positions(self.positions))
        terms = [(t["id"], t["unit"]) for t in self.order["terms"]]
        self.writes["headline"] = headline_text(self.space, terms, self.parties, self.writes)
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
        for each in tips.values():
            last = each["last"]
            if last is not None and last > key:
                raise _Fallback  # not at the end of the term's time: the fold places it
        tip = tips[party]
        changes: list[list[Any]] = tip["lc"]
        text = str(amount)
        identity: Identity = ["a", text]
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
            changes = [*changes, [key, at, text, identity]][-2:]
            n += 1
        if len(changes) != min(n, 2):
            raise _Fallback  # a change before the one removed is not kept here: the fold has it
        if (term, party) not in self.moved:
            self.moved.append((term, party))
        tips[party] = {
            "last": key,
            "before": before,
            "cur": [text, None],
            "n": n,
            "lc": changes,
        }
        shown, unit = fmt(amount), self.units[term]
        self.positions.setdefault(term, {})[party] = {
            "party": party,
            "value": {"amount": shown, "unit": unit},
            "original": {"amount": shown, "unit": unit},
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
                self.hist_of(term, p, q).items.append(dumps(_history_item(point, p, q)))
        if len(tail) != min(n, TAIL):
            raise _Fallback  # a point before the one removed is not kept here: the fold has it
        self.pairs[term, p, q] = {"n": n, "first": first, "tail": tail}

    def pair_rows(self, term: str, p: str, q: str) -> dict[str, str]:
        """The pair's stored rows from the tips: what ``pair_rows`` makes from the folds.

        Its gap row is made of the two tips and the pair's tip alone: the text made of the
        same ones is remembered (a batch that leaves them be makes the same row).
        """
        pair = kept(self.pairs[term, p, q])
        made = (term, p, q, self.tip_text(term, p), self.tip_text(term, q), pair)
        gap = _GAPS.get(made)
        if gap is None:
            gap = kept(self.entry(term, p, q))
            if len(_GAPS) >= GAPS_LIMIT:
                _GAPS.clear()
            _GAPS[made] = gap
        rows = {pair_key("gap", term, p, q): gap, pair_key("pt", term, p, q): pair}
        if (term, p, q) in self.hist:  # changed or new; else it stays as stored
            rows[pair_key("hist", term, p, q)] = self.hist[term, p, q].text()
        return rows

    def tip_text(self, term: str, party: str) -> str:
        key = tip_key(term, party)
        return self.writes.get(key) or self.read[key]

    def entry(self, term: str, p: str, q: str) -> dict[str, Any]:
        """The pair's gap entry from the tips (with what the read needs, ``_last``)."""
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
        return entry


_GAPS: dict[tuple[str, ...], str] = {}
"""Gap rows' texts by what they are made of (``_Extension.pair_rows``)."""
GAPS_LIMIT = 1024


@functools.lru_cache(maxsize=4096)
def _moment(occurred_at: str) -> tuple[str, str]:
    """An offer's sort key and its ``occurred_at`` as ISO text (offers share their days)."""
    occurred = parse_occurred_at(occurred_at)
    return sort_key(occurred), occurred.isoformat()


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
