"""The ledger's commands: open a negotiation, record facts; each decided, stamped and hashed."""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from eventsourcing.persistence import PersistenceError

from domain import errors, facts
from domain.canonical import GENESIS_HASH, LEDGER_FORMAT, built_hash, canonical_document
from domain.ledger.clock import TICK
from domain.ledger.idempotency import Idempotency, pending_ids, scoped_key
from domain.ledger.records import Recorded, recorded_from_recordings
from domain.ledger.storage import storage_error
from domain.negotiation import EventMeta, Negotiation
from domain.values import Party, Term

ANONYMOUS = "anonymous"
CONFLICT_RETRIES = 8


class Commands(Idempotency):
    """Decides facts against the negotiation, then records them: all of a command, or none."""

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
        scoped = scoped_key(recorded_by, idempotency_key)
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
        try:
            return self._save_decided(neg, 1)
        except PersistenceError:
            if scoped is not None:
                repeat = self._repeat(self.get(opened.slug), scoped, fingerprint)
                if repeat is not None:
                    return repeat
            msg = f"a negotiation with slug {opened.slug!r} already exists"
            raise errors.NegotiationExists(msg) from None

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
        scoped = scoped_key(recorded_by, idempotency_key)
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
                try:
                    return self._save_decided(neg, first_version)
                except PersistenceError:
                    if expected_version is not None:
                        actual = self._load(slug).version
                        raise errors.StaleVersion(
                            f"expected version {expected_version}, another writer moved the "
                            f"negotiation to {actual}",
                            expected=expected_version,
                            actual=actual,
                        ) from None
                    self._evict(neg.id)
        raise errors.VersionConflict(
            f"{slug}: concurrent writers kept changing the negotiation; try again"
        )

    def _save_decided(self, neg: Negotiation, first_version: int) -> Recorded:
        """Saves the events decided on ``neg``, the first of them at ``first_version``.

        A failure of the store is raised as its ``ParleyError`` (``storage_error``); a clash
        with another writer's events is re-raised as the ``PersistenceError`` it is, for the
        command to answer. Decided once: a store that retried a COMMIT whose reply was lost
        clashes with our own events; they are the answer, not a clash.
        """
        written = pending_ids(neg)
        try:
            recordings = self.save(neg)
        except PersistenceError as e:
            committed = self._committed_anyway(neg, written, e)
            if committed is not None:
                return committed
            failure = storage_error(e, "write")
            if failure is not None:
                raise failure from e
            raise
        return recorded_from_recordings(neg, recordings, first_version)

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
        """What recording adds to a decided fact: its id, times, author and hash chain link."""
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
