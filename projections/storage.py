"""How a store that does not answer reads to whoever asked the views: StorageUnavailable.

Shared by the HTTP routes (a 503), the command line (an error line, exit 1) and the use
cases beside them, so none of them needs another's module to say it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from eventsourcing.persistence import InterfaceError, OperationalError

from domain.errors import StorageUnavailable


@contextlib.contextmanager
def view_storage_errors() -> Iterator[None]:
    """A store that does not answer is unavailable for the views too, as for the ledger."""
    try:
        yield
    except (OperationalError, InterfaceError) as e:
        raise StorageUnavailable(f"the store is unavailable: {e}") from e
