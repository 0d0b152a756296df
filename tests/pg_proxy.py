"""A TCP proxy on loopback between Parley and PostgreSQL, for injecting faults.

``PgProxy(upstream_port)`` listens on a free port of 127.0.0.1 and forwards each connection.
It reads the client's side of the wire protocol (startup, then typed messages), so that it can:

- ``lose_next_commit_reply()``: forward the next ``COMMIT`` and drop the connection instead of
  delivering the server's answer (the commit happened; the client cannot know);
- ``stop()`` / ``resume()``: an outage: every connection is closed and new ones are refused
  until it resumes.
- ``stall()`` / ``resume()``: a silent one: nothing is forwarded any more, in either
  direction, but no connection is closed and new ones are accepted (a hung server, a
  network that drops packets). ``resume()`` then drops the stalled connections (as both
  ends would have given up on them: nothing held back reaches the server late) and
  forwards again.

The proxy answers an SSLRequest with ``N`` itself, so the stream stays readable. Used by the
fault tests and by ``bench/bench_http.py``'s outage line.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from types import TracebackType
from typing import Self

SSL_REQUEST = 80877103
GSS_REQUEST = 80877104


class PgProxy:
    def __init__(self, upstream_port: int = 5432, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._sockets: set[socket.socket] = set()
        self._stopped = threading.Event()
        self._stalled = threading.Event()
        self._closed = threading.Event()
        self._lose_commit = 0
        self.commit_replies_lost = 0
        self._acceptor = threading.Thread(target=self._accept, name="pg-proxy", daemon=True)
        self._acceptor.start()

    # ---------------------------------------------------------------- controls

    def lose_next_commit_reply(self, count: int = 1) -> None:
        with self._lock:
            self._lose_commit = count

    def stop(self) -> None:
        """The store becomes unreachable: open connections drop, new ones are refused."""
        self._stopped.set()
        self._drop_all()

    def stall(self) -> None:
        """The store stops answering: bytes are held, connections stay open."""
        self._stalled.set()

    def resume(self) -> None:
        if self._stalled.is_set():
            self._drop_all()
            self._stalled.clear()
        self._stopped.clear()

    def _hold(self) -> bool:
        """Waits while stalled; False when the connection must end instead."""
        while self._stalled.is_set():
            if self._closed.is_set():
                return False
            time.sleep(0.02)
        return not self._closed.is_set()

    def close(self) -> None:
        self._closed.set()
        self._stopped.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self._drop_all()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # ---------------------------------------------------------------- plumbing

    def _drop_all(self) -> None:
        with self._lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            _close(sock)

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._stopped.is_set():
                _close(client)  # as a server that is down: the connection ends at once
                continue
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            connection = _Connection(self, client, server)
            with self._lock:
                self._sockets |= {client, server}
            threading.Thread(target=connection.client_to_server, daemon=True).start()
            threading.Thread(target=connection.server_to_client, daemon=True).start()

    def _take_commit_loss(self) -> bool:
        with self._lock:
            if self._lose_commit <= 0:
                return False
            self._lose_commit -= 1
            self.commit_replies_lost += 1
            return True


class _Connection:
    def __init__(self, proxy: PgProxy, client: socket.socket, server: socket.socket) -> None:
        self.proxy = proxy
        self.client = client
        self.server = server
        self.losing = threading.Event()

    def client_to_server(self) -> None:
        try:
            self._startup()
            while True:
                head = _read_exactly(self.client, 5)
                kind, length = head[:1], struct.unpack("!I", head[1:])[0]
                body = _read_exactly(self.client, length - 4)
                if (
                    kind in (b"Q", b"P")
                    and body.lstrip(b"\0").upper().startswith(b"COMMIT")
                    and self.proxy._take_commit_loss()
                ):
                    self.losing.set()
                if not self.proxy._hold():
                    break
                self.server.sendall(head + body)
        except OSError:
            pass
        finally:
            self._close()

    def _startup(self) -> None:
        while True:
            raw = _read_exactly(self.client, 4)
            length = struct.unpack("!I", raw)[0]
            body = _read_exactly(self.client, length - 4)
            code = struct.unpack("!I", body[:4])[0]
            if code in (SSL_REQUEST, GSS_REQUEST):
                self.client.sendall(b"N")  # no encryption: the proxy must read the stream
                continue
            if not self.proxy._hold():
                raise ConnectionError("closed")
            self.server.sendall(raw + body)
            return

    def server_to_client(self) -> None:
        try:
            while True:
                data = self.server.recv(65536)
                if not data:
                    break
                if self.losing.is_set():
                    break  # the COMMIT was processed: its answer is lost with the connection
                if not self.proxy._hold():
                    break
                self.client.sendall(data)
        except OSError:
            pass
        finally:
            self._close()

    def _close(self) -> None:
        _close(self.client)
        _close(self.server)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    chunks = []
    while n:
        chunk = sock.recv(n)
        if not chunk:
            raise ConnectionError("closed")
        chunks.append(chunk)
        n -= len(chunk)
    return b"".join(chunks)


def _close(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()
