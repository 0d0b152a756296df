"""Server-Sent Events: catch-up then live, reconnection without gap or repeat, slow clients, keys.

The app is served by uvicorn in a thread (the test client cannot hold a stream open) on
each store; streams are read with httpx.
"""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import SSEReader, serve
from test_crash_safety import ParleyServer

from api.http.app import create_app
from api.http.auth import Role
from api.settings import Settings

SLUG = "usa-rok-sma"
READ_TIMEOUT = 20.0


def opening(slug: str = SLUG) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": "11th Special Measures Agreement",
        "parties": [{"id": "USA", "name": "United States"}, {"id": "ROK", "name": "Korea"}],
        "terms": [{"id": "annual_contribution", "name": "Contribution", "unit": "USD"}],
        "occurred_at": "2019-09-24",
    }


def offer(amount: int, party: str = "USA", **more: Any) -> dict[str, Any]:
    return more | {
        "type": "offer_made",
        "party": party,
        "kind": "demand",
        "values": {"annual_contribution": {"amount": str(amount), "unit": "USD"}},
        "occurred_at": "2019-11-18",
    }


@pytest.fixture
def served(store_url: str) -> Iterator[tuple[str, Any]]:
    app = create_app(Settings(database_url=store_url, stream_heartbeat_seconds=0.3))
    with serve(app) as url:
        yield url, app


@pytest.fixture
def client(served: tuple[str, Any]) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[0], timeout=READ_TIMEOUT) as c:
        assert c.post("/negotiations", json=opening()).status_code == 201
        yield c


def append(client: httpx.Client, amount: int, slug: str = SLUG) -> dict[str, Any]:
    response = client.post(f"/negotiations/{slug}/events", json=offer(amount))
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def feed(client: httpx.Client) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = client.get("/events", params={"limit": 1000}).json()["events"]
    return events


def test_a_stream_catches_up_from_a_position_then_goes_on_live(
    client: httpx.Client,
) -> None:
    for amount in (1, 2, 3):
        append(client, amount)
    before = feed(client)
    start = before[2]["position"]

    with client.stream("GET", "/events/stream", params={"after": start}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        reader = SSEReader(response)
        caught_up = reader.messages(len(before) - 3)
        live_id = append(client, 4)["events"][0]["event_id"]
        live = reader.messages(1)

    assert [m.entry for m in caught_up] == before[3:]
    assert [int(m.id or 0) for m in caught_up] == [e["position"] for e in before[3:]]
    assert [m.event for m in caught_up] == [e["type"] for e in before[3:]]
    assert live[0].entry["event_id"] == live_id
    assert live[0].entry == feed(client)[-1]


def test_a_reconnect_with_last_event_id_misses_nothing_and_repeats_nothing(
    client: httpx.Client,
) -> None:
    stop = threading.Event()
    written: list[int] = []

    def write() -> None:
        amount = 100
        with httpx.Client(base_url=str(client.base_url), timeout=READ_TIMEOUT) as writer:
            while not stop.is_set() and amount < 160:
                append(writer, amount)
                written.append(amount)
                amount += 1

    writer = threading.Thread(target=write)
    received: list[int] = []
    last_id: str | None = "0"
    writer.start()
    try:
        # Three connections, each cut after a few messages while appends go on.
        for _ in range(3):
            with client.stream(
                "GET", "/events/stream", headers={"Last-Event-ID": last_id or "0"}
            ) as r:
                for message in SSEReader(r).messages(7):
                    received.append(int(message.id or 0))
                    last_id = message.id
    finally:
        stop.set()
        writer.join()
    everything = [e["position"] for e in feed(client)]
    with client.stream("GET", "/events/stream", headers={"Last-Event-ID": last_id or "0"}) as r:
        rest = SSEReader(r).messages(len(everything) - len(received))
    received.extend(int(m.id or 0) for m in rest)

    assert received == everything


def test_a_negotiation_stream_carries_only_that_negotiation(client: httpx.Client) -> None:
    assert client.post("/negotiations", json=opening("other")).status_code == 201
    append(client, 1, "other")
    with client.stream("GET", f"/negotiations/{SLUG}/stream", params={"after": 0}) as response:
        reader = SSEReader(response)
        opened = reader.messages(3)  # its opening: opened, two parties joined, a term
        append(client, 2, "other")
        mine = append(client, 3)["events"][0]["event_id"]
        rest = reader.messages(2)
    entries = [m.entry for m in (*opened, *rest)]
    assert {e["negotiation"] for e in entries} == {SLUG}
    assert entries[-1]["event_id"] == mine
    ids = [int(m.id or 0) for m in (*opened, *rest)]
    assert ids == sorted(ids)


def test_an_idle_stream_sends_heartbeats(client: httpx.Client) -> None:
    with client.stream("GET", "/events/stream") as response:
        assert SSEReader(response).comment() == "heartbeat"


def test_an_unknown_negotiation_or_a_bad_last_event_id_is_a_problem(client: httpx.Client) -> None:
    assert client.get("/negotiations/nobody/stream").status_code == 404
    response = client.get("/events/stream", headers={"Last-Event-ID": "seven"})
    assert response.status_code == 422
    assert response.json()["field"] == "Last-Event-ID"


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_streams_need_a_reader_key_once_keys_exist(
    served: tuple[str, Any], client: httpx.Client
) -> None:
    _, app = served
    keys = app.state.gate.keys
    _, reader = keys.create("watcher", Role.READER)
    app.state.gate.changed()

    assert client.get("/events/stream").status_code == 401
    assert client.get(f"/negotiations/{SLUG}/stream").status_code == 401
    headers = {"Authorization": f"Bearer {reader}"}
    with client.stream("GET", "/events/stream", params={"after": 0}, headers=headers) as r:
        assert r.status_code == 200
        assert SSEReader(r).messages(1)[0].event == "negotiation_opened"


@pytest.mark.parametrize("store_url", ["memory", "sqlite"], indirect=True)
def test_a_client_that_stops_reading_is_disconnected_and_its_buffer_stays_bounded(
    store_url: str,
) -> None:
    app = create_app(Settings(database_url=store_url, stream_buffer=CAPACITY))
    with serve(app) as url, httpx.Client(base_url=url, timeout=READ_TIMEOUT) as client:
        assert client.post("/negotiations", json=opening()).status_code == 201
        hub = app.state.hub
        host, port = url.removeprefix("http://").split(":")
        with socket.socket() as sleeper:
            sleeper.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            sleeper.connect((host, int(port)))
            sleeper.sendall(f"GET /events/stream HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            sleeper.recv(1)  # the answer has begun: it is subscribed
            assert hub.subscribers == 1
            batches = 0
            # Appends (each well within the buffer) until the server gives up on the client
            # that reads nothing; its buffer never holds more than its capacity meanwhile.
            while hub.subscribers and batches < 1000:
                body = [offer(1000 + i, note="n" * 2000) for i in range(BATCH)]
                assert client.post(f"/negotiations/{SLUG}/events", json=body).status_code == 201
                batches += 1
                assert all(s.buffered <= CAPACITY for s in list(hub._subscriptions))
            assert hub.subscribers == 0, f"still subscribed after {batches} batches"
            assert hub.dispatched > CAPACITY  # it was cut off for falling behind, not at once


CAPACITY = 100
BATCH = 20


@pytest.mark.slow
def test_sigterm_ends_open_streams_and_the_server_stops_gracefully(tmp_path: Path) -> None:
    """uvicorn waits for open answers before it stops; the streams must not make it wait."""
    server = ParleyServer(
        f"sqlite:///{tmp_path}/parley.db",
        tmp_path / "server.log",
        env={"PARLEY_GRACEFUL_SHUTDOWN_SECONDS": "60"},
    )
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=READ_TIMEOUT) as client:
            assert client.post("/negotiations", json=opening()).status_code == 201
            with (
                client.stream("GET", "/events/stream", params={"after": 0}) as one,
                client.stream("GET", f"/negotiations/{SLUG}/stream") as two,
            ):
                SSEReader(one).messages(1)
                assert two.status_code == 200
                assert server.proc is not None
                started = time.monotonic()
                os.killpg(server.proc.pid, signal.SIGTERM)
                code = server.proc.wait(timeout=STOP_WITHIN)
        assert code == 0, server.tail()
        assert time.monotonic() - started < STOP_WITHIN
    finally:
        server.kill()


STOP_WITHIN = 10.0
