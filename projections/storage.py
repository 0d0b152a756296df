"""How a store that does not answer reads to whoever asked the views: StorageUnavailable.

Shared by the HTTP routes (a 503), the command line (an error line, exit 1) and the use
cases beside them, so none of them needs another's module to say it. The translation itself
is the ledger's one table (``domain.ledger.storage.STORAGE_ERRORS``): a read of the views
fails the way a read of the ledger does.
"""

from __future__ import annotations

import contextlib

from domain.ledger.storage import translate_storage_errors


def view_storage_errors() -> contextlib.AbstractContextManager[None]:
    """A store that does not answer is unavailable for the views too, as for the ledger."""
    return translate_storage_errors("read")
