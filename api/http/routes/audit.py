"""A negotiation's audit trail, and its export as JSON Lines (Parley's own, or PLOVER 2.0)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from api.http.deps import LedgerDep
from api.http.paging import AfterVersionQuery, LedgerLimitQuery, ledger_page
from api.http.presenters.audit import audit_entry_of, retraction_reasons
from api.http.schemas import AuditPage, Problem
from api.services.plover import plover_export
from api.services.transfer import export_negotiation, to_line

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
    after_version: AfterVersionQuery = 0,
    limit: LedgerLimitQuery = 100,
) -> AuditPage:
    page = ledger_page(ledger, slug, after_version, limit)
    neg = page.negotiation
    reasons = retraction_reasons(ledger, neg, page.events)
    return AuditPage(
        negotiation=neg.slug,
        version=neg.version,
        head_hash=neg.head_hash,
        events=[
            audit_entry_of(e, neg, page.positions.get(e.originator_version), reasons)
            for e in page.events
        ],
        next_after_version=page.next_after_version,
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
