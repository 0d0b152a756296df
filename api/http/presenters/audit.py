"""The audit trail's entries: a ledger entry's metadata plus corrections, reasons and sources."""

from __future__ import annotations

from api.http.schemas import AuditEntryPublic, SourcePublic, entry_of, fact_of
from domain.canonical import to_json
from domain.ledger import Ledger
from domain.negotiation import Negotiation

LEDGER_FIELDS = {
    "event_id",
    "type",
    "version",
    "position",
    "occurred_at",
    "recorded_at",
    "recorded_by",
    "hash",
    "prev_hash",
    "retracted_by",
}
"""What an audit entry says as the event's ledger entry (``entry_of``) says it."""


def retraction_reasons(
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


def audit_entry_of(
    event: Negotiation.Event, neg: Negotiation, position: int | None, reasons: dict[str, str]
) -> AuditEntryPublic:
    """The event's ledger entry, without its payload, plus what corrected it and its sources."""
    entry = entry_of(event, neg, position)
    fact = fact_of(event)
    retracted_by = entry.retracted_by
    reason = reasons.get(retracted_by) if retracted_by is not None else reasons.get(entry.event_id)
    return AuditEntryPublic(
        **entry.model_dump(include=LEDGER_FIELDS),
        retracts=getattr(fact, "retracted_event_id", None),
        retraction_reason=reason,
        sources=[SourcePublic(**to_json(s)) for s in fact.sources],
    )
