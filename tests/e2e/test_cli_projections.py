"""``parley rebuild`` and ``parley project`` against a SQLite file."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from support import opened
from typer.testing import CliRunner

from api.cli import app
from api.services.demo import DEMO_SLUG
from domain.facts import StatementMade
from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from projections.views import ANALYTICS_VIEW, EVENTS_VIEW, INDEX_VIEW, MERKLE_VIEW, VIEWS

DEMO_EVENTS = 29


@pytest.fixture
def sqlite_url(source: str) -> str:
    """A SQLite file holding the demo, configured for the CLI as PARLEY_DATABASE_URL."""
    return source


def views_of(ledger: Ledger) -> dict[str, object]:
    views = ProjectionRunner(ledger).views
    return {view: views.dump(view) for view in VIEWS}


def statement(day: str) -> StatementMade:
    return StatementMade(party="ROK", speaker="spokesperson", summary="no comment", occurred_at=day)


# ------------------------------------------------------------------ parley rebuild


def test_rebuild_leaves_the_views_as_the_runner_kept_them(sqlite_url: str) -> None:
    with opened(sqlite_url) as ledger:
        ProjectionRunner(ledger).catch_up()
        before = views_of(ledger)

    result = CliRunner().invoke(app, ["rebuild"])

    assert result.exit_code == 0, result.output
    assert f"rebuilt at position {DEMO_EVENTS}" in result.stdout
    with opened(sqlite_url) as ledger:
        assert views_of(ledger) == before
        assert ProjectionRunner(ledger).views.tracked_positions() == dict.fromkeys(
            VIEWS, DEMO_EVENTS
        )


def test_rebuild_of_views_never_kept_builds_them_from_zero(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["rebuild", "--view", INDEX_VIEW])

    assert result.exit_code == 0, result.output
    assert f"{INDEX_VIEW}: 1 rows" in result.stdout
    with opened(sqlite_url) as ledger:
        views = ProjectionRunner(ledger).views
        assert views.tracked_positions() == {
            INDEX_VIEW: DEMO_EVENTS,
            EVENTS_VIEW: 0,
            MERKLE_VIEW: 0,
            ANALYTICS_VIEW: 0,
        }
        row = views.negotiation_row(DEMO_SLUG)
        assert row is not None
        assert row.status == "concluded"
        assert row.version == DEMO_EVENTS


def test_rebuild_of_an_unknown_view_exits_2_naming_the_views(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["rebuild", "--view", "positions"])

    assert result.exit_code == 2
    assert EVENTS_VIEW in result.stderr
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ parley project


@pytest.mark.parametrize("stop_with", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_project_keeps_the_views_up_to_date_until_it_is_signalled(
    sqlite_url: str, stop_with: signal.Signals
) -> None:
    parley = Path(sys.executable).with_name("parley")
    proc = subprocess.Popen(
        [str(parley), "project"],
        env={**os.environ, "PARLEY_DATABASE_URL": sqlite_url},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        with opened(sqlite_url) as ledger:
            watcher = ProjectionRunner(ledger)  # never started: it only reads the positions
            assert watcher.wait_for(DEMO_EVENTS, timeout=30), "the views never caught up"

            recorded = ledger.record(DEMO_SLUG, [statement("2021-04-08")])
            assert watcher.wait_for(recorded.position, timeout=30), "a new event was not applied"
            assert watcher.views.events_of(DEMO_SLUG)[-1].event_id == str(
                recorded.events[0].event_id
            )

        proc.send_signal(stop_with)
        output, _ = proc.communicate(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate(timeout=10)

    assert proc.returncode == 0, output.decode()
    assert f"stopped at position {DEMO_EVENTS + 1}" in output.decode()
