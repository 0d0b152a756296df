"""The ledger service: records negotiation events and reconstructs negotiations from them.

``Ledger`` (``service``) is assembled from one module per job; see ``service`` for the map.
"""

from domain.ledger.application import (
    IDEMPOTENCY_WINDOW,
    MAX_PARTIES,
    MAX_TERMS,
    LedgerApplication,
    PositionLookup,
)
from domain.ledger.clock import TICK, utc_now
from domain.ledger.commands import ANONYMOUS, CONFLICT_RETRIES
from domain.ledger.idempotency import fingerprint_of
from domain.ledger.records import Recorded, RecordedEvent
from domain.ledger.restore import Restored, RestoredEvent
from domain.ledger.service import Ledger
from domain.ledger.snapshots import (
    SNAPSHOT_INTERVAL,
    project_negotiation,
    snapshot_due,
    snapshot_spacing,
)
from domain.ledger.storage import STORAGE_ERRORS

__all__ = [
    "ANONYMOUS",
    "CONFLICT_RETRIES",
    "IDEMPOTENCY_WINDOW",
    "MAX_PARTIES",
    "MAX_TERMS",
    "SNAPSHOT_INTERVAL",
    "STORAGE_ERRORS",
    "TICK",
    "Ledger",
    "LedgerApplication",
    "PositionLookup",
    "Recorded",
    "RecordedEvent",
    "Restored",
    "RestoredEvent",
    "fingerprint_of",
    "project_negotiation",
    "snapshot_due",
    "snapshot_spacing",
    "utc_now",
]
