"""Bounded fan-out: /gaps filters, the party and term limits, and the pair budget of a read."""

from __future__ import annotations

from typing import Any

from apitools import assert_problem, offer, post_events, sma_negotiation

SLUG = "usa-rok-sma"


def joined(party: str) -> dict[str, Any]:
    return {
        "type": "party_joined",
        "party": {"id": party, "name": f"Party {party}"},
        "occurred_at": "2019-09-01",
    }


def defined(term: str) -> dict[str, Any]:
    return {
        "type": "term_defined",
        "term": {"id": term, "name": f"Term {term}", "unit": "years"},
        "occurred_at": "2019-09-01",
    }


def three_parties(client) -> None:
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    assert post_events(client, [joined("JPN")]).status_code == 201
    events = [
        offer("USA", "5000000000", "USD", occurred_at="2019-11-18"),
        offer("ROK", "1000000000000", "KRW", occurred_at="2019-11-19"),
        offer("JPN", "2000000000000", "KRW", occurred_at="2019-11-20"),
    ]
    response = post_events(client, events)
    assert response.status_code == 201, response.text


def test_gaps_of_one_pair_named_in_either_order_hold_only_that_pair(client) -> None:
    three_parties(client)
    whole = client.get(f"/negotiations/{SLUG}/gaps").json()
    for named in ("ROK,JPN", "JPN,ROK"):
        response = client.get(f"/negotiations/{SLUG}/gaps", params={"pair": named})
        assert response.status_code == 200, response.text
        terms = response.json()["terms"]
        assert [len(t["pairs"]) for t in terms] == [1] * len(whole["terms"])
        for got, full in zip(terms, whole["terms"], strict=True):
            (pair,) = got["pairs"]
            assert set(pair["parties"]) == {"ROK", "JPN"}
            assert pair == next(p for p in full["pairs"] if p["parties"] == pair["parties"])


def test_gaps_of_one_term_hold_only_that_term(client) -> None:
    three_parties(client)
    response = client.get(f"/negotiations/{SLUG}/gaps", params={"term": "annual_contribution"})
    assert response.status_code == 200, response.text
    terms = response.json()["terms"]
    assert [t["term"] for t in terms] == ["annual_contribution"]
    assert len(terms[0]["pairs"]) == 3


def test_an_unknown_term_or_pair_is_a_problem(client) -> None:
    three_parties(client)
    for params, field in (
        ({"term": "nope"}, "term"),
        ({"pair": "USA,XYZ"}, "pair"),
        ({"pair": "USA,USA"}, "pair"),
    ):
        response = client.get(f"/negotiations/{SLUG}/gaps", params=params)
        problem = assert_problem(response, 422, "invalid-value")
        assert field in response.text, problem


def test_a_read_wider_than_the_pair_budget_asks_for_a_filter(client_factory) -> None:
    client = client_factory("memory://", max_pairs=2)
    three_parties(client)
    response = client.get(f"/negotiations/{SLUG}/gaps")
    problem = assert_problem(response, 422, "invalid-value")
    assert "max_pairs" in problem["detail"]
    assert "term=" in problem["detail"]
    assert "pair=" in problem["detail"]
    narrowed = client.get(f"/negotiations/{SLUG}/gaps", params={"pair": "USA,ROK"})
    assert narrowed.status_code == 200, narrowed.text
    # The summary stays answerable: it carries the headlines of the terms that fit.
    summary = client.get(f"/negotiations/{SLUG}")
    assert summary.status_code == 200, summary.text
    assert sum(len(t["pairs"]) for t in summary.json()["gaps"]) <= 2


def test_a_party_beyond_the_limit_is_refused_naming_it(client_factory) -> None:
    client = client_factory("memory://", max_parties=3)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    assert post_events(client, [joined("JPN")]).status_code == 201
    response = post_events(client, [joined("CHN")])
    problem = assert_problem(response, 422, "limit-reached")
    assert "3 parties" in problem["detail"]
    assert "max_parties" in problem["detail"]


def test_a_term_beyond_the_limit_is_refused_naming_it(client_factory) -> None:
    client = client_factory("memory://", max_terms=2)
    opening = sma_negotiation()
    assert len(opening["terms"]) == 2
    assert client.post("/negotiations", json=opening).status_code == 201
    response = post_events(client, [defined("extra")])
    problem = assert_problem(response, 422, "limit-reached")
    assert "2 terms" in problem["detail"]


def test_opening_with_more_parties_than_the_limit_is_refused(client_factory) -> None:
    client = client_factory("memory://", max_parties=2)
    opening = sma_negotiation()
    opening["parties"].append({"id": "JPN", "name": "Japan"})
    response = client.post("/negotiations", json=opening)
    assert_problem(response, 422, "limit-reached")
