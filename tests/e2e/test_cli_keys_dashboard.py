"""A key made with ``parley keys create``, typed once into the dashboard of a keyed server.

The app runs on a SQLite file with the demo, served by uvicorn on a free 127.0.0.1 port,
in Debian's chromium driven by Playwright (skipped, loudly, without a browser unless
``PARLEY_TEST_BROWSER=required``).
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from typer.testing import CliRunner

from api.cli import app as cli
from api.http.app import create_app
from api.services.demo import DEMO_SLUG
from api.settings import Settings

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = pytest.mark.slow

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """(base URL, a reader key) of a server whose store has keys."""
    url = f"sqlite:///{tmp_path_factory.mktemp('keyed')}/parley.db"
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PARLEY_DATABASE_URL", url)
        made = CliRunner().invoke(cli, ["keys", "create", "--role", "reader", "--name", "viewer"])
    assert made.exit_code == 0, made.output
    key = made.stdout.rstrip("\n").splitlines()[-1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    app = create_app(Settings(database_url=url, demo=True))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}", key
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    path = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium")
    if not path or not Path(path).exists():
        message = "NO BROWSER: the keyed dashboard test did not run (apt-get install chromium)"
        if os.environ.get("PARLEY_TEST_BROWSER") == "required":
            pytest.fail(message)
        pytest.skip(message)
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


def test_the_dashboard_asks_for_a_key_once_and_then_shows_the_negotiation(
    served: tuple[str, str], browser: Any
) -> None:
    base_url, key = served
    assert httpx.get(f"{base_url}/negotiations/{DEMO_SLUG}", timeout=10).status_code == 401
    context = browser.new_context(accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(20_000)
    questions: list[str] = []
    errors: list[str] = []

    def answer(dialog: Any) -> None:
        questions.append(dialog.message)
        dialog.accept(key)

    page.on("dialog", answer)
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
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
    finally:
        context.close()
    assert len(questions) == 1, questions
    assert "API key" in questions[0]
    assert errors == []
