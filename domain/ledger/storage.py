"""The one table that maps the storage library's errors to Parley's, on reads and on writes.

In the spirit of httpx's ``_transports/default.py``: every place the ledger touches the
store translates through here, so a driver error becomes the same domain error wherever it
happens. The library wraps each driver's exceptions in its own (``eventsourcing.persistence``),
so the table names those.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Literal, NamedTuple

from eventsourcing.persistence import (
    IntegrityError,
    InterfaceError,
    OperationalError,
    PersistenceError,
)

from domain import errors

Operation = Literal["read", "write"]

UNAVAILABLE = "the store is unavailable"
NOT_ACCEPTED = "the store did not accept the write"


class Translation(NamedTuple):
    """What a library error becomes: the domain error, and its message on a read or a write.

    None for an operation leaves the error to the caller: a read that fails that way is a
    bug to surface as it is, and a write's clash (``IntegrityError``) means what the command
    says it means (another writer's version, an existing slug, a non-empty store).
    """

    error: type[errors.ParleyError]
    on_read: str | None
    on_write: str | None


STORAGE_ERRORS: dict[type[PersistenceError], Translation] = {
    IntegrityError: Translation(errors.StorageUnavailable, None, None),
    OperationalError: Translation(errors.StorageUnavailable, UNAVAILABLE, NOT_ACCEPTED),
    InterfaceError: Translation(errors.StorageUnavailable, UNAVAILABLE, NOT_ACCEPTED),
    PersistenceError: Translation(errors.StorageUnavailable, None, NOT_ACCEPTED),
}
"""Library error -> domain error; the most specific class an error is an instance of wins."""


def storage_error(error: PersistenceError, operation: Operation) -> errors.ParleyError | None:
    """The domain error for a library error met during ``operation``, or None (see ``Translation``)."""
    for cls in type(error).__mro__:
        translation = STORAGE_ERRORS.get(cls)
        if translation is not None:
            message = translation.on_read if operation == "read" else translation.on_write
            return None if message is None else translation.error(f"{message}: {error}")
    return None


@contextlib.contextmanager
def translate_storage_errors(operation: Operation = "read") -> Iterator[None]:
    """Raises the domain error ``STORAGE_ERRORS`` maps a library error to (others pass)."""
    try:
        yield
    except PersistenceError as e:
        translated = storage_error(e, operation)
        if translated is None:
            raise
        raise translated from e


def brief(error: Exception) -> str:
    """An error for the log: its class and the start of its message (which may quote rows)."""
    text = str(error)
    return f"{type(error).__name__}: {text[:160]}{'...' if len(text) > 160 else ''}"
