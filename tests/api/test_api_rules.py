"""Breaches of the contract's domain rules: 422 problems whose type names the rule."""

from __future__ import annotations

import pytest
from apitools import assert_problem, offer, post_events, retraction, sma_negotiation, version_of


def status(value, occurred_at):
    return {"type": "status_changed", "status": value, "occurred_at": occurred_at}


def round_held(number, occurred_at):
    return {"type": "round_held", "number": number, "occurred_at": occurred_at}


def recorded_id(client, body, slug="usa-rok-sma"):
    response = post_events(client, body, slug=slug)
    assert response.status_code == 201, response.text
    return response.json()["events"][-1]["event_id"]


@pytest.mark.parametrize(
    ("setup", "attempt", "rule", "field"),
    [
        ([], offer("JPN"), "unknown-party", "party"),
        (
            [],
            offer(values={"troops": {"amount": "28500", "unit": "count"}}),
            "unknown-term",
            "values.troops",
        ),
        (
            [],
            offer(values={"duration": {"amount": "5", "unit": "months"}}),
            "unit-mismatch",
            "values.duration",
        ),
        (
            [round_held(1, "2019-09-24")],
            round_held(1, "2019-10-23"),
            "round-number-taken",
            "number",
        ),
        (
            [round_held(2, "2019-10-23")],
            round_held(1, "2019-11-18"),
            "round-out-of-order",
            "number",
        ),
        (
            [status("concluded", "2021-03-10")],
            offer(occurred_at="2021-04-01"),
            "negotiation-closed",
            "occurred_at",
        ),
        (
            [],
            {
                "type": "issue_resolved",
                "issue_id": "leave",
                "resolution": "paid",
                "occurred_at": "2020-06-02",
            },
            "unknown-issue",
            "issue_id",
        ),
    ],
    ids=[
        "unknown-party",
        "unknown-term",
        "unit-mismatch",
        "round-taken",
        "round-order",
        "closed",
        "unknown-issue",
    ],
)
def test_a_rule_breach_is_refused_as_a_problem_naming_the_rule(sma, setup, attempt, rule, field):
    for body in setup:
        assert post_events(sma, body).status_code == 201
    version = version_of(sma)

    problem = assert_problem(post_events(sma, attempt), 422, rule)

    assert problem["field"] == field if field else "field" not in problem
    assert problem["detail"]
    assert version_of(sma) == version


def test_a_money_term_accepts_another_currency(sma):
    assert post_events(sma, offer(amount="5000000000", unit="USD")).status_code == 201


def test_an_event_is_retracted_at_most_once(sma):
    offer_id = recorded_id(sma, offer())
    assert post_events(sma, retraction(offer_id)).status_code == 201

    problem = assert_problem(post_events(sma, retraction(offer_id)), 422, "already-retracted")

    assert problem["field"] == "retracted_event_id"
    assert version_of(sma) == 7


def test_a_retraction_cannot_name_another_negotiations_event(sma):
    assert sma.post("/negotiations", json=sma_negotiation("sma-10th")).status_code == 201
    elsewhere = recorded_id(sma, offer(), slug="sma-10th")

    problem = assert_problem(post_events(sma, retraction(elsewhere)), 422, "unknown-event")

    assert problem["field"] == "retracted_event_id"
    assert sma.get("/negotiations/sma-10th/events").json()["events"][-1]["retracted"] is False


def test_a_party_cannot_reject_its_own_offer(sma):
    offer_id = recorded_id(sma, offer())
    body = {
        "type": "offer_rejected",
        "party": "USA",
        "offer_event_id": offer_id,
        "occurred_at": "2019-11-19",
    }

    assert_problem(post_events(sma, body), 422, "own-offer-rejected")


def test_a_retraction_of_a_party_still_referred_to_is_refused(sma):
    events = sma.get("/negotiations/usa-rok-sma/events").json()["events"]
    usa = next(e["event_id"] for e in events if e["type"] == "party_joined")
    assert post_events(sma, offer("USA")).status_code == 201

    assert_problem(post_events(sma, retraction(usa)), 422, "definition-in-use")
