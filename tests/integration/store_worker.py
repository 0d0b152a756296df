"""A separate OS process that works on a shared store, started by the concurrency tests.

Usage: ``python store_worker.py append URL SLUG COUNT LABEL`` or ``python store_worker.py prepare URL``.
It prints ``ready`` once set up, waits for a line on stdin (so that every worker starts at
the same moment without anyone sleeping), does its work and prints one JSON line:
``{"acked": [event ids], "conflicts": n}`` for ``append``, ``{"prepared": true}`` for ``prepare``.
"""

from __future__ import annotations

import contextlib
import json
import sys
from datetime import date, timedelta

from api.store.store import open_ledger, parse_database_url, prepare_store
from domain import errors, facts


def append(url: str, slug: str, count: int, label: str) -> dict[str, object]:
    ledger = open_ledger(parse_database_url(url))
    with contextlib.closing(ledger):
        ledger.get(slug)  # warm the aggregate cache, as a long-running server would have it
        ready()
        acked: list[str] = []
        conflicts = 0
        for i in range(count):
            fact = facts.StatementMade(
                party="ROK",
                speaker=label,
                summary=f"{label} statement {i}",
                occurred_at=date(2020, 1, 1) + timedelta(days=i),
            )
            try:
                recorded = ledger.record(slug, [fact], recorded_by=label)
            except errors.VersionConflict:
                conflicts += 1
                continue
            acked += [str(e.event_id) for e in recorded.events]
        return {"acked": acked, "conflicts": conflicts}


def prepare(url: str) -> dict[str, object]:
    config = parse_database_url(url)
    ready()
    prepare_store(config)
    return {"prepared": True}


def ready() -> None:
    print("ready", flush=True)
    sys.stdin.readline()


if __name__ == "__main__":
    command, url, *rest = sys.argv[1:]
    if command == "append":
        slug, count, label = rest
        result = append(url, slug, int(count), label)
    else:
        result = prepare(url)
    print(json.dumps(result), flush=True)
