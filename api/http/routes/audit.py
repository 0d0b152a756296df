"""A negotiation's audit trail, and its export as JSON Lines (Parley's own, or PLOVER 2.0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.http.deps import LedgerDep
from api.http.schemas import AuditEntryPublic, AuditPage, Problem, SourcePublic, fact_of
from api.services.plover import plover_export
from api.services.transfer import export_negotiation, to_line
from domain.canonical import format_recorded_at, to_json
from domain.ledger import Ledger
from domain.negotiation import Negotiation

router = APIRouter(prefix="/negotiations/{slug}", tags=["audit"])

NDJSON = "application/x-ndjson"
NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No negotiation has that slug"}
}


@router.get(
    "/audit",
    summary="Every event with who recorded it, when, its corrections and its sources",
    responses=NOT_FOUND,
)
def audit_trail(
    slug: str,
    ledger: LedgerDep,
    after_version: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AuditPage:
    neg = ledger.get(slug)
    found: list[Negotiation.Event] = []
    if after_version < neg.version:
        found = ledger.stream(
            slug, after_version=after_version, up_to_version=neg.version, limit=limit
        )
    positions = (
        ledger.positions(slug, found[0].originator_version, found[-1].originator_version)
        if found
        else {}
    )
    reasons = _retraction_reasons(ledger, neg, found)
    last = found[-1].originator_version if found else None
    return AuditPage(
        negotiation=neg.slug,
        version=neg.version,
        head_hash=neg.head_hash,
        events=[_audit_entry(e, neg, positions.get(e.originator_version), reasons) for e in found],
        next_after_version=last if last is not None and last < neg.version else None,
    )


def _retraction_reasons(
    ledger: Ledger, neg: Negotiation, page: list[Negotiation.Event]
) -> dict[str, str]:
    """{retraction event id: its reason} for every retraction the page shows or refers to."""
    reasons = {
        str(e.event_id): e.reason  # type: ignore[attr-defined]
        for e in page
        if e.TYPE == "event_retracted"  # type: ignore[attr-defined]
    }
    retractions = {neg.retracted_by(str(e.event_id)) for e in page}
    wanted = {r for r in retractions if r is not None} - set(reasons)
    # Retractions come later than what they retract, so most lie beyond the page.
    for retraction_id in sorted(wanted):
        version = neg.entries[retraction_id].version
        event = ledger.stream(neg.slug, after_version=version - 1, up_to_version=version)
        reasons[retraction_id] = event[0].reason if event else ""  # type: ignore[attr-defined]
    return reasons


def _audit_entry(
    event: Negotiation.Event, neg: Negotiation, position: int | None, reasons: dict[str, str]
) -> AuditEntryPublic:
    fact = fact_of(event)
    event_id = str(event.event_id)
    retracts = getattr(fact, "retracted_event_id", None)
    retracted_by = neg.retracted_by(event_id)
    reason = reasons.get(retracted_by) if retracted_by is not None else reasons.get(event_id)
    return AuditEntryPublic(
        event_id=event_id,
        type=fact.TYPE,
        version=event.originator_version,
        position=position,
        occurred_at=fact.occurred_at.isoformat(),
        recorded_at=format_recorded_at(event.timestamp),
        recorded_by=event.recorded_by,
        hash=event.hash,
        prev_hash=event.prev_hash,
        retracts=retracts,
        retracted_by=retracted_by,
        retraction_reason=reason,
        sources=[SourcePublic(**to_json(s)) for s in fact.sources],
    )


@router.get(
    "/export",
    summary="The negotiation's events as JSON Lines, with metadata and hashes",
    description=(
        "`format=jsonl` (the default): a header line, then one line per event in recorded "
        "order: its canonical document (the fields its hash covers) plus `hash` and "
        "`position`, as docs/ledger-format.md describes; `parley import` restores it. "
        "`format=plover`: one PLOVER 2.0 event record per line for the events that have a "
        "PLOVER category; the `Parley-Plover-Records` and `Parley-Plover-Left-Out` headers "
        "count what was written and what was left out."
    ),
    response_class=StreamingResponse,
    responses={
        200: {"content": {NDJSON: {}}, "description": "JSON Lines, one object per line"},
        **NOT_FOUND,
    },
)
def export(
    slug: str,
    ledger: LedgerDep,
    format_: Annotated[
        Literal["jsonl", "plover"],
        Query(alias="format", description="`jsonl` (Parley's export) or `plover`"),
    ] = "jsonl",
) -> StreamingResponse:
    # Read the negotiation here, not in the stream: an unknown slug is a 404 problem,
    # which cannot be sent once the body has started.
    if format_ == "plover":
        plover = plover_export(ledger, slug)
        return StreamingResponse(
            (to_line(record, sort_keys=False) for record in plover.items),
            media_type=NDJSON,
            headers={
                "Content-Disposition": f'attachment; filename="{plover.negotiation}.plover.jsonl"',
                "Parley-Plover-Records": str(plover.records),
                "Parley-Plover-Left-Out": ", ".join(
                    f"{k}={v}" for k, v in sorted(plover.left_out.items())
                ),
            },
        )
    exported = export_negotiation(ledger, slug)
    lines: Iterator[str] = exported.lines()
    return StreamingResponse(
        lines,
        media_type=NDJSON,
        headers={
            "Content-Disposition": f'attachment; filename="{exported.header["scope"]["negotiation"]}.jsonl"',
            "Parley-Export-Events": str(exported.total),
        },
    )
