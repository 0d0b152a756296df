"""Helpers for fuzzing the API: the OpenAPI's error documentation, and problem+json checks."""

from __future__ import annotations

import json
import warnings
from collections.abc import Mapping
from typing import Any

from starlette.exceptions import StarletteDeprecationWarning

from api.http.problems.answers import instance_of
from api.http.problems.table import CATALOGUE

# As in the API conftest: Starlette warns at import when it falls back to httpx.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

__all__ = [
    "TestClient",
    "ascii_json",
    "docs_pages_document",
    "error_documentation_gaps",
    "problem_failure",
    "security_header_failure",
]

PROBLEM_JSON = "application/problem+json"
PROBLEM_BASE = "/problems/"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
FASTAPI_422 = "HTTPValidationError"
DEMO_SLUG = "us-rok-sma-2020"
METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def operations(openapi: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, op)
        for path, item in openapi["paths"].items()
        for method, op in item.items()
        if method in METHODS
    ]


def _answers_400(method: str, op: dict[str, Any]) -> bool:
    """Malformed JSON bodies and malformed ``If-Match`` headers are answered 400."""
    headers = {p["name"].lower() for p in op.get("parameters", []) if p.get("in") == "header"}
    return "requestBody" in op or "if-match" in headers


def error_documentation_gaps(openapi: dict[str, Any]) -> list[str]:
    """What the OpenAPI gets wrong about the errors the app actually sends."""
    gaps = []
    for method, path, op in operations(openapi):
        responses = op.get("responses", {})
        for status, response in responses.items():
            if status[0] not in "45":
                continue
            content = response.get("content", {})
            if set(content) != {PROBLEM_JSON}:
                gaps.append(
                    f"{method} {path}: {status} documented as {sorted(content)}, "
                    "sent as problem+json"
                )
            elif content[PROBLEM_JSON].get("schema") != PROBLEM_REF:
                gaps.append(f"{method} {path}: {status} is not documented as a Problem")
            if FASTAPI_422 in json.dumps(content):
                gaps.append(f"{method} {path}: {status} documented with FastAPI's {FASTAPI_422}")
        if _answers_400(method, op) and "400" not in responses:
            gaps.append(f"{method} {path}: 400 (malformed JSON or If-Match) is not documented")
    return gaps


def problem_failure(status: int, content_type: str | None, body: bytes) -> str | None:
    """Why an error response is not an RFC 9457 problem of its own status, or None if it is."""
    if status < 400:
        return None
    if content_type != PROBLEM_JSON:
        return f"{status} sent as {content_type!r}, not {PROBLEM_JSON}"
    try:
        problem = json.loads(body)
    except ValueError:
        return f"{status} problem body is not JSON: {body[:200]!r}"
    if not isinstance(problem, dict):
        return f"{status} problem body is not an object: {body[:200]!r}"
    if problem.get("status") != status:
        return f"problem status {problem.get('status')!r} differs from the response's {status}"
    for member in ("type", "title"):
        if not isinstance(problem.get(member), str) or not problem[member]:
            return f"problem without a {member}: {problem!r}"
    if "Traceback" in body.decode("utf-8", "replace"):
        return "a stack trace in the problem body"
    code = problem["type"].removeprefix(PROBLEM_BASE)
    if not problem["type"].startswith(PROBLEM_BASE) or code not in CATALOGUE:
        return f"problem type {problem['type']!r} is not one the server serves a page for"
    if problem["title"] != CATALOGUE[code].title:
        return f"{code} titled {problem['title']!r}, not its one title {CATALOGUE[code].title!r}"
    request_id = problem.get("request_id")
    if not isinstance(request_id, str) or problem.get("instance") != instance_of(request_id):
        return f"problem instance {problem.get('instance')!r} does not name its request"
    return None


def ascii_json(body: Any) -> bytes:
    """JSON with every non-ASCII character escaped: lone surrogates survive as ``\\ud800``."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def _first(headers: Mapping[str, Any], name: str) -> str | None:
    """A header's value from requests-style (str) or schemathesis-style (list) headers."""
    for key, value in headers.items():
        if key.lower() == name:
            return str(value[0] if isinstance(value, list) else value)
    return None


def security_header_failure(headers: Mapping[str, Any]) -> str | None:
    """Why an answer lacks the headers every answer carries (nosniff, CSP), or None."""
    if _first(headers, "x-content-type-options") != "nosniff":
        return "no X-Content-Type-Options: nosniff"
    policy = _first(headers, "content-security-policy") or ""
    directives = {d.strip().split(" ", 1)[0]: d.strip() for d in policy.split(";")}
    for wanted in ("frame-ancestors 'none'", "script-src 'self'", "default-src 'self'"):
        if directives.get(wanted.split(" ", 1)[0]) != wanted:
            return f"Content-Security-Policy without {wanted!r}: {policy!r}"
    return None


DOCS_PAGES = {
    "/docs": "text/html",
    "/redoc": "text/html",
    "/openapi.json": "application/json",
}
VENDOR_ASSETS = ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js")


def docs_pages_document(openapi: dict[str, Any]) -> dict[str, Any]:
    """The API docs pages and the assets they load, which the served document leaves out.

    GET and HEAD each, so schemathesis can drive them as it drives the API: an asset name is
    one of the pinned files or anything at all (then a 404 problem).
    """

    def operation(page: str, method: str, media_type: str, **extra: Any) -> dict[str, Any]:
        name = page.strip("/").replace("/", "_").replace(".", "_").replace("{", "").replace("}", "")
        responses: dict[str, Any] = {
            "200": {"description": "the page", "content": {media_type: {}}},
            **extra.pop("responses", {}),
        }
        if method == "head":  # the GET's status and headers without its body
            responses = {k: {"description": v["description"]} for k, v in responses.items()}
        return {"operationId": f"{method}_{name}", "security": [], "responses": responses, **extra}

    paths: dict[str, Any] = {
        page: {m: operation(page, m, media_type) for m in ("get", "head")}
        for page, media_type in DOCS_PAGES.items()
    }
    asset = "/static/vendor/{name}"
    not_found = {
        "404": {
            "description": "no such asset",
            "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
        }
    }
    name = {
        "name": "name",
        "in": "path",
        "required": True,
        "schema": {"anyOf": [{"enum": list(VENDOR_ASSETS)}, {"type": "string"}]},
    }
    paths[asset] = {
        m: operation(asset, m, "*/*", parameters=[name], responses=not_found)
        for m in ("get", "head")
    }
    return {
        "openapi": openapi["openapi"],
        "info": {"title": "Parley docs pages", "version": openapi["info"]["version"]},
        "paths": paths,
        "components": {"schemas": {"Problem": openapi["components"]["schemas"]["Problem"]}},
    }
