"""The dashboard and the API docs in a real browser, with every origin but the server blocked.

Markup in the ledger's text must stay text in the charts (Plotly renders a little HTML in
names, titles, annotations and hover labels), and ``/docs`` and ``/redoc`` must work with no
network, under the Content-Security-Policy the server sends (no inline script).
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

# The demo app on a loopback port, as the dashboard's browser tests serve it (chromium and a
# page that may reach nothing but the app are tests/e2e/conftest.py's).
from test_dashboard_browser import base_url  # noqa: F401

pytestmark = pytest.mark.slow

HOSTILE_NAME = '<a href="https://evil.example/">Evil</a> <b>bold</b>'
HOSTILE_TITLE = '<span style="font-size:80px">huge</span>'
SLUG = "hostile-names"


def console_errors(tab: Any) -> list[str]:
    found: list[str] = []
    tab.on("console", lambda m: found.append(m.text) if m.type == "error" else None)
    return found


@pytest.fixture(scope="module")
def hostile(base_url: str) -> str:  # noqa: F811
    opened = httpx.post(
        f"{base_url}/negotiations",
        json={
            "slug": SLUG,
            "title": HOSTILE_TITLE,
            "parties": [{"id": "EVL", "name": HOSTILE_NAME}, {"id": "GOOD", "name": "Good"}],
            "terms": [{"id": "price", "name": HOSTILE_TITLE, "unit": "USD"}],
            "occurred_at": "2020-01-01",
        },
        timeout=10,
    )
    assert opened.status_code == 201, opened.text
    for day, party, amount in (("2020-01-02", "EVL", "100"), ("2020-01-03", "GOOD", "50")):
        offer = {
            "type": "offer_made",
            "occurred_at": day,
            "party": party,
            "kind": "offer",
            "values": {"price": {"amount": amount, "unit": "USD"}},
            "conditions": HOSTILE_TITLE,
        }
        posted = httpx.post(f"{base_url}/negotiations/{SLUG}/events", json=offer, timeout=10)
        assert posted.status_code == 201, posted.text
    return SLUG


def test_no_legend_title_or_annotation_renders_markup(
    page: Any,
    base_url: str,  # noqa: F811
    hostile: str,
) -> None:
    errors = console_errors(page)
    page.goto(f"{base_url}/n/{hostile}?as_of=2020-01-05")
    page.wait_for_selector('#page[aria-busy="false"][data-term]')
    drawn = page.evaluate(
        """() => ({
            links: document.querySelectorAll('#dance svg a, #gap-chart svg a').length,
            styled: [...document.querySelectorAll('#dance svg tspan, #gap-chart svg tspan')]
                .filter(t => (t.getAttribute('style') || '').includes('80px')).length,
            bold: [...document.querySelectorAll('#dance svg tspan, #gap-chart svg tspan')]
                .filter(t => (t.getAttribute('style') || '').includes('bold')).length,
            legend: [...document.querySelectorAll('#dance .legendtext')].map(n => n.textContent),
        })"""
    )
    assert drawn["links"] == 0
    assert drawn["styled"] == 0
    assert drawn["bold"] == 0
    # The name is shown as the characters it is made of.
    assert f"{HOSTILE_NAME} (EVL)" in drawn["legend"]
    # A hover label too: the offer's conditions carry the markup.
    hovered = page.evaluate(
        """() => {
            const chart = document.querySelector('#dance.js-plotly-plot, #dance .js-plotly-plot');
            const curve = chart.data.findIndex(
                t => t.meta && t.meta.role === 'offers' && t.meta.party === 'EVL');
            Plotly.Fx.hover(chart, [{curveNumber: curve, pointNumber: 0}]);
            const layer = chart.querySelector('.hoverlayer');
            return {
                text: layer.textContent,
                links: layer.querySelectorAll('a').length,
                styled: [...layer.querySelectorAll('tspan')]
                    .filter(t => (t.getAttribute('style') || '').includes('80px')).length,
            };
        }"""
    )
    assert f"Conditions: {HOSTILE_TITLE}" in hovered["text"], hovered
    assert hovered["links"] == 0
    assert hovered["styled"] == 0
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_docs_work_offline_under_the_content_security_policy(
    page: Any,
    base_url: str,  # noqa: F811
) -> None:
    errors = console_errors(page)
    response = page.goto(f"{base_url}/docs")
    assert response is not None
    assert "script-src 'self'" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .info .title", timeout=30_000)
    assert "Parley" in page.inner_text(".swagger-ui .info .title")
    page.wait_for_selector(".opblock-tag-section")
    assert page.locator(".opblock").count() > 10
    assert [e for e in errors if "Content Security Policy" in e] == []


def test_redoc_works_offline_and_its_one_third_party_image_is_blocked_by_the_policy(
    browser: Any,
    base_url: str,  # noqa: F811
) -> None:
    # ReDoc always draws the Redocly logo from its CDN (no option turns it off); the policy
    # stops that request in the browser, and the logo's own error handler hides it.
    context = browser.new_context()
    try:
        redoc = context.new_page()
        outside: list[str] = []
        redoc.route(
            "**/*",
            lambda r: (
                r.continue_()
                if r.request.url.startswith(base_url)
                else (outside.append(r.request.url), r.abort())
            ),
        )
        errors = console_errors(redoc)
        redoc.goto(f"{base_url}/redoc")
        redoc.wait_for_selector("redoc h1", timeout=30_000)
        assert "Parley" in redoc.inner_text("redoc h1")
        assert redoc.locator("redoc [data-section-id]").count() > 10
        blocked = [e for e in errors if "Content Security Policy" in e]
        assert all("cdn.redoc.ly/redoc/logo-mini.svg" in e for e in blocked), blocked
        assert outside == []  # the policy refused it before any network was tried
    finally:
        context.close()
