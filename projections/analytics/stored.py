"""Reading the stored analytics: a negotiation's order, positions and gap entries, with the clock's counts."""

from __future__ import annotations

import bisect
import json
from collections.abc import Sequence
from datetime import UTC, date, datetime
from itertools import combinations
from typing import Any, Protocol

from projections.analytics.fold import empty_pair_rows
from projections.analytics.keys import (
    FORMAT,
    dumps,
    pair_key,
)


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
            encoded = dumps(entry)
            if history:
                encoded = encoded[:-1] + ',"history":' + str(history_text) + "}"
            texts.append(encoded)
        out.append((term, texts))
    return out


def gaps_text(order: Order, entries: list[tuple[dict[str, str], list[str]]]) -> str:
    """The ``/gaps`` document (no ``as_of``) as JSON text, histories as stored."""
    terms = ",".join(
        '{"term":'
        + dumps(term["id"])
        + ',"unit":'
        + dumps(term["unit"])
        + ',"pairs":['
        + ",".join(texts)
        + "]}"
        for term, texts in entries
    )
    return '{"negotiation":' + dumps(order.slug) + ',"as_of":null,"terms":[' + terms + "]}"
