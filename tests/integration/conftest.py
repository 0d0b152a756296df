"""Fixtures of the store tests beside those of ``tests/conftest.py``."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from domain.ledger import Ledger
from projections.runner import ProjectionRunner


@pytest.fixture
def runner(ledger: Ledger) -> Iterator[ProjectionRunner]:
    """A projection runner on the test's ledger, in batches small enough to split a history."""
    made = ProjectionRunner(ledger, batch_size=5)
    yield made
    made.stop()
