"""Through the API: integers RFC 8785 cannot hash exactly are refused; parties carry actor codes."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import rfc8785
from apitools import assert_problem, post_events, sma_negotiation
from starlette.testclient import TestClient

from domain.canonical import MAX_SAFE_INTEGER


def issue(details: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "issue_raised",
        "issue_id": "numbers",
        "title": "Numbers",
        "raised_by": "ROK",
        "details": details,
        "occurred_at": "2019-11-18",
    }


def test_an_integer_beyond_2_53_in_details_is_refused_with_422(sma: TestClient) -> None:
    response = post_events(sma, issue({"a": [1, {"n": MAX_SAFE_INTEGER + 1}]}))

    problem = assert_problem(response, 422, "validation")
    assert "2^53" in response.text
    assert "details.a[1].n" in json.dumps(problem)


def test_the_largest_safe_integers_are_kept_and_hashed_as_rfc8785(sma: TestClient) -> None:
    details = {"max": MAX_SAFE_INTEGER, "min": -MAX_SAFE_INTEGER, "\U0001f600": 1, "\ue000": 2}
    assert post_events(sma, issue(details)).status_code == 201

    lines = sma.get("/negotiations/usa-rok-sma/export").text.splitlines()
    last = json.loads(lines[-1])
    document = {k: v for k, v in last.items() if k not in ("hash", "position")}

    assert document["ledger_format"] == 2
    assert document["payload"]["details"] == details
    assert last["hash"] == hashlib.sha256(rfc8785.dumps(document)).hexdigest()


def test_a_party_carries_its_actor_code(client: TestClient) -> None:
    body = sma_negotiation()
    body["parties"] = [
        {"id": "USA", "name": "United States", "actor_code": "USA GOV"},
        {"id": "ROK", "name": "Republic of Korea", "actor_code": "KOR GOV"},
        {"id": "FKTU", "name": "Federation of Korean Trade Unions"},
    ]
    assert client.post("/negotiations", json=body).status_code == 201

    parties = client.get("/negotiations/usa-rok-sma").json()["parties"]

    assert parties == [
        {"id": "USA", "name": "United States", "actor_code": "USA GOV"},
        {"id": "ROK", "name": "Republic of Korea", "actor_code": "KOR GOV"},
        {"id": "FKTU", "name": "Federation of Korean Trade Unions"},
    ]


def test_an_actor_code_that_is_not_a_country_and_sector_is_refused(client: TestClient) -> None:
    for code in ("ROK GOV", "KOR", "kor gov", "KOR GOVERNMENT", "KOR XYZ", "KOR GOV A B"):
        body = sma_negotiation()
        body["parties"][1]["actor_code"] = code

        response = client.post("/negotiations", json=body)

        assert_problem(response, 422, "invalid-value")
        assert client.get("/negotiations/usa-rok-sma").status_code == 404
