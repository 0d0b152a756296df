"""Fixtures of the pure-domain tests beside those of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest
from support import sma_book

from domain.ledger import Ledger


@pytest.fixture
def book(clock: Callable[[], datetime]) -> Ledger:
    """An in-memory ledger holding the SMA talks opened as ``sma``: ROK, USA, one USD term."""
    return sma_book(clock)
