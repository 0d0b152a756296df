"""CPU the projection runner spends per event on a SQLite file, at a few batch sizes.

Appends offers round-robin to 16 negotiations: with ``--repeat`` the k-th always gets
``harness.offer(k)``, as ``bench_http``'s wrk load sends them; else it gets ``offer(0)``,
``offer(1)``… (both parties in turn, a day every ten), so that its pair's history grows.
They are handed to the runner as the server hands them, and ``runner.step()`` is timed
with ``time.thread_time`` for each batch of exactly ``size`` events. Prints the median over ``--runs`` runs of the CPU ms per event.
``python bench/cpu_runner.py [--sizes 4 12 32] [--events 1500] [--runs 3] [--repeat]``.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness import FIRST_DAY, TERM  # noqa: E402

from api.store.store import open_ledger, parse_database_url  # noqa: E402
from domain import facts  # noqa: E402
from domain.values import Party, Quantity, Term  # noqa: E402
from projections.runner import open_runner  # noqa: E402

NEGOTIATIONS = 16
PARTIES = [Party("P0", "Party 0"), Party("P1", "Party 1")]
TERMS = [Term(TERM, "Term 0", "USD")]


def offer(i: int) -> facts.OfferMade:
    """``harness.offer(i)`` as a fact."""
    who = "P0" if i % 2 == 0 else "P1"
    amount = 100 + i % 400 if who == "P0" else 1000 - i % 400
    return facts.OfferMade(
        party=who,
        kind="offer",
        values={TERM: Quantity(Decimal(f"{amount}.25"), "USD")},
        occurred_at=FIRST_DAY + timedelta(days=1 + i // 10),
    )


def one_run(size: int, events: int, *, repeat: bool) -> float:
    """CPU ms per event of the runner's steps over ``events`` events in batches of ``size``."""
    with tempfile.TemporaryDirectory(prefix="parley-cpu-runner-") as tmp:
        ledger = open_ledger(parse_database_url(f"sqlite:///{tmp}/r.db"), create_tables=True)
        runner = open_runner(ledger, batch_size=size)
        try:
            slugs = [f"bench-{n}" for n in range(NEGOTIATIONS)]
            for slug in slugs:
                opened = facts.NegotiationOpened(slug=slug, title=slug, occurred_at=FIRST_DAY)
                ledger.open_negotiation(opened, PARTIES, TERMS, recorded_by="bench")
            runner.take_hand_offs()
            while runner.step() is not None:
                pass
            i = 0
            warm = 4 * NEGOTIATIONS
            cpu = 0.0
            timed = 0
            gc.collect()
            while timed < events:
                for _ in range(size):
                    n = i % NEGOTIATIONS
                    ledger.record(
                        slugs[n], [offer(n if repeat else i // NEGOTIATIONS)], recorded_by="bench"
                    )
                    i += 1
                started = time.thread_time()
                applied = runner.step()
                spent = time.thread_time() - started
                assert applied == size, applied
                if i > warm:
                    cpu += spent
                    timed += size
            assert runner.step() is None
            assert runner.read_from_hand_off >= timed
        finally:
            runner.stop()
            ledger.close()
    return 1000 * cpu / timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 12, 32])
    parser.add_argument("--events", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--repeat", action="store_true", help="the same offer every time")
    args = parser.parse_args()
    for size in args.sizes:
        runs = [one_run(size, args.events, repeat=args.repeat) for _ in range(args.runs)]
        shown = " ".join(f"{r:.3f}" for r in runs)
        print(f"batch {size:3d}: {statistics.median(runs):.3f} ms CPU per event  ({shown})")


if __name__ == "__main__":
    main()
