"""The timeline as JSON text: view rows with their payloads as stored, a page at a time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from api.http.paging import encode_timeline_cursor
from domain.canonical import format_recorded_at
from domain.values import OccurredAt
from projections.views import Views


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def payload_parties(payload: dict[str, Any]) -> set[str]:
    """``Record.parties`` of an event, from its stored payload."""
    found: set[str] = set()
    party = payload.get("party")
    if isinstance(party, dict):
        party = party.get("id")
    if isinstance(party, str):
        found.add(party)
    for name in ("raised_by", "initiated_by"):
        value = payload.get(name)
        if isinstance(value, str):
            found.add(value)
    for name in ("participants", "readouts", "delegations"):
        for item in payload.get(name) or ():
            if isinstance(item, dict) and isinstance(item.get("party"), str):
                found.add(item["party"])
    return found


def timeline_page(
    views: Views,
    slug: str,
    after: tuple[str, int] | None,
    limit: int,
    low: str,
    high: str,
    types: Sequence[str],
    party: str | None,
    version: int | None = None,
) -> tuple[list[str], tuple[str, int] | None]:
    """A page of timeline entries as JSON text (payloads as stored), and its cursor if full
    (``version``: of the first N events, as they stood then)."""
    texts: list[str] = []
    last: tuple[str, int] | None = after
    while len(texts) < limit:
        rows = views.timeline_rows(slug, last, limit, low, high, types, version)
        for row, payload in rows:
            last = (row.sort_key, row.version)
            if party is not None and party not in payload_parties(json.loads(payload)):
                continue
            texts.append(
                '{"event_id":'
                + dumps(row.event_id)
                + ',"type":'
                + dumps(row.type)
                + ',"occurred_at":'
                + dumps(row.occurred_at)
                + ',"version":'
                + str(row.version)
                + ',"recorded_at":'
                + dumps(format_recorded_at(row.recorded_at))
                + ',"recorded_by":'
                + dumps(row.recorded_by)
                + ',"payload":'
                + payload
                + ',"retracted":'
                + ("false" if row.retracted_by is None else "true")
                + ',"retracted_by":'
                + dumps(row.retracted_by)
                + "}"
            )
            if len(texts) == limit:
                return texts, last
        if len(rows) < limit:
            break
    return texts, None


def timeline_text(
    slug: str, as_of: OccurredAt | None, texts: list[str], last: tuple[str, int] | None
) -> str:
    """The ``TimelinePublic`` document around a page's entries, with its next cursor."""
    as_of_text = dumps(None if as_of is None else as_of.isoformat())
    next_cursor = dumps(None if last is None else encode_timeline_cursor(*last))
    return (
        f'{{"negotiation":{dumps(slug)},"as_of":{as_of_text},"events":[{",".join(texts)}],'
        f'"next_cursor":{next_cursor}}}'
    )
