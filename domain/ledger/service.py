"""The Ledger: the application service, assembled from one room per job.

- ``application``: construction, the aggregate cache, and the queries (get, stream, positions);
- ``clock``: the ``recorded_at`` stamps, strictly increasing;
- ``snapshots``: when to snapshot a negotiation, and taking snapshots without failing a command;
- ``idempotency``: repeated requests and saves whose outcome the store left ambiguous;
- ``commands``: opening a negotiation and recording facts;
- ``restore``: re-creating exported history;
- ``storage``: the one table translating the storage library's errors into ours;
- ``records``: what a command answers.
"""

from __future__ import annotations

from typing import ClassVar

from domain.ledger.commands import Commands
from domain.ledger.restore import Restoring


class Ledger(Commands, Restoring):
    """Records negotiation events and reconstructs negotiations from them."""

    name = "Parley"
    env: ClassVar[dict[str, str]] = {
        "AGGREGATE_CACHE_MAXSIZE": "1000",
        "IS_SNAPSHOTTING_ENABLED": "y",
    }
