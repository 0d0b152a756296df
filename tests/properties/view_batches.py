"""Rows of a recorded history applied to the views in batches (shared by the view properties)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from projections.views import EventRow

# The sizes of the batches the rows are applied in, in turn (1 to 3 rows a batch).
BATCH_SIZES = st.lists(st.integers(1, 3), min_size=1, max_size=8)


def view_examples(max_examples: int) -> settings:
    """The view properties' settings: no deadline, one views fixture across the examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )


def as_negotiation(recorded: list[EventRow], slug: str, start: int) -> list[EventRow]:
    """The rows as ``slug``'s, at the log positions right after ``start``."""
    return [
        dataclasses.replace(row, negotiation=slug, position=start + i)
        for i, row in enumerate(recorded, 1)
    ]


def in_batches(rows: list[EventRow], sizes: list[int]) -> Iterator[tuple[int, list[EventRow]]]:
    """``(rows before it, batch)`` for batches of those sizes in turn, until every row is in one."""
    done = 0
    for size in itertools.cycle(sizes):
        if done >= len(rows):
            return
        batch = rows[done : done + size]
        yield done, batch
        done += len(batch)
