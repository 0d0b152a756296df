"""The append route's fast path answers every request as FastAPI's own handler does."""

from __future__ import annotations

import itertools
import json
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest
from apitools import offer, sma_negotiation
from conftest import ClientFactory
from starlette.testclient import TestClient

from api.http.routes.events import appending

SLUG = "usa-rok-sma"
EVENTS = f"/negotiations/{SLUG}/events"
JSON = {"Content-Type": "application/json"}

# Each: the path, the headers beside X-Request-ID and Content-Type, and the body as sent.
REQUESTS: list[tuple[str, dict[str, str], bytes]] = [
    (EVENTS, {}, json.dumps(offer()).encode()),
    (EVENTS, {}, json.dumps([offer(), offer(party="ROK", amount="1000000000")]).encode()),
    (EVENTS, {"Idempotency-Key": "k-1"}, json.dumps(offer(amount="7")).encode()),
    (EVENTS, {"Idempotency-Key": "k-1"}, json.dumps(offer(amount="7")).encode()),  # replayed
    (EVENTS, {"Idempotency-Key": "k-1"}, json.dumps(offer(amount="8")).encode()),  # reused
    (EVENTS, {"Idempotency-Key": "not a key"}, json.dumps(offer()).encode()),
    (EVENTS, {"If-Match": '"1"'}, json.dumps(offer()).encode()),  # stale
    (EVENTS, {"If-Match": '"10"'}, json.dumps(offer()).encode()),  # current
    (EVENTS, {"If-Match": "seven"}, json.dumps(offer()).encode()),
    (EVENTS, {}, json.dumps(offer(party="nobody")).encode()),  # the domain refuses it
    (EVENTS, {}, json.dumps({"type": "offer_made"}).encode()),  # the body's schema refuses it
    (EVENTS, {}, json.dumps([offer()] * 1001).encode()),  # too many at once
    (EVENTS, {}, b'{"type": "offer_made",'),  # malformed JSON
    (EVENTS, {}, b"\xff\xfe"),  # not UTF-8
    (EVENTS, {}, b""),
    (EVENTS, {"Content-Type": "text/plain"}, json.dumps(offer()).encode()),
    (EVENTS, {"Content-Type": "application/json; charset=utf-8"}, json.dumps(offer()).encode()),
    ("/negotiations/no-such-talks/events", {}, json.dumps(offer()).encode()),
    ("/negotiations/NOT%20A%20SLUG/events", {}, json.dumps(offer()).encode()),
    (EVENTS, {}, json.dumps(offer(amount="1e400")).encode()),
    (EVENTS, {}, b'{"type": "offer_made", "type": "call_held"}'),
]


def answers(client: TestClient) -> list[tuple[int, list[tuple[str, str]], bytes]]:
    """Each request's status, headers and body, on a ledger whose clock and ids are fixed."""
    ledger: Any = client.app.state.ledger  # type: ignore[attr-defined]
    ticks, ids = itertools.count(), itertools.count(1)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    ledger._clock = lambda: start + timedelta(seconds=next(ticks))
    ledger._new_id = lambda: UUID(int=next(ids))
    opened = client.post("/negotiations", json=sma_negotiation(SLUG))
    assert opened.status_code == 201, opened.text
    found = []
    for n, (path, headers, content) in enumerate(REQUESTS):
        response = client.post(
            path, content=content, headers={**JSON, "X-Request-ID": f"req-{n}", **headers}
        )
        found.append((response.status_code, list(response.headers.items()), response.content))
    return found


def test_the_fast_path_answers_as_fastapis_handler(client_factory: ClientFactory) -> None:
    fast = client_factory("memory://")
    slow = client_factory("memory://")
    # Any override sends every append through FastAPI's handler (AppendRoute's rule).
    slow.app.dependency_overrides[appending] = appending  # type: ignore[attr-defined]
    fast_answers, slow_answers = answers(fast), answers(slow)
    assert [status for status, _, _ in fast_answers].count(201) >= 4
    for request, fast_answer, slow_answer in zip(REQUESTS, fast_answers, slow_answers, strict=True):
        assert fast_answer == slow_answer, request


@pytest.mark.parametrize("chunks", [[b""], [b'{"type": "off', b'er_made"}'], [b"", b"[]", b""]])
def test_a_body_in_several_messages_is_read_whole(
    client_factory: ClientFactory, chunks: list[bytes]
) -> None:
    client = client_factory("memory://")

    def pieces() -> Any:
        yield from chunks

    headers = {**JSON, "X-Request-ID": "req-chunks"}
    streamed = client.post(EVENTS, content=pieces(), headers=headers)
    whole = client.post(EVENTS, content=b"".join(chunks), headers=headers)
    assert (streamed.status_code, streamed.content) == (whole.status_code, whole.content)
