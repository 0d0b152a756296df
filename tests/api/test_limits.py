"""Body-size limit: 413 problem+json, decided before an over-long body is read into memory."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

from apitools import assert_problem, offer, sma_negotiation
from conftest import ClientFactory
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.types import Message, Receive, Scope, Send

from api.http.limits import BodySizeLimit

LIMIT = 2048


def chunks(data: bytes, size: int = 256) -> Iterator[bytes]:
    """The body as a generator: httpx then sends it chunked, with no Content-Length."""
    for start in range(0, len(data), size):
        yield data[start : start + size]


def padded_batch(length: int) -> bytes:
    """A JSON batch of offers just over ``length`` bytes long."""
    items: list[dict[str, Any]] = []
    while len(json.dumps(items)) <= length:
        items.append(offer())
    return json.dumps(items).encode()


def test_a_body_declared_too_long_is_refused_with_413(client_factory: ClientFactory) -> None:
    client = client_factory("memory://", max_body_bytes=LIMIT)
    body = padded_batch(LIMIT)
    response = client.post(
        "/negotiations/usa-rok-sma/events",
        content=body,
        headers={"Content-Type": "application/json"},
    )
    problem = assert_problem(response, 413, "body-too-large")
    assert problem["max_body_bytes"] == LIMIT
    assert str(len(body)) in problem["detail"]
    assert problem["request_id"] == response.headers["X-Request-ID"]


def test_a_chunked_body_is_refused_once_it_grows_too_long(client_factory: ClientFactory) -> None:
    client = client_factory("memory://", max_body_bytes=LIMIT)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    response = client.post(
        "/negotiations/usa-rok-sma/events",
        content=chunks(padded_batch(LIMIT)),
        headers={"Content-Type": "application/json"},
    )
    assert "content-length" not in response.request.headers
    problem = assert_problem(response, 413, "body-too-large")
    assert problem["max_body_bytes"] == LIMIT


def test_a_body_within_the_limit_is_served(client_factory: ClientFactory) -> None:
    body = json.dumps(sma_negotiation()).encode()
    client = client_factory("memory://", max_body_bytes=len(body))
    headers = {"Content-Type": "application/json"}
    assert client.post("/negotiations", content=body, headers=headers).status_code == 201
    events = json.dumps(offer()).encode()
    response = client.post(
        "/negotiations/usa-rok-sma/events", content=chunks(events, 64), headers=headers
    )
    assert response.status_code == 201, response.text


def test_the_413_is_counted_under_its_route(client_factory: ClientFactory) -> None:
    client = client_factory("memory://", max_body_bytes=LIMIT)
    client.post(
        "/negotiations/usa-rok-sma/events",
        content=padded_batch(LIMIT),
        headers={"Content-Type": "application/json"},
    )
    text = client.get("/metrics").text
    assert (
        'parley_http_requests_total{method="POST",route="/negotiations/{slug}/events",'
        'status="413"} 1.0' in text
    )


# ------------------------------------------------------- the middleware alone


class Reader:
    """An ASGI app that reads the whole body, and a client that offers it in chunks."""

    def __init__(self, body_chunks: list[bytes]) -> None:
        self.offered = list(body_chunks)
        self.taken = 0
        self.sent: list[Message] = []

    async def app(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = await Request(scope, receive).body()
        await PlainTextResponse(f"{len(body)} bytes")(scope, receive, send)

    async def receive(self) -> Message:
        self.taken += 1
        chunk = self.offered.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(self.offered)}

    async def send(self, message: Message) -> None:
        self.sent.append(message)

    def run(self, limit: int, headers: list[tuple[bytes, bytes]]) -> int:
        scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
        asyncio.run(BodySizeLimit(self.app, max_bytes=limit)(scope, self.receive, self.send))
        status: int = self.sent[0]["status"]
        return status


def test_a_declared_length_over_the_limit_reads_no_byte() -> None:
    reader = Reader([b"x" * 100] * 10)
    assert reader.run(500, [(b"content-length", b"1000")]) == 413
    assert reader.taken == 0
    assert json.loads(reader.sent[1]["body"])["max_body_bytes"] == 500


def test_a_streamed_body_stops_being_read_at_the_chunk_that_crosses_the_limit() -> None:
    reader = Reader([b"x" * 100] * 10)
    assert reader.run(450, []) == 413
    assert reader.taken == 5


def test_a_streamed_body_at_the_limit_is_read_whole() -> None:
    reader = Reader([b"x" * 100] * 10)
    assert reader.run(1000, []) == 200
    assert reader.taken == 10
    assert reader.sent[1]["body"] == b"1000 bytes"
