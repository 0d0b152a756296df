"""Chromium for the dashboard's browser tests: the browser, a tab, and the keys a keyed server asks for.

Without a browser the tests are skipped, loudly; ``PARLEY_TEST_BROWSER=required`` (CI) turns
a missing browser into a failure instead.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from support import skip_or_fail
from typer.testing import CliRunner

from api.cli import app as cli

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
VIEWPORT = {"width": 1280, "height": 900}


def chromium_path() -> str | None:
    found = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium")
    return found if found and Path(found).exists() else None


@contextlib.contextmanager
def launched_chromium() -> Iterator[Any]:
    """Playwright's chromium on Debian's binary (or PARLEY_CHROMIUM), closed afterwards."""
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    path = chromium_path()
    if path is None:
        skip_or_fail(
            "NO BROWSER: the dashboard's browser tests did not run. Install Debian's chromium "
            "(apt-get install -y chromium) or set PARLEY_CHROMIUM to a chromium binary.",
            "PARLEY_TEST_BROWSER",
        )
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Tab:
    """A page, the questions its prompts asked, and the script errors it raised."""

    page: Any
    questions: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextlib.contextmanager
def tab(
    browser: Any, key: Callable[[int], str] | None = None, **context_options: Any
) -> Iterator[Tab]:
    """A page in a context of its own (closed afterwards) that notes its script errors.

    With ``key``, each prompt is noted and answered with ``key(n)`` for the n-th question.
    """
    context = browser.new_context(**context_options)
    opened = Tab(context.new_page())
    opened.page.set_default_timeout(20_000)

    if key is not None:
        answer = key

        def ask(dialog: Any) -> None:
            opened.questions.append(dialog.message)
            dialog.accept(answer(len(opened.questions)))

        opened.page.on("dialog", ask)
    opened.page.on("pageerror", lambda e: opened.errors.append(str(e)))
    try:
        yield opened
    finally:
        context.close()


def create_key(database_url: str, role: str, name: str) -> str:
    """A key made with ``parley keys create`` on the store at ``database_url``."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PARLEY_DATABASE_URL", database_url)
        made = CliRunner().invoke(cli, ["keys", "create", "--role", role, "--name", name])
    assert made.exit_code == 0, made.output
    key: str = made.stdout.rstrip("\n").splitlines()[-1]
    return key
