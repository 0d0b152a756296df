"""The views behind the reads: a lagging view answers 503, never stale data; /health shows lag."""

from __future__ import annotations

from apitools import assert_problem, offer, post_events, sma_negotiation

from projections.views import VIEWS

READS = (
    "/negotiations",
    "/negotiations/usa-rok-sma",
    "/negotiations/usa-rok-sma/positions",
    "/negotiations/usa-rok-sma/gaps",
    "/negotiations/usa-rok-sma/timeline",
)


def external(client_factory, store_url="memory://"):
    """An app whose views nobody keeps: as with PARLEY_PROJECT_IN_PROCESS=false and no `parley project`."""
    return client_factory(store_url, project_in_process=False, read_wait_seconds=0.05)


def test_reads_answer_503_with_retry_after_while_the_views_lag(client_factory):
    client = external(client_factory)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201

    for path in READS:
        response = client.get(path)
        problem = assert_problem(response, 503, "view-lagging")
        assert int(response.headers["retry-after"]) >= 1
        assert problem["position"] == 5
        assert problem["view_position"] == 0


def test_reads_answer_once_another_runner_catches_the_views_up(client_factory, store_url):
    client = external(client_factory, store_url)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    post_events(client, offer("USA", "5000000000000", "KRW"))
    assert_problem(client.get(READS[2]), 503, "view-lagging")

    runner = client.app.state.runner
    runner.catch_up()  # what a `parley project` process does, here in the foreground

    positions = client.get(READS[2])
    assert positions.status_code == 200
    assert positions.json()["terms"][0]["positions"][0]["party"] == "USA"


def test_the_summary_answers_not_modified_without_waiting_for_the_views(client_factory):
    client = external(client_factory)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201

    response = client.get("/negotiations/usa-rok-sma", headers={"If-None-Match": '"5"'})

    assert response.status_code == 304


def test_appends_and_the_ledger_itself_are_served_while_the_views_lag(client_factory):
    client = external(client_factory)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201

    assert post_events(client, offer()).status_code == 201
    assert client.get("/negotiations/usa-rok-sma/events").status_code == 200


def test_health_reports_each_views_lag(client_factory):
    client = external(client_factory)
    client.post("/negotiations", json=sma_negotiation())

    health = client.get("/health").json()

    assert health["status"] == "ok"
    assert health["projections"] == "external"
    assert health["head_position"] == 5
    assert health["views"] == {view: {"position": 0, "lag": 5} for view in VIEWS}


def test_health_shows_no_lag_once_the_in_process_runner_caught_up(client_factory, store_url):
    client = client_factory(store_url)
    client.post("/negotiations", json=sma_negotiation())
    assert client.app.state.runner.wait_for(5, timeout=10)

    health = client.get("/health").json()

    assert health["status"] == "ok"
    assert health["projections"] == "in-process"
    assert health["views"] == {view: {"position": 5, "lag": 0} for view in VIEWS}
    assert health["error"] is None


def test_health_is_degraded_when_the_in_process_runner_is_not_running(client):
    client.app.state.runner.stop()

    health = client.get("/health")

    assert health.status_code == 200
    assert health.json()["status"] == "degraded"
    assert "runner" in health.json()["error"]


def test_a_read_waits_for_its_own_negotiation_not_for_writes_to_others(client_factory, store_url):
    client = external(client_factory, store_url)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    post_events(client, offer("USA", "5000000000000", "KRW"))
    client.app.state.runner.catch_up()
    # Another negotiation is written to; nobody applies it to the views.
    assert client.post("/negotiations", json=sma_negotiation("other-talks")).status_code == 201

    for path in READS[1:]:
        response = client.get(path)
        assert response.status_code == 200, (path, response.text)
    assert client.get(READS[2]).json()["terms"][0]["positions"][0]["party"] == "USA"
    lagging = client.get("/negotiations/other-talks/positions")
    assert_problem(lagging, 503, "view-lagging")
