"""Requests that cannot even be decided on: refused as problems, and nothing is written."""

from __future__ import annotations

import pytest
from apitools import assert_problem, offer, post_events, version_of


def test_an_unknown_field_is_refused_with_its_path(sma):
    response = post_events(sma, offer(amount_in_usd="5000000000"))

    problem = assert_problem(response, 422, "validation")
    assert problem["errors"] == [
        {"field": "amount_in_usd", "message": "Extra inputs are not permitted"}
    ]
    assert version_of(sma) == 5


def test_an_unknown_field_inside_a_quantity_is_refused(sma):
    body = offer()
    body["values"]["annual_contribution"]["currency"] = "USD"

    problem = assert_problem(post_events(sma, body), 422, "validation")

    assert problem["errors"][0]["field"] == "values.annual_contribution.currency"


def test_an_unknown_event_type_is_refused(sma):
    response = post_events(sma, {**offer(), "type": "offer_improved"})

    problem = assert_problem(response, 422, "validation")
    assert problem["errors"][0]["field"] == "type"
    assert "offer_made" in problem["errors"][0]["message"]


def test_an_event_without_a_type_is_refused(sma):
    body = offer()
    del body["type"]

    problem = assert_problem(post_events(sma, body), 422, "validation")

    assert problem["errors"][0]["field"] == "type"


def test_a_body_of_one_type_with_the_fields_of_another_is_refused(sma):
    body = {**offer(), "type": "statement_made"}

    problem = assert_problem(post_events(sma, body), 422, "validation")

    fields = {e["field"] for e in problem["errors"]}
    assert {"speaker", "summary", "values"} <= fields


def test_a_float_amount_is_refused_with_advice_to_send_a_string(sma):
    response = post_events(sma, offer(amount=1389000000000.5))

    problem = assert_problem(response, 422, "validation")
    (error,) = problem["errors"]
    assert error["field"] == "values.annual_contribution.amount"
    assert "send decimals as strings" in error["message"]
    assert version_of(sma) == 5


def test_a_float_exchange_rate_is_refused(sma):
    body = {
        "type": "exchange_rate_recorded",
        "base": "USD",
        "quote": "KRW",
        "rate": 1223.5,
        "occurred_at": "2020-04-06",
    }

    problem = assert_problem(post_events(sma, body), 422, "validation")

    assert problem["errors"][0]["field"] == "rate"


def test_a_float_inside_issue_details_is_refused(sma):
    body = {
        "type": "issue_raised",
        "issue_id": "leave",
        "title": "Unpaid leave",
        "raised_by": "ROK",
        "details": {"share": [0.5]},
        "occurred_at": "2020-04-06",
    }

    problem = assert_problem(post_events(sma, body), 422, "validation")

    assert problem["errors"][0]["field"] == "details"
    assert "details.share[0]" in problem["errors"][0]["message"]


def test_an_integer_amount_is_accepted_and_stored_as_a_decimal_string(sma):
    assert post_events(sma, offer(amount=5000000000)).status_code == 201

    entry = sma.get("/negotiations/usa-rok-sma/events?after_version=5").json()["events"][0]

    assert entry["values"]["annual_contribution"]["amount"] == "5000000000"


@pytest.mark.parametrize("amount", ["five billion", "NaN", "Infinity", "1e400", True])
def test_an_amount_that_is_not_a_finite_decimal_is_refused(sma, amount):
    problem = assert_problem(post_events(sma, offer(amount=amount)), 422, "validation")

    assert problem["errors"][0]["field"] == "values.annual_contribution.amount"


def test_a_batch_item_error_names_its_index(sma):
    batch = [offer(), offer(occurred_at=20191118)]

    problem = assert_problem(post_events(sma, batch), 422, "validation")

    assert problem["errors"] == [
        {"field": "[1].occurred_at", "message": "Input should be a valid string"}
    ]


@pytest.mark.parametrize(
    ("occurred_at", "reason"),
    [("2020-04-06T20:30:00", "offset"), ("April 6, 2020", "ISO 8601"), ("2999-01-01", "future")],
)
def test_an_occurred_at_the_domain_cannot_accept_is_refused(sma, occurred_at, reason):
    problem = assert_problem(post_events(sma, offer(occurred_at=occurred_at)), 422, "invalid-value")

    assert problem["field"] == "occurred_at"
    assert reason in problem["detail"]


def test_malformed_json_is_a_bad_request_problem(sma):
    response = sma.post(
        "/negotiations/usa-rok-sma/events",
        content=b'{"type": "offer_made",',
        headers={"content-type": "application/json"},
    )

    assert_problem(response, 400, "malformed-json")


def test_a_body_that_is_neither_object_nor_array_is_refused(sma):
    problem = assert_problem(post_events(sma, "offer"), 422, "validation")

    assert problem["errors"][0]["field"] == "body"


def test_a_negotiation_without_a_title_is_refused(client):
    response = client.post("/negotiations", json={"slug": "sma", "occurred_at": "2019-09-24"})

    problem = assert_problem(response, 422, "validation")
    assert {"field": "title", "message": "Field required"} in problem["errors"]


def test_a_malformed_if_match_is_a_bad_request(sma):
    response = post_events(sma, offer(), headers={"If-Match": "five"})

    assert_problem(response, 400, "http-bad-request")
    assert version_of(sma) == 5


@pytest.mark.parametrize(
    "body",
    [
        '{"type":"offer_made","party":"USA","kind":"demand","occurred_at":"2019-11-18",'
        '"values":{"\\ud800":{"amount":"1","unit":"KRW"}}}',
        '{"type":"issue_raised","issue_id":"leave","title":"Unpaid leave","raised_by":"ROK",'
        '"occurred_at":"2020-04-06","details":{"\\ud800":1}}',
        '{"type":"statement_made","party":"ROK","speaker":"Choi","summary":"\\udfff",'
        '"occurred_at":"2020-04-07"}',
    ],
    ids=["term-id", "details-key", "summary"],
)
def test_a_lone_surrogate_anywhere_is_a_problem_not_a_crash(sma, body):
    response = sma.post(
        "/negotiations/usa-rok-sma/events",
        content=body.encode(),
        headers={"content-type": "application/json", "Idempotency-Key": "k"},
    )

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert version_of(sma) == 5
