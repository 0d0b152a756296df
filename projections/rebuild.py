"""Rebuilding views from zero: fresh tables loaded from the whole log, then swapped in.

Readers keep reading the old tables until the swap; the log is streamed in batches, so
memory stays flat (see ``Views.start_rebuild``/``finish_rebuild`` for the swap).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

from projections.views import VIEWS, EventRow, Views, check_views

Progress = Callable[[int, int], None]
"""``(position reached, head position)``."""


class Reader(Protocol):
    """What a rebuild needs of the runner: its views and its reads of the store."""

    views: Views

    def head(self) -> int: ...

    def read_batch(self, after: int, limit: int | None = None) -> tuple[list[EventRow], int]: ...

    def views_moved(self) -> None: ...


def rebuild_views(
    runner: Reader,
    view: str | Sequence[str] | None,
    progress: Progress | None,
    *,
    batch_size: int,
) -> dict[str, int]:
    """Rebuilds the views named (all by default) from the store the runner reads.

    Returns the position reached, the events applied and the rows of each rebuilt view.
    """
    named = [view] if isinstance(view, str) else view
    chosen = VIEWS if named is None else check_views(named)
    views = runner.views
    head = runner.head()
    views.start_rebuild(chosen)
    position = 0
    events = 0
    while True:
        rows, last = runner.read_batch(position, batch_size)
        if last == position:
            break
        views.apply_rebuild(chosen, rows)
        events += len(rows)
        position = last
        if progress is not None:
            progress(position, max(head, position))

    def read(after: int) -> tuple[list[EventRow], int]:
        nonlocal events
        rows, last = runner.read_batch(after, batch_size)
        events += len(rows)
        return rows, last

    position = views.finish_rebuild(chosen, position, read)
    runner.views_moved()
    if progress is not None:
        progress(position, max(head, position))
    counts = {"position": position, "events": events}
    for name in chosen:
        counts[name] = views.row_count(name)
    return counts
