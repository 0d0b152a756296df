"""PostgreSQL behind a loopback TCP proxy that loses a COMMIT's reply, or stops forwarding.

A lost reply: the COMMIT reaches the server and the connection drops before its answer; the
library retries the insert and meets its own rows. Every acknowledged command must be stored
exactly once, with its own 201 (never a 412 for the client's own write).

An outage: the proxy drops every connection and refuses new ones. Appends and reads answer
503 storage-unavailable with Retry-After within the configured bound, and the server recovers
by itself (and subscribes to the log again) when the proxy forwards again.

A silent outage: the proxy stops forwarding but closes nothing (a hung server, a network
that drops packets), so queries already sent never get an answer. The same 503 within the
bound, and the same recovery.
"""

from __future__ import annotations

import itertools
import os
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation
from pg_proxy import PgProxy
from starlette.testclient import TestClient

PG_PORT = int(os.environ.get("PARLEY_TEST_PG_PORT", "5432"))
_schemas = itertools.count(1)


@pytest.fixture
def proxy() -> Iterator[PgProxy]:
    with PgProxy(PG_PORT) as running:
        yield running


@pytest.fixture
def proxied_url(proxy: PgProxy, postgres_database: str | None) -> str:
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    schema = f"f{os.getpid()}_{next(_schemas)}"
    return f"postgresql://postgres@127.0.0.1:{proxy.port}/{postgres_database}?schema={schema}"


def settle(client: TestClient) -> None:
    """The views at the head (a read waits for them): nothing else commits meanwhile."""
    assert client.get("/negotiations/usa-rok-sma/events").status_code == 200


def test_a_lost_commit_reply_is_answered_as_committed_and_stored_once(
    client_factory: Any, proxied_url: str, proxy: PgProxy
) -> None:
    client: TestClient = client_factory(proxied_url)
    proxy.lose_next_commit_reply()
    opened = client.post("/negotiations", json=sma_negotiation())
    assert opened.status_code == 201, opened.text
    assert proxy.commit_replies_lost == 1
    version = opened.json()["version"]
    acknowledged = [e["event_id"] for e in ledger_events(client)]
    for n, (batch, keyed, if_match) in enumerate(itertools.product((False, True), repeat=3)):
        body: Any = [offer(amount=f"{n + 1}000"), offer("ROK", f"{n + 1}00")] if batch else offer()
        headers = {"Idempotency-Key": f"k-{n}"} if keyed else {}
        if if_match:
            headers["If-Match"] = f'"{version}"'
        settle(client)
        proxy.lose_next_commit_reply()

        response = post_events(client, body, headers=headers)

        case = f"batch={batch} keyed={keyed} if_match={if_match}"
        assert response.status_code == 201, f"{case}: {response.text}"
        assert proxy.commit_replies_lost == n + 2, case
        version = response.json()["version"]
        acknowledged += [e["event_id"] for e in response.json()["events"]]

    stored = ledger_events(client)
    assert [e["event_id"] for e in stored] == acknowledged
    assert [e["version"] for e in stored] == list(range(1, len(stored) + 1))
    verified = client.get("/ledger/verify").json()
    assert verified["ok"] is True, verified


BOUND = 2.0
SLACK = 1.0  # scheduling on a loaded machine, not the store


@pytest.fixture
def bounded(client_factory: Any, proxied_url: str) -> TestClient:
    """The app on the proxied store, its store calls bounded, the SMA talks opened and settled."""
    client: TestClient = client_factory(proxied_url, store_timeout_seconds=BOUND)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    settle(client)
    return client


def assert_each_a_quick_503(calls: dict[str, Callable[[], Any]]) -> None:
    """Each call answers 503 storage-unavailable with Retry-After, within the bound."""
    for name, call in calls.items():
        started = time.monotonic()
        response = call()
        took = time.monotonic() - started
        problem = assert_problem(response, 503, "storage-unavailable")
        assert int(response.headers["Retry-After"]) >= 1, name
        assert problem["status"] == 503
        assert took < BOUND + SLACK, f"{name} took {took:.1f} s"


def append_once_recovered(client: TestClient, deadline: float) -> int:
    """Appends an offer until the store takes it (503 meanwhile); the new version."""
    while (response := post_events(client, offer())).status_code != 201:
        assert response.status_code == 503, response.text
        assert time.monotonic() < deadline, "the server did not recover"
        time.sleep(0.2)  # waiting for the store to come back, not for a projection
    version: int = response.json()["version"]
    return version


def test_an_outage_is_a_quick_503_and_the_server_recovers_by_itself(
    bounded: TestClient, proxy: PgProxy
) -> None:
    client = bounded
    assert client.get("/health").json()["subscribed"] is True

    proxy.stop()
    calls = {
        "append": lambda: post_events(client, offer()),
        "append again": lambda: post_events(client, offer(), headers={"Idempotency-Key": "o"}),
        "summary": lambda: client.get("/negotiations/usa-rok-sma"),
        "positions": lambda: client.get("/negotiations/usa-rok-sma/positions"),
        "events": lambda: client.get("/negotiations/usa-rok-sma/events"),
    }
    assert_each_a_quick_503(calls)

    proxy.resume()
    deadline = time.monotonic() + 30
    version = append_once_recovered(client, deadline)
    events = ledger_events(client)  # the views follow the new append (read-your-writes)
    assert events[-1]["version"] == version
    while (health := client.get("/health").json())["subscribed"] is not True:
        assert health["status"] == "degraded", health
        assert time.monotonic() < deadline, "the runner did not subscribe again"
        time.sleep(0.2)
    assert health["status"] == "ok"
    assert client.get("/ledger/verify").json()["ok"] is True


def test_a_store_that_stops_answering_is_a_503_within_the_bound_and_recovers(
    bounded: TestClient, proxy: PgProxy
) -> None:
    client = bounded

    proxy.stall()
    calls = {
        "append": lambda: post_events(client, offer()),
        "append keyed": lambda: post_events(client, offer(), headers={"Idempotency-Key": "s"}),
        "summary": lambda: client.get("/negotiations/usa-rok-sma"),
        "events": lambda: client.get("/negotiations/usa-rok-sma/events"),
        "append again": lambda: post_events(client, offer()),
    }
    assert_each_a_quick_503(calls)

    proxy.resume()
    deadline = time.monotonic() + 30
    version = append_once_recovered(client, deadline)
    events = ledger_events(client)
    assert events[-1]["version"] == version
    assert [e["version"] for e in events] == list(range(1, version + 1))
    assert client.get("/ledger/verify").json()["ok"] is True
