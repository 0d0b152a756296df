"""What every answer carries against the browser's attacks, and the open mode's own fences.

Pure ASGI, inside the observing middleware (so refusals are counted, logged and carry the
request id). Two jobs:

* Headers on every answer: ``X-Content-Type-Options: nosniff`` and one Content-Security-Policy
  (scripts and everything else from this origin only, no inline script, no framing). The
  pages, the API docs and the charts all live under it; JSON answers ignore it.
* An open server (no key exists) grants admin rights to whoever reaches it, so it answers only
  what was meant for this machine:
  - the connection must have arrived on a loopback address: ``uvicorn --host 0.0.0.0`` (or any
    way of starting the app that binds beyond loopback) cannot serve it open (403);
  - the ``Host`` header must name loopback (``localhost``, ``127.0.0.1``, ``[::1]``, with any
    port): a web page whose name was rebound to 127.0.0.1 (DNS rebinding) is refused (421).
"""

from __future__ import annotations

import functools
import re
from typing import Any

from eventsourcing.persistence import InterfaceError, OperationalError
from fastapi.routing import iter_route_contexts
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.auth import is_loopback
from api.http.observability import add_missing
from api.http.problems.answers import parley_error_response, problem_response
from api.http.problems.table import problem_type, title_of
from domain.errors import StorageUnavailable

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        # Plotly, Swagger UI and ReDoc set styles from script; no markup of ours has inline style.
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data:",
        "font-src 'self' data:",
        "connect-src 'self'",
        # ReDoc runs its search index in a worker made from a blob.
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)
SECURITY_HEADERS = (
    (b"x-content-type-options", b"nosniff"),
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode("ascii")),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]"})
_HOST_RE = re.compile(r"^(?P<name>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(?::(?P<port>[0-9]{1,5}))?$")


@functools.lru_cache(maxsize=256)  # clients send one or two values again and again
def loopback_host_header(value: str | None) -> bool:
    """Whether a ``Host`` header names this machine's loopback: ``localhost:8000``, ``[::1]``."""
    if value is None:
        return False
    match = _HOST_RE.fullmatch(value.strip(" \t"))  # optional whitespace is SP and HTAB alone
    return match is not None and match["name"].lower().rstrip(".") in LOOPBACK_HOSTS


def arrived_on_loopback(scope: Scope) -> bool:
    """Whether the connection came in on a loopback address (or a Unix socket: local only)."""
    server = scope.get("server")
    if server is None:
        return False
    host, port = server[0], server[1] if len(server) > 1 else None
    if port is None:  # a Unix domain socket: only this machine can connect
        return True
    return isinstance(host, str) and is_loopback(host)


def _header(scope: Scope, name: bytes) -> str | None:
    found = [v for k, v in scope["headers"] if k.lower() == name]
    return found[0].decode("latin-1") if len(found) == 1 else None


def _runs_open(scope: Scope) -> bool:
    app: Any = scope.get("app")
    gate = getattr(getattr(app, "state", None), "gate", None)
    return gate is not None and not gate.keys_required()


JSON_MEDIA_TYPE = re.compile(r"^application/(?:[\w.+-]+\+)?json$", re.IGNORECASE)
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _body_media_types(app: Any) -> list[tuple[str, re.Pattern[str], frozenset[str]]]:
    """Per operation with a body: its method, its path as a pattern and the media types it takes.

    Read once from the OpenAPI document, which says what each route accepts (JSON unless a
    route declares otherwise, as the witnesses' text/plain cosignatures do).
    """
    cached = getattr(app.state, "body_media_types", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found = []
    for template, item in app.openapi().get("paths", {}).items():
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template)) + "$")
        for method, operation in item.items():
            content = (operation.get("requestBody") or {}).get("content")
            if content:
                found.append((method.upper(), pattern, frozenset(k.lower() for k in content)))
    app.state.body_media_types = found
    return found


def _unsupported_body(scope: Scope) -> str | None:
    """The declared media type of a request body its route does not take, if it is one."""
    if scope["method"] not in BODY_METHODS:
        return None
    declared = _header(scope, b"content-type")
    app = scope.get("app")
    if declared is None or app is None:
        return None  # undeclared: read as JSON, and refused as malformed if it is not
    media_type = declared.split(";", 1)[0].strip().lower()
    for method, pattern, accepted in _body_media_types(app):
        if method == scope["method"] and pattern.match(scope["path"]):
            if media_type in accepted:
                return None
            if "application/json" in accepted and JSON_MEDIA_TYPE.fullmatch(media_type):
                return None
            return media_type
    return None  # no such operation: the router answers 404 or 405


METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


def _route_methods(app: Any) -> list[tuple[re.Pattern[str], frozenset[str]]]:
    """Each route's path pattern and methods, read once per app (included routers flattened)."""
    cached = getattr(app.state, "route_methods", None)
    if cached is not None:
        return cached  # type: ignore[no-any-return]
    found = [
        (regex, frozenset(route.methods or ()))
        for route in iter_route_contexts(app.routes)
        if isinstance(regex := getattr(route, "path_regex", None), re.Pattern)
    ]
    app.state.route_methods = found
    return found


def allowed_methods(scope: Scope) -> list[str]:
    """Every method the requested path answers (RFC 9110 ``Allow``), HEAD wherever GET is.

    Starlette's router names only the methods of the first route whose path matched, so a
    405 for ``/negotiations`` would say ``POST`` though ``GET`` is served there too.
    """
    app = scope.get("app")
    if app is None:
        return []
    path = scope["path"]
    root = scope.get("root_path") or ""
    if root and path.startswith(root):
        path = path[len(root) :]
    found: set[str] = set()
    for regex, methods in _route_methods(app):
        if regex.match(path):
            found.update(methods)
    if "GET" in found:
        found.add("HEAD")
    return sorted(found, key=lambda m: (METHOD_ORDER.index(m) if m in METHOD_ORDER else 99, m))


class SecurityMiddleware:
    """Security headers on every answer; the open mode's loopback fences before any route."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                add_missing(message, SECURITY_HEADERS)
                if message["status"] == 405:
                    allowed = allowed_methods(scope)
                    if allowed:
                        MutableHeaders(scope=message)["allow"] = ", ".join(allowed)
            await send(message)

        refusal = self.refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        if scope["method"] == "HEAD":
            await head_as_get(self.app, scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    @staticmethod
    def refusal(scope: Scope) -> Any:
        try:
            runs_open = _runs_open(scope)
        except (OperationalError, InterfaceError, StorageUnavailable) as e:
            # Whether keys exist is unknown: neither fence nor pass; 503 as any read would.
            return parley_error_response(
                e if isinstance(e, StorageUnavailable) else StorageUnavailable(str(e))
            )
        if runs_open and not arrived_on_loopback(scope):
            return problem_response(
                403,
                title_of("open-mode-not-loopback"),
                type_=problem_type("open-mode-not-loopback"),
                detail="this server has no API keys and so serves only this machine; it was "
                "reached on a non-loopback address: create a key (parley keys create) to "
                "serve others",
            )
        if runs_open and not loopback_host_header(_header(scope, b"host")):
            return problem_response(
                421,
                title_of("host-not-loopback"),
                type_=problem_type("host-not-loopback"),
                detail="this server has no API keys and answers only requests addressed to "
                "localhost, 127.0.0.1 or [::1] (Host header)",
            )
        media_type = _unsupported_body(scope)
        if media_type is not None:
            return problem_response(
                415,
                title_of("unsupported-media-type"),
                type_=problem_type("unsupported-media-type"),
                detail=f"this operation does not take a body of type {media_type[:64]!r} "
                "(JSON bodies are application/json)",
            )
        return None


async def head_as_get(app: ASGIApp, scope: Scope, receive: Receive, send: Send) -> None:
    """HEAD on every GET route (RFC 9110): the GET's status and headers, without its body.

    Once the head is sent the request counts as gone, so a stream (SSE) stops at once.
    """
    started = False

    async def receive_until_answered() -> Message:
        if started:
            return {"type": "http.disconnect"}
        return await receive()

    async def send_head(message: Message) -> None:
        nonlocal started
        if message["type"] == "http.response.start":
            if started:
                return
            started = True
            await send(message)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        # Every body message of the GET is dropped: the head said all there is.

    await app({**scope, "method": "GET"}, receive_until_answered, send_head)
