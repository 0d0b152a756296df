"""The OpenAPI document's errors as they are sent: problem+json, the 400s, 415s and 421s too."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from api.http.problems.answers import PROBLEM_JSON
from api.http.problems.table import PROBLEM_BASE
from api.http.schemas import Problem

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
    (``application/json``) and adds its ``HTTPValidationError`` for 422; the handlers (``api.http.problems.handlers``)
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
