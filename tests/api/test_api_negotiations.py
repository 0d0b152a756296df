"""Opening, listing and reading negotiations over HTTP."""

from __future__ import annotations

from apitools import assert_problem, post_events, sma_negotiation


def test_opening_a_negotiation_answers_its_summary_with_location_and_etag(store_client):
    response = store_client.post("/negotiations", json=sma_negotiation())

    assert response.status_code == 201, response.text
    assert response.headers["location"] == "/negotiations/usa-rok-sma"
    assert response.headers["etag"] == '"5"'
    summary = response.json()
    assert summary["slug"] == "usa-rok-sma"
    assert summary["status"] == "open"
    assert summary["version"] == 5
    assert summary["parties"] == [
        {"id": "USA", "name": "United States"},
        {"id": "ROK", "name": "Republic of Korea"},
    ]
    assert [t["unit"] for t in summary["terms"]] == ["KRW", "years"]
    assert summary["counts"] == {"negotiation_opened": 1, "party_joined": 2, "term_defined": 2}
    assert len(summary["head_hash"]) == 64
    assert store_client.get("/negotiations/usa-rok-sma").json() == summary


def test_opening_a_taken_slug_is_a_conflict(store_client):
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201

    again = store_client.post("/negotiations", json={**sma_negotiation(), "title": "Other"})

    assert_problem(again, 409, "negotiation-exists")
    assert store_client.get("/negotiations/usa-rok-sma").json()["version"] == 5


def test_opening_with_an_invalid_slug_is_refused(client):
    response = client.post("/negotiations", json={**sma_negotiation(), "slug": "Not A Slug"})

    problem = assert_problem(response, 422, "invalid-value")
    assert problem["field"] == "slug"


def test_opening_with_a_party_twice_is_refused_and_nothing_is_opened(client):
    body = sma_negotiation()
    body["parties"].append({"id": "USA", "name": "Again"})

    response = client.post("/negotiations", json=body)

    assert_problem(response, 422, "duplicate-party")
    assert_problem(client.get("/negotiations/usa-rok-sma"), 404, "negotiation-not-found")


def test_a_repeated_open_with_the_same_idempotency_key_answers_the_first_summary(client):
    headers = {"Idempotency-Key": "open-sma-1"}
    first = client.post("/negotiations", json=sma_negotiation(), headers=headers)
    post_events(
        client, {"type": "status_changed", "status": "suspended", "occurred_at": "2020-11-03"}
    )

    repeat = client.post("/negotiations", json=sma_negotiation(), headers=headers)

    assert repeat.status_code == 201
    assert repeat.headers["idempotent-replayed"] == "true"
    assert repeat.json() == first.json()
    assert repeat.json()["version"] == 5


def test_an_unknown_negotiation_is_not_found(client):
    problem = assert_problem(
        client.get("/negotiations/no-such-talks"), 404, "negotiation-not-found"
    )
    assert "no-such-talks" in problem["detail"]
    assert_problem(client.get("/negotiations/no-such-talks/events"), 404, "negotiation-not-found")
    assert_problem(
        post_events(
            client,
            {"type": "status_changed", "status": "open", "occurred_at": "2020-01-01"},
            slug="no-such-talks",
        ),
        404,
        "negotiation-not-found",
    )


def test_negotiations_are_listed_in_pages_in_the_order_they_were_opened(store_client):
    for slug in ("sma-10th", "sma-11th", "sma-12th"):
        assert store_client.post("/negotiations", json=sma_negotiation(slug)).status_code == 201

    first = store_client.get("/negotiations", params={"limit": 2}).json()
    second = store_client.get(
        "/negotiations", params={"limit": 2, "cursor": first["next_cursor"]}
    ).json()

    assert [n["slug"] for n in first["items"]] == ["sma-10th", "sma-11th"]
    assert first["next_cursor"]
    assert [n["slug"] for n in second["items"]] == ["sma-12th"]
    assert second["next_cursor"] is None
    assert first["items"][0]["version"] == 5


def test_a_full_last_page_has_no_next_cursor(client):
    for slug in ("a", "b"):
        client.post("/negotiations", json=sma_negotiation(slug))

    page = client.get("/negotiations", params={"limit": 2}).json()

    assert [n["slug"] for n in page["items"]] == ["a", "b"]
    assert page["next_cursor"] is None


def test_an_empty_store_lists_no_negotiations(client):
    assert client.get("/negotiations").json() == {"items": [], "next_cursor": None}


def test_a_forged_cursor_is_refused(client):
    response = client.get("/negotiations", params={"cursor": "not-a-cursor"})

    problem = assert_problem(response, 422, "invalid-value")
    assert problem["field"] == "cursor"


def test_a_page_size_beyond_the_maximum_is_refused(client):
    response = client.get("/negotiations", params={"limit": 501})

    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["field"] == "limit"


def test_if_none_match_with_the_current_version_answers_not_modified(sma):
    etag = sma.get("/negotiations/usa-rok-sma").headers["etag"]
    assert etag == '"5"'

    unchanged = sma.get("/negotiations/usa-rok-sma", headers={"If-None-Match": etag})
    assert unchanged.status_code == 304
    assert unchanged.content == b""
    assert unchanged.headers["etag"] == etag

    post_events(sma, {"type": "status_changed", "status": "suspended", "occurred_at": "2020-11-03"})
    changed = sma.get("/negotiations/usa-rok-sma", headers={"If-None-Match": etag})
    assert changed.status_code == 200
    assert changed.headers["etag"] == '"6"'
    assert changed.json()["status"] == "suspended"
