"""Restoring an export: every event checked against its chain and the rules, then written as it was."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from eventsourcing.application import ProcessingEvent
from eventsourcing.persistence import IntegrityError

from domain import errors, facts
from domain.canonical import GENESIS_HASH, LEDGER_FORMATS, canonical_document, event_hash
from domain.ledger.application import LedgerApplication
from domain.ledger.storage import translate_storage_errors
from domain.negotiation import EventMeta, Negotiation


@dataclass(frozen=True)
class RestoredEvent:
    """An event to restore from an export: its fact and the metadata it was stored with."""

    negotiation: str
    version: int
    fact: facts.Fact
    event_id: UUID
    recorded_at: datetime
    recorded_by: str
    prev_hash: str
    hash: str
    ledger_format: int = 1
    """The format its hash was computed in: 1 unless its document names another."""


@dataclass(frozen=True)
class Restored:
    """What a restore wrote: per negotiation, its version and head hash, in opening order."""

    heads: dict[str, tuple[int, str]]
    events: int
    position: int
    """The log position of the last event written (0 when nothing was)."""


class Restoring(LedgerApplication):
    """Re-creates exported history in an empty store, all or nothing."""

    def restore(self, events: Iterable[RestoredEvent]) -> Restored:
        """Re-creates exported events, as they were stored, in an empty store; all or nothing.

        Every event is checked before anything is written: its hash must be the hash of its
        canonical document, its ``prev_hash`` the hash of its negotiation's previous event and
        its version the next one; each fact is decided on the aggregate as it is rebuilt, so
        the domain rules hold for restored history too. The events are then written in the
        order given, in one transaction, keeping their ids, ``recorded_at``, ``recorded_by``
        and hashes. An error names the offending event's index in ``extra["index"]``.
        Idempotency records are not restored: they are operational, not part of the facts.
        """
        if self.head_position() != 0:
            raise errors.InvalidValue(
                "the store already holds events: a restore goes into an empty store only"
            )
        negotiations: dict[str, Negotiation] = {}
        order: list[tuple[UUID, int]] = []
        seen: set[UUID] = set()
        for index, item in enumerate(events):
            try:
                neg = self._restore_one(negotiations.get(item.negotiation), item, seen)
            except errors.ParleyError as e:
                e.extra.setdefault("index", index)
                raise
            negotiations[item.negotiation] = neg
            order.append((neg.id, item.version))
        if not order:
            return Restored(heads={}, events=0, position=0)
        # Collected in the order given, not aggregate by aggregate: the log keeps the
        # source's interleaving, so positions (and the Merkle tree over them) match.
        pending: dict[tuple[UUID, int], Any] = {}
        processing: ProcessingEvent[UUID] = ProcessingEvent()
        for neg in negotiations.values():
            for event in neg.collect_events():
                pending[(event.originator_id, event.originator_version)] = event
            processing.aggregates[neg.id] = neg
        processing.events.extend(pending[key] for key in order)
        try:
            with translate_storage_errors("write"):
                recordings = self._record(processing)
        except IntegrityError:
            raise errors.InvalidValue(
                "the store is no longer empty: another writer recorded events meanwhile"
            ) from None
        self._take_snapshots(processing)
        for recording in recordings:
            self._note_stamp(recording.domain_event.timestamp)  # type: ignore[attr-defined]
        return Restored(
            heads={slug: (neg.version, neg.head_hash) for slug, neg in negotiations.items()},
            events=len(order),
            position=max((r.notification.id or 0) for r in recordings),
        )

    def _restore_one(
        self, neg: Negotiation | None, item: RestoredEvent, seen: set[UUID]
    ) -> Negotiation:
        """Checks one exported event against its chain and the rules, and records it."""
        version = neg.version + 1 if neg is not None else 1
        head = neg.head_hash if neg is not None else GENESIS_HASH
        where = f"{item.negotiation} version {item.version}"
        if item.version != version:
            raise errors.InvalidValue(
                f"{where}: expected version {version} (an event is missing or out of order)",
                field="version",
            )
        if item.prev_hash != head:
            raise errors.InvalidValue(
                f"{where}: prev_hash is not the hash of the event before it", field="prev_hash"
            )
        if item.event_id in seen:
            raise errors.InvalidValue(
                f"{where}: event id {item.event_id} occurs twice", field="event_id"
            )
        recorded_at = item.recorded_at.astimezone(UTC)

        if item.ledger_format not in LEDGER_FORMATS:
            raise errors.InvalidValue(
                f"{where}: ledger format {item.ledger_format!r} is not one this Parley knows",
                field="ledger_format",
            )

        def hash_of(fact: facts.Fact) -> str:
            try:
                return event_hash(
                    canonical_document(
                        fact=fact,
                        negotiation=item.negotiation,
                        version=item.version,
                        event_id=item.event_id,
                        recorded_at=recorded_at,
                        recorded_by=item.recorded_by,
                        prev_hash=item.prev_hash,
                        ledger_format=item.ledger_format,
                    )
                )
            except ValueError as e:
                raise errors.InvalidValue(
                    f"{where}: cannot be hashed in ledger format {item.ledger_format}: {e}",
                    field="payload",
                ) from None

        if hash_of(item.fact) != item.hash:
            raise errors.InvalidValue(
                f"{where}: the hash does not match the event's content", field="hash"
            )
        meta = EventMeta(
            item.event_id,
            recorded_at,
            item.recorded_by,
            item.prev_hash,
            item.hash,
            None,
            item.ledger_format,
        )
        opening = item.fact if isinstance(item.fact, facts.NegotiationOpened) else None
        misplaced = errors.InvalidValue(
            f"{where}: a negotiation's stream starts with its opening, and only there",
            field="type",
        )
        if neg is None:
            if opening is None:
                raise misplaced
            opened = Negotiation.decide_opening(opening, recorded_at)
            if opened.slug != item.negotiation:
                raise errors.InvalidValue(
                    f"{where}: opens {opened.slug!r}, not {item.negotiation!r}", field="slug"
                )
            _same_hash(hash_of(opened), item.hash, where)
            seen.add(item.event_id)
            return Negotiation.open(opened, meta)
        if opening is not None:
            raise misplaced
        decided = neg.decide(item.fact, recorded_at, item.ledger_format)
        _same_hash(hash_of(decided), item.hash, where)
        neg.record(decided, meta)
        seen.add(item.event_id)
        return neg


def _same_hash(decided: str, stored: str, where: str) -> None:
    """Deciding normalises a fact; one that would be stored other than it was hashed is refused."""
    if decided != stored:
        raise errors.InvalidValue(
            f"{where}: the event does not decide to the content it was hashed with",
            field="payload",
        )
