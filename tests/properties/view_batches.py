"""Rows of a recorded history applied to the views in batches (shared by the view properties)."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Iterator

from projections.views import EventRow


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
