"""The views' names and tables, what every view module and backend starts from."""

from __future__ import annotations

from collections.abc import Iterable

from eventsourcing.persistence import IntegrityError

EVENTS_VIEW = "parley_view_events"
INDEX_VIEW = "parley_view_negotiations"
MERKLE_VIEW = "parley_view_merkle"
ANALYTICS_VIEW = "parley_view_analytics"
VIEWS: tuple[str, ...] = (EVENTS_VIEW, INDEX_VIEW, MERKLE_VIEW, ANALYTICS_VIEW)
REBUILD_SUFFIX = "_new"

#: Parameters per ``IN (…)`` list, well under SQLite's limit.
IN_CHUNK = 500


class ViewMovedError(IntegrityError):
    """The view's tracked position is not where this batch started: someone else applied it."""


def merkle_tables(name: str) -> tuple[str, str]:
    """The leaves and nodes tables of the Merkle view kept under ``name``."""
    return name + "_leaves", name + "_nodes"


def table_names(view: str, name: str) -> tuple[str, ...]:
    """The tables of a view kept under ``name`` (its own name, or its rebuild's)."""
    return merkle_tables(name) if view == MERKLE_VIEW else (name,)


def check_views(views: Iterable[str]) -> tuple[str, ...]:
    chosen = tuple(views)
    unknown = [v for v in chosen if v not in VIEWS]
    if unknown or not chosen:
        msg = f"unknown view(s) {unknown}; the views are {', '.join(VIEWS)}"
        raise ValueError(msg)
    return chosen
