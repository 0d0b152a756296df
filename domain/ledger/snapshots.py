"""When the ledger snapshots a negotiation, and taking those snapshots without failing a command."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any
from uuid import UUID

from eventsourcing.application import Application
from eventsourcing.persistence import PersistenceError

from domain.negotiation import Negotiation

log = logging.getLogger(__name__)

SNAPSHOT_INTERVAL = 200


def snapshot_spacing(version: int) -> int:
    """Events between snapshots near ``version``: 200, growing to 1/8 of the stream.

    A snapshot of a long negotiation is large (its state indexes every event), so spacing
    them in proportion keeps the amortised cost per append flat and the total snapshot
    storage linear in the stream, while a cold load replays at most 1/8 of the stream.
    """
    return max(SNAPSHOT_INTERVAL, 1 << max(version.bit_length() - 4, 0))


def snapshot_due(before: int, after: int) -> bool:
    """Whether a snapshot point lies in versions ``(before, after]``."""
    if after == before + 1:  # one event, as most commands record
        return after % snapshot_spacing(after) == 0
    return any(v % snapshot_spacing(v) == 0 for v in range(before + 1, after + 1))


def project_negotiation(
    aggregate: Negotiation | None, events: Iterable[Negotiation.Event]
) -> Negotiation | None:
    """Folds events into a negotiation, without the library's per-event protocol check."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


class Snapshotting(Application[UUID]):
    """Snapshots negotiations at the points ``snapshot_due`` names."""

    snapshotting_intervals = {Negotiation: SNAPSHOT_INTERVAL}
    snapshotting_projectors = {Negotiation: project_negotiation}

    def _take_snapshots(self, processing_event: Any) -> None:
        """Snapshots the aggregates just saved, when their new events cross a snapshot point.

        The library would rebuild each aggregate from the store before snapshotting it; the
        saved aggregate is that state already. Snapshots only speed up loading, so failing to
        store one must not fail the command: its events are already committed, and raising
        here would tell the client the write failed (and re-enter ``record``'s retry).
        """
        if self.snapshots is None:
            return
        first_new: dict[UUID, int] = {}
        for event in processing_event.events:
            first_new.setdefault(event.originator_id, event.originator_version)
        for nid, aggregate in processing_event.aggregates.items():
            if not isinstance(aggregate, Negotiation) or nid not in first_new:
                continue
            if not snapshot_due(first_new[nid] - 1, aggregate.version):
                continue
            try:
                self.snapshots.put([Negotiation.Snapshot.take(aggregate)])
            except PersistenceError as e:
                log.warning("snapshot not taken (loading stays correct, only slower): %s", e)
