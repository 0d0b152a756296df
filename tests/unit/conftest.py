"""Fixtures of the pure-domain tests beside those of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime

import pytest
from support import memory_ledger

from domain import facts
from domain.ledger import Ledger
from domain.values import Party, Term


@pytest.fixture
def book(clock: Callable[[], datetime]) -> Ledger:
    """An in-memory ledger holding the SMA talks opened as ``sma``: ROK, USA, one USD term."""
    ledger = memory_ledger(clock)
    ledger.open_negotiation(
        facts.NegotiationOpened(slug="sma", title="SMA talks", occurred_at=date(2019, 9, 1)),
        [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD")],
    )
    return ledger
