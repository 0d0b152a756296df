"""Graceful shutdown, proven: SIGTERM while appends are in flight loses nothing acknowledged.

``parley serve`` on a SQLite file gets large atomic batches from several clients. Some
requests are held half-sent until the server has them in progress (its own
``/metrics`` says so); SIGTERM then arrives, the server stops accepting connections, the
held requests finish sending, and each must still be answered 201. Free-running writers
append meanwhile: each of their requests was acknowledged, refused at connect, or cut off
before an answer. After a restart every acknowledged event is in the ledger, no batch is
there in part, nothing refused is there at all, and the server exited 0 within a bound.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from test_crash_safety import ParleyServer, ledger_events, negotiation, offer

pytestmark = pytest.mark.slow

HELD = 3
"""Requests held half-sent across the SIGTERM: each must be answered 201."""
RUNNING = 2
"""Writers appending in a loop until the server stops taking connections."""
BATCH = 150
STATE_TIMEOUT = 15.0
EXIT_TIMEOUT = 30.0


def batch(tag: str) -> list[dict[str, Any]]:
    return [offer(tag, i) for i in range(BATCH)]


def bounded_poll(
    what: str, check: Any, server: ParleyServer, timeout: float = STATE_TIMEOUT
) -> Any:
    """Calls ``check`` until it returns something truthy; the pause also notices a dead server."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        assert server.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.proc.wait(timeout=0.02)
    pytest.fail(f"{what} not seen within {timeout} s:\n{server.tail()}")


class HeldRequest:
    """An append over a raw socket: headers and half the body now, the rest on release."""

    def __init__(self, port: int, slug: str, tag: str) -> None:
        self.tag = tag
        body = json.dumps(batch(tag)).encode()
        head = (
            f"POST /negotiations/{slug}/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
            f"X-Request-ID: {tag}\r\n\r\n"
        ).encode()
        half = len(body) // 2
        self.first, self.rest = head + body[:half], body[half:]
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=EXIT_TIMEOUT)
        self.sock.sendall(self.first)
        self.status: int | None = None
        self.answer: dict[str, Any] = {}

    def finish(self) -> None:
        """Sends the rest and reads the answer (the server closes the connection after it)."""
        with self.sock:
            self.sock.sendall(self.rest)
            raw = b""
            while chunk := self.sock.recv(65536):
                raw += chunk
        head, _, body = raw.partition(b"\r\n\r\n")
        self.status = int(head.split(b" ", 2)[1])
        self.answer = json.loads(body) if body else {}


class Writer(threading.Thread):
    """Appends batches, one connection each, until a connection is refused."""

    def __init__(self, base_url: str, slug: str, name: str) -> None:
        super().__init__(name=name, daemon=True)
        self.base_url, self.slug = base_url, slug
        self.acked: dict[str, list[str]] = {}
        """tag -> the event ids its 201 named."""
        self.cut_off: list[str] = []
        """Tags sent but never answered: all of their batch or none of it may be stored."""
        self.refused: list[str] = []
        self.unexpected: list[str] = []
        self.first_ack = threading.Event()
        self.go = threading.Event()
        self.go.set()
        self.idle = threading.Event()
        """Set while the writer waits for ``go``, between two requests."""

    def pause(self) -> None:
        self.go.clear()
        assert self.idle.wait(STATE_TIMEOUT), f"{self.name} did not pause"

    def run(self) -> None:
        for n in range(10_000):
            if not self.go.is_set():
                self.idle.set()
                self.go.wait(STATE_TIMEOUT)
                self.idle.clear()
            tag = f"{self.name}-{n}"
            try:
                with httpx.Client(base_url=self.base_url, timeout=EXIT_TIMEOUT) as client:
                    response = client.post(f"/negotiations/{self.slug}/events", json=batch(tag))
            except httpx.ConnectError:
                self.refused.append(tag)
                return
            except httpx.TransportError:
                self.cut_off.append(tag)
                continue
            if response.status_code != 201:
                self.unexpected.append(f"{tag}: {response.status_code} {response.text[:200]}")
                return
            self.acked[tag] = [e["event_id"] for e in response.json()["events"]]
            self.first_ack.set()


def posts_in_progress(client: httpx.Client) -> float:
    text = client.get("/metrics").text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "parley_http_requests_in_progress" and sample.labels == {
                "method": "POST"
            }:
                return sample.value
    return 0.0


def refuses_connections(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


@pytest.fixture
def server(tmp_path: Path) -> Iterator[ParleyServer]:
    server = ParleyServer(
        f"sqlite:///{tmp_path}/graceful.db",
        tmp_path / "serve.log",
        env={"PARLEY_LOG_FORMAT": "json", "PARLEY_GRACEFUL_SHUTDOWN_SECONDS": "20"},
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


def test_sigterm_finishes_appends_in_flight_and_loses_nothing_acknowledged(
    server: ParleyServer,
) -> None:
    slugs = [f"graceful-{n}" for n in range(HELD + RUNNING)]
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        for slug in slugs:
            assert client.post("/negotiations", json=negotiation(slug)).status_code == 201
        opening = {slug: len(ledger_events(client, slug)) for slug in slugs}

        writers = [Writer(server.base_url, slug, f"run{n}") for n, slug in enumerate(slugs[HELD:])]
        for writer in writers:
            writer.start()
        for writer in writers:
            assert writer.first_ack.wait(STATE_TIMEOUT), server.tail()
        held = [HeldRequest(server.port, slug, f"held{n}") for n, slug in enumerate(slugs[:HELD])]
        # Paused between requests, the writers leave the held requests the only POSTs.
        for writer in writers:
            writer.pause()
        bounded_poll(
            f"{HELD} held requests in progress",
            lambda: posts_in_progress(client) == HELD,
            server,
        )
        for writer in writers:
            writer.go.set()

    assert server.proc is not None
    os.killpg(server.proc.pid, signal.SIGTERM)
    bounded_poll("the listening socket closed", lambda: refuses_connections(server.port), server)
    with pytest.raises(httpx.ConnectError):
        httpx.post(
            f"{server.base_url}/negotiations/{slugs[0]}/events", json=batch("late-after-sigterm")
        )

    finishers = [threading.Thread(target=request.finish) for request in held]
    for thread in finishers:
        thread.start()
    for thread in [*finishers, *writers]:
        thread.join(EXIT_TIMEOUT)
        assert not thread.is_alive(), server.tail()
    for request in held:
        assert request.status == 201, (request.tag, request.answer, server.tail())
        assert len(request.answer["events"]) == BATCH
    for writer in writers:
        assert not writer.unexpected, writer.unexpected
        assert writer.refused, "a writer stopped for another reason than a refused connection"

    assert server.proc.wait(timeout=EXIT_TIMEOUT) == 0, server.tail()
    server.proc = None

    server.start()
    with httpx.Client(base_url=server.base_url, timeout=10) as client:
        stored = {slug: ledger_events(client, slug)[opening[slug] :] for slug in slugs}
    for request, slug in zip(held, slugs[:HELD], strict=True):
        assert [e["event_id"] for e in stored[slug]] == [
            e["event_id"] for e in request.answer["events"]
        ]
    for writer in writers:
        by_tag: dict[str, list[str]] = {}
        for event in stored[writer.slug]:
            by_tag.setdefault(event["note"], []).append(event["event_id"])
        for tag, ids in writer.acked.items():
            assert by_tag.pop(tag) == ids, tag  # acknowledged: stored, whole, as answered
        for tag in writer.cut_off:
            assert len(by_tag.pop(tag, [])) in (0, BATCH), tag  # never half a batch
        assert not by_tag, f"stored without being sent: {sorted(by_tag)}"
    assert "late-after-sigterm" not in json.dumps(stored)

    lines = [
        json.loads(line) for line in server.log.read_text().splitlines() if line.startswith("{")
    ]
    answered = {line["request_id"]: line for line in lines if line.get("logger") == "api.access"}
    for request in held:
        line = answered[request.tag]
        assert (line["status"], line["route"]) == (201, "/negotiations/{slug}/events")
    assert any(line["message"] == "Shutting down" for line in lines)
