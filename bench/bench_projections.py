"""The projections on a SQLite file: rebuild speed against a plain read of the log, its memory,
and the live lag of the background runner under a steady stream of appends.

Run on its own with ``python bench/bench_projections.py [--quick]``; ``bench/run.py`` runs it
with the others (its ``run(quick)``) and prints the table. Nothing is asserted.

- **Rebuild**: 100 x 1,000 and 1,000 x 1,000 negotiations x events, 100k and 1M events
  (``--quick``: 10 x 100 and 100 x 100). In one process, ``runner.rebuild()`` from zero,
  then a plain read-and-decode of the same notification log (``select_notifications`` in
  pages + ``mapper.to_domain_event``): events/s of each and their ratio (goal >= 0.5), in
  wall and CPU time. Each data file is built in a child process of its own, and each size
  is measured in another fresh child that built nothing (a child inherits its parent's
  peak RSS): its peak RSS (``VmHWM``) is the rebuild's alone, and the two sizes show
  whether memory is flat in the number of events (goal: under 300 MB at both).
- **Live lag**: the background runner while one thread appends single events at a steady
  500/s for ~10 s (``--quick``: 3 s), each followed by ``nudge()`` as the API does. Per event,
  the time from the append returning to the commit of the view batch that tracks its position
  (the runner's ``on_batch``): p50 and p99 (goal p99 < 250 ms).

The data files are cached in the temp directory across runs (``parley-bench/``); delete them
to build afresh.
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import Measurement, Ratio, Report  # noqa: E402

from api.store.store import open_ledger, parse_database_url  # noqa: E402
from domain import facts  # noqa: E402
from domain.ledger import Ledger  # noqa: E402
from domain.values import Quantity  # noqa: E402
from projections.runner import REBUILD_BATCH_SIZE, open_runner  # noqa: E402

RATIO_GOAL = 0.5
MEMORY_GOAL_MB = 300.0
LAG_GOAL_MS = 250.0
APPENDS_PER_SECOND = 500
BUILD_BATCH = 500
TERM = harness.KRW_TERM.id
PARTIES, TERMS, OPENED_ON = harness.PARTIES, (harness.KRW_TERM,), harness.OPENED_ON
OPENING_EVENTS = 1 + len(PARTIES) + len(TERMS)


@dataclass(frozen=True)
class Size:
    negotiations: int
    events: int
    """Events per negotiation, its opening, parties and terms included."""

    @property
    def total(self) -> int:
        return self.negotiations * self.events

    @property
    def name(self) -> str:
        return f"{self.negotiations}x{self.events}"


FULL = (Size(100, 1000), Size(1000, 1000))
QUICK = (Size(10, 100), Size(100, 100))


# ------------------------------------------------------------------ data


def fact(i: int) -> facts.Fact:
    """The i-th event of a negotiation after its opening: offers and statements, a day apart."""
    day = OPENED_ON + timedelta(days=i % 1000)  # never in the future, which the ledger refuses
    party = PARTIES[i % 2].id
    if i % 3 == 2:
        return facts.StatementMade(
            party=party, speaker="spokesperson", summary=f"statement {i}", occurred_at=day
        )
    amount = Decimal(1_000_000_000_000 + 1_000_000 * i) if party == "KR" else Decimal(5 * 10**12)
    return facts.OfferMade(
        party=party,
        kind="offer",
        values={TERM: Quantity(amount - Decimal(i), "KRW")},
        occurred_at=day,
    )


def open_one(ledger: Ledger, slug: str) -> None:
    opened = facts.NegotiationOpened(slug=slug, title=f"bench {slug}", occurred_at=OPENED_ON)
    ledger.open_negotiation(opened, list(PARTIES), list(TERMS), recorded_by="bench")


def build(size: Size) -> Path:
    """The SQLite file of a size, built once and cached (a partial build is never reused)."""
    return harness.cached(f"projections-{size.name}.db", lambda partial: fill(partial, size))


def fill(partial: Path, size: Size) -> None:
    started = time.perf_counter()
    with harness.sqlite_ledger(partial) as ledger:
        for n in range(size.negotiations):
            slug = f"bench-{n:05d}"
            open_one(ledger, slug)
            remaining = list(range(size.events - OPENING_EVENTS))
            for start in range(0, len(remaining), BUILD_BATCH):
                batch = [fact(i) for i in remaining[start : start + BUILD_BATCH]]
                ledger.record(slug, batch, recorded_by="bench")
            if (n + 1) % max(1, size.negotiations // 10) == 0:
                rate = (n + 1) * size.events / (time.perf_counter() - started)
                print(f"  built {n + 1}/{size.negotiations} negotiations ({rate:,.0f} events/s)")
        assert ledger.head_position() == size.total


# ------------------------------------------------------------------ one size, in a child


def read_and_decode(ledger: Ledger) -> int:
    """The baseline: every notification read in pages and decoded, nothing else."""
    recorder, mapper = ledger.recorder, ledger.mapper
    position, count = 0, 0
    while page := recorder.select_notifications(start=position + 1, limit=REBUILD_BATCH_SIZE):
        for notification in page:
            mapper.to_domain_event(notification)
        count += len(page)
        position = page[-1].id
    return count


def rss_mb() -> float:
    """This process's peak RSS so far, in MB.

    ``VmHWM`` belongs to the process's own memory map, made afresh by exec; ``ru_maxrss``
    (the fallback off Linux) also counts the peak of the parent it was forked from.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024  # kB
    except OSError:
        pass
    # ru_maxrss is in kilobytes on Linux.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def warm(path: Path) -> None:
    """Reads the file once so that neither timed pass pays for the disk."""
    with path.open("rb") as f:
        while f.read(1 << 20):
            pass


def measure(path: Path) -> dict[str, Any]:
    started_at = rss_mb()
    ledger = open_ledger(parse_database_url(f"sqlite:///{path}"))
    try:
        runner = open_runner(ledger)
        warm(path)
        before = rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        counts = runner.rebuild()
        rebuild = (time.perf_counter() - wall, time.process_time() - cpu)
        peak = rss_mb()
        wall, cpu = time.perf_counter(), time.process_time()
        read = read_and_decode(ledger)
        plain = (time.perf_counter() - wall, time.process_time() - cpu)
    finally:
        ledger.close()
    return {
        "events": counts["events"],
        "read": read,
        "rebuild_wall": rebuild[0],
        "rebuild_cpu": rebuild[1],
        "read_wall": plain[0],
        "read_cpu": plain[1],
        "rss_before_mb": before,
        "rss_peak_mb": peak,
        "rss_start_mb": started_at,
    }


def in_child(*args: str) -> str:
    """Runs this file with ``args`` in a fresh process; its last line of output."""
    found = subprocess.run(
        [sys.executable, __file__, *args],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
    )
    return found.stdout.strip().splitlines()[-1]


def build_in_child(size: Size) -> Path:
    """``build(size)`` in a process of its own, so that this one never holds its memory."""
    return Path(in_child("--build", f"{size.negotiations}x{size.events}"))


def measure_in_child(path: Path) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(in_child("--measure", str(path)))
    return result


# ------------------------------------------------------------------ live lag


def live_lag(seconds: float, rate: int = APPENDS_PER_SECOND) -> dict[str, Any]:
    """Appends at a steady rate with the runner in the background; the lag of every event."""
    with tempfile.TemporaryDirectory() as tmp:
        ledger = open_ledger(parse_database_url(f"sqlite:///{tmp}/live.db"), create_tables=True)
        commits: list[tuple[int, float]] = []

        def on_batch(end: int, applied: int) -> None:
            commits.append((end, time.perf_counter()))

        runner = open_runner(ledger, on_batch=on_batch)
        try:
            open_one(ledger, "live")
            runner.start()
            assert runner.wait_for(timeout=10)
            appended: list[tuple[int, float]] = []
            count = int(seconds * rate)
            interval = 1.0 / rate
            start = time.perf_counter()
            for i in range(count):
                # A steady schedule: late appends are not followed by catch-up bursts of sleep.
                delay = start + i * interval - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                recorded = ledger.record("live", [fact(i)], recorded_by="bench")
                done = time.perf_counter()
                runner.nudge()
                assert recorded.position is not None
                appended.append((recorded.position, done))
            elapsed = time.perf_counter() - start
            assert runner.wait_for(appended[-1][0], timeout=30), "the runner fell behind"
        finally:
            runner.stop()
            ledger.close()
    ends = [end for end, _ in commits]
    lags = []
    for position, done in appended:
        at = commits[bisect.bisect_left(ends, position)][1]
        # The runner may commit the event before record() has returned to the appender.
        lags.append(max(0.0, at - done) * 1000)
    lags.sort()
    return {
        "appends": len(appended),
        "rate": len(appended) / elapsed,
        "p50": statistics.median(lags),
        "p99": lags[min(len(lags) - 1, int(0.99 * len(lags)))],
        "max": lags[-1],
        "batches": len(commits),
    }


# ------------------------------------------------------------------ report


def run(quick: bool = False) -> Report:
    sizes = QUICK if quick else FULL
    report = Report(title="Projections: rebuild and live lag (SQLite file)")
    results = {}
    for size in sizes:
        print(f"  {size.name}: building (cached) and measuring, each in a fresh process")
        path = build_in_child(size)
        results[size] = measure_in_child(path)
        print(f"  {size.name}: {results[size]}")
    for size in sizes:
        r = results[size]
        report.measurements += [
            Measurement(f"rebuild {size.name} events", r["events"] / r["rebuild_wall"], "events/s"),
            Measurement(f"read-and-decode {size.name}", r["read"] / r["read_wall"], "events/s"),
            Measurement(f"peak RSS, rebuild {size.name}", r["rss_peak_mb"], "MB"),
        ]
    small, large = (results[size] for size in sizes)
    for size in sizes:
        r = results[size]
        report.ratios.append(
            Ratio(
                f"rebuild / read-and-decode, {size.name}",
                (r["events"] / r["rebuild_wall"]) / (r["read"] / r["read_wall"]),
                RATIO_GOAL,
                "events/s of runner.rebuild() over a plain read of the same log, same process",
                (r["events"] / r["rebuild_cpu"]) / (r["read"] / r["read_cpu"]),
            )
        )
    report.ratios.append(
        Ratio(
            f"{MEMORY_GOAL_MB:.0f} MB / peak RSS, rebuild {sizes[1].name}",
            MEMORY_GOAL_MB / large["rss_peak_mb"],
            1.0,
            f"peak RSS {large['rss_peak_mb']:.0f} MB (at start {large['rss_start_mb']:.0f}, "
            f"before rebuild {large['rss_before_mb']:.0f})",
        )
    )
    report.ratios.append(
        Ratio(
            f"peak RSS {sizes[0].name} / {sizes[1].name}",
            small["rss_peak_mb"] / large["rss_peak_mb"],
            None,
            f"{small['events']:,} vs {large['events']:,} events: near 1 means flat memory",
        )
    )
    lag = live_lag(3.0 if quick else 10.0)
    report.measurements += [
        Measurement("live appends", lag["rate"], "appends/s"),
        Measurement("live lag p50", lag["p50"], "ms"),
        Measurement("live lag p99", lag["p99"], "ms"),
        Measurement("live lag max", lag["max"], "ms"),
    ]
    report.ratios.append(
        Ratio(
            f"{LAG_GOAL_MS:.0f} ms / live lag p99",
            LAG_GOAL_MS / max(lag["p99"], 0.001),
            1.0,
            f"{lag['appends']:,} appends at {lag['rate']:.0f}/s, {lag['batches']:,} view batches",
        )
    )
    report.notes.append(
        f"data cached in {harness.CACHE_DIR}; rebuild and read run in one child process per size"
    )
    return report


if __name__ == "__main__":
    parser = harness.command_line(__doc__, "100 x 100 events, 3 s of appends")
    parser.add_argument("--measure", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--build", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure is not None:
        print(json.dumps(measure(args.measure)))
    elif args.build is not None:
        negotiations, events = (int(n) for n in args.build.split("x"))
        print(build(Size(negotiations, events)))
    else:
        harness.run_alone(lambda: run(args.quick))
