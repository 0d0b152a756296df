"""GET /metrics: Prometheus text that moves with the requests, the appends and the views."""

from __future__ import annotations

from typing import Any

from apitools import offer, post_events, sma_negotiation
from conftest import ClientFactory
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from api.store.keys import Role

EVENTS_ROUTE = "/negotiations/{slug}/events"


def scrape(client: TestClient) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Samples by name, each as (labels, value)."""
    response = client.get("/metrics")
    assert response.status_code == 200, response.text
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


def value(client: TestClient, name: str, **labels: str) -> float:
    """The sum of the samples of ``name`` whose labels include ``labels`` (0 when none)."""
    found = scrape(client).get(name, [])
    return sum(v for have, v in found if labels.items() <= have.items())


def test_metrics_are_prometheus_text(client: TestClient) -> None:
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "parley_http_requests",
        "parley_http_request_duration_seconds",
        "parley_append_duration_seconds",
        "parley_events_recorded",
        "parley_view_lag_events",
        "parley_ledger_head_position",
    } <= names


def test_requests_are_counted_by_route_template_and_status(sma: TestClient) -> None:
    before = value(sma, "parley_http_requests_total", route=EVENTS_ROUTE, status="201")
    assert post_events(sma, offer()).status_code == 201
    assert post_events(sma, offer(party="nobody")).status_code == 422
    samples = scrape(sma)
    counted = {
        (labels["method"], labels["route"], labels["status"]): v
        for labels, v in samples["parley_http_requests_total"]
    }
    assert counted[("POST", EVENTS_ROUTE, "201")] == before + 1
    assert counted[("POST", EVENTS_ROUTE, "422")] == 1
    assert counted[("POST", "/negotiations", "201")] == 1
    # The slug is a value, never a label: one series per route, however many negotiations.
    assert not [
        labels
        for labels, _ in samples["parley_http_requests_total"]
        if "usa-rok-sma" in labels["route"]
    ]
    timed = value(sma, "parley_http_request_duration_seconds_count", route=EVENTS_ROUTE)
    assert timed == before + 2


def test_paths_no_route_matches_share_one_label(client: TestClient) -> None:
    for path in ("/nothing-here", "/nor-here/42"):
        assert client.get(path).status_code == 404
    routes = {labels["route"] for labels, _ in scrape(client)["parley_http_requests_total"]}
    assert "<unmatched>" in routes
    assert not {"/nothing-here", "/nor-here/42"} & routes
    assert value(client, "parley_http_requests_total", route="<unmatched>", status="404") == 2


def test_appends_are_timed_and_their_events_counted(sma: TestClient) -> None:
    # Opening the SMA talks recorded the opening, two parties and two terms.
    assert value(sma, "parley_events_recorded_total") == 5
    assert value(sma, "parley_events_recorded_total", type="party_joined") == 2
    assert (
        value(sma, "parley_append_duration_seconds_count", operation="open", outcome="recorded")
        == 1
    )
    assert (
        post_events(
            sma, [offer(), offer(party="ROK", amount="1000000000000", unit="KRW", kind="offer")]
        ).status_code
        == 201
    )
    assert value(sma, "parley_events_recorded_total", type="offer_made") == 2
    assert value(sma, "parley_append_duration_seconds_count", operation="record") == 1


def test_refused_and_replayed_appends_are_timed_but_record_nothing(sma: TestClient) -> None:
    key = {"Idempotency-Key": "offer-1"}
    assert post_events(sma, offer(), headers=key).status_code == 201
    assert post_events(sma, offer(), headers=key).status_code == 201  # the first answer again
    assert post_events(sma, offer(party="nobody")).status_code == 422
    assert value(sma, "parley_events_recorded_total", type="offer_made") == 1
    for outcome in ("recorded", "replayed", "refused"):
        timed = value(
            sma, "parley_append_duration_seconds_count", operation="record", outcome=outcome
        )
        assert timed == 1, outcome


def test_view_lag_and_ledger_head_are_read_at_scrape_time(client_factory: ClientFactory) -> None:
    # With no runner in this process the views stay where they are: the lag is the head.
    client = client_factory("memory://", project_in_process=False)
    lag = scrape(client)["parley_view_lag_events"]
    assert lag
    assert all(v == 0 for _, v in lag)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    assert value(client, "parley_ledger_head_position") == 5
    lag = scrape(client)["parley_view_lag_events"]
    assert {labels["view"] for labels, _ in lag} == set(client.app.state.runner.lag())  # type: ignore[attr-defined]
    assert all(v == 5 for _, v in lag)


def test_each_app_keeps_metrics_of_its_own(client_factory: ClientFactory) -> None:
    first = client_factory("memory://")
    second = client_factory("memory://")
    assert first.post("/negotiations", json=sma_negotiation()).status_code == 201
    assert value(first, "parley_events_recorded_total") == 5
    assert value(second, "parley_events_recorded_total") == 0
    assert value(second, "parley_http_requests_total", route="/negotiations") == 0


def test_requests_in_progress_count_the_scrape_itself(client: TestClient) -> None:
    assert value(client, "parley_http_requests_in_progress", method="GET") == 1
    assert value(client, "parley_http_requests_in_progress", method="POST") == 0


def test_metrics_stay_open_when_keys_are_required(client: TestClient) -> None:
    gate: Any = client.app.state.gate  # type: ignore[attr-defined]
    gate.keys.create("ops", Role.ADMIN)
    gate.changed()
    assert client.get("/negotiations").status_code == 401
    response = client.get("/metrics")
    assert response.status_code == 200
    assert "parley_http_requests_total" in response.text
