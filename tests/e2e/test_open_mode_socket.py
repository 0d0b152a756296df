"""An app started by plain uvicorn on every interface does not serve other machines open.

``uvicorn api.http.app:create_app --factory --host 0.0.0.0`` never reads ``PARLEY_HOST`` (which says
127.0.0.1), so the guard must look at the socket each connection came in on.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import httpx
import pytest
import uvicorn

from api.http.app import create_app
from api.settings import Settings


def non_loopback_address() -> str | None:
    """An address of this machine that is not loopback (no packet is sent)."""
    probe = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        probe.connect(("192.0.2.1", 9))
        address: str = probe.getsockname()[0]
    except OSError:
        return None
    finally:
        probe.close()
    return None if address.startswith("127.") or address == "0.0.0.0" else address  # noqa: S104


@pytest.fixture(scope="module")
def everywhere() -> Iterator[int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("0.0.0.0", 0))  # noqa: S104 - the point of the test
    sock.listen(16)
    port = sock.getsockname()[1]
    app = create_app(Settings(database_url="memory://"))  # settings say 127.0.0.1
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def test_an_open_server_bound_everywhere_refuses_connections_from_beyond_loopback(
    everywhere: int,
) -> None:
    address = non_loopback_address()
    if address is None:
        pytest.skip("this machine has no non-loopback address")
    response = httpx.get(
        f"http://{address}:{everywhere}/negotiations", headers={"Host": "localhost"}, timeout=10
    )

    assert response.status_code == 403
    assert response.json()["type"] == "/problems/open-mode-not-loopback"


def test_the_same_server_still_answers_this_machine_over_loopback(everywhere: int) -> None:
    response = httpx.get(f"http://127.0.0.1:{everywhere}/negotiations", timeout=10)

    assert response.status_code == 200
