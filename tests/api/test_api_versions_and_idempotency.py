"""Optimistic concurrency (If-Match) and idempotent repeats (Idempotency-Key) over HTTP."""

from __future__ import annotations

import json

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation, version_of


def test_if_match_with_the_current_version_records(sma):
    response = post_events(sma, offer(), headers={"If-Match": '"5"'})

    assert response.status_code == 201
    assert response.json()["version"] == 6


def test_if_match_with_a_stale_version_is_a_precondition_failure_with_both_versions(sma):
    assert post_events(sma, offer()).status_code == 201

    response = post_events(sma, offer("ROK", "1040000000000", "KRW"), headers={"If-Match": '"5"'})

    problem = assert_problem(response, 412, "stale-version")
    assert problem["expected_version"] == 5
    assert problem["current_version"] == 6
    assert version_of(sma) == 6


def test_if_match_star_only_asks_that_the_negotiation_exists(sma):
    assert post_events(sma, offer(), headers={"If-Match": "*"}).status_code == 201


def test_a_repeat_with_the_same_idempotency_key_answers_the_first_response_and_records_once(sma):
    headers = {"Idempotency-Key": "esper-call-2020-04-06"}
    first = post_events(sma, [offer(), offer("ROK", "1040000000000", "KRW")], headers=headers)

    repeat = post_events(sma, [offer(), offer("ROK", "1040000000000", "KRW")], headers=headers)

    assert first.status_code == repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["idempotent-replayed"] == "true"
    assert "idempotent-replayed" not in first.headers
    assert [e["type"] for e in ledger_events(sma)[5:]] == ["offer_made", "offer_made"]
    assert version_of(sma) == 7


def test_a_repeat_is_recognised_whatever_its_white_space_and_key_order(sma):
    headers = {"Idempotency-Key": "k-1", "content-type": "application/json"}
    body = offer()
    compact = json.dumps(body, separators=(",", ":")).encode()
    loose = json.dumps(dict(reversed(body.items())), indent=4).encode()

    first = sma.post("/negotiations/usa-rok-sma/events", content=compact, headers=headers)
    repeat = sma.post("/negotiations/usa-rok-sma/events", content=loose, headers=headers)

    assert repeat.status_code == 201
    assert repeat.json() == first.json()
    assert version_of(sma) == 6


def test_a_repeat_survives_a_later_if_match_going_stale(sma):
    headers = {"Idempotency-Key": "k-2", "If-Match": '"5"'}
    first = post_events(sma, offer(), headers=headers)
    assert post_events(sma, offer("ROK", "1040000000000", "KRW")).status_code == 201

    repeat = post_events(sma, offer(), headers=headers)

    assert repeat.status_code == 201
    assert repeat.json() == first.json()


def test_the_same_idempotency_key_with_a_different_body_is_refused(sma):
    headers = {"Idempotency-Key": "k-3"}
    assert post_events(sma, offer(), headers=headers).status_code == 201

    response = post_events(sma, offer(amount="4000000000"), headers=headers)

    assert_problem(response, 422, "idempotency-key-reused")
    assert version_of(sma) == 6


def test_an_idempotency_key_belongs_to_its_negotiation(sma):
    sma.post("/negotiations", json=sma_negotiation("sma-10th"))
    headers = {"Idempotency-Key": "k-4"}

    assert post_events(sma, offer(), headers=headers).status_code == 201
    other = post_events(sma, offer(), slug="sma-10th", headers=headers)

    assert other.status_code == 201
    assert "idempotent-replayed" not in other.headers


def test_one_key_for_opening_and_then_recording_is_a_reuse(client):
    headers = {"Idempotency-Key": "k-5"}
    assert client.post("/negotiations", json=sma_negotiation(), headers=headers).status_code == 201

    response = post_events(client, offer(), headers=headers)

    assert_problem(response, 422, "idempotency-key-reused")


def test_an_empty_idempotency_key_is_refused(sma):
    response = post_events(sma, offer(), headers={"Idempotency-Key": ""})

    assert_problem(response, 422, "validation")
    assert version_of(sma) == 5


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_a_repeat_after_a_restart_answers_the_first_response(client_factory, store_url):
    open_key, record_key = {"Idempotency-Key": "open"}, {"Idempotency-Key": "demand"}
    before = client_factory(store_url)
    opened = before.post("/negotiations", json=sma_negotiation(), headers=open_key)
    first = post_events(before, offer(), headers=record_key)
    assert first.status_code == 201
    before.__exit__(None, None, None)  # the first process stops (closing twice is harmless)

    after = client_factory(store_url, create_tables=False)
    reopened = after.post("/negotiations", json=sma_negotiation(), headers=open_key)
    repeat = post_events(after, offer(), headers=record_key)

    assert reopened.status_code == 201
    assert reopened.json() == opened.json()
    assert repeat.status_code == 201
    assert repeat.json() == first.json()
    assert repeat.headers["idempotent-replayed"] == "true"
    assert version_of(after) == 6
