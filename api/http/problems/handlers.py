"""The exception handlers: every error a request meets, answered as a problem."""

from __future__ import annotations

from http import HTTPStatus

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from api.http.problems.answers import parley_error_response, problem_response
from api.http.problems.table import http_code, problem_type
from api.http.problems.validation import is_malformed_json, validation_errors
from domain import errors


def handle_parley_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, errors.ParleyError)  # noqa: S101 - registered for this class only
    return parley_error_response(exc)


def handle_store_error(request: Request, exc: Exception) -> JSONResponse:
    """A store error no layer translated (a view read on a locked or lost store): a 503."""
    return parley_error_response(errors.StorageUnavailable(f"the store is unavailable: {exc}"))


def handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for this class only
    if is_malformed_json(exc):
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
        type_ = problem_type(http_code(exc.status_code))
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
        type_=problem_type(http_code(500)),
        detail="an unexpected error occurred",
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(errors.ParleyError, handle_parley_error)
    app.add_exception_handler(OperationalError, handle_store_error)
    app.add_exception_handler(InterfaceError, handle_store_error)
    app.add_exception_handler(RequestValidationError, handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, handle_http_exception)
    app.add_exception_handler(Exception, handle_unexpected)
