"""The index view: one row per negotiation (title, status, parties, terms, counts…).

``parley_view_negotiations`` keeps ``projections.index.fold_negotiation``'s output, one
``NegotiationRow`` per negotiation, for the list and the summaries. Its interface: the
fold (``fold_negotiations``, defined in ``projections.index``) and, for the SQL backends,
the row's columns (``index_params``/``index_from``) and ``write_index``.
"""

from __future__ import annotations

import json
import operator
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from domain.canonical import format_recorded_at
from projections.index import NegotiationRow, fold_negotiations
from projections.views.base import IN_CHUNK
from projections.views.events import EventRow, _dumps

if TYPE_CHECKING:
    from projections.views.plan import Remembered

INDEX_COLUMNS = (
    "slug",
    "negotiation_id",
    "title",
    "subject",
    "status",
    "parties",
    "terms",
    "counts",
    "version",
    "last_occurred_at",
    "last_occurred_key",
    "last_recorded_at",
    "opened_position",
    "status_changes",
)


def negotiation_id_of(row: EventRow) -> str:
    """The aggregate id of the negotiation an event belongs to."""
    from domain.negotiation import negotiation_id

    return str(negotiation_id(row.negotiation))


def opened(row: NegotiationRow) -> int:
    return row.opened_position


def index_params(row: NegotiationRow) -> tuple[Any, ...]:
    """The row's values in ``INDEX_COLUMNS`` order."""
    return (
        row.slug,
        row.negotiation_id,
        row.title,
        row.subject,
        row.status,
        _text_of(row.parties),
        _text_of(row.terms),
        _dumps(row.counts),
        row.version,
        row.last_occurred_at,
        row.last_occurred_key,
        format_recorded_at(row.last_recorded_at),
        row.opened_position,
        _text_of(row.status_changes),
    )


_TEXTS: dict[int, tuple[Any, str]] = {}
"""The text of each list ``_text_of`` wrote lately, by its id (the list held, so that its id
is not another's)."""
TEXTS_LIMIT = 1024


def _text_of(value: list[Any]) -> str:
    """``_dumps(value)`` of a row's parties, terms or status changes.

    A fold never changes those lists in place (an event that changes one makes a new list),
    and a batch of offers leaves them as they were: a row's next version carries the same
    list objects, whose text is already known.
    """
    found = _TEXTS.get(id(value))
    if found is not None and found[0] is value:
        return found[1]
    text = _dumps(value)
    if len(_TEXTS) >= TEXTS_LIMIT:
        _TEXTS.clear()
    _TEXTS[id(value)] = (value, text)
    return text


COUNTED_COLUMNS = (
    "counts",
    "version",
    "last_occurred_at",
    "last_occurred_key",
    "last_recorded_at",
)
"""What events that only count (``projections.index._Run``) change of a row."""


_shape = operator.attrgetter(*(c for c in INDEX_COLUMNS if c not in COUNTED_COLUMNS))
"""A row's other columns (the fields are named as the columns)."""


def _only_counted(old: NegotiationRow, new: NegotiationRow) -> bool:
    """Whether ``new`` differs from the stored ``old`` in ``COUNTED_COLUMNS`` alone."""
    return bool(_shape(new) == _shape(old))


def counted_params(row: NegotiationRow) -> tuple[Any, ...]:
    """The row's ``COUNTED_COLUMNS`` values, then its slug."""
    return (
        _dumps(row.counts),
        row.version,
        row.last_occurred_at,
        row.last_occurred_key,
        format_recorded_at(row.last_recorded_at),
        row.slug,
    )


def index_from(found: Mapping[str, Any]) -> NegotiationRow:
    """The row read back from its columns."""
    return NegotiationRow(
        slug=found["slug"],
        negotiation_id=found["negotiation_id"],
        title=found["title"],
        subject=found["subject"],
        status=found["status"],
        parties=json.loads(found["parties"]),
        terms=json.loads(found["terms"]),
        counts=json.loads(found["counts"]),
        version=int(found["version"]),
        last_occurred_at=found["last_occurred_at"],
        last_occurred_key=found["last_occurred_key"],
        last_recorded_at=datetime.fromisoformat(found["last_recorded_at"]),
        opened_position=int(found["opened_position"]),
        status_changes=json.loads(found["status_changes"]),
    )


def write_index(
    cursor: Any,
    sql: Callable[[str], str],
    table: str,
    rows: Sequence[EventRow],
    memo: Remembered | None = None,
) -> None:
    """Folds the rows into the (quoted) table: reads the rows they touch, writes them back.

    ``memo``: the rows the batches before wrote, read from there rather than the table.
    """
    slugs = sorted({r.negotiation for r in rows})
    current: dict[str, NegotiationRow] = {}
    if memo is not None:
        current.update((s, memo.index[s]) for s in slugs if s in memo.index)
        slugs = [s for s in slugs if s not in current]
    for at in range(0, len(slugs), IN_CHUNK):
        chunk = slugs[at : at + IN_CHUNK]
        marks = ", ".join(["%s"] * len(chunk))
        cursor.execute(
            sql(f"SELECT * FROM {table} WHERE slug IN ({marks})"),  # noqa: S608
            chunk,
        )
        current.update((found["slug"], index_from(found)) for found in cursor.fetchall())
    ids = {r.negotiation: negotiation_id_of(r) for r in rows if r.type == "negotiation_opened"}
    before = dict(current)
    changed = sorted(fold_negotiations(current, rows, ids))
    # A row that only counted events (offers, statements…) has only its counts and times
    # to update: an upsert rewrites every column, and the indexes on the others.
    counted = [s for s in changed if s in before and _only_counted(before[s], current[s])]
    if counted:
        cursor.executemany(
            sql(
                f"UPDATE {table} SET {', '.join(f'{c} = %s' for c in COUNTED_COLUMNS)} "  # noqa: S608
                "WHERE slug = %s"
            ),
            [counted_params(current[s]) for s in counted],
        )
        changed = [s for s in changed if s not in set(counted)]
    marks = ", ".join(["%s"] * len(INDEX_COLUMNS))
    updates = ", ".join(f"{c} = excluded.{c}" for c in INDEX_COLUMNS[1:])
    cursor.executemany(
        sql(
            f"INSERT INTO {table} ({', '.join(INDEX_COLUMNS)}) VALUES ({marks}) "  # noqa: S608
            f"ON CONFLICT (slug) DO UPDATE SET {updates}"
        ),
        [index_params(current[s]) for s in changed],
    )
    if memo is not None:  # rows never change in place: each fold makes a new one
        for slug in sorted([*counted, *changed]):
            memo.index.pop(slug, None)
            memo.index[slug] = current[slug]
