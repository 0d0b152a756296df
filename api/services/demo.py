"""Loads negotiations from JSON Lines, and the bundled demo: the 2019-2021 US-ROK SMA talks.

A file holds one JSON object per line. A line with a ``slug`` opens a negotiation (the body
of ``POST /negotiations``); any other line is one event (the body of ``POST
/negotiations/{slug}/events``) plus ``"negotiation": slug``. Since the ledger assigns event
ids, a line may carry ``"ref": "name"`` and a later line may write ``"@name"`` as its
``offer_event_id``, ``agreement_event_id`` or ``retracted_event_id``; the loader puts the real
id there. Blank lines and lines starting with ``#`` are skipped.

Every line is parsed before anything is written, so a malformed file writes nothing; a line
that breaks a domain rule stops the load there, with the lines before it recorded and nothing
of it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from api.inputs import EventCreate, NegotiationCreate
from api.services.jsonl import NotAnObject, json_object, validation_message
from domain import errors, facts
from domain.ledger import Ledger
from domain.values import Party, Term

DEMO_SLUG = "us-rok-sma-2020"
DEMO_RECORDED_BY = "demo"
_EVENT_ADAPTER: TypeAdapter[EventCreate] = TypeAdapter(EventCreate)
REF_FIELDS = ("offer_event_id", "agreement_event_id", "retracted_event_id")
# Stands in for a referenced event while a line is only being parsed, not yet recorded.
_PLACEHOLDER_ID = "00000000-0000-4000-8000-000000000000"


class LoadError(Exception):
    """A line of a JSON Lines file could not be parsed or recorded."""

    def __init__(self, line: int, message: str, *, cause: Exception | None = None) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message
        self.cause = cause


@dataclass
class LoadReport:
    """What a load recorded."""

    lines: int = 0
    negotiations: list[str] = field(default_factory=list)
    events: int = 0
    """Stored events, counting the party and term events an opening line records."""


@dataclass(frozen=True)
class _Opening:
    line: int
    fact: facts.NegotiationOpened
    parties: list[Party]
    terms: list[Term]


@dataclass(frozen=True)
class _Event:
    line: int
    slug: str
    data: dict[str, Any]
    ref: str | None
    uses: dict[str, str]  # field -> ref name


def demo_path() -> Path:
    """The bundled demo file (shipped as package data)."""
    return Path(__file__).with_name("data") / "sma.jsonl"


def load_jsonl(
    ledger: Ledger,
    lines_or_path: str | Path | Iterable[str],
    *,
    recorded_by: str = DEMO_RECORDED_BY,
    on_line: Callable[[int], None] | None = None,
) -> LoadReport:
    """Records every line of a JSON Lines file (a path, or its lines); raises LoadError."""
    if isinstance(lines_or_path, str | Path):
        with Path(lines_or_path).open(encoding="utf-8") as f:
            lines = f.read().splitlines()
    else:
        lines = list(lines_or_path)
    items = _parse_all(lines)
    report = LoadReport()
    ids: dict[str, str] = {}
    for item in items:
        try:
            if isinstance(item, _Opening):
                recorded = ledger.open_negotiation(
                    item.fact, item.parties, item.terms, recorded_by=recorded_by
                )
                report.negotiations.append(item.fact.slug)
            else:
                data = {**item.data, **{k: ids[name] for k, name in item.uses.items()}}
                fact = _parse_event(data)
                recorded = ledger.record(item.slug, [fact], recorded_by=recorded_by)
                if item.ref is not None:
                    ids[item.ref] = str(recorded.events[-1].event_id)
        except errors.ParleyError as e:
            raise LoadError(item.line, f"{e.code}: {e.detail}", cause=e) from e
        except ValidationError as e:  # a referenced id in a shape the schema refuses
            raise LoadError(item.line, validation_message(e, "(line)"), cause=e) from None
        report.lines += 1
        report.events += len(recorded.events)
        if on_line is not None:
            on_line(item.line)
    return report


def load_demo(ledger: Ledger) -> LoadReport:
    return load_jsonl(ledger, demo_path(), recorded_by=DEMO_RECORDED_BY)


def ensure_demo(ledger: Ledger) -> bool:
    """Loads the demo when the store holds no negotiation yet; True if it loaded it."""
    if ledger.opened_negotiations(0, 1):
        return False
    try:
        load_demo(ledger)
    except LoadError as e:
        # Another process loading the demo at the same moment got there first.
        if e.line == 1 and isinstance(e.cause, errors.NegotiationExists):
            return False
        raise
    return True


def count_lines(lines_or_path: str | Path) -> int:
    """How many lines of a file would be recorded (for progress bars)."""
    with Path(lines_or_path).open(encoding="utf-8") as f:
        return sum(1 for line in f if _is_content(line))


# ------------------------------------------------------------------ parsing


def _is_content(line: str) -> bool:
    text = line.strip()
    return bool(text) and not text.startswith("#")


def _parse_all(lines: list[str]) -> list[_Opening | _Event]:
    """Parses every line before anything is written, so a malformed file writes nothing."""
    items: list[_Opening | _Event] = []
    refs: set[str] = set()
    for number, line in enumerate(lines, start=1):
        if not _is_content(line):
            continue
        try:
            data = json_object(line)
        except NotAnObject as e:
            raise LoadError(number, str(e)) from None
        try:
            if "slug" in data and "type" not in data:
                opening = _parse_opening(data)
                items.append(dataclasses.replace(opening, line=number))
            else:
                items.append(_event_item(number, data, refs))
        except errors.ParleyError as e:
            raise LoadError(number, f"{e.code}: {e.detail}", cause=e) from e
        except ValidationError as e:
            raise LoadError(number, validation_message(e, "(line)"), cause=e) from None
    return items


def _event_item(number: int, data: dict[str, Any], refs: set[str]) -> _Event:
    body = dict(data)
    slug = body.pop("negotiation", None)
    if not isinstance(slug, str):
        raise LoadError(number, 'an event line needs "negotiation": "<slug>"')
    ref = body.pop("ref", None)
    if ref is not None and (not isinstance(ref, str) or not ref):
        raise LoadError(number, '"ref" must be a non-empty string')
    if ref is not None and ref in refs:
        raise LoadError(number, f"ref {ref!r} is already used by an earlier line")
    uses: dict[str, str] = {}
    for name in REF_FIELDS:
        value = body.get(name)
        if isinstance(value, str) and value.startswith("@"):
            target = value[1:]
            if target not in refs:
                raise LoadError(number, f"{name}: no earlier line has ref {target!r}")
            uses[name] = target
            body[name] = _PLACEHOLDER_ID
    _parse_event(body)  # parsed now to fail early; parsed again once refs are known
    if ref is not None:
        refs.add(ref)
    return _Event(number, slug, body, ref, uses)


def _parse_opening(data: dict[str, Any]) -> _Opening:
    """A line that opens a negotiation: the body of ``POST /negotiations``."""
    opened, parties, terms = NegotiationCreate.model_validate(data).to_fact()
    return _Opening(0, opened, parties, terms)


def _parse_event(data: dict[str, Any]) -> facts.Fact:
    """One event line: the body of ``POST /negotiations/{slug}/events``."""
    return _EVENT_ADAPTER.validate_python(data).to_fact()
