"""GET /compare: negotiations side by side on one term, normalised, and its chart."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from apitools import assert_problem
from conftest import ClientFactory

TERM = "pay_rise"


def opening(slug: str, unit: str = "percent") -> dict[str, Any]:
    return {
        "slug": slug,
        "title": f"Talks {slug}",
        "parties": [{"id": "UNION", "name": "Union"}, {"id": "FIRM", "name": "Firm"}],
        "terms": [{"id": TERM, "name": "Pay rise", "unit": unit}],
        "occurred_at": "2023-01-01",
    }


def offer(party: str, amount: str, day: str, unit: str = "percent") -> dict[str, Any]:
    return {
        "type": "offer_made",
        "party": party,
        "kind": "demand" if party == "UNION" else "offer",
        "values": {TERM: {"amount": amount, "unit": unit}},
        "occurred_at": day,
    }


def round_held(number: int, day: str) -> dict[str, Any]:
    return {"type": "round_held", "number": number, "occurred_at": day}


def talks(client: Any, slug: str, moves: list[dict[str, Any]], unit: str = "percent") -> None:
    assert client.post("/negotiations", json=opening(slug, unit)).status_code == 201
    response = client.post(f"/negotiations/{slug}/events", json=moves)
    assert response.status_code == 201, response.text


def test_two_negotiations_compare_by_the_share_of_their_initial_gap_closed(
    client_factory: ClientFactory, store_url: str
) -> None:
    client = client_factory(store_url)
    # a: gap 40 -> 20 after 10 days (half closed); b: gap 10 -> 0 after 30 days (all closed).
    talks(
        client,
        "a",
        [
            offer("UNION", "46", "2023-02-01"),
            offer("FIRM", "6", "2023-02-01"),
            round_held(1, "2023-02-05"),
            offer("FIRM", "26", "2023-02-11"),
            round_held(2, "2023-02-12"),
        ],
    )
    talks(
        client,
        "b",
        [
            offer("UNION", "20", "2023-03-01"),
            offer("FIRM", "10", "2023-03-01"),
            offer("UNION", "15", "2023-03-31"),
            offer("FIRM", "15", "2023-03-31"),
            round_held(1, "2023-04-01"),
        ],
    )

    response = client.get("/compare", params={"n": ["a", "b"], "term": TERM})

    assert response.status_code == 200, response.text
    doc = response.json()
    assert doc["units_agree"] is True
    assert doc["unit"] == "percent"
    a, b = doc["negotiations"]
    assert [(Decimal(p["days"]), Decimal(p["closed_share"])) for p in a["points"]] == [
        (0, 0),
        (10, Decimal("0.5")),
    ]
    assert [(Decimal(p["days"]), Decimal(p["closed_share"])) for p in b["points"]] == [
        (0, 0),
        (30, 1),
    ]
    assert [Decimal(p["gap"]) for p in a["points"]] == [40, 20]
    assert a["initial_gap"] == "40"
    # Rounds: in a, the firm had conceded nothing by round 1 and half the gap by round 2.
    assert [(r["round"], r["concessions"]["FIRM"]["share"]) for r in a["rounds"]] == [
        (1, "0"),
        (2, "0.5"),
    ]
    assert [r["concessions"]["UNION"]["share"] for r in a["rounds"]] == ["0", "0"]
    assert b["rounds"][0]["concessions"] == {
        "UNION": {"amount": "5", "share": "0.5"},
        "FIRM": {"amount": "5", "share": "0.5"},
    }


def test_units_that_differ_give_shares_only_and_the_term_defaults_to_a_shared_one(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("memory://")
    talks(client, "a", [offer("UNION", "46", "2023-02-01"), offer("FIRM", "6", "2023-02-01")])
    talks(
        client,
        "b",
        [offer("UNION", "2", "2023-02-01", "EUR"), offer("FIRM", "1", "2023-02-01", "EUR")],
        unit="EUR",
    )

    doc = client.get("/compare", params={"n": ["a", "b"]}).json()

    assert doc["term"] == TERM
    assert doc["units_agree"] is False
    assert doc["unit"] is None
    assert all(p["gap"] is None for n in doc["negotiations"] for p in n["points"])


def test_a_negotiation_without_both_positions_says_why(client_factory: ClientFactory) -> None:
    client = client_factory("memory://")
    talks(client, "a", [offer("UNION", "46", "2023-02-01")])
    doc = client.get("/compare", params={"n": ["a"]}).json()
    assert doc["negotiations"][0]["points"] == []
    assert "both UNION and FIRM" in doc["negotiations"][0]["reason"]


def test_unknown_negotiations_terms_and_repeats_are_problems(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("memory://")
    talks(client, "a", [offer("UNION", "46", "2023-02-01")])
    assert_problem(client.get("/compare", params={"n": ["a", "zz"]}), 404, "negotiation-not-found")
    problem = assert_problem(
        client.get("/compare", params={"n": ["a"], "term": "nope"}), 422, "invalid-value"
    )
    assert problem["field"] == "term"
    problem = assert_problem(client.get("/compare", params={"n": ["a", "a"]}), 422, "invalid-value")
    assert problem["field"] == "n"


def test_the_comparison_chart_draws_a_line_per_negotiation(client_factory: ClientFactory) -> None:
    client = client_factory("memory://")
    for slug in ("a", "b"):
        talks(
            client,
            slug,
            [
                offer("UNION", "46", "2023-02-01"),
                offer("FIRM", "6", "2023-02-01"),
                offer("FIRM", "16", "2023-02-09"),
            ],
        )

    response = client.get("/compare/chart.svg", params={"n": ["a", "b"]})

    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "image/svg+xml"
    assert 'id="compare-a"' in response.text
    assert 'id="compare-b"' in response.text


def test_the_compare_page_is_a_shell_with_its_script(client_factory: ClientFactory) -> None:
    client = client_factory("memory://")
    response = client.get("/c", params={"n": ["a", "b"]})
    assert response.status_code == 200
    assert '<script src="/static/compare.js" defer></script>' in response.text
    assert "<script>" not in response.text
