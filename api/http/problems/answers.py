"""A problem answer: RFC 9457 ``application/problem+json``, and a ``ParleyError`` as one."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

from fastapi.responses import JSONResponse

from api.http.observability import REQUEST_ID_HEADER, current_request_id
from api.http.problems.table import CATALOGUE, PROBLEM_BASE, problem_type, spec_for
from domain import errors

log = logging.getLogger(__name__)

PROBLEM_JSON = "application/problem+json"
RETRY_AFTER_SECONDS = 5
STORAGE_UNAVAILABLE_DETAIL = "the store did not answer; try again shortly"
"""What a 503 says to clients whatever the driver said (host, database name stay in the logs)."""


class ProblemResponse(JSONResponse):
    """problem+json in ASCII: details may quote client input, lone surrogates included."""

    media_type = PROBLEM_JSON

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=True, separators=(",", ":")).encode("ascii")


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
