"""On PostgreSQL the runner is fed by the library's subscription; elsewhere it pulls the log."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain import facts
from domain.ledger import Ledger
from domain.values import Party
from projections.runner import open_runner

pytestmark = pytest.mark.timeout(120)


def _open(ledger: Ledger, slug: str) -> None:
    ledger.open_negotiation(
        facts.NegotiationOpened(occurred_at=date(2019, 9, 24), slug=slug, title="SMA"),
        [Party("USA", "United States"), Party("ROK", "Republic of Korea")],
    )


def _statements(n: int) -> list[facts.Fact]:
    return [
        facts.StatementMade(occurred_at=date(2020, 4, 7), party="ROK", speaker="s", summary=f"#{i}")
        for i in range(n)
    ]


def test_new_events_reach_the_views_through_the_subscription_on_postgresql_only(
    ledger_factory: Callable[[], Ledger], store_url: str
) -> None:
    ledger = ledger_factory()
    # Another process writes (its saves are not handed to this runner, see test_views_hand_off).
    writer = ledger if store_url == "memory://" else ledger_factory()
    _open(writer, "sma")
    with open_runner(ledger) as runner:
        assert runner.wait_for(writer.head_position(), timeout=30)
        for _ in range(5):
            writer.record("sma", _statements(4))
        assert runner.wait_for(writer.head_position(), timeout=30)
        assert runner.views.negotiation_row("sma") is not None
        if store_url.startswith("postgresql"):
            assert runner.read_from_subscription >= 1
        else:
            assert runner.read_from_subscription == 0
    assert len(runner.views.events_of("sma")) == writer.get("sma").version


@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
def test_the_store_is_read_directly_when_the_subscription_has_stopped(
    ledger_factory: Callable[[], Ledger],
) -> None:
    ledger = ledger_factory()
    _open(ledger, "sma")
    with open_runner(ledger, poll_interval=0.2) as runner:
        assert runner.wait_for(ledger.head_position(), timeout=30)
        feed = runner._feed
        assert feed is not None
        feed.close()
        ledger.record("sma", _statements(3))
        # Only the bounded poll can bring these in now.
        assert runner.wait_for(ledger.head_position(), timeout=30)
    assert len(runner.views.events_of("sma")) == ledger.get("sma").version
