"""Export files: the ledger as JSON Lines, and the facts their payloads hold.

The format is described in docs/ledger-format.md ("Export files"): a header line, then one
line per event in log order, each the event's canonical document plus its ``hash`` and
``position``. Export streams a page of events at a time. Reading a file back is
:mod:`api.services.restore` (every line verified, then restored) and
:mod:`api.services.signed_tree` (the file against a signed checkpoint); both parse payloads
with :func:`payload_fact`, by the API's event schemas.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter

from api.inputs import EventCreate, NegotiationCreate
from domain import errors, facts
from domain.canonical import FORMAT_KEY, format_recorded_at, stored_document
from domain.ledger import Ledger
from domain.negotiation import Negotiation, negotiation_id
from projections.storage import view_storage_errors

EXPORT_FORMAT = "parley-export"
EXPORT_FORMAT_VERSION = 1
PAGE = 500
CANONICAL_KEYS = frozenset(
    (
        "event_id",
        "negotiation",
        "occurred_at",
        "payload",
        "prev_hash",
        "recorded_at",
        "recorded_by",
        "type",
        "version",
    )
)
LINE_KEYS = CANONICAL_KEYS | {"hash", "position"}
"""A format-1 line; a format-2 line adds ``ledger_format`` (hashed with the nine keys)."""
_EVENT_ADAPTER: TypeAdapter[EventCreate] = TypeAdapter(EventCreate)


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


# ------------------------------------------------------------------ export


@dataclass(frozen=True)
class Export:
    """An export about to be written: its header, then its event lines, read lazily."""

    header: dict[str, Any]
    events: Iterator[dict[str, Any]]

    @property
    def total(self) -> int:
        total: int = self.header["events"]
        return total

    def lines(self) -> Iterator[str]:
        """The file's lines, header first, each ending in a newline."""
        yield to_line(self.header, sort_keys=False)
        for document in self.events:
            yield to_line(document)


def to_line(data: dict[str, Any], *, sort_keys: bool = True) -> str:
    """One compact JSON line; non-ASCII kept as is, like the canonical bytes."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"), sort_keys=sort_keys)
    return text + "\n"


def document_of(event: Negotiation.Event, slug: str, position: int | None) -> dict[str, Any]:
    """An event's export line: its canonical document plus its stored hash and log position."""
    document = stored_document(event, slug)
    return {**document, "hash": event.hash, "position": position}


def _header(
    scope: str | None, up_to: int | None, heads: dict[str, tuple[int, str]], now: datetime
) -> dict[str, Any]:
    return {
        "format": EXPORT_FORMAT,
        "format_version": EXPORT_FORMAT_VERSION,
        "exported_at": format_recorded_at(now),
        "scope": {"negotiation": scope},
        "up_to_position": up_to,
        "events": sum(version for version, _ in heads.values()),
        "negotiations": {
            slug: {"version": version, "head_hash": head} for slug, (version, head) in heads.items()
        },
    }


def export_negotiation(
    ledger: Ledger, slug: str, *, page: int = PAGE, now: Callable[[], datetime] = utc_now
) -> Export:
    """One negotiation's events, as they stand now (raises NegotiationNotFound at once)."""
    neg = ledger.get(slug)
    version = neg.version

    def events() -> Iterator[dict[str, Any]]:
        after = 0
        while after < version:
            found = ledger.stream(slug, after_version=after, up_to_version=version, limit=page)
            if not found:
                return
            first, last = found[0].originator_version, found[-1].originator_version
            positions = ledger.positions(slug, first, last)
            for event in found:
                yield document_of(event, neg.slug, positions.get(event.originator_version))
            after = last

    header = _header(neg.slug, None, {neg.slug: (version, neg.head_hash)}, now())
    return Export(header, events())


def export_ledger(
    ledger: Ledger, *, page: int = PAGE, now: Callable[[], datetime] = utc_now
) -> Export:
    """Every event up to the log's head as this call begins, in log order.

    Events recorded while the export runs are left out: the file is a prefix of the log, so
    restoring it gives the ledger (and its Merkle tree) as it was at ``up_to_position``.
    """
    up_to = ledger.head_position()
    heads: dict[str, tuple[int, str]] = {}
    after = 0
    while True:
        opened = [(p, s) for p, s in ledger.opened_negotiations(after, page) if p <= up_to]
        for _, slug in opened:
            heads[slug] = _head_at(ledger, slug, up_to)
        if len(opened) < page:
            break
        after = opened[-1][0]
    slugs = {negotiation_id(slug): slug for slug in heads}

    def events() -> Iterator[dict[str, Any]]:
        start = 1
        while start <= up_to:
            with view_storage_errors():
                found = ledger.recorder.select_notifications(start, page, stop=up_to)
            if not found:
                return
            for notification in found:
                event: Negotiation.Event = ledger.mapper.to_domain_event(notification)  # type: ignore[assignment]
                slug = slugs.get(event.originator_id)
                if slug is not None:
                    yield document_of(event, slug, notification.id)
            start = found[-1].id + 1

    return Export(_header(None, up_to, heads, now()), events())


def _head_at(ledger: Ledger, slug: str, up_to: int) -> tuple[int, str]:
    """A negotiation's version and head hash as of log position ``up_to``."""
    neg = ledger.get(slug)
    last = ledger.positions(slug, neg.version, neg.version).get(neg.version, 0)
    if last <= up_to:
        return neg.version, neg.head_hash
    # Recorded to since the export began: find its last event inside the exported prefix.
    positions = ledger.positions(slug, 1, neg.version)
    version = max(v for v, p in positions.items() if p <= up_to)
    event = ledger.stream(slug, after_version=version - 1, up_to_version=version)[0]
    return version, event.hash


# ------------------------------------------------------------------ payloads


def payload_fact(event_type: Any, occurred_at: Any, payload: Any, ledger_format: int) -> facts.Fact:
    """The fact a line's payload holds, parsed by the API's request schemas."""
    if not isinstance(payload, dict):
        raise errors.InvalidValue("the payload is a JSON object", field="payload")
    body = {**payload, "occurred_at": occurred_at}
    # Format 1 hashed integers of any size; the request schemas refuse them only for new events.
    context = {FORMAT_KEY: ledger_format}
    if event_type == "negotiation_opened":
        opened, _, _ = NegotiationCreate.model_validate(body, context=context).to_fact()
        return opened
    return _EVENT_ADAPTER.validate_python({**body, "type": event_type}, context=context).to_fact()
