"""Every error as RFC 9457 ``application/problem+json``, from one table of errors.

The table names each error class of the domain (``domain/errors.py``) and of the API
(``api/errors.py``) explicitly (a test fails when a class is missing), so a new error gets
a deliberate status rather than whatever its base class had.
"""

from __future__ import annotations

import copy
import json
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

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
from api.http.observability import REQUEST_ID_HEADER, current_request_id
from api.http.schemas import Problem
from domain import errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
"""Problem ``type`` URIs are this server's own pages (``GET /problems/{code}``), resolved
against the URL of the request (RFC 9457 allows a relative reference)."""
RETRY_AFTER_SECONDS = 5
STORAGE_UNAVAILABLE_DETAIL = "the store did not answer; try again shortly"
"""What a 503 says to clients whatever the driver said (host, database name stay in the logs)."""


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


class ProblemResponse(JSONResponse):
    """problem+json in ASCII: details may quote client input, lone surrogates included."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


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


def _http_code(status: int) -> str:
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
            code = _http_code(status)
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


def instance_of(request_id: str) -> str:
    """The ``instance`` of a problem: the request it answered, by its id (as in the logs)."""
    try:
        return uuid.UUID(request_id).urn
    except ValueError:
        return "urn:x-parley:request:" + request_id


def problem_response(
    status: int,
    title: str,
    *,
    type_: str = "about:blank",
    detail: str | None = None,
    headers: dict[str, str] | None = None,
    **members: Any,
) -> JSONResponse:
    known = CATALOGUE.get(type_.removeprefix(PROBLEM_BASE)) if type_ != "about:blank" else None
    if known is not None:
        title = known.title  # one title per type, whoever answers it
    body: dict[str, Any] = {"type": type_, "title": title, "status": status}
    if detail is not None:
        body["detail"] = detail
    body.update({k: v for k, v in members.items() if v is not None})
    request_id = current_request_id()
    if request_id is not None:
        # Quoted in the body too: a client's bug report then names the server's log lines.
        body["instance"] = instance_of(request_id)
        body["request_id"] = request_id
        headers = {REQUEST_ID_HEADER: request_id, **(headers or {})}
    return ProblemResponse(body, status_code=status, headers=headers)


def _json_safe(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | str)


def parley_error_response(exc: errors.ParleyError) -> JSONResponse:
    spec = spec_for(type(exc))
    extra = {k: v for k, v in exc.extra.items() if _json_safe(v)}
    headers = dict(getattr(exc, "headers", None) or {}) or None  # e.g. 401's WWW-Authenticate
    detail = exc.detail
    if isinstance(exc, errors.StorageUnavailable):
        headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
        # The driver's words name hosts and databases: they go to the log, not to clients.
        log.warning("storage unavailable: %s", exc.detail)
        detail = STORAGE_UNAVAILABLE_DETAIL
        extra = {}
    return problem_response(
        spec.status,
        spec.title,
        type_=problem_type(exc.code),
        detail=detail,
        headers=headers,
        field=exc.field,
        **extra,
    )


# --------------------------------------------------------------- validation

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def field_path(loc: tuple[Any, ...] | list[Any], body: Any) -> str:
    """``values.annual_contribution.amount`` or ``[2].party`` from a pydantic location.

    Pydantic puts the tag of a discriminated union (``offer_made``) into the location;
    it is dropped where the body really has an object of that ``type`` at that point.
    """
    parts: list[str] = []
    node = body
    for segment in loc:
        if isinstance(node, dict) and isinstance(segment, str):
            if segment not in node and node.get("type") == segment:
                continue
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int):
            node = node[segment] if 0 <= segment < len(node) else None
        else:
            node = None
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        else:
            parts.append(("." if parts else "") + str(segment))
    return "".join(parts)


def _is_branch_label(segment: Any) -> bool:
    """Pydantic names the branch of a plain union by its type, e.g. ``list[...]``."""
    return isinstance(segment, str) and "[" in segment and segment.endswith("]")


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """``[{field, message}]``, keeping only the union branch that matches the body's shape."""
    raw = list(exc.errors())
    body = exc.body
    by_shape = []
    for error in raw:
        loc = tuple(error.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc and loc[0] in _LOCATIONS else ("body", loc)
        if rest and _is_branch_label(rest[0]) and not (isinstance(body, dict) and rest[0] in body):
            branch_is_list = str(rest[0]).startswith("list[")
            if where == "body" and branch_is_list != isinstance(body, list):
                continue
            rest = rest[1:]
        if error.get("type") in _TAG_ERRORS:
            rest = (*rest, "type")  # the discriminator itself is what is wrong
        by_shape.append((where, rest, error))
    if not by_shape:  # every branch failed for a body of neither shape: say so once
        by_shape = [("body", (), {"msg": "the body must be a JSON object or array"})]
    found: list[dict[str, str]] = []
    for where, rest, error in by_shape:
        path = field_path(rest, body) if where == "body" else ".".join(str(s) for s in rest)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        item = {"field": path or where, "message": message}
        if item not in found:
            found.append(item)
    return found


def _is_malformed_json(exc: RequestValidationError) -> bool:
    return any(e.get("type") == "json_invalid" for e in exc.errors())


# ------------------------------------------------------------------ handlers


def handle_parley_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ParleyError)  # noqa: S101 - registered for this class only
    return parley_error_response(exc)


def handle_store_error(request: Request, exc: Exception) -> JSONResponse:
    """A store error no layer translated (a view read on a locked or lost store): a 503."""
    return parley_error_response(errors.StorageUnavailable(f"the store is unavailable: {exc}"))


def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    if _is_malformed_json(exc):
        error = exc.errors()[0]
        reason = (error.get("ctx") or {}).get("error", "")
        return problem_response(
            400,
            "Malformed JSON",
            type_=problem_type("malformed-json"),
            detail=f"the body is not valid JSON: {reason} at character {error['loc'][-1]}",
        )
    found = validation_errors(exc)
    first = found[0]
    more = f" (and {len(found) - 1} more)" if len(found) > 1 else ""
    return problem_response(
        422,
        "Request validation failed",
        type_=problem_type("validation"),
        detail=f"{first['field']}: {first['message']}{more}",
        errors=found,
    )


def handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for this class only
    try:
        title = HTTPStatus(exc.status_code).phrase
    except ValueError:
        title = "Error"
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title else None
    if exc.status_code == 404 and detail is None:
        detail = f"nothing at {request.url.path}"
    try:
        type_ = problem_type(_http_code(exc.status_code))
    except ValueError:
        type_ = "about:blank"
    return problem_response(
        exc.status_code, title, type_=type_, detail=detail, headers=dict(exc.headers or {}) or None
    )


def handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    """A bug: a bare 500 problem, never a client error, never a trace (the server logs it)."""
    return problem_response(
        500,
        "Internal Server Error",
        type_=problem_type(_http_code(500)),
        detail="an unexpected error occurred",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ParleyError, handle_parley_error)
    app.add_exception_handler(OperationalError, handle_store_error)
    app.add_exception_handler(InterfaceError, handle_store_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(Exception, handle_unexpected)


# ------------------------------------------------------------------ the OpenAPI


PROBLEM_SCHEMA_REF = "#/components/schemas/Problem"
_FASTAPI_422_SCHEMAS = ("HTTPValidationError", "ValidationError")
_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options"})
MALFORMED_REQUEST: dict[str, Any] = {
    "description": "Malformed request: the body is not JSON, or If-Match is not a quoted version",
    "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
}


UNSUPPORTED_MEDIA_TYPE: dict[str, Any] = {
    "description": "The body is declared as a media type this operation does not take",
    "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
}
HOST_NOT_LOOPBACK: dict[str, Any] = {
    "description": "Open mode (no API key exists): the Host header does not name loopback",
    "content": {PROBLEM_JSON: {"schema": {"$ref": PROBLEM_SCHEMA_REF}}},
}


def _answers_400(operation: dict[str, Any]) -> bool:
    """Malformed JSON bodies (``handle_validation_error``) and If-Match headers are 400."""
    headers = {
        str(p.get("name", "")).lower()
        for p in operation.get("parameters", [])
        if p.get("in") == "header"
    }
    return "requestBody" in operation or "if-match" in headers


def document_problems(openapi: dict[str, Any]) -> dict[str, Any]:
    """The generated OpenAPI, its errors documented as they are sent: problem+json, 400s too.

    FastAPI documents every ``responses=`` model under the route's own media type
    (``application/json``) and adds its ``HTTPValidationError`` for 422; the handlers above
    answer every one of them as a ``Problem`` in ``application/problem+json``. Rewriting the
    document once here keeps the routers' ``responses=`` in FastAPI's usual form.
    """
    schemas = openapi.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        problem = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        schemas.update(problem.pop("$defs", {}))
        schemas["Problem"] = problem
    problem_ref = {"$ref": PROBLEM_SCHEMA_REF}
    for item in openapi.get("paths", {}).values():
        for method, operation in item.items():
            if method not in _METHODS:
                continue
            responses = operation.setdefault("responses", {})
            for status, response in responses.items():
                if not str(status).startswith(("4", "5")):
                    continue
                schema = next(
                    (c["schema"] for c in response.get("content", {}).values() if "schema" in c),
                    problem_ref,
                )
                if any(name in json.dumps(schema) for name in _FASTAPI_422_SCHEMAS):
                    schema = problem_ref
                response["content"] = {PROBLEM_JSON: {"schema": schema}}
            if _answers_400(operation):
                responses.setdefault("400", copy.deepcopy(MALFORMED_REQUEST))
            if "requestBody" in operation:
                responses.setdefault("415", copy.deepcopy(UNSUPPORTED_MEDIA_TYPE))
            responses.setdefault("421", copy.deepcopy(HOST_NOT_LOOPBACK))
    _document_security(openapi)
    _link_problem_pages(openapi, schemas)
    # HTTPValidationError first: it is what refers to ValidationError.
    for name in _FASTAPI_422_SCHEMAS:
        if f"#/components/schemas/{name}" not in json.dumps(openapi):
            schemas.pop(name, None)
    return openapi


BEARER_SCHEME = "bearer"
BEARER: dict[str, Any] = {
    "type": "http",
    "scheme": "bearer",
    "description": "An API key (`parley keys create`), sent as `Authorization: Bearer <key>`. "
    "A server on which no key exists yet runs open on loopback: it asks for none.",
}


def _document_security(openapi: dict[str, Any]) -> None:
    """The bearer scheme, and on each operation whether it needs a key (those answering 401)."""
    components = openapi.setdefault("components", {})
    components.setdefault("securitySchemes", {})[BEARER_SCHEME] = BEARER
    for item in openapi.get("paths", {}).values():
        for method, operation in item.items():
            if method in _METHODS:
                protected = "401" in operation.get("responses", {})
                operation["security"] = [{BEARER_SCHEME: []}] if protected else []


def _link_problem_pages(openapi: dict[str, Any], schemas: dict[str, Any]) -> None:
    """Problem types are pages of this server: the document points to their list."""
    openapi["externalDocs"] = {
        "description": "Every problem type (the `type` of an error answer)",
        "url": PROBLEM_BASE.rstrip("/"),
    }
    properties = schemas.get("Problem", {}).get("properties", {})
    if "type" in properties:
        properties["type"]["description"] = (
            f"The problem type: `{PROBLEM_BASE}<code>`, a page of this server that says what it "
            f"means (`GET {PROBLEM_BASE.rstrip('/')}` lists them all)."
        )
        properties["type"]["externalDocs"] = {"url": PROBLEM_BASE.rstrip("/")}
    if "instance" not in properties and properties:
        properties["instance"] = {
            "type": "string",
            "description": "The request this answer is for, by its X-Request-ID (as in the logs).",
        }


def install_openapi(app: FastAPI) -> None:
    """``app.openapi()`` (and ``/openapi.json``) serve the document ``document_problems`` fixes."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(generate())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
