"""Which Idempotency-Keys a negotiation's stream has answered: a fold kept beside its state.

Why this is kept by the aggregate, and not in a table of its own or a projection: a key is
worth only what its record of the events it answered for is worth, so the record must be
committed in the same transaction as those events, and read under the same version check
as the next write. The key travels on the last event of its request (``EventMeta.idempotency``,
stored with the event but outside its hash), and the aggregate folds it here:

- a table written beside the events would be a second write; the library saves a stream's
  events in one transaction of their own, so a crash between the two writes would either
  lose the key (the retry is recorded twice) or keep a key for events never stored;
- a projection of the events (the runner's views) lags the log, so a retry arriving before
  it caught up would be recorded twice;
- the fold is exact whenever the aggregate is: a writer loads the stream at a version,
  finds the key (or not) in it, and saves conditionally on that version.

It is bookkeeping, not negotiation state: the rules never read it, restore does not
rebuild it (restored events carry no key), and it lives in its own attribute
(``Negotiation.idempotency``), folded only by :func:`remember`. Snapshots carry it because
they carry the fold.

Each entry is ``[fingerprint, first version, last version, recorded_at ISO]``; snapshots
taken before the timestamp was kept hold 3-element entries.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

#: How long the state keeps an idempotency key after the request that used it. A fixed
#: constant, not the configured window: replay must fold the same state whatever the
#: settings of the process replaying, so the window may only be shorter than this.
IDEMPOTENCY_RETENTION = timedelta(days=30)


def remember(
    seen: dict[str, list[Any]], request: list[Any], last_version: int, at: datetime
) -> None:
    """Folds the request ``[scoped key, fingerprint, first version]`` ending at ``last_version``."""
    key, fingerprint, first_version = request
    # Re-inserted at the end, so the map stays in the order keys were last used.
    seen.pop(key, None)
    seen[key] = [fingerprint, first_version, last_version, at.isoformat()]
    forget_keys_before(seen, at - IDEMPOTENCY_RETENTION)


def forget_keys_before(seen: dict[str, list[Any]], cutoff: datetime) -> None:
    """Drops idempotency entries recorded before ``cutoff``, oldest first.

    The cutoff comes from the applying event's own timestamp, so replay prunes exactly as
    recording did. Entries are in the order keys were last used, so the scan stops at the
    first one young enough; entries from old snapshots carry no timestamp and are kept.
    """
    stale = []
    for key, entry in seen.items():
        if len(entry) < 4:
            continue
        if datetime.fromisoformat(entry[3]) >= cutoff:
            break
        stale.append(key)
    for key in stale:
        del seen[key]
