"""The one table of problems: each error class's status and title, and every problem type.

The table names each error class of the domain (``domain/errors.py``) and of the API
(``api/errors.py``) explicitly (a test fails when a class is missing), so a new error gets
a deliberate status rather than whatever its base class had. ``CATALOGUE`` adds the
problems answered outside the error classes; ``GET /problems/{code}`` shows each.
"""

from __future__ import annotations

from dataclasses import dataclass
from http import HTTPStatus

from api.errors import (
    ApiError,
    CosignatureRefused,
    EventNotInLedger,
    Forbidden,
    KeyNameTaken,
    KeyNotFound,
    NoSigningKey,
    NotCosigned,
    TileNotFound,
    TreeSizeOutOfRange,
    Unauthenticated,
    ViewLaggingError,
)
from domain import errors

PROBLEM_BASE = "/problems/"
"""Problem ``type`` URIs are this server's own pages (``GET /problems/{code}``), resolved
against the URL of the request (RFC 9457 allows a relative reference)."""


@dataclass(frozen=True)
class ProblemSpec:
    status: int
    title: str


PROBLEM_TABLE: dict[type[errors.ParleyError], ProblemSpec] = {
    errors.ParleyError: ProblemSpec(422, "The request cannot be carried out"),
    errors.InvalidValue: ProblemSpec(422, "Invalid value"),
    errors.RuleViolation: ProblemSpec(422, "A negotiation rule would be broken"),
    errors.UnknownParty: ProblemSpec(422, "Unknown party"),
    errors.UnknownTerm: ProblemSpec(422, "Unknown term"),
    errors.UnitMismatch: ProblemSpec(422, "Unit does not fit the term"),
    errors.DuplicateParty: ProblemSpec(422, "Party already joined"),
    errors.DuplicateTerm: ProblemSpec(422, "Term already defined"),
    errors.RoundNumberTaken: ProblemSpec(422, "Round number already on record"),
    errors.RoundOutOfOrder: ProblemSpec(422, "Round numbers must increase with time"),
    errors.NegotiationClosed: ProblemSpec(422, "Negotiation closed"),
    errors.UnknownEvent: ProblemSpec(422, "Unknown event"),
    errors.WrongEventType: ProblemSpec(422, "Wrong event type"),
    errors.AlreadyRetracted: ProblemSpec(422, "Event already retracted"),
    errors.NotRetractable: ProblemSpec(422, "Event cannot be retracted"),
    errors.DefinitionInUse: ProblemSpec(422, "Definition still in use"),
    errors.OfferNotLive: ProblemSpec(422, "Offer no longer live"),
    errors.NotOwnOffer: ProblemSpec(422, "Not the party's own offer"),
    errors.OwnOfferRejected: ProblemSpec(422, "A party cannot reject its own offer"),
    errors.AgreementNotLive: ProblemSpec(422, "Agreement no longer live"),
    errors.DuplicateIssue: ProblemSpec(422, "Issue already raised"),
    errors.UnknownIssue: ProblemSpec(422, "Unknown issue"),
    errors.IssueAlreadyResolved: ProblemSpec(422, "Issue already resolved"),
    errors.AnswerBeforeEvent: ProblemSpec(422, "Answer dated before the event it answers"),
    errors.LimitReached: ProblemSpec(422, "Negotiation limit reached"),
    errors.NegotiationNotFound: ProblemSpec(404, "Negotiation not found"),
    errors.NegotiationExists: ProblemSpec(409, "Negotiation already exists"),
    errors.VersionConflict: ProblemSpec(409, "Version conflict"),
    errors.StaleVersion: ProblemSpec(412, "Stale version"),
    errors.IdempotencyKeyReused: ProblemSpec(422, "Idempotency-Key reused"),
    errors.StorageUnavailable: ProblemSpec(503, "Storage unavailable"),
    ApiError: ProblemSpec(422, "The request cannot be carried out"),
    EventNotInLedger: ProblemSpec(404, "Event not found"),
    TreeSizeOutOfRange: ProblemSpec(422, "No Merkle tree of that size"),
    TileNotFound: ProblemSpec(404, "Tile not found"),
    NoSigningKey: ProblemSpec(404, "No signing key"),
    NotCosigned: ProblemSpec(404, "No cosigned checkpoint"),
    CosignatureRefused: ProblemSpec(422, "Cosignature refused"),
    Unauthenticated: ProblemSpec(401, "API key required"),
    Forbidden: ProblemSpec(403, "Role does not allow this"),
    KeyNameTaken: ProblemSpec(409, "Key name taken"),
    KeyNotFound: ProblemSpec(404, "Key not found"),
    ViewLaggingError: ProblemSpec(503, "Read views lagging"),
}


def spec_for(cls: type[errors.ParleyError]) -> ProblemSpec:
    """The nearest mapped class decides: an unmapped subclass still gets its family's answer."""
    for klass in cls.__mro__:
        spec = PROBLEM_TABLE.get(klass)
        if spec is not None:
            return spec
    return PROBLEM_TABLE[errors.ParleyError]


@dataclass(frozen=True)
class ProblemType:
    """One problem type: its page at ``/problems/{code}`` says what it means and what to do."""

    code: str
    status: int
    title: str
    description: str


# Problems answered outside the error classes: request parsing, limits, the open mode's fences.
_OTHER_PROBLEMS = (
    ProblemType("malformed-json", 400, "Malformed JSON", "The request body is not valid JSON."),
    ProblemType(
        "validation",
        422,
        "Request validation failed",
        "A field of the body, query or path is missing or malformed; `errors` lists each "
        "with its path.",
    ),
    ProblemType(
        "body-too-large",
        413,
        "Request body too large",
        "The body is longer than the server's `max_body_bytes` (`PARLEY_MAX_BODY_BYTES`).",
    ),
    ProblemType(
        "unsupported-media-type",
        415,
        "Unsupported media type",
        "The body is of a media type the operation does not take: JSON bodies are sent "
        "with `Content-Type: application/json` (the OpenAPI document names each operation's).",
    ),
    ProblemType(
        "host-not-loopback",
        421,
        "Host not served in open mode",
        "A server without API keys answers only requests whose `Host` header is "
        "`localhost`, `127.0.0.1` or `[::1]` (any port): a page that rebinds its own name to "
        "this machine must not get an open server's rights.",
    ),
    ProblemType(
        "open-mode-not-loopback",
        403,
        "Open mode serves only this machine",
        "A server without API keys refuses connections that arrive on a non-loopback "
        "address. Create a key (`parley keys create --role admin --name NAME`) to serve others.",
    ),
)


def http_code(status: int) -> str:
    return "http-" + HTTPStatus(status).phrase.lower().replace(" ", "-").replace("'", "")


def _catalogue() -> dict[str, ProblemType]:
    found: dict[str, ProblemType] = {}
    for cls, spec in PROBLEM_TABLE.items():
        doc = (cls.__doc__ or spec.title).strip().splitlines()[0]
        found[cls.code] = ProblemType(cls.code, spec.status, spec.title, doc)
    for other in _OTHER_PROBLEMS:
        found[other.code] = other
    for status in HTTPStatus:
        if status >= 400:
            code = http_code(status)
            found[code] = ProblemType(
                code, status.value, status.phrase, f"HTTP {status.value}: {status.description}."
            )
    return found


CATALOGUE: dict[str, ProblemType] = _catalogue()
"""Every problem type the server answers with, by code: ``GET /problems/{code}`` shows each."""


def problem_type(code: str) -> str:
    return PROBLEM_BASE + code


def title_of(code: str) -> str:
    """The one title of a problem type (RFC 9457: it does not change between occurrences)."""
    return CATALOGUE[code].title
