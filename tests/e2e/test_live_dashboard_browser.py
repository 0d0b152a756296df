"""The live dashboard in Chromium: pages follow the ledger's stream; the compare page plots.

Another client (httpx) appends while a page is open; the page must show it without a
reload. A page in time travel must not move. Screenshots go to test-output/ (docs/ for the README's, see DOCS).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serve

from api.http.app import create_app
from api.services.demo import DEMO_SLUG
from api.settings import Settings

pytestmark = pytest.mark.slow

DOCS = Path(
    os.environ.get("PARLEY_SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "test-output"
)
"""Where the screenshots go; the README's are taken with PARLEY_SCREENSHOT_DIR=docs."""
TERM = "annual_contribution"


@pytest.fixture
def base_url() -> Iterator[str]:
    """The demo on the in-memory store, served afresh for each test (tests append to it)."""
    with serve(create_app(Settings(database_url="memory://", demo=True))) as url:
        yield url


def usa_offer(amount: str, day: str = "2020-05-01") -> dict[str, Any]:
    return {
        "type": "offer_made",
        "party": "USA",
        "kind": "demand",
        "values": {TERM: {"amount": amount, "unit": "KRW"}},
        "occurred_at": day,
        "sources": [{"title": "A phone call heard of"}],
    }


def append(base_url: str, body: Any, slug: str = DEMO_SLUG) -> dict[str, Any]:
    response = httpx.post(f"{base_url}/negotiations/{slug}/events", json=body, timeout=10)
    assert response.status_code == 201, response.text
    found: dict[str, Any] = response.json()
    return found


def offer_ids_drawn(page: Any) -> list[str]:
    return sorted(
        page.evaluate(
            "() => document.getElementById('dance').data"
            ".filter(t => t.meta && t.meta.role === 'offers').flatMap(t => t.ids || [])"
        )
    )


def shown_amount(page: Any, party: str) -> str | None:
    cell = page.locator(f'#positions tr[data-term="{TERM}"][data-party="{party}"] td.amount')
    found: str | None = cell.get_attribute("data-amount")
    return found


def test_an_open_page_shows_an_event_another_client_records_without_a_reload(
    page: Any, base_url: str
) -> None:
    page.goto(f"{base_url}/n/{DEMO_SLUG}")
    page.wait_for_selector('#page[aria-busy="false"][data-term][data-live="on"]')
    page.evaluate("() => { window.notReloaded = true; }")
    before = offer_ids_drawn(page)

    recorded = append(base_url, usa_offer("1300000000000"))["events"][0]["event_id"]

    page.wait_for_function(
        "(id) => (document.getElementById('dance').data || []).some("
        "t => t.meta && t.meta.role === 'offers' && (t.ids || []).includes(id))",
        arg=recorded,
    )
    page.wait_for_selector(f'li[data-event-id="{recorded}"]')  # the timeline
    assert offer_ids_drawn(page) == sorted([*before, recorded])
    assert page.evaluate("() => window.notReloaded") is True
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "live-page.png"), full_page=False)


def test_a_page_in_time_travel_stays_frozen_while_the_present_moves_on(
    browser: Any,
    base_url: str,
) -> None:
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        past, present = context.new_page(), context.new_page()
        past.goto(f"{base_url}/n/{DEMO_SLUG}?as_of=2020-01-15")
        past.wait_for_selector('#page[aria-busy="false"][data-term][data-live="frozen"]')
        present.goto(f"{base_url}/n/{DEMO_SLUG}")
        present.wait_for_selector('#page[aria-busy="false"][data-term][data-live="on"]')
        was = shown_amount(past, "USA")
        timeline = past.locator("li[data-event-id]").count()
        drawn = offer_ids_drawn(past)

        # An offer dated before the moment shown: a page following the present would redraw.
        recorded = append(base_url, usa_offer("1200000000000", "2020-01-10"))["events"][0][
            "event_id"
        ]
        present.wait_for_selector(f'li[data-event-id="{recorded}"]')
        # The present page has redrawn with the event: the past one had as long to react.
        assert shown_amount(past, "USA") == was
        assert offer_ids_drawn(past) == drawn
        assert past.locator("li[data-event-id]").count() == timeline
        assert past.evaluate("() => document.getElementById('page').dataset.liveEvents") is None
    finally:
        context.close()


def test_the_index_adds_a_negotiation_opened_by_another_client(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.wait_for_selector('#negotiations[aria-busy="false"][data-live="on"]')
    opened = httpx.post(
        f"{base_url}/negotiations",
        json={
            "slug": "uaw-ford-2023",
            "title": "UAW and Ford, 2023",
            "parties": [{"id": "UAW", "name": "UAW"}, {"id": "FORD", "name": "Ford"}],
            "terms": [{"id": "raise", "name": "Wage rise", "unit": "percent"}],
            "occurred_at": "2023-07-13",
        },
        timeout=10,
    )
    assert opened.status_code == 201, opened.text
    page.wait_for_selector('#negotiations a[href="/n/uaw-ford-2023"]')


def open_talks(base_url: str, slug: str, moves: list[tuple[str, str, str]]) -> None:
    opened = httpx.post(
        f"{base_url}/negotiations",
        json={
            "slug": slug,
            "title": f"UAW and {slug.split('-')[1].title()}, 2023",
            "parties": [{"id": "UAW", "name": "UAW"}, {"id": "CO", "name": "The company"}],
            "terms": [{"id": "raise", "name": "Wage rise", "unit": "percent"}],
            "occurred_at": "2023-07-13",
        },
        timeout=10,
    )
    assert opened.status_code == 201, opened.text
    append(
        base_url,
        [
            {
                "type": "offer_made",
                "party": party,
                "kind": "demand" if party == "UAW" else "offer",
                "values": {"raise": {"amount": amount, "unit": "percent"}},
                "occurred_at": day,
            }
            for party, amount, day in moves
        ],
        slug,
    )


def test_the_compare_page_plots_two_negotiations(page: Any, base_url: str) -> None:
    open_talks(
        base_url,
        "uaw-ford",
        [
            ("UAW", "46", "2023-08-01"),
            ("CO", "9", "2023-08-29"),
            ("CO", "20", "2023-09-29"),
            ("UAW", "36", "2023-10-05"),
            ("CO", "25", "2023-10-25"),
        ],
    )
    open_talks(
        base_url,
        "uaw-gm",
        [
            ("UAW", "46", "2023-08-01"),
            ("CO", "10", "2023-08-31"),
            ("CO", "18", "2023-09-29"),
            ("CO", "23", "2023-10-20"),
            ("UAW", "25", "2023-10-30"),
        ],
    )
    page.goto(f"{base_url}/c?n=uaw-ford&n=uaw-gm&term=raise")
    page.wait_for_selector('#page[aria-busy="false"][data-ready="true"]')

    traces = page.evaluate(
        "() => document.getElementById('compare-chart').data.map(t => [t.x.length, t.y.length])"
    )
    assert len(traces) == 2
    doc = httpx.get(
        f"{base_url}/compare", params={"n": ["uaw-ford", "uaw-gm"], "term": "raise"}, timeout=10
    ).json()
    assert traces == [[len(n["points"]), len(n["points"])] for n in doc["negotiations"]]
    assert page.locator("#rounds h3").count() == 2
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / "compare-page.png"), full_page=True)
