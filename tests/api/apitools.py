"""Helpers for the API tests: the SMA story as request bodies, and problem assertions."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from api.http.problems.table import CATALOGUE

if TYPE_CHECKING:
    from starlette.testclient import TestClient

OPENED_ON = "2019-09-24"


def sma_negotiation(slug: str = "usa-rok-sma") -> dict[str, Any]:
    """The 11th Special Measures Agreement talks, as a client opens them."""
    return {
        "slug": slug,
        "title": "11th Special Measures Agreement",
        "subject": "Cost sharing for the upkeep of US Forces Korea",
        "parties": [
            {"id": "USA", "name": "United States"},
            {"id": "ROK", "name": "Republic of Korea"},
        ],
        "terms": [
            {"id": "annual_contribution", "name": "Korea's annual contribution", "unit": "KRW"},
            {"id": "duration", "name": "Duration of the agreement", "unit": "years"},
        ],
        "occurred_at": OPENED_ON,
    }


def offer(party: str = "USA", amount: Any = "5000000000", unit: str = "USD", **kw: Any) -> dict:
    body = {
        "type": "offer_made",
        "party": party,
        "kind": "demand" if party == "USA" else "offer",
        "values": {"annual_contribution": {"amount": amount, "unit": unit}},
        "occurred_at": "2019-11-18",
    }
    return {**body, **kw}


def retraction(
    event_id: str, reason: str = "entered twice", occurred_at: str = "2019-11-20"
) -> dict[str, Any]:
    """The body that retracts ``event_id``."""
    return {
        "type": "event_retracted",
        "retracted_event_id": event_id,
        "reason": reason,
        "occurred_at": occurred_at,
    }


def post_events(client: TestClient, body: Any, slug: str = "usa-rok-sma", **kw: Any) -> Any:
    return client.post(f"/negotiations/{slug}/events", json=body, **kw)


def ledger_events(client: TestClient, slug: str = "usa-rok-sma") -> list[dict[str, Any]]:
    response = client.get(f"/negotiations/{slug}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def version_of(client: TestClient, slug: str = "usa-rok-sma") -> int:
    response = client.get(f"/negotiations/{slug}")
    assert response.status_code == 200, response.text
    version: int = response.json()["version"]
    return version


def assert_problem(response: Any, status: int, problem_type: str) -> dict[str, Any]:
    """The response is an RFC 9457 problem of that status and type."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem: dict[str, Any] = response.json()
    assert problem["status"] == status
    expected = problem_type if ":" in problem_type else f"/problems/{problem_type}"
    assert problem["type"] == expected
    # One title per problem type, the one its page shows.
    assert problem["title"] == CATALOGUE[expected.removeprefix("/problems/")].title
    return problem
