"""The app served by uvicorn in a thread on a free port, and a small Server-Sent Events reader."""

from __future__ import annotations

import contextlib
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI


@contextlib.contextmanager
def serve(app: FastAPI) -> Iterator[str]:
    """Serves ``app`` (with its lifespan) on a socket bound first; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=10)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)  # the server's start-up, not a projection: nothing else to wait on
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        # Open streams end first (as SIGTERM has them do under `parley serve`).
        hub = getattr(app.state, "hub", None)
        if hub is not None:
            hub.close()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@dataclass
class Message:
    id: str | None
    event: str | None
    data: str

    @property
    def entry(self) -> dict[str, Any]:
        found: dict[str, Any] = json.loads(self.data)
        return found


@dataclass
class SSEReader:
    """Reads messages (and counts comment lines) from a streaming httpx response."""

    response: httpx.Response
    comments: list[str] = field(default_factory=list)
    _lines: Iterator[str] | None = None

    def next(self) -> Message:
        if self._lines is None:
            self._lines = self.response.iter_lines()
        fields: dict[str, str] = {}
        data: list[str] = []
        commented = False
        for line in self._lines:
            if line == "":
                if data or fields or commented:
                    return Message(fields.get("id"), fields.get("event"), "\n".join(data))
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                commented = True
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if name == "data":
                data.append(value)
            else:
                fields[name] = value
        raise EOFError("the stream ended")

    def messages(self, count: int) -> list[Message]:
        """The next ``count`` messages with an id (the ``retry`` hint is passed over)."""
        found: list[Message] = []
        while len(found) < count:
            message = self.next()
            if message.id is not None:
                found.append(message)
        return found

    def comment(self) -> str:
        """Reads until the next comment line and returns it."""
        seen = len(self.comments)
        while len(self.comments) == seen:
            message = self.next()
            if message.id is not None:
                msg = f"a message came before any comment: {message}"
                raise AssertionError(msg)
        return self.comments[seen]
