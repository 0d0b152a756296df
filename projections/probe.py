"""The ledger's head and each view's tracked position, read for ``/health``.

On a SQLite file the head is read through the views' own reading connection: the library's
connection pool has a fairness queue that holds readers behind appends waiting for the write
lock, and a health probe must answer while appends queue.
"""

from __future__ import annotations

from eventsourcing.sqlite import SQLiteApplicationRecorder

from domain.ledger import Ledger
from projections.views import SQLiteViews, Views


def head_and_positions(ledger: Ledger, views: Views) -> tuple[int, dict[str, int]]:
    """The log's head position and every view's tracked position."""
    if isinstance(views, SQLiteViews) and isinstance(ledger.recorder, SQLiteApplicationRecorder):
        with views.reading() as cursor:
            cursor.execute(ledger.recorder.select_max_notification_id_statement)
            head = int(cursor.fetchone()[0] or 0)
    else:
        head = ledger.head_position()
    return head, views.tracked_positions()
