"""GET /events: the whole ledger in log order, each entry as in its negotiation's ledger."""

from __future__ import annotations

from typing import Any

from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation
from conftest import ClientFactory


def test_the_feed_holds_every_negotiations_entries_in_log_order_with_their_slug(
    client_factory: ClientFactory, store_url: str
) -> None:
    client = client_factory(store_url)
    for slug in ("usa-rok-sma", "other-talks"):
        assert client.post("/negotiations", json=sma_negotiation(slug)).status_code == 201
    post_events(client, offer())
    post_events(client, offer("ROK", "1000000000", "KRW"), slug="other-talks")

    response = client.get("/events", params={"limit": 1000})

    assert response.status_code == 200, response.text
    feed = response.json()["events"]
    positions = [e["position"] for e in feed]
    assert positions == sorted(positions)
    assert len(set(positions)) == len(positions)
    for slug in ("usa-rok-sma", "other-talks"):
        mine = [
            {k: v for k, v in e.items() if k != "negotiation"}
            for e in feed
            if e["negotiation"] == slug
        ]
        assert mine == ledger_events(client, slug)
    assert response.json()["next_after"] is None


def test_the_feed_pages_with_after_and_next_after_without_gap_or_repeat(
    client_factory: ClientFactory, store_url: str
) -> None:
    client = client_factory(store_url)
    client.post("/negotiations", json=sma_negotiation())
    post_events(client, [offer(amount=str(1000 + i)) for i in range(7)])
    whole = client.get("/events", params={"limit": 1000}).json()["events"]

    seen: list[dict[str, Any]] = []
    after = 0
    while True:
        page = client.get("/events", params={"after": after, "limit": 3}).json()
        seen.extend(page["events"])
        if page["next_after"] is None:
            break
        after = page["next_after"]
        assert after == page["events"][-1]["position"]

    assert seen == whole
    assert len(whole) == 5 + 7  # the opening's five events and the batch


def test_the_feed_reads_its_own_writes(client_factory: ClientFactory, store_url: str) -> None:
    client = client_factory(store_url)
    client.post("/negotiations", json=sma_negotiation())
    recorded = post_events(client, offer()).json()

    feed = client.get("/events", params={"limit": 1000}).json()["events"]

    assert feed[-1]["event_id"] == recorded["events"][0]["event_id"]


def test_a_position_beyond_the_log_gives_an_empty_page_and_a_bad_one_a_problem(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("memory://")
    client.post("/negotiations", json=sma_negotiation())
    page = client.get("/events", params={"after": 10_000}).json()
    assert page == {"events": [], "next_after": None}
    assert_problem(client.get("/events", params={"after": -1}), 422, "validation")
    assert_problem(client.get("/events", params={"limit": 0}), 422, "validation")
