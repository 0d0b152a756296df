"""The canonical document of a stored event: what the ledger hashed when it recorded it."""

from __future__ import annotations

from typing import Any

from domain import facts
from domain.canonical import canonical_document
from domain.negotiation import Negotiation


def stored_document(event: Negotiation.Event, slug: str, fact: facts.Fact) -> dict[str, Any]:
    """The document of ``event`` of negotiation ``slug``, its payload taken from ``fact``."""
    return canonical_document(
        fact=fact,
        negotiation=slug,
        version=event.originator_version,
        event_id=event.event_id,
        recorded_at=event.timestamp,
        recorded_by=event.recorded_by,
        prev_hash=event.prev_hash,
        ledger_format=event.ledger_format,
    )
