"""Export files and restore: the ledger as JSON Lines, verified line by line on the way back.

The format is described in docs/ledger-format.md ("Export files"): a header line, then one
line per event in log order, each the event's canonical document plus its ``hash`` and
``position``. Export streams a page of events at a time; import reads the whole file, checks
every hash, chain link, version and position, parses each payload with the API's event
schemas, and only then hands the facts to :meth:`domain.ledger.Ledger.restore`, which decides
them again and writes them in one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import TypeAdapter, ValidationError

from api import signed_note
from api.inputs import EventCreate, NegotiationCreate, fact_of
from domain import errors, facts, merkle
from domain.canonical import (
    FORMAT_KEY,
    GENESIS_HASH,
    canonical_document,
    event_hash,
    format_recorded_at,
)
from domain.ledger import Ledger, Restored, RestoredEvent
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
    document = canonical_document(
        fact=fact_of(event),
        negotiation=slug,
        version=event.originator_version,
        event_id=event.event_id,
        recorded_at=event.timestamp,
        recorded_by=event.recorded_by,
        prev_hash=event.prev_hash,
        ledger_format=event.ledger_format,
    )
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


# ------------------------------------------------------------------ import


class ImportRefused(Exception):
    """The file cannot be restored; ``line`` is the 1-based line it fails at."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(f"line {line}: {message}")
        self.line = line
        self.message = message


@dataclass
class ParsedExport:
    """A verified export file: its header and the events to restore, with their lines."""

    header: dict[str, Any]
    events: list[RestoredEvent] = field(default_factory=list)
    lines: list[int] = field(default_factory=list)


def read_export(
    lines: Iterable[bytes | str], *, on_line: Callable[[int], None] | None = None
) -> ParsedExport:
    """Parses and verifies every line of an export; raises ImportRefused at the first fault.

    Checked here, before anything is written: the header; each line's keys, its hash (over
    its canonical document), its position (strictly increasing: lines in log order), its
    version and ``prev_hash`` (the chain of its negotiation); and at the end, that every
    negotiation reaches the version and head hash the header names (no line missing at the
    end). Each payload is then parsed into a fact by the API's event schemas.
    """
    parsed: ParsedExport | None = None
    heads: dict[str, tuple[int, str]] = {}
    last_position = 0
    number = 0
    for number, raw in enumerate(lines, start=1):
        text = _text(raw, number)
        if not text.strip():
            continue
        data = _object(text, number)
        if parsed is None:
            parsed = ParsedExport(_checked_header(data, number))
            continue
        position = _checked_line(data, number, heads, last_position)
        last_position = position
        parsed.events.append(_restored(data, number))
        parsed.lines.append(number)
        if on_line is not None:
            on_line(number)
    if parsed is None:
        raise ImportRefused(1, "the file is empty: an export starts with its header line")
    _check_complete(parsed.header, heads, number + 1)
    return parsed


def restore_export(ledger: Ledger, parsed: ParsedExport) -> Restored:
    """Writes a verified export into an empty store; raises ImportRefused naming the line."""
    try:
        return ledger.restore(parsed.events)
    except errors.StorageUnavailable:
        raise
    except errors.ParleyError as e:
        index = e.extra.get("index")
        line = parsed.lines[index] if isinstance(index, int) else 1
        detail = f"{e.code}: {e.detail}" if isinstance(index, int) else e.detail
        raise ImportRefused(line, detail) from e


def _text(raw: bytes | str, number: int) -> str:
    if isinstance(raw, str):
        return raw
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise ImportRefused(number, f"not UTF-8 text (byte {e.start + 1})") from None


def _object(text: str, number: int) -> dict[str, Any]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise ImportRefused(number, f"not valid JSON: {e.msg} (column {e.colno})") from None
    if not isinstance(data, dict):
        raise ImportRefused(number, "a line must be a JSON object")
    return data


def _checked_header(data: dict[str, Any], number: int) -> dict[str, Any]:
    if data.get("format") != EXPORT_FORMAT:
        raise ImportRefused(
            number, f'the first line is not a header with "format": "{EXPORT_FORMAT}"'
        )
    if data.get("format_version") != EXPORT_FORMAT_VERSION:
        raise ImportRefused(
            number,
            f"format_version {data.get('format_version')!r} is not one this Parley reads "
            f"({EXPORT_FORMAT_VERSION})",
        )
    listed = data.get("negotiations")
    if not isinstance(listed, dict) or not all(
        isinstance(v, dict) and _is_int(v.get("version")) and isinstance(v.get("head_hash"), str)
        for v in listed.values()
    ):
        raise ImportRefused(
            number, 'the header\'s "negotiations" is not {slug: {version, head_hash}}'
        )
    return data


def _checked_line(
    data: dict[str, Any], number: int, heads: dict[str, tuple[int, str]], last_position: int
) -> int:
    """Verifies one event line against its hash, the log order and its chain; its position."""
    keys = set(data)
    expected = LINE_KEYS | {FORMAT_KEY} if FORMAT_KEY in keys else LINE_KEYS
    if keys != expected:
        missing, extra = sorted(expected - keys), sorted(keys - expected)
        raise ImportRefused(
            number,
            "an event line has exactly the canonical document's keys plus hash and position"
            + (f"; missing {', '.join(missing)}" if missing else "")
            + (f"; unexpected {', '.join(extra)}" if extra else ""),
        )
    slug, version, stored = data["negotiation"], data["version"], data["hash"]
    if not isinstance(slug, str) or not _is_int(version) or not isinstance(stored, str):
        raise ImportRefused(
            number, "negotiation, version and hash are a string, an integer, a string"
        )
    try:
        recomputed = event_hash({k: data[k] for k in expected - {"hash", "position"}})
    except (TypeError, ValueError) as e:
        raise ImportRefused(number, f"the document cannot be hashed: {e}") from None
    if recomputed != stored:
        raise ImportRefused(
            number,
            f"the hash does not match the line's content ({slug} version {version}: "
            f"stored {stored[:12]}…, recomputed {recomputed[:12]}…)",
        )
    position = data["position"]
    if not _is_int(position) or position <= last_position:
        raise ImportRefused(
            number,
            f"position {position!r} does not follow {last_position}: lines are out of log order",
        )
    head_version, head = heads.get(slug, (0, GENESIS_HASH))
    if version != head_version + 1:
        raise ImportRefused(
            number,
            f"{slug} version {version} where {head_version + 1} was expected: "
            "a line is missing or out of order",
        )
    if data["prev_hash"] != head:
        raise ImportRefused(
            number,
            f"{slug} version {version}: prev_hash is not the hash of the line before it "
            "in its negotiation",
        )
    heads[slug] = (version, stored)
    return int(position)


def _check_complete(header: dict[str, Any], heads: dict[str, tuple[int, str]], end: int) -> None:
    """Every negotiation the header lists ends where the header says, and no other is there."""
    listed: dict[str, dict[str, Any]] = header["negotiations"]
    for slug, head in listed.items():
        version, head_hash = heads.get(slug, (0, GENESIS_HASH))
        if version != head["version"] or head_hash != head["head_hash"]:
            raise ImportRefused(
                end,
                f"the file ends with {slug} at version {version}, the header says "
                f"{head['version']}: lines are missing",
            )
    unlisted = sorted(set(heads) - set(listed))
    if unlisted:
        raise ImportRefused(1, f"the header does not list {', '.join(unlisted)}")


RECORDED_AT_RANGE = (datetime(1970, 1, 1, tzinfo=UTC), datetime(9000, 1, 1, tzinfo=UTC))
"""The moments an imported ``recorded_at`` may name: a server's clock, with room for the rules'
arithmetic (a time plus its tolerance) to stay inside the calendar."""


def _restored(data: dict[str, Any], number: int) -> RestoredEvent:
    """The fact and metadata of a verified line, the payload parsed by the API's schemas."""
    ledger_format = data.get(FORMAT_KEY, 1)
    try:
        fact = _fact(data["type"], data["occurred_at"], data["payload"], ledger_format)
    except ValidationError as e:
        raise ImportRefused(number, f"payload: {_validation_message(e)}") from None
    except errors.ParleyError as e:
        raise ImportRefused(number, f"{e.code}: {e.detail}") from None
    try:
        recorded_at = datetime.fromisoformat(data["recorded_at"])
        event_id = UUID(data["event_id"])
    except (TypeError, ValueError, AttributeError) as e:
        raise ImportRefused(number, f"event_id or recorded_at is malformed: {e}") from None
    if recorded_at.utcoffset() is None or not isinstance(data["recorded_by"], str):
        raise ImportRefused(number, "recorded_at needs its UTC offset; recorded_by is a string")
    try:
        in_utc = recorded_at.astimezone(UTC)
    except OverflowError:
        in_utc = None
    if in_utc is None or not RECORDED_AT_RANGE[0] <= in_utc < RECORDED_AT_RANGE[1]:
        raise ImportRefused(
            number,
            f"recorded_at {data['recorded_at']!r} is not a moment a ledger's clock can have "
            f"stamped (from {RECORDED_AT_RANGE[0].year} to before {RECORDED_AT_RANGE[1].year}, UTC)",
        )
    if not isinstance(data["prev_hash"], str):
        raise ImportRefused(number, "prev_hash is a string")
    return RestoredEvent(
        negotiation=data["negotiation"],
        version=data["version"],
        fact=fact,
        event_id=event_id,
        recorded_at=recorded_at,
        recorded_by=data["recorded_by"],
        prev_hash=data["prev_hash"],
        hash=data["hash"],
        ledger_format=ledger_format,
    )


def _fact(event_type: Any, occurred_at: Any, payload: Any, ledger_format: int) -> facts.Fact:
    if not isinstance(payload, dict):
        raise errors.InvalidValue("the payload is a JSON object", field="payload")
    body = {**payload, "occurred_at": occurred_at}
    # Format 1 hashed integers of any size; the request schemas refuse them only for new events.
    context = {FORMAT_KEY: ledger_format}
    if event_type == "negotiation_opened":
        opened, _, _ = NegotiationCreate.model_validate(body, context=context).to_fact()
        return opened
    return _EVENT_ADAPTER.validate_python({**body, "type": event_type}, context=context).to_fact()


def _validation_message(error: ValidationError) -> str:
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or "(payload)"
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ------------------------------------------------------------------ import against a checkpoint


@dataclass(frozen=True)
class SignedTree:
    """A tree size and root that the log's key signed (a C2SP checkpoint note)."""

    origin: str
    tree_size: int
    root: bytes
    signer: str


def signed_tree(note_bytes: bytes, vkey: str) -> SignedTree:
    """The tree a checkpoint note commits to, once its signature by ``vkey`` verifies.

    ``NoteError`` when the note or key is malformed, the key is not an Ed25519 note key, the
    note is not signed by it, or its origin is not the key's name.
    """
    verifier = signed_note.parse_vkey(vkey)
    if verifier.key_type != signed_note.ED25519:
        msg = f"{verifier.name}: a log's key has type 0x01 (Ed25519)"
        raise signed_note.NoteError(msg)
    note = signed_note.parse_note(note_bytes)
    body = signed_note.parse_checkpoint(note.text)
    if not signed_note.signed_by(note, verifier):
        msg = f"the checkpoint is not signed by {verifier.vkey()}"
        raise signed_note.NoteError(msg)
    if body.origin != verifier.name:
        msg = f"the checkpoint's origin {body.origin!r} is not the key's name {verifier.name!r}"
        raise signed_note.NoteError(msg)
    return SignedTree(
        body.origin, body.tree_size, body.root, f"{verifier.name}+{verifier.key_id.hex()}"
    )


def check_signed_tree(parsed: ParsedExport, signed: SignedTree) -> str:
    """Refuses a file whose first ``tree_size`` events do not make the signed tree's root.

    The leaves are the events' hashes in the file's (log) order, as in ``domain.merkle``; the
    hashes were checked against each line already, so a forged event, even with every hash
    after it recomputed, yields another root. Events after the checkpoint's size are not
    covered by its signature; the answer says how many.
    """
    leaves = [merkle.event_leaf(event.hash) for event in parsed.events[: signed.tree_size]]
    if len(leaves) < signed.tree_size:
        raise ImportRefused(
            1,
            f"the file holds {len(parsed.events)} events, the checkpoint signed by "
            f"{signed.signer} covers {signed.tree_size}: the file is not the ledger it signed",
        )
    store = merkle.DictNodeStore(merkle.append(merkle.DictNodeStore(), 0, leaves))
    root = merkle.tree_root(store, signed.tree_size)
    if root != signed.root:
        line = parsed.lines[signed.tree_size - 1] if signed.tree_size else 1
        raise ImportRefused(
            line,
            f"the Merkle tree of the file's first {signed.tree_size} events has root "
            f"{root.hex()}, the checkpoint signed by {signed.signer} says "
            f"{signed.root.hex()}: the file is not the ledger it signed",
        )
    beyond = len(parsed.events) - signed.tree_size
    return (
        f"the file's tree of {signed.tree_size} events has the root signed by {signed.signer}"
        + (f"; {beyond} later events are not covered by that checkpoint" if beyond else "")
    )
