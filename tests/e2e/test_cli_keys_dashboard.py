"""A key made with ``parley keys create``, typed once into the dashboard of a keyed server.

The app runs on a SQLite file with the demo, served by uvicorn on a free 127.0.0.1 port,
in Debian's chromium driven by Playwright (skipped, loudly, without a browser unless
``PARLEY_TEST_BROWSER=required``).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsers import create_key, tab
from live_server import serve

from api.http.app import create_app
from api.services.demo import DEMO_SLUG
from api.settings import Settings

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, a reader key) of a server whose store has keys."""
    url = f"sqlite:///{tmp_path_factory.mktemp('keyed')}/parley.db"
    key = create_key(url, "reader", "viewer")
    with serve(create_app(Settings(database_url=url, demo=True))) as base_url:
        yield base_url, key


def test_the_dashboard_asks_for_a_key_once_and_then_shows_the_negotiation(
    served: tuple[str, str], browser: Any
) -> None:
    base_url, key = served
    assert httpx.get(f"{base_url}/negotiations/{DEMO_SLUG}", timeout=10).status_code == 401
    with tab(browser, lambda _: key, accept_downloads=True) as opened:
        page = opened.page
        page.goto(f"{base_url}/n/{DEMO_SLUG}")
        page.wait_for_selector('#page[aria-busy="false"][data-term]')
        assert page.locator("#timeline > li[data-event-id]").count() > 0

        page.goto(f"{base_url}/")  # the key is kept for the tab: no second question
        page.wait_for_selector(f'a[href="/n/{DEMO_SLUG}"]')

        page.goto(f"{base_url}/n/{DEMO_SLUG}")
        page.wait_for_selector('#page[aria-busy="false"][data-term]')
        with page.expect_download() as download:
            page.click("#svg-link")
        assert download.value.suggested_filename == "chart.svg"
        assert "<svg" in Path(download.value.path()).read_text(encoding="utf-8")[:2000]
    assert len(opened.questions) == 1, opened.questions
    assert "API key" in opened.questions[0]
    assert opened.errors == []
