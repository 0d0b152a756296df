"""The dashboard in a real headless browser (Debian's chromium driven by Playwright).

The app runs on the in-memory store with the demo loaded, served by uvicorn on a free
127.0.0.1 port. Screenshots land in ``test-output/`` for a person to look at. The browser
and the page are tests/e2e/conftest.py's.

Without a browser these tests are skipped, loudly; ``PARLEY_TEST_BROWSER=required`` (CI)
turns a missing browser into a failure instead.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from live_server import serve
from test_dashboard_http import dashboard_app

from api.services.demo import DEMO_SLUG

OUTPUT = Path(__file__).resolve().parents[2] / "test-output"
TERM = "annual_contribution"
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def base_url() -> Iterator[str]:
    """The demo app on the in-memory store, served for the module (``page`` and ``browser``
    come from tests/e2e/conftest.py)."""
    with serve(dashboard_app()) as url:
        yield url


def api(base_url: str, path: str, **params: str) -> Any:
    response = httpx.get(f"{base_url}{path}", params=params, timeout=10)
    assert response.status_code == 200, response.text
    return response.json()


def open_demo(page: Any, base_url: str, query: str = "") -> None:
    page.goto(f"{base_url}/n/{DEMO_SLUG}{query}")
    page.wait_for_selector('#page[aria-busy="false"][data-term]')


def shown_positions(page: Any) -> dict[str, str]:
    rows = page.locator(f'#positions tr[data-term="{TERM}"]')
    return {
        rows.nth(i).get_attribute("data-party"): rows.nth(i)
        .locator("td.amount")
        .get_attribute("data-amount")
        for i in range(rows.count())
    }


def api_positions(base_url: str, **params: str) -> dict[str, str]:
    doc = api(base_url, f"/negotiations/{DEMO_SLUG}/positions", **params)
    term = next(t for t in doc["terms"] if t["term"] == TERM)
    return {p["party"]: p["value"]["amount"] for p in term["positions"]}


def test_demo_page_draws_one_dance_point_per_offer_the_api_returns(
    page: Any, base_url: str
) -> None:
    open_demo(page, base_url)
    timeline = api(base_url, f"/negotiations/{DEMO_SLUG}/timeline", type="offer_made")
    offers = sorted(
        e["event_id"]
        for e in timeline["events"]
        if not e["retracted"] and TERM in e["payload"]["values"]
    )
    assert len(offers) == 4
    drawn = page.evaluate(
        """() => {
            const gd = document.getElementById('dance');
            const traces = [...document.querySelectorAll('#dance .scatterlayer .trace')];
            return gd.data.map((t, i) => ({
                role: t.meta && t.meta.role,
                ids: t.ids || [],
                points: traces[i] ? traces[i].querySelectorAll('path.point').length : 0,
            })).filter(t => t.role === 'offers');
        }"""
    )
    assert sorted(i for t in drawn for i in t["ids"]) == offers
    assert sum(t["points"] for t in drawn) == len(offers)
    positions = page.evaluate(
        "() => document.getElementById('dance').data"
        ".filter(t => t.meta && t.meta.role === 'position').map(t => t.meta.party)"
    )
    assert sorted(positions) == ["ROK", "USA"]
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "dashboard-negotiation.png"), full_page=True)


def test_time_travel_shows_the_positions_the_api_returns_for_that_date(
    page: Any, base_url: str
) -> None:
    open_demo(page, base_url)
    assert shown_positions(page) == api_positions(base_url)
    for day in ("2020-04-07", "2020-05-12"):
        page.fill("#as-of", day)
        page.dispatch_event("#as-of", "change")
        page.wait_for_selector(f'#page[aria-busy="false"][data-as-of="{day}"]')
        expected = api_positions(base_url, as_of=day)
        assert shown_positions(page) == expected
        gaps = api(base_url, f"/negotiations/{DEMO_SLUG}/gaps", as_of=day)
        gap = gaps["terms"][0]["pairs"][0]["gap"]
        metric = page.locator("#metric-gap .sub").inner_text()
        assert metric.replace(",", "").split()[0] == gap.split(".")[0]
    # Apart again after the US rejected the tentative deal: the two positions differ.
    assert len(set(expected.values())) == 2
    OUTPUT.mkdir(exist_ok=True)
    page.screenshot(path=str(OUTPUT / "dashboard-as-of-2020-05-12.png"), full_page=True)


def test_time_travel_by_ledger_version_shows_that_version(page: Any, base_url: str) -> None:
    open_demo(page, base_url, "?as_of_version=6")
    page.wait_for_selector('#page[aria-busy="false"][data-as-of-version="6"]')
    assert shown_positions(page) == api_positions(base_url, as_of_version="6")
    assert page.locator("#timeline > li[data-event-id]").count() == 6


def test_a_retracted_event_is_struck_through_with_its_reason(page: Any, base_url: str) -> None:
    open_demo(page, base_url)
    retracted = page.locator("#timeline li.retracted")
    assert retracted.count() == 1
    entry = retracted.first
    decoration = entry.locator(".ev-title").evaluate("n => getComputedStyle(n).textDecorationLine")
    assert "line-through" in decoration
    assert "Wrong date" in entry.locator(".retraction-note").inner_text()
    # The re-recorded statement stands, not struck through.
    statements = page.locator('#timeline li[data-type="statement_made"]:not(.retracted)')
    assert statements.count() == 2
    entry.scroll_into_view_if_needed()
    OUTPUT.mkdir(exist_ok=True)
    entry.screenshot(path=str(OUTPUT / "dashboard-retracted.png"))


def test_index_lists_the_demo_with_status_and_headline_gap(page: Any, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.wait_for_selector('#negotiations[aria-busy="false"]')
    row = page.locator(f'#negotiations tr[data-slug="{DEMO_SLUG}"]')
    assert row.count() == 1
    text = row.inner_text()
    assert "concluded" in text
    assert "United States (USA)" in text
    assert "between USA and ROK" in row.locator("td.gap").inner_text()
    row.locator("a").first.click()
    page.wait_for_selector('#page[aria-busy="false"][data-term]')
    OUTPUT.mkdir(exist_ok=True)
    page.goto(f"{base_url}/")
    page.wait_for_selector('#negotiations[aria-busy="false"]')
    page.screenshot(path=str(OUTPUT / "dashboard-index.png"), full_page=True)


def test_the_page_fits_a_phone_screen(browser: Any, base_url: str) -> None:
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True
    )
    try:
        phone = context.new_page()
        phone.goto(f"{base_url}/n/{DEMO_SLUG}?as_of=2020-04-07")
        phone.wait_for_selector('#page[aria-busy="false"][data-as-of="2020-04-07"]')
        overflow = phone.evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0
        OUTPUT.mkdir(exist_ok=True)
        phone.screenshot(path=str(OUTPUT / "dashboard-phone.png"), full_page=True)
    finally:
        context.close()


def test_the_index_makes_one_data_request_whatever_the_number_of_negotiations(
    page: Any, base_url: str
) -> None:
    for i in range(12):
        opening = {
            "slug": f"count-{i}",
            "title": f"Talks {i}",
            "parties": [{"id": "A", "name": "Alpha"}, {"id": "B", "name": "Beta"}],
            "terms": [{"id": "price", "name": "Price", "unit": "USD"}],
            "occurred_at": "2024-01-01",
        }
        response = httpx.post(f"{base_url}/negotiations", json=opening, timeout=10)
        assert response.status_code in (201, 409), response.text
    data: list[str] = []
    page.on(
        "request",
        lambda r: data.append(r.url) if r.url.startswith(f"{base_url}/negotiations") else None,
    )
    page.goto(f"{base_url}/")
    page.wait_for_selector('#negotiations[aria-busy="false"]')
    assert page.locator("#negotiations tr[data-slug]").count() >= 13
    assert "between USA and ROK" in page.locator(f'tr[data-slug="{DEMO_SLUG}"] td.gap').inner_text()
    assert len(data) == 1, data


@pytest.mark.parametrize("query", ["", "?as_of=2019-12-01"])
def test_the_negotiation_page_fetches_its_data_in_at_most_two_requests(
    page: Any, base_url: str, query: str
) -> None:
    data: list[str] = []
    page.on(
        "request",
        lambda r: data.append(r.url) if r.url.startswith(f"{base_url}/negotiations") else None,
    )
    open_demo(page, base_url, query)
    assert shown_positions(page) == api_positions(
        base_url, **({"as_of": "2019-12-01"} if query else {})
    )
    assert len(data) <= 2, data


BIG_SLUG = "ten-thousand"
BIG_EVENTS = 10_000


def record_big_negotiation(base_url: str) -> int:
    """A negotiation of 10,000 events (offers of two parties on one term); its offer count."""
    opening = {
        "slug": BIG_SLUG,
        "title": "Ten thousand events",
        "parties": [{"id": "A", "name": "Alpha"}, {"id": "B", "name": "Beta"}],
        "terms": [{"id": "price", "name": "Price", "unit": "USD"}],
        "occurred_at": "2000-01-01",
    }
    response = httpx.post(f"{base_url}/negotiations", json=opening, timeout=30)
    assert response.status_code == 201, response.text
    offers = BIG_EVENTS - 4  # the opening made 4: itself, two parties, a term
    bodies = [
        {
            "type": "offer_made",
            "party": "A" if i % 2 == 0 else "B",
            "kind": "offer",
            "values": {
                "price": {
                    "amount": str(100 + i % 400 if i % 2 == 0 else 1000 - i % 400),
                    "unit": "USD",
                }
            },
            "occurred_at": f"{2001 + i // 400}-{1 + i // 40 % 10:02d}-{1 + i % 28:02d}",
        }
        for i in range(offers)
    ]
    for at in range(0, offers, 500):
        response = httpx.post(
            f"{base_url}/negotiations/{BIG_SLUG}/events", json=bodies[at : at + 500], timeout=120
        )
        assert response.status_code == 201, response.text[:500]
    return offers


def test_a_ten_thousand_event_negotiation_is_plotted_and_the_page_stays_interactive(
    page: Any, base_url: str
) -> None:
    offers = record_big_negotiation(base_url)
    # The views catch up first (a read waits for them): the page is measured on a settled
    # server, not while the runner still projects the 10,000 events just appended.
    # A read waits a bounded time, then answers 503 view-lagging: ask again until they have.
    deadline = time.monotonic() + 180
    while True:
        settled = httpx.get(f"{base_url}/negotiations/{BIG_SLUG}", timeout=120)
        if settled.status_code != 503 or time.monotonic() > deadline:
            break
        assert settled.json()["type"] == "/problems/view-lagging", settled.text[:500]
    assert settled.status_code == 200, settled.text[:500]
    data: list[str] = []  # data requests; the live stream (…/stream) is a subscription
    page.on(
        "request",
        lambda r: (
            data.append(r.url)
            if r.url.startswith(f"{base_url}/negotiations") and not r.url.endswith("/stream")
            else None
        ),
    )
    page.goto(f"{base_url}/n/{BIG_SLUG}")
    page.wait_for_selector('#page[aria-busy="false"][data-term]', timeout=60_000)
    drawn = page.evaluate(
        """() => document.getElementById('dance').data
            .filter(t => t.meta && t.meta.role === 'offers')
            .reduce((n, t) => n + (t.x || []).length, 0)"""
    )
    assert drawn == offers
    assert page.locator("#dance .main-svg").count() > 0  # Plotly drew the chart
    # Interactive: the main thread runs a frame and answers a script.
    assert page.evaluate("() => new Promise(r => requestAnimationFrame(() => r(true)))")
    assert page.evaluate("() => document.readyState") == "complete"
    assert len(data) <= 2, data
