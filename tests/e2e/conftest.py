"""Fixtures of the end-to-end tests: SQLite stores configured for the ``parley`` command, and
chromium with a page for the browser tests (each module serves its app as ``base_url``)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from browsers import VIEWPORT, launched_chromium, tab
from support import opened

from api.services.demo import load_demo


@pytest.fixture
def sqlite_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A fresh SQLite file, configured for the CLI as PARLEY_DATABASE_URL."""
    url = f"sqlite:///{tmp_path}/cli.db"
    monkeypatch.setenv("PARLEY_DATABASE_URL", url)
    return url


@pytest.fixture
def source(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A SQLite store holding the demo, configured for the CLI."""
    url = f"sqlite:///{tmp_path}/source.db"
    with opened(url) as ledger:
        load_demo(ledger)
    monkeypatch.setenv("PARLEY_DATABASE_URL", url)
    return url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Chromium, for the browser tests of one module (skipped, loudly, without it)."""
    with launched_chromium() as launched:
        yield launched


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    """A fresh page that may only reach the app: any other request is refused and noted."""
    outside: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(base_url):
            r.continue_()
        else:
            outside.append(r.request.url)
            r.abort()

    with tab(browser, viewport=VIEWPORT) as opened_tab:
        opened_tab.page.route("**/*", route)
        yield opened_tab.page
    assert outside == [], f"the page reached outside the app: {outside}"
    assert opened_tab.errors == [], f"script errors on the page: {opened_tab.errors}"
