"""Applies a batch of one negotiation's rows to its analytics: the O(1) path when it can, else the fold."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from projections.analytics.extend import (
    extend,
)
from projections.analytics.fold import State
from projections.analytics.keys import (
    ANALYTIC_TYPES,
    Buffered,
    Space,
    record_json,
)


def apply_batch(space: Space, rows: Sequence[Any]) -> None:
    """Folds one negotiation's rows (in log order) into its stored analytics.

    The offers after the batch's last other record are applied after the rest, as a batch of
    their own (as if the log had been read in two batches): the O(1) path may take them. So
    a batch that opens a negotiation and carries its first thousand offers folds only the
    opening.
    """
    analytic = [r for r in rows if r.type in ANALYTIC_TYPES]
    cut = len(analytic)
    while cut and analytic[cut - 1].type == "offer_made":
        cut -= 1
    if 0 < cut < len(analytic):
        _apply(space, analytic[:cut])
        _apply(space, analytic[cut:])
    elif analytic:
        _apply(space, analytic)


def _apply(space: Space, rows: Sequence[Any]) -> None:
    chosen = [record_json(r) for r in rows]
    offers = all(d["t"] == "offer_made" for d in chosen)
    # The meta records only the fold reads; the headline, only the O(1) path (which leaves
    # it be when it comes out the same).
    found = space.get(
        ["positions", "order", "headline"] if offers else ["meta", "positions", "order"]
    )
    if offers and extend(space, found, chosen):
        return
    buffered = Buffered(space)
    state = State(buffered, found)
    state.since = min(r.sort_key for r in rows)
    for data in chosen:
        state.add(data)
    state.finish()
    buffered.flush()
