"""The store behind the views: which kind it is, and how one that does not answer reads.

``store_kind`` says which backend a ledger's recorder writes to, for whatever opens its
own tables there (``open_views``). ``view_storage_errors`` turns a store that does not
answer into StorageUnavailable for the HTTP routes (a 503), the command line (an error
line, exit 1) and the use cases beside them, so none of them needs another's module to say
it. The translation itself is the ledger's one table (``domain.ledger.storage``'s
``STORAGE_ERRORS``): a read of the views fails the way a read of the ledger does.
"""

from __future__ import annotations

import contextlib
from typing import Literal

from domain.ledger.storage import translate_storage_errors

StoreKind = Literal["memory", "sqlite", "postgres"]


def store_kind(recorder: object, what: str) -> StoreKind:
    """The kind of store a ledger's recorder writes to; ``what`` names what the caller
    wants of it, for the TypeError a recorder of another kind raises."""
    from eventsourcing.popo import POPOApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, POPOApplicationRecorder):
        return "memory"
    if isinstance(recorder, SQLiteApplicationRecorder):
        return "sqlite"
    from eventsourcing.postgres import PostgresApplicationRecorder  # psycopg: optional

    if isinstance(recorder, PostgresApplicationRecorder):
        return "postgres"
    msg = f"no {what} for a {type(recorder).__name__}"
    raise TypeError(msg)


def view_storage_errors() -> contextlib.AbstractContextManager[None]:
    """A store that does not answer is unavailable for the views too, as for the ledger."""
    return translate_storage_errors("read")
