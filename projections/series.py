"""Stored position series: each party's line on each term, a row per step, for ``as_of`` reads.

The pure fold (``positions._line``) gives a line's ``steps``: every moment its standing offer
or agreement changed. Cutting the world at ``as_of`` keeps a prefix of them (``Line.up_to``),
so the analytics view keeps each step as a row keyed ``st/<term>/<party>/<sort key>``: the
line as of a moment is the rows up to that key (a key range), its current standing the last
of them (one row, found by the index). A batch rewrites only the steps at or after the
earliest moment it touches; nothing before that moment can change.

A step row holds what the folds downstream read of it: the moment, the triggering event's
identity, and the standing (its event's identity, how it stands, the original and converted
amounts, why it does not convert). ``line_of`` turns rows back into the ``Line`` the fold
made, so ``positions_of`` and ``pair_metrics`` compute every number from them as they do
from a fresh fold.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Protocol

from domain.values import OccurredAt, Quantity, Term, parse_occurred_at, sort_key
from projections.jsontext import compact
from projections.metrics import Rates
from projections.positions import Book, Change, Line, Standing
from projections.records import END_OF_TIME, Record

PREFIX = "st/"
KEY_WIDTH = len("2000-01-01T00:00:00.000000+00:00")
"""Every sort key has this width: a row's moment is its key's tail."""
NO_TIME = datetime(1, 1, 1, tzinfo=UTC)
"""``recorded_at`` of the records a step row rebuilds: no fold downstream reads it."""


class Rows(Protocol):
    """Key ranges of one negotiation's analytics rows (a ``Space`` or a ``Views`` for a slug)."""

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]: ...


def line_prefix(term: str, party: str) -> str:
    return f"{PREFIX}{term}/{party}/"


_dumps = compact
"""The rows' JSON text (orjson, see ``projections.jsontext``): one step row per offer."""


def _ref(record: Record) -> list[Any]:
    return [record.type, record.event_id, record.version, record.occurred_at.isoformat()]


def _record(ref: Sequence[Any]) -> Record:
    kind, event_id, version, occurred_at = ref
    return Record(kind, event_id, version, parse_occurred_at(occurred_at), NO_TIME, "", {})


def step_json(step: Change) -> str:
    """A step's row body."""
    s = step.standing
    standing = None
    if s is not None:
        standing = {
            "r": _ref(s.record),
            "via": s.via,
            "o": [str(s.original.amount), s.original.unit],
            "a": None if s.amount is None else str(s.amount),
            "why": s.reason,
        }
    return _dumps({"t": _ref(step.trigger), "s": standing})


def step_of(key: str, body: str, term: Term, party: str) -> Change:
    data = json.loads(body)
    s = data["s"]
    trigger = _record(data["t"])
    standing = None
    if s is not None:
        amount, unit = s["o"]
        standing = Standing(
            party=party,
            term=term,
            # Mostly the standing offer is the step's trigger: one record for both.
            record=trigger if s["r"] == data["t"] else _record(s["r"]),
            via=s["via"],
            original=Quantity(Decimal(amount), unit),
            amount=None if s["a"] is None else Decimal(s["a"]),
            reason=s["why"],
        )
    return Change(key[-KEY_WIDTH:], trigger, standing)


def line_of(rows: Iterable[tuple[str, str]], term: Term, party: str) -> Line:
    """The line the fold made, from its step rows (in key order)."""
    steps = tuple(step_of(key, body, term, party) for key, body in rows)
    changes: list[Change] = []
    previous: tuple[Any, ...] | None = None
    for step in steps:  # as ``_line`` keeps them: the steps where the amount changed
        identity = None if step.standing is None else step.standing.identity
        if identity != previous:
            changes.append(step)
            previous = identity
    return Line(tuple(changes), steps[-1].standing if steps else None, steps)


# ------------------------------------------------------------------ writing


def offer_step(
    data: Mapping[str, Any],
    term: str,
    party: str,
    amount: Decimal,
    unit: str,
    moment: tuple[str, str] | None = None,
) -> dict[str, str]:
    """The step row of an offer in the term's own unit that becomes its party's standing
    (an offer at or after every moment on the term: ``analytics.extend``).

    ``moment``: the offer's sort key and ``occurred_at`` as ISO text, if the caller has them.
    The body is the one ``step_json`` writes of that step (built here without the records:
    this runs for every such offer; the bench digest of a rebuild is unchanged by it).
    """
    if moment is None:
        occurred = parse_occurred_at(data["o"])
        moment = (sort_key(occurred), occurred.isoformat())
    key, at = moment
    ref = [data["t"], data["id"], data["v"], at]
    shown = str(amount)
    standing = {"r": ref, "via": "offer", "o": [shown, unit], "a": shown, "why": None}
    return {line_prefix(term, party) + key: _dumps({"t": ref, "s": standing})}


class Space(Protocol):
    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]: ...

    def put(self, items: Mapping[str, str]) -> None: ...

    def delete(self, keys: Sequence[str]) -> None: ...


def write_steps(space: Space, lines: Mapping[tuple[str, str], Line], since: str) -> None:
    """Rewrites the step rows of ``lines`` from the moment ``since`` on ("": all of them)."""
    for (term, party), line in lines.items():
        prefix = line_prefix(term, party)
        stored = dict(space.range(prefix + since, prefix + END_OF_TIME))
        wanted = {prefix + s.key: step_json(s) for s in line.steps if s.key >= since}
        space.put({k: v for k, v in wanted.items() if stored.get(k) != v})
        space.delete([k for k in stored if k not in wanted])


def drop_other_lines(space: Space, kept: Iterable[tuple[str, str]]) -> None:
    """Deletes the step rows of every line not in ``kept`` (a party or term retracted)."""
    prefixes = {line_prefix(t, p) for t, p in kept}
    gone = [
        key
        for key, _ in space.range(PREFIX, PREFIX + END_OF_TIME)
        if key[:-KEY_WIDTH] not in prefixes
    ]
    space.delete(gone)


# ------------------------------------------------------------------ reading


def current_as_of(rows: Rows, term: Term, party: str, as_of_key: str) -> Line:
    """The line as of a moment with only its current standing: one row, by bisection."""
    prefix = line_prefix(term.id, party)
    found = rows.range(prefix, prefix + as_of_key, last=True)
    if not found:
        return Line((), None, ())
    step = step_of(*found[0], term, party)
    return Line((), step.standing, (step,))


def line_as_of(rows: Rows, term: Term, party: str, as_of_key: str) -> Line:
    """The whole line as of a moment: its rows up to that key."""
    prefix = line_prefix(term.id, party)
    return line_of(rows.range(prefix, prefix + as_of_key), term, party)


def book_as_of(
    *,
    slug: str | None,
    moment: OccurredAt | None,
    as_of_key: str,
    parties: Sequence[str],
    terms: Sequence[Term],
    round_keys: Sequence[str],
) -> Book:
    """An empty ``Book`` at ``as_of`` for the stored lines (``current_as_of``, ``line_as_of``)
    to be put in, which ``positions_of`` and ``pair_metrics`` then read; a line left out has
    no records, hence no position."""
    return Book(
        slug=slug,
        as_of=moment,
        as_of_key=as_of_key,
        parties=tuple(parties),
        party_names={},
        terms=tuple(terms),
        records=(),
        ends={},
        rates=Rates(),
        round_keys=tuple(k for k in round_keys if k <= as_of_key),
    )
