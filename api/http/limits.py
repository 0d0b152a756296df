"""A limit on the size of request bodies: ``413`` problem+json, never an unbounded read.

Pure ASGI. The limit is checked as the app reads the body, so the route is known (for the
metrics) and a request whose body is never read costs nothing: a declared
``Content-Length`` over the limit is refused before a byte is read, and a chunked body is
counted as it streams in and refused at the first chunk that crosses the limit.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.http.problems.answers import problem_response
from api.http.problems.table import problem_type


class BodyTooLarge(HTTPException):
    """The request body is (or says it is) longer than ``max_body_bytes``.

    An ``HTTPException`` so that FastAPI's body reader passes it on rather than turning it
    into a 400 "error parsing the body".
    """

    code = "body-too-large"

    def __init__(self, limit: int, declared: int | None = None) -> None:
        what = f"{declared} bytes" if declared is not None else "more than that"
        super().__init__(413, f"the request body may have at most {limit} bytes, it has {what}")
        self.limit = limit


def body_too_large_response(exc: BodyTooLarge) -> JSONResponse:
    return problem_response(
        413,
        "Request body too large",
        type_=problem_type(BodyTooLarge.code),
        detail=str(exc.detail),
        max_body_bytes=exc.limit,
    )


def handle_body_too_large(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, BodyTooLarge)  # noqa: S101 - registered for this class only
    return body_too_large_response(exc)


def declared_length(scope: Scope) -> int | None:
    """The ``Content-Length`` header as a number, or None when absent or not one."""
    for name, value in scope["headers"]:
        if name.lower() == b"content-length":
            text = value.decode("latin-1").strip()
            return int(text) if text.isdigit() else None
    return None


class BodySizeLimit:
    """Refuses request bodies longer than ``max_bytes`` as they are read."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = declared_length(scope)
        received = 0
        started = False

        async def limited_receive() -> Message:
            nonlocal received
            if declared is not None and declared > self.max_bytes:
                raise BodyTooLarge(self.max_bytes, declared)
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    raise BodyTooLarge(self.max_bytes)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, watched_send)
        except BodyTooLarge as e:
            # Raised where no exception handler sees it (a read outside FastAPI's body parsing).
            if started:
                raise
            await body_too_large_response(e)(scope, receive, send)


def install(app: FastAPI, max_bytes: int) -> None:
    app.add_exception_handler(BodyTooLarge, handle_body_too_large)
    app.add_middleware(BodySizeLimit, max_bytes=max_bytes)
