"""Fixtures of the end-to-end tests: SQLite stores configured for the ``parley`` command."""

from __future__ import annotations

from pathlib import Path

import pytest
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
