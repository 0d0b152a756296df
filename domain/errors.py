"""Every error Parley's domain raises, in one hierarchy.

    ParleyError
    ├── InvalidValue                 a value is malformed (slug, unit, amount, date…)
    ├── RuleViolation                a domain rule of the contract is breached (422)
    │   ├── UnknownParty
    │   ├── UnknownTerm
    │   ├── UnitMismatch
    │   ├── DuplicateParty
    │   ├── DuplicateTerm
    │   ├── RoundNumberTaken
    │   ├── RoundOutOfOrder
    │   ├── NegotiationClosed
    │   ├── UnknownEvent
    │   ├── WrongEventType
    │   ├── AlreadyRetracted
    │   ├── NotRetractable
    │   ├── DefinitionInUse
    │   ├── OfferNotLive
    │   ├── NotOwnOffer
    │   ├── OwnOfferRejected
    │   ├── AgreementNotLive
    │   ├── DuplicateIssue
    │   ├── UnknownIssue
    │   ├── IssueAlreadyResolved
    │   ├── AnswerBeforeEvent
    │   └── LimitReached         a negotiation holds its most parties or terms
    ├── NegotiationNotFound          no negotiation has that slug (404)
    ├── NegotiationExists            the slug is taken (409)
    ├── VersionConflict              concurrent writers kept colliding (409)
    ├── StaleVersion                 the client's expected version is not the current one (412)
    ├── IdempotencyKeyReused         the same key came with a different request (422)
    └── StorageUnavailable           the store did not answer in time (503)

Each class carries a short ``code``; the API turns it into the problem type.
"""

from __future__ import annotations

from typing import Any, ClassVar


class ParleyError(Exception):
    """Base of every error the domain raises on purpose."""

    code: ClassVar[str] = "parley-error"

    def __init__(self, detail: str, *, field: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field
        self.extra = extra


class InvalidValue(ParleyError):
    """A value is malformed: the request cannot even be decided on."""

    code = "invalid-value"


class RuleViolation(ParleyError):
    """A domain rule of the contract would be broken by the command."""

    code = "rule-violation"


class UnknownParty(RuleViolation):
    code = "unknown-party"


class UnknownTerm(RuleViolation):
    code = "unknown-term"


class UnitMismatch(RuleViolation):
    code = "unit-mismatch"


class DuplicateParty(RuleViolation):
    code = "duplicate-party"


class DuplicateTerm(RuleViolation):
    code = "duplicate-term"


class RoundNumberTaken(RuleViolation):
    code = "round-number-taken"


class RoundOutOfOrder(RuleViolation):
    code = "round-out-of-order"


class NegotiationClosed(RuleViolation):
    code = "negotiation-closed"


class UnknownEvent(RuleViolation):
    code = "unknown-event"


class WrongEventType(RuleViolation):
    code = "wrong-event-type"


class AlreadyRetracted(RuleViolation):
    code = "already-retracted"


class NotRetractable(RuleViolation):
    code = "not-retractable"


class DefinitionInUse(RuleViolation):
    code = "definition-in-use"


class OfferNotLive(RuleViolation):
    code = "offer-not-live"


class NotOwnOffer(RuleViolation):
    code = "not-own-offer"


class OwnOfferRejected(RuleViolation):
    code = "own-offer-rejected"


class AgreementNotLive(RuleViolation):
    code = "agreement-not-live"


class DuplicateIssue(RuleViolation):
    code = "duplicate-issue"


class UnknownIssue(RuleViolation):
    code = "unknown-issue"


class IssueAlreadyResolved(RuleViolation):
    code = "issue-already-resolved"


class AnswerBeforeEvent(RuleViolation):
    code = "answer-before-event"


class LimitReached(RuleViolation):
    """A negotiation already holds as many parties (or terms) as the service allows."""

    code = "limit-reached"


class NegotiationNotFound(ParleyError):
    code = "negotiation-not-found"


class NegotiationExists(ParleyError):
    code = "negotiation-exists"


class VersionConflict(ParleyError):
    code = "version-conflict"


class StaleVersion(ParleyError):
    code = "stale-version"

    def __init__(self, detail: str, *, expected: int, actual: int) -> None:
        super().__init__(detail, expected_version=expected, current_version=actual)
        self.expected = expected
        self.actual = actual


class IdempotencyKeyReused(ParleyError):
    code = "idempotency-key-reused"


class StorageUnavailable(ParleyError):
    code = "storage-unavailable"


def all_error_classes() -> list[type[ParleyError]]:
    """Every concrete error class, for the API's mapping table and its completeness test."""
    found: list[type[ParleyError]] = []
    pending: list[type[ParleyError]] = [ParleyError]
    while pending:
        cls = pending.pop()
        found.append(cls)
        pending.extend(cls.__subclasses__())
    return found
