"""Exactly once: a repeated request answers with its first events, and an ambiguous save is resolved.

A request with an Idempotency-Key is recorded once; repeating it within the window answers
with the first request's events (``_repeat``). A save can fail after its COMMIT succeeded;
the store is then asked whether it holds this command's own events (``_committed_anyway``).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from eventsourcing.persistence import IntegrityError

from domain import errors
from domain.ledger.application import LedgerApplication
from domain.ledger.records import Recorded, recorded_from_stored
from domain.ledger.storage import brief, translate_storage_errors
from domain.negotiation import Negotiation

log = logging.getLogger(__name__)


def fingerprint_of(data: bytes) -> str:
    """A stable fingerprint of a request body, to tell a repeat from a reuse of its key."""
    return hashlib.sha256(data).hexdigest()


def scoped_key(recorded_by: str, key: str | None) -> str | None:
    """Idempotency keys are scoped to whoever recorded with them."""
    return None if key is None else f"{recorded_by}\x1f{key}"


def pending_ids(neg: Negotiation) -> list[tuple[int, UUID]]:
    """(version, event id) of the events a save is about to write: known before the insert."""
    return [(e.originator_version, e.event_id) for e in neg.pending_events]  # type: ignore[attr-defined]


class Idempotency(LedgerApplication):
    """Answers repeated requests and saves that failed after they committed."""

    def _repeat(self, neg: Negotiation, scoped: str, fingerprint: str) -> Recorded | None:
        """The first answer to a request with this key, or None when the key is new to us.

        A key used longer ago than the idempotency window counts as new: the request is
        recorded again, and the key then stands for it.
        """
        seen = neg.idempotency.get(scoped)
        if seen is None:
            return None
        first_fingerprint, first_version, last_version = seen[:3]
        events = self.stream(neg.slug, after_version=first_version - 1, up_to_version=last_version)
        # Entries from snapshots taken before the state kept a timestamp: the event that
        # carried the key has it.
        used_at = datetime.fromisoformat(seen[3]) if len(seen) > 3 else events[-1].timestamp
        if used_at < self._clock() - self._idempotency_window:
            return None
        if first_fingerprint != fingerprint:
            raise errors.IdempotencyKeyReused(
                "this Idempotency-Key was used for a different request"
            )
        positions = self._positions(neg.id, first_version, last_version)
        return recorded_from_stored(neg.slug, last_version, events, positions, replayed=True)

    def _committed_anyway(
        self, neg: Negotiation, written: Sequence[tuple[int, UUID]], error: Exception
    ) -> Recorded | None:
        """This command's events when the store holds them although saving them failed.

        A save can fail after its COMMIT succeeded: the reply was lost and the library
        retried (meeting its own rows as an IntegrityError), or it gave up with an
        OperationalError. The ids of the events written are ours alone, so finding them
        at their versions decides the outcome: committed (answered as such, once), or not
        (a real conflict or a failed write). Every such outcome is logged.
        """
        self._evict(neg.id)
        first, last = written[0][0], written[-1][0]
        try:
            with translate_storage_errors():
                stored = list(self.events.get(neg.id, gt=first - 1, lte=last))
        except errors.StorageUnavailable as unknown:
            log.warning(
                "append outcome unknown: %s versions %d-%d failed with %s and the store "
                "cannot be read back (%s); answered 503, a retry with the same "
                "Idempotency-Key resolves it",
                neg.slug,
                first,
                last,
                brief(error),
                unknown,
            )
            msg = f"the outcome of the write is unknown (the store is unavailable): {error}"
            raise errors.StorageUnavailable(msg) from error
        ours = [(e.originator_version, e.event_id) for e in stored]  # type: ignore[attr-defined]
        if ours != list(written):
            if isinstance(error, IntegrityError):
                log.info(
                    "append conflict: %s versions %d-%d are another writer's (%s)",
                    neg.slug,
                    first,
                    last,
                    brief(error),
                )
            else:
                log.warning(
                    "append failed: %s versions %d-%d not stored after %s",
                    neg.slug,
                    first,
                    last,
                    brief(error),
                )
            return None
        log.warning(
            "append committed although the store reported %s: %s versions %d-%d are this "
            "command's own events; answered as committed",
            brief(error),
            neg.slug,
            first,
            last,
        )
        positions = self._positions(neg.id, first, last)
        return recorded_from_stored(neg.slug, last, stored, positions)
