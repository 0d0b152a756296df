"""The app's life cycle: the ledger opened at start-up, the demo loaded only when asked."""

from __future__ import annotations

import sys
import types

import pytest
from apitools import sma_negotiation


@pytest.fixture
def demo_calls(monkeypatch):
    """Stands in for ``api.services.demo`` (written separately) and notes which ledgers it was given."""
    calls = []

    def ensure_demo(ledger):
        calls.append(ledger)
        return False

    fake = types.ModuleType("api.services.demo")
    fake.ensure_demo = ensure_demo
    monkeypatch.setitem(sys.modules, "api.services.demo", fake)
    return calls


def test_the_demo_is_offered_the_ledger_at_start_up_when_asked(client_factory, demo_calls):
    client = client_factory("memory://", demo=True)

    assert demo_calls == [client.app.state.ledger]


def test_the_demo_is_left_alone_by_default(client_factory, demo_calls):
    client_factory("memory://")

    assert demo_calls == []


def test_a_new_app_on_the_same_store_sees_what_the_first_recorded(client_factory, tmp_path):
    url = f"sqlite:///{tmp_path}/parley.db"
    first = client_factory(url)
    assert first.post("/negotiations", json=sma_negotiation()).status_code == 201

    second = client_factory(url, create_tables=False)

    assert second.get("/negotiations/usa-rok-sma").json()["version"] == 5
