"""A server whose clock is set back: recorded time still moves on, and time travel still cuts.

The app's ledger reads an injected clock: an hour behind the events already stored, as after
a restart under a shifted clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation
from starlette.testclient import TestClient

PATHS = ("", "/positions", "/gaps", "/timeline")


@pytest.fixture
def skewed(client_factory: Any, store_url: str) -> TestClient:
    """The SMA negotiation opened, then the clock set back an hour, then two offers."""
    client: TestClient = client_factory(store_url)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    behind = ledger._clock() - timedelta(hours=1)
    ledger._clock = lambda: behind
    assert post_events(client, offer()).status_code == 201
    assert post_events(client, offer("ROK", "1000", "KRW")).status_code == 201
    return client


def test_recorded_at_never_goes_back_when_the_clock_does(skewed: TestClient) -> None:
    times = [datetime.fromisoformat(e["recorded_at"]) for e in ledger_events(skewed)]

    assert times == sorted(times)
    assert len(set(times[4:])) == 3  # the opening's batch, then one moment per command
    behind = skewed.get("/health").json()["clock_behind_seconds"]
    assert behind == pytest.approx(3600, abs=1)


@pytest.mark.parametrize("path", PATHS)
def test_a_moment_before_the_opening_is_a_404_problem_even_under_a_skewed_clock(
    skewed: TestClient, path: str
) -> None:
    opened_at = datetime.fromisoformat(ledger_events(skewed)[0]["recorded_at"])
    moment = (opened_at - timedelta(minutes=30)).isoformat()

    response = skewed.get(f"/negotiations/usa-rok-sma{path}", params={"as_of_recorded": moment})

    assert_problem(response, 404, "negotiation-not-found")


@pytest.mark.parametrize("path", PATHS)
def test_as_of_recorded_is_a_prefix_of_the_stream(skewed: TestClient, path: str) -> None:
    events = ledger_events(skewed)
    at = events[5]["recorded_at"]

    response = skewed.get(f"/negotiations/usa-rok-sma{path}", params={"as_of_recorded": at})
    by_version = skewed.get(f"/negotiations/usa-rok-sma{path}", params={"as_of_version": 6})

    assert response.status_code == 200, response.text
    assert response.json() == by_version.json()
