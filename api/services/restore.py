"""Reading an export file back: every line verified before anything is restored.

The checks (header, keys, hash, log order, chain, completeness) are those of
docs/ledger-format.md ("Export files"); the payloads are parsed by
:func:`api.services.transfer.payload_fact`, and :func:`restore_export` hands the facts to
:meth:`domain.ledger.Ledger.restore`, which decides them again and writes them in one
transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from pydantic import ValidationError

from api.services.jsonl import NotAnObject, json_object, validation_message
from api.services.transfer import EXPORT_FORMAT, EXPORT_FORMAT_VERSION, LINE_KEYS, payload_fact
from domain import errors
from domain.canonical import FORMAT_KEY, GENESIS_HASH, event_hash
from domain.ledger import Ledger, Restored, RestoredEvent


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
        return json_object(text)
    except NotAnObject as e:
        raise ImportRefused(number, str(e)) from None


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
        fact = payload_fact(data["type"], data["occurred_at"], data["payload"], ledger_format)
    except ValidationError as e:
        raise ImportRefused(number, f"payload: {validation_message(e, '(payload)')}") from None
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


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
