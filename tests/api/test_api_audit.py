"""GET /negotiations/{slug}/audit: who recorded each event, when, its corrections, its sources."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from apitools import assert_problem, offer, post_events, retraction

from api.services.demo import DEMO_SLUG, load_demo

AUDIT = f"/negotiations/{DEMO_SLUG}/audit"
WRONG_DATE = "Wrong date: the spokesperson spoke at the regular briefing on Tuesday, April 7"


@pytest.fixture
def demo(client: Any) -> Any:
    load_demo(client.app.state.ledger)
    return client


def audit(client: Any, path: str = AUDIT, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _retraction_pair(entries: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    retraction = next(e for e in entries if e["type"] == "event_retracted")
    retracted = next(e for e in entries if e["event_id"] == retraction["retracts"])
    return retracted, retraction


def test_the_audit_trail_lists_every_event_in_recorded_order_with_who_and_when(demo: Any) -> None:
    body = audit(demo, limit=1000)

    entries = body["events"]
    assert [e["version"] for e in entries] == list(range(1, 30))
    assert body["version"] == 29
    assert body["head_hash"] == entries[-1]["hash"]
    assert body["next_after_version"] is None
    assert {e["recorded_by"] for e in entries} == {"demo"}
    assert all(e["recorded_at"].endswith("+00:00") for e in entries)
    assert [e["position"] for e in entries] == list(range(1, 30))
    assert entries[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(entries))


def test_the_demo_retraction_shows_both_ways_with_its_reason(demo: Any) -> None:
    entries = audit(demo, limit=1000)["events"]

    retracted, retraction = _retraction_pair(entries)

    assert retracted["type"] == "statement_made"
    assert retracted["retracted_by"] == retraction["event_id"]
    assert retracted["retraction_reason"].startswith(WRONG_DATE)
    assert retracted["retracts"] is None
    assert retraction["retracted_by"] is None
    assert retraction["retraction_reason"] == retracted["retraction_reason"]
    untouched = [e for e in entries if e not in (retracted, retraction)]
    assert all(
        e["retracts"] is e["retracted_by"] is e["retraction_reason"] is None for e in untouched
    )


def test_the_audit_trail_carries_each_events_sources(demo: Any) -> None:
    entries = audit(demo, limit=1000)["events"]

    call = next(e for e in entries if e["occurred_at"] == "2020-04-06T20:30:00+09:00")
    assert call["type"] == "call_held"
    herald = next(s for s in call["sources"] if s["publisher"] == "The Korea Herald")
    assert herald["published_on"] == "2020-04-07"
    assert set(herald) == {"title", "url", "publisher", "published_on"}


def test_a_retraction_beyond_the_page_still_gives_the_retracted_event_its_reason(
    demo: Any,
) -> None:
    everything = audit(demo, limit=1000)["events"]
    retracted, retraction = _retraction_pair(everything)
    assert retracted["version"] < 25 < retraction["version"]

    first = audit(demo, limit=25)
    rest = audit(demo, after_version=first["next_after_version"], limit=25)

    assert first["next_after_version"] == 25
    assert rest["next_after_version"] is None
    assert first["events"] + rest["events"] == everything
    shown = next(e for e in first["events"] if e["event_id"] == retracted["event_id"])
    assert shown["retraction_reason"].startswith(WRONG_DATE)


def test_an_event_retracted_over_the_api_is_audited_with_who_retracted_it(sma: Any) -> None:
    made = post_events(sma, offer()).json()["events"][0]["event_id"]
    post_events(sma, retraction(made))

    entries = audit(sma, "/negotiations/usa-rok-sma/audit")["events"]

    by_id = {e["event_id"]: e for e in entries}
    assert by_id[made]["retracted_by"] == entries[-1]["event_id"]
    assert by_id[made]["retraction_reason"] == "entered twice"
    assert entries[-1]["retracts"] == made
    assert entries[-1]["recorded_by"] == "anonymous"


def test_the_audit_trail_of_an_unknown_negotiation_is_a_404_problem(client: Any) -> None:
    assert_problem(client.get("/negotiations/nowhere/audit"), 404, "negotiation-not-found")


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"after_version": -1}])
def test_audit_paging_out_of_range_is_refused(demo: Any, params: dict[str, int]) -> None:
    assert demo.get(AUDIT, params=params).status_code == 422
