"""The application service: one method per command, the library's errors translated into ours."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    JSONTranscoder,
    OperationalError,
    PersistenceError,
    Recording,
)
from eventsourcing.utils import get_topic

from domain import errors, facts
from domain.canonical import (
    GENESIS_HASH,
    LEDGER_FORMAT,
    LEDGER_FORMATS,
    built_hash,
    canonical_document,
    event_hash,
)
from domain.negotiation import IDEMPOTENCY_RETENTION, EventMeta, Negotiation, negotiation_id
from domain.transcodings import register_value_transcodings
from domain.values import Party, Term

T = TypeVar("T")
log = logging.getLogger(__name__)

ANONYMOUS = "anonymous"
CONFLICT_RETRIES = 8
SNAPSHOT_INTERVAL = 200
IDEMPOTENCY_WINDOW = timedelta(hours=24)
TICK = timedelta(microseconds=1)
"""How far a new ``recorded_at`` moves past the last stored one when the clock is not past it,
and past the previous event of the same command (recorded times strictly increase)."""


MAX_PARTIES = 64
"""The most parties one negotiation holds (every pair of them is a gap per term)."""
MAX_TERMS = 64
"""The most terms one negotiation defines."""


def snapshot_spacing(version: int) -> int:
    """Events between snapshots near ``version``: 200, growing to 1/8 of the stream.

    A snapshot of a long negotiation is large (its state indexes every event), so spacing
    them in proportion keeps the amortised cost per append flat and the total snapshot
    storage linear in the stream, while a cold load replays at most 1/8 of the stream.
    """
    return max(SNAPSHOT_INTERVAL, 1 << max(version.bit_length() - 4, 0))


def snapshot_due(before: int, after: int) -> bool:
    """Whether a snapshot point lies in versions ``(before, after]``."""
    return any(v % snapshot_spacing(v) == 0 for v in range(before + 1, after + 1))


def project_negotiation(
    aggregate: Negotiation | None, events: Iterable[Negotiation.Event]
) -> Negotiation | None:
    """Folds events into a negotiation, without the library's per-event protocol check."""
    for event in events:
        aggregate = event.mutate(aggregate)
    return aggregate


def utc_now() -> datetime:
    return datetime.now(tz=UTC)


@dataclass(frozen=True)
class RecordedEvent:
    """What the ledger tells a client about an event it has just stored."""

    event_id: UUID
    type: str
    version: int
    position: int | None
    recorded_at: datetime
    hash: str


@dataclass(frozen=True)
class Recorded:
    negotiation: str
    version: int
    events: tuple[RecordedEvent, ...]
    replayed: bool = False
    """True when an idempotent repeat answered with the first request's events."""

    @property
    def position(self) -> int:
        return max((e.position or 0) for e in self.events)


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


PositionLookup = Callable[[UUID, int, int], dict[int, int]]
"""(aggregate id, first version, last version) -> {version: notification id}."""


class Ledger(Application[UUID]):
    """Records negotiation events and reconstructs negotiations from them."""

    name = "Parley"
    snapshotting_intervals = {Negotiation: SNAPSHOT_INTERVAL}
    snapshotting_projectors = {Negotiation: project_negotiation}
    env = {"AGGREGATE_CACHE_MAXSIZE": "1000", "IS_SNAPSHOTTING_ENABLED": "y"}

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] = uuid4,
        position_lookup: PositionLookup | None = None,
        idempotency_window: timedelta = IDEMPOTENCY_WINDOW,
        max_parties: int = MAX_PARTIES,
        max_terms: int = MAX_TERMS,
    ) -> None:
        if not timedelta(0) < idempotency_window <= IDEMPOTENCY_RETENTION:
            msg = (
                f"the idempotency window must be positive and at most {IDEMPOTENCY_RETENTION}"
                " (how long negotiations keep keys)"
            )
            raise ValueError(msg)
        super().__init__(env)
        self._clock = clock
        self._idempotency_window = idempotency_window
        self.max_parties = max_parties
        self.max_terms = max_terms
        self._new_id = new_id
        self._position_lookup = position_lookup
        self._locks: dict[UUID, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._stamp_guard = threading.Lock()
        self._last_stamp: datetime | None = None
        self._last_stamp_known = False
        self.clock_behind: timedelta | None = None
        """How far the clock was behind the last stored ``recorded_at`` at the last append
        (None while it is not): recorded times then move on by 1 µs per event."""

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        register_value_transcodings(transcoder)

    def _record(self, processing_event: ProcessingEvent[UUID]) -> list[Recording[UUID]]:
        """Records, then caches the saved aggregates as they now stand.

        With fast-forwarding on, the library leaves the cache at the version loaded, so the
        next load of a negotiation read and replayed the event just saved (a visible share
        of an append). Writers of one negotiation take turns (``_writer_lock``), so the
        saved state is the latest this process knows; the next load still fast-forwards
        past whatever another process stored since.
        """
        recordings = super()._record(processing_event)
        cache = self.repository.cache
        if cache is not None and self.repository.fastforward:
            for nid, aggregate in processing_event.aggregates.items():
                cache.put(nid, aggregate)
        return recordings

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
            except (IntegrityError, OperationalError, PersistenceError) as e:
                log.warning("snapshot not taken (loading stays correct, only slower): %s", e)

    def set_position_lookup(self, lookup: PositionLookup) -> None:
        self._position_lookup = lookup

    # ------------------------------------------------------------- commands

    def open_negotiation(
        self,
        opened: facts.NegotiationOpened,
        parties: Sequence[Party] = (),
        terms: Sequence[Term] = (),
        *,
        recorded_by: str = ANONYMOUS,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> Recorded:
        """Opens a negotiation; its parties and terms become events of their own."""
        scoped = _scoped(recorded_by, idempotency_key)
        if scoped is not None:
            with contextlib.suppress(errors.NegotiationNotFound):
                repeat = self._repeat(self.get(opened.slug), scoped, fingerprint)
                if repeat is not None:
                    return repeat
        recorded_at = self._stamp(None, 1 + len(parties) + len(terms))
        opened = Negotiation.decide_opening(opened, recorded_at)
        at, sources = opened.occurred_at, opened.sources
        followers: list[facts.Fact] = [
            facts.PartyJoined(party=p, occurred_at=at, sources=sources) for p in parties
        ]
        followers += [facts.TermDefined(term=t, occurred_at=at, sources=sources) for t in terms]
        request = [scoped, fingerprint, 1] if scoped is not None else None
        first_meta = self._meta(
            None,
            opened,
            opened.slug,
            1,
            recorded_at,
            recorded_by,
            None if followers else request,
        )
        neg = Negotiation.open(opened, first_meta)
        self._decide_and_record(neg, followers, recorded_at + TICK, recorded_by, request)
        written = _pending_ids(neg)
        try:
            recordings = self.save(neg)
        except (IntegrityError, OperationalError, PersistenceError) as e:
            committed = self._committed_anyway(neg, written, e)
            if committed is not None:
                return committed
            if not isinstance(e, IntegrityError):
                raise errors.StorageUnavailable(f"the store did not accept the write: {e}") from e
            if scoped is not None:
                repeat = self._repeat(self.get(opened.slug), scoped, fingerprint)
                if repeat is not None:
                    return repeat
            msg = f"a negotiation with slug {opened.slug!r} already exists"
            raise errors.NegotiationExists(msg) from None
        return self._recorded(neg, recordings, 1)

    def record(
        self,
        slug: str,
        new_facts: Sequence[facts.Fact],
        *,
        expected_version: int | None = None,
        recorded_by: str = ANONYMOUS,
        idempotency_key: str | None = None,
        fingerprint: str = "",
    ) -> Recorded:
        """Appends facts atomically: all of them are recorded, or none.

        Without ``expected_version`` a clash with a concurrent writer is retried (reload,
        decide again, save); with it, the caller asked for exactly that version, so a
        clash is reported as :class:`StaleVersion`.
        """
        if not new_facts:
            raise errors.InvalidValue("at least one event is needed", field="events")
        scoped = _scoped(recorded_by, idempotency_key)
        # Writers in this process take turns on a negotiation: left to retry each other's
        # conflicts, some of them would run out of retries. Other processes still conflict.
        with self._writer_lock(slug):
            for _ in range(CONFLICT_RETRIES):
                neg = self._load(slug)
                if scoped is not None:
                    repeat = self._repeat(neg, scoped, fingerprint)
                    if repeat is not None:
                        return repeat
                if expected_version is not None and expected_version != neg.version:
                    raise errors.StaleVersion(
                        f"expected version {expected_version}, the negotiation is at {neg.version}",
                        expected=expected_version,
                        actual=neg.version,
                    )
                first_version = neg.version + 1
                request = [scoped, fingerprint, first_version] if scoped is not None else None
                stamp = self._stamp(neg, len(new_facts))
                self._decide_and_record(neg, new_facts, stamp, recorded_by, request)
                written = _pending_ids(neg)
                try:
                    recordings = self.save(neg)
                except (IntegrityError, OperationalError, PersistenceError) as e:
                    # Decided once: a store that retried a COMMIT whose reply was lost
                    # clashes with our own events; they are the answer, not a conflict.
                    committed = self._committed_anyway(neg, written, e)
                    if committed is not None:
                        return committed
                    if not isinstance(e, IntegrityError):
                        raise errors.StorageUnavailable(
                            f"the store did not accept the write: {e}"
                        ) from e
                    if expected_version is not None:
                        actual = self._load(slug).version
                        raise errors.StaleVersion(
                            f"expected version {expected_version}, another writer moved the "
                            f"negotiation to {actual}",
                            expected=expected_version,
                            actual=actual,
                        ) from None
                    self._evict(neg.id)
                    continue
                return self._recorded(neg, recordings, first_version)
        raise errors.VersionConflict(
            f"{slug}: concurrent writers kept changing the negotiation; try again"
        )

    # One method per fact, for callers that record one thing at a time.

    def add_party(self, slug: str, fact: facts.PartyJoined, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def define_term(self, slug: str, fact: facts.TermDefined, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def hold_round(self, slug: str, fact: facts.RoundHeld, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def hold_call(self, slug: str, fact: facts.CallHeld, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def hold_meeting(self, slug: str, fact: facts.MeetingHeld, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def make_offer(self, slug: str, fact: facts.OfferMade, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def withdraw_offer(self, slug: str, fact: facts.OfferWithdrawn, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def reject_offer(self, slug: str, fact: facts.OfferRejected, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def make_statement(self, slug: str, fact: facts.StatementMade, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def raise_issue(self, slug: str, fact: facts.IssueRaised, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def resolve_issue(self, slug: str, fact: facts.IssueResolved, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def reach_agreement(self, slug: str, fact: facts.AgreementReached, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def reject_agreement(self, slug: str, fact: facts.AgreementRejected, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def change_status(self, slug: str, fact: facts.StatusChanged, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    def record_exchange_rate(
        self, slug: str, fact: facts.ExchangeRateRecorded, **kw: Any
    ) -> Recorded:
        return self.record(slug, [fact], **kw)

    def retract_event(self, slug: str, fact: facts.EventRetracted, **kw: Any) -> Recorded:
        return self.record(slug, [fact], **kw)

    # --------------------------------------------------------------- restore

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
            recordings = self._record(processing)
        except IntegrityError:
            raise errors.InvalidValue(
                "the store is no longer empty: another writer recorded events meanwhile"
            ) from None
        except (OperationalError, PersistenceError) as e:
            raise errors.StorageUnavailable(f"the store did not accept the write: {e}") from e
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

    # --------------------------------------------------------------- queries

    def get(self, slug: str, version: int | None = None) -> Negotiation:
        """The negotiation now, or after its first ``version`` events."""
        if version is not None:
            return self._load(slug, version)
        # Writers in this process change the cached aggregate under this lock; a reader
        # taking it too never sees one container a version ahead of another.
        with self._writer_lock(slug):
            return self._load(slug)

    def _load(self, slug: str, version: int | None = None) -> Negotiation:
        try:
            with self._translate_storage_errors():
                neg: Negotiation = self.repository.get(
                    negotiation_id(slug), version=version, projector_func=project_negotiation
                )
        except AggregateNotFoundError:
            raise errors.NegotiationNotFound(f"no negotiation {slug!r}") from None
        return neg

    def stream(
        self,
        slug: str,
        *,
        after_version: int = 0,
        up_to_version: int | None = None,
        limit: int | None = None,
    ) -> list[Negotiation.Event]:
        """The stored events of one negotiation, in recorded order."""
        with self._translate_storage_errors():
            found = self.events.get(
                negotiation_id(slug), gt=after_version, lte=up_to_version, limit=limit
            )
            events: list[Negotiation.Event] = list(found)  # type: ignore[arg-type]
        if not events and after_version == 0:
            raise errors.NegotiationNotFound(f"no negotiation {slug!r}")
        return events

    def opened_negotiations(
        self, after_position: int = 0, limit: int = 100
    ) -> list[tuple[int, str]]:
        """(position, slug) of negotiations in the order they were opened."""
        topic = get_topic(Negotiation.NegotiationOpened)
        with self._translate_storage_errors():
            notifications = self.recorder.select_notifications(
                start=after_position + 1, limit=limit, topics=[topic]
            )
        found = []
        for n in notifications:
            event = self.mapper.to_domain_event(n)
            found.append((n.id, event.slug))  # type: ignore[attr-defined]
        return found

    def positions(self, slug: str, first_version: int, last_version: int) -> dict[int, int]:
        """{version: log position} for a range of one negotiation's events."""
        return self._positions(negotiation_id(slug), first_version, last_version)

    def head_position(self) -> int:
        with self._translate_storage_errors():
            return self.recorder.max_notification_id() or 0

    # -------------------------------------------------------------- helpers

    def _decide_and_record(
        self,
        neg: Negotiation,
        new_facts: Sequence[facts.Fact],
        recorded_at: datetime,
        recorded_by: str,
        request: list[Any] | None,
    ) -> None:
        """Decides and records the facts, the first at ``recorded_at``, each next 1 µs later."""
        last = len(new_facts) - 1
        first_at = recorded_at
        for index, fact in enumerate(new_facts):
            recorded_at = first_at + index * TICK
            try:
                self._check_limits(neg, fact)
                decided = neg.decide(fact, recorded_at)
            except errors.ParleyError as e:
                if e.field is not None:
                    e.field = f"[{index}].{e.field}"
                e.extra.setdefault("index", index)
                raise
            meta = self._meta(
                neg,
                decided,
                neg.slug,
                neg.version + 1,
                recorded_at,
                recorded_by,
                request if index == last else None,
            )
            neg.record(decided, meta)

    def _check_limits(self, neg: Negotiation, fact: facts.Fact) -> None:
        """Bounds what one negotiation's analytics fan out to (pairs of parties, per term)."""
        if isinstance(fact, facts.PartyJoined) and len(neg.parties) >= self.max_parties:
            raise errors.LimitReached(
                f"a negotiation holds at most {self.max_parties} parties (max_parties)",
                field="party.id",
                limit=self.max_parties,
            )
        if isinstance(fact, facts.TermDefined) and len(neg.terms) >= self.max_terms:
            raise errors.LimitReached(
                f"a negotiation holds at most {self.max_terms} terms (max_terms)",
                field="term.id",
                limit=self.max_terms,
            )

    def _meta(
        self,
        neg: Negotiation | None,
        fact: facts.Fact,
        slug: str,
        version: int,
        recorded_at: datetime,
        recorded_by: str,
        request: list[Any] | None,
    ) -> EventMeta:
        event_id = self._new_id()
        prev_hash = neg.head_hash if neg is not None else GENESIS_HASH
        document = canonical_document(
            fact=fact,
            negotiation=slug,
            version=version,
            event_id=event_id,
            recorded_at=recorded_at,
            recorded_by=recorded_by,
            prev_hash=prev_hash,
            ledger_format=LEDGER_FORMAT,
        )
        return EventMeta(
            event_id,
            recorded_at,
            recorded_by,
            prev_hash,
            built_hash(document),
            request,
            LEDGER_FORMAT,
        )

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
        return Recorded(
            negotiation=neg.slug,
            version=last_version,
            events=tuple(
                RecordedEvent(
                    e.event_id,
                    e.TYPE,  # type: ignore[attr-defined]
                    e.originator_version,
                    positions.get(e.originator_version),
                    e.timestamp,
                    e.hash,
                )
                for e in events
            ),
            replayed=True,
        )

    def _stamp(self, neg: Negotiation | None, count: int = 1) -> datetime:
        """``recorded_at`` of the first of a command's ``count`` events (each next is 1 µs later).

        The later of the clock and the last stored ``recorded_at`` plus 1 µs, so recorded
        times strictly increase (a tie with the clock moves on too). The last stored one is
        the negotiation's latest event (exact: a save is conditional on the version loaded)
        and the latest this process stored or found at the log's head when it first
        recorded. So recorded times never repeat nor go backwards within a negotiation, nor
        within the ledger as one process writes it; a clock set back shows in ``/health``.
        """
        now = self._clock()
        with self._stamp_guard:
            if not self._last_stamp_known:
                self._last_stamp = self._head_recorded_at()
                self._last_stamp_known = True
            floor = self._last_stamp
            if neg is not None and (floor is None or neg.modified_on > floor):
                floor = neg.modified_on
            self.clock_behind = floor - now if floor is not None and now < floor else None
            stamped = now if floor is None or now > floor else floor + TICK
            self._last_stamp = stamped + (count - 1) * TICK
        return stamped

    def _note_stamp(self, moment: datetime) -> None:
        with self._stamp_guard:
            if self._last_stamp is None or moment > self._last_stamp:
                self._last_stamp = moment

    def _head_recorded_at(self) -> datetime | None:
        """The ``recorded_at`` of the event at the log's head (None in an empty store)."""
        with self._translate_storage_errors():
            head = self.recorder.max_notification_id()
            if not head:
                return None
            found = self.recorder.select_notifications(start=head, limit=1)
        if not found:
            return None
        moment: datetime = self.mapper.to_domain_event(found[0]).timestamp  # type: ignore[attr-defined]
        return moment

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
            with self._translate_storage_errors():
                stored = list(self.events.get(neg.id, gt=first - 1, lte=last))
        except errors.StorageUnavailable as unknown:
            log.warning(
                "append outcome unknown: %s versions %d-%d failed with %s and the store "
                "cannot be read back (%s); answered 503, a retry with the same "
                "Idempotency-Key resolves it",
                neg.slug,
                first,
                last,
                _brief(error),
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
                    _brief(error),
                )
            else:
                log.warning(
                    "append failed: %s versions %d-%d not stored after %s",
                    neg.slug,
                    first,
                    last,
                    _brief(error),
                )
            return None
        log.warning(
            "append committed although the store reported %s: %s versions %d-%d are this "
            "command's own events; answered as committed",
            _brief(error),
            neg.slug,
            first,
            last,
        )
        positions = self._positions(neg.id, first, last)
        return Recorded(
            negotiation=neg.slug,
            version=last,
            events=tuple(
                RecordedEvent(
                    e.event_id,  # type: ignore[attr-defined]
                    e.TYPE,  # type: ignore[attr-defined]
                    e.originator_version,
                    positions.get(e.originator_version),
                    e.timestamp,  # type: ignore[attr-defined]
                    e.hash,  # type: ignore[attr-defined]
                )
                for e in stored
            ),
        )

    def _positions(self, nid: UUID, first: int, last: int) -> dict[int, int]:
        if self._position_lookup is None:
            return {}
        with self._translate_storage_errors():
            return self._position_lookup(nid, first, last)

    def _recorded(
        self, neg: Negotiation, recordings: Sequence[Any], first_version: int
    ) -> Recorded:
        stored = [r for r in recordings if isinstance(r.domain_event, Negotiation.Event)]
        return Recorded(
            negotiation=neg.slug,
            version=neg.version,
            events=tuple(
                RecordedEvent(
                    r.domain_event.event_id,
                    r.domain_event.TYPE,
                    r.domain_event.originator_version,
                    r.notification.id,
                    r.domain_event.timestamp,
                    r.domain_event.hash,
                )
                for r in stored
                if r.domain_event.originator_version >= first_version
            ),
        )

    def _writer_lock(self, slug: str) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(negotiation_id(slug), threading.Lock())

    def _evict(self, nid: UUID) -> None:
        cache = self.repository.cache
        if cache is not None:
            with contextlib.suppress(KeyError):
                cache.get(nid, evict=True)

    @contextlib.contextmanager
    def _translate_storage_errors(self) -> Iterator[None]:
        try:
            yield
        except (OperationalError, InterfaceError) as e:
            raise errors.StorageUnavailable(f"the store is unavailable: {e}") from e


def _same_hash(decided: str, stored: str, where: str) -> None:
    """Deciding normalises a fact; one that would be stored other than it was hashed is refused."""
    if decided != stored:
        raise errors.InvalidValue(
            f"{where}: the event does not decide to the content it was hashed with",
            field="payload",
        )


def _brief(error: Exception) -> str:
    """An error for the log: its class and the start of its message (which may quote rows)."""
    text = str(error)
    return f"{type(error).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"


def _pending_ids(neg: Negotiation) -> list[tuple[int, UUID]]:
    """(version, event id) of the events a save is about to write: known before the insert."""
    return [(e.originator_version, e.event_id) for e in neg.pending_events]  # type: ignore[attr-defined]


def _scoped(recorded_by: str, key: str | None) -> str | None:
    """Idempotency keys are scoped to whoever recorded with them."""
    return None if key is None else f"{recorded_by}\x1f{key}"


def fingerprint_of(data: bytes) -> str:
    """A stable fingerprint of a request body, to tell a repeat from a reuse of its key."""
    return hashlib.sha256(data).hexdigest()
