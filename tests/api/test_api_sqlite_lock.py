"""A SQLite file another connection keeps locked: appends answer 503 within the store bound.

SQLite lets one writer at a time; the others wait for the lock (its busy timeout). That wait
is bounded by ``PARLEY_STORE_TIMEOUT_SECONDS``: an append behind a writer that holds on
answers 503 storage-unavailable with Retry-After, never a 500 nor a hang, and the next
append after the lock is released is recorded.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation
from starlette.testclient import TestClient

BOUND = 1.0
SLACK = 1.5  # scheduling on a loaded machine, not the store


@contextlib.contextmanager
def locked(path: Path) -> Iterator[None]:
    """Another connection holds the file's write lock until the block ends."""
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN IMMEDIATE")
        yield
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_an_append_behind_a_writer_that_holds_the_lock_is_a_503_within_the_bound(
    client_factory: Any, tmp_path: Path
) -> None:
    path = tmp_path / "parley.db"
    client: TestClient = client_factory(f"sqlite:///{path}", store_timeout_seconds=BOUND)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    assert client.get("/negotiations/usa-rok-sma/events").status_code == 200
    before = ledger_events(client)

    with locked(path):
        for body in (offer(), [offer(), offer("ROK", "2000")]):
            started = time.monotonic()
            response = post_events(client, body)
            took = time.monotonic() - started

            assert_problem(response, 503, "storage-unavailable")
            assert int(response.headers["Retry-After"]) >= 1
            assert took < BOUND + SLACK, f"the append took {took:.1f} s"

    response = post_events(client, offer())
    assert response.status_code == 201, response.text
    events = ledger_events(client)
    assert [e["event_id"] for e in events] == [e["event_id"] for e in before] + [
        e["event_id"] for e in response.json()["events"]
    ]
    assert client.get("/ledger/verify").json()["ok"] is True
