"""Time travel on a long negotiation (SQLite file): ``as_of_version`` reads against current reads.

Run on its own with ``python bench/bench_time_travel.py [--quick] [--profile]``; ``bench/run.py``
runs it with the others (its ``run(quick)``) and prints the table. Nothing is asserted.

- **Reads**: a 10,000-event negotiation (``--quick``: 2,000), recorded in batches through the
  Ledger. Through the real app in-process (``TestClient``, so routing, validation and JSON are
  paid as a client pays them): the summary, ``/positions`` and ``/gaps`` now, against the same
  with ``as_of_version`` at random versions. The issue's goal: a time-travel read costs at most
  5x the current one, i.e. (time-travel reads/s) / (current reads/s) >= 0.2.
- **Aggregate**: ``ledger.get(slug, version=N)`` at random N against ``ledger.get(slug)`` (the
  live path: the cached aggregate, fast-forwarded and copied), against a cold
  ``ledger.get(slug)`` (no cache: the latest snapshot plus the tail), and against a full replay
  of the first N events (what ``version=N`` would cost without snapshots).

``--profile`` prints where the time of summary reads goes, now and near the head (cProfile).
The data file is cached in the temp directory (``parley-bench/``); delete it to build afresh.
"""

from __future__ import annotations

import cProfile
import io
import pstats
import random
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import QUICK_REPEATS, REPEATS, Measurement, Ratio, Report, Series  # noqa: E402
from starlette.exceptions import StarletteDeprecationWarning  # noqa: E402

from api.http.app import create_app  # noqa: E402
from api.settings import Settings  # noqa: E402
from api.store.store import StoreConfig, open_ledger, parse_database_url  # noqa: E402
from domain import facts  # noqa: E402
from domain.ledger import Ledger, project_negotiation  # noqa: E402
from domain.negotiation import negotiation_id  # noqa: E402
from domain.values import Quantity, Term  # noqa: E402

with warnings.catch_warnings():  # as in tests/api/conftest.py
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SLOWDOWN_GOAL = 5.0
RATE_GOAL = 1 / SLOWDOWN_GOAL
BUILD_BATCH = 500
SLUG = "long-talks"
MONEY, SHARE = harness.KRW_TERM.id, "raise"
PARTIES, OPENED_ON = harness.PARTIES, harness.OPENED_ON
TERMS = (harness.KRW_TERM, Term(SHARE, "Yearly raise", "percent"))
PATHS = {"summary": "", "positions": "/positions", "gaps": "/gaps"}
SEED = 20200407


@dataclass(frozen=True)
class Size:
    events: int
    reads: int
    """Reads per timed pass (each at its own random version when time travelling)."""
    gets: int
    """Aggregate loads per timed pass."""


FULL = Size(events=10_000, reads=6, gets=20)
QUICK = Size(events=2_000, reads=10, gets=10)


# ------------------------------------------------------------------ data


def fact(i: int, earlier: list[str]) -> facts.Fact:
    """The i-th event after the opening: mostly offers and statements, ten a day.

    ``earlier`` holds offer ids from previous batches, for the odd withdrawal and retraction
    (a batch cannot name its own events: their ids are made when it is recorded).
    """
    day = OPENED_ON + timedelta(days=i // 10)  # never in the future, which the ledger refuses
    party = PARTIES[i % 2].id
    if i % 250 == 0:
        return facts.RoundHeld(number=i // 250 + 1, occurred_at=day, location="Seoul")
    if i % 97 == 0:
        return facts.ExchangeRateRecorded(
            base="USD", quote="KRW", rate=Decimal(1100 + i % 200), occurred_at=day
        )
    if i % 101 == 0 and earlier:
        return facts.EventRetracted(
            retracted_event_id=earlier[i % len(earlier)], reason="misreported", occurred_at=day
        )
    if i % 3 == 2:
        return facts.StatementMade(
            party=party, speaker="spokesperson", summary=f"statement {i}", occurred_at=day
        )
    values = {SHARE: Quantity(Decimal(i % 50) / 10, "percent")}
    if party == "KR":
        values[MONEY] = Quantity(Decimal(1_000_000_000_000 + 1_000_000 * i), "KRW")
    else:
        values[MONEY] = Quantity(Decimal(5_000_000_000 - 100_000 * i), "USD")
    return facts.OfferMade(party=party, kind="offer", values=values, occurred_at=day)


def build(size: Size) -> Path:
    """The SQLite file of one long negotiation, built once and cached."""
    return harness.cached(f"time-travel-{size.events}.db", lambda partial: fill(partial, size))


def fill(partial: Path, size: Size) -> None:
    with harness.sqlite_ledger(partial) as ledger:
        opened = facts.NegotiationOpened(slug=SLUG, title="Long talks", occurred_at=OPENED_ON)
        recorded = ledger.open_negotiation(opened, list(PARTIES), list(TERMS), recorded_by="bench")
        earlier: list[str] = []
        remaining = list(range(1, size.events - recorded.version + 1))
        for start in range(0, len(remaining), BUILD_BATCH):
            batch = [fact(i, earlier[-50:]) for i in remaining[start : start + BUILD_BATCH]]
            done = ledger.record(SLUG, batch, recorded_by="bench")
            # Offers of this batch: the next batch may withdraw or retract them, each once.
            earlier = [
                str(e.event_id)
                for e, f in zip(done.events, batch, strict=True)
                if isinstance(f, facts.OfferMade) and e.version % 7 == 0
            ]
        assert ledger.get(SLUG).version == size.events


# ------------------------------------------------------------------ timing


def series(count: int, passes: int, run: Callable[[], None]) -> Series:
    found = Series(count)
    for _ in range(passes):
        found.add(run)
    return found


def versions(rng: random.Random, events: int, count: int) -> list[int]:
    return [rng.randint(1, events) for _ in range(count)]


@contextmanager
def app_client(path: Path) -> Iterator[TestClient]:
    # The views may start behind the ledger on a freshly built file: give them time once.
    settings = Settings(database_url=f"sqlite:///{path}", read_wait_seconds=300)
    with TestClient(create_app(settings), base_url="http://localhost") as client:
        yield client


def get_json(client: TestClient, url: str, **params: int) -> None:
    response = client.get(url, params=params)
    if response.status_code != 200:
        raise RuntimeError(f"{url} {params}: {response.status_code} {response.text[:300]}")


def measure_reads(path: Path, size: Size, passes: int, report: Report) -> dict[str, float]:
    slowdowns: dict[str, float] = {}
    rng = random.Random(SEED)
    with app_client(path) as client:
        for name, suffix in PATHS.items():
            url = f"/negotiations/{SLUG}{suffix}"
            get_json(client, url)  # warm: views caught up, aggregate cached

            def current(url: str = url) -> None:
                for _ in range(size.reads):
                    get_json(client, url)

            def travelling(url: str = url) -> None:
                for version in versions(rng, size.events, size.reads):
                    get_json(client, url, as_of_version=version)

            def near(url: str = url) -> None:
                for version in near_head(rng, size, size.reads):
                    get_json(client, url, as_of_version=version)

            now = series(size.reads, passes, current)
            then = series(size.reads, passes, travelling)
            late = series(size.reads, passes, near)
            report.measurements += [
                Measurement.latency_of(f"{name} now", now),
                Measurement.latency_of(f"{name} as_of_version=random", then),
                Measurement.latency_of(f"{name} as_of_version in the last tenth", late),
            ]
            ratio = Ratio.of_rates(
                f"{name}: as_of_version / current reads/s",
                then,
                now,
                RATE_GOAL,
                f"time travel costs {now.rate() / then.rate():.2f}x the current read "
                f"(goal <= {SLOWDOWN_GOAL:.0f}x)",
            )
            report.ratios += [
                ratio,
                Ratio.of_rates(
                    f"{name}: as_of_version near the head / current reads/s",
                    late,
                    now,
                    RATE_GOAL,
                    f"the worst case: {now.rate() / late.rate():.2f}x the current read",
                ),
            ]
            slowdowns[name] = max(now.rate() / then.rate(), now.rate() / late.rate())
    return slowdowns


def uncached(path: Path) -> StoreConfig:
    config = parse_database_url(f"sqlite:///{path}")
    # An empty size means no aggregate cache at all (eventsourcing's Repository).
    return replace(config, env={**config.env, "AGGREGATE_CACHE_MAXSIZE": ""})


def measure_gets(path: Path, size: Size, passes: int, report: Report) -> None:
    rng = random.Random(SEED + 1)
    live = open_ledger(parse_database_url(f"sqlite:///{path}"))
    cold = open_ledger(uncached(path))
    try:
        live.get(SLUG)
        nid = negotiation_id(SLUG)

        def cached_now() -> None:
            for _ in range(size.gets):
                live.get(SLUG)

        def cold_now() -> None:
            for _ in range(size.gets):
                cold.get(SLUG)

        def at_version() -> None:
            for version in versions(rng, size.events, size.gets):
                live.get(SLUG, version=version)

        def full_replay() -> None:
            for version in versions(rng, size.events, size.gets):
                replay(live, nid, version)

        now = series(size.gets, passes, cached_now)
        cold_series = series(size.gets, passes, cold_now)
        then = series(size.gets, passes, at_version)
        full = series(size.gets, passes, full_replay)
    finally:
        live.close()
        cold.close()
    report.measurements += [
        Measurement.latency_of("ledger.get(slug), cached", now),
        Measurement.latency_of("ledger.get(slug), no cache", cold_series),
        Measurement.latency_of("ledger.get(slug, version=random)", then),
        Measurement.latency_of("full replay of the first N events", full),
    ]
    report.ratios += [
        Ratio.of_rates(
            "get(version=N) / get() cached, loads/s",
            then,
            now,
            None,
            "the live read serves a cached aggregate; version=N always loads",
        ),
        Ratio.of_rates(
            "get(version=N) / get() without cache, loads/s",
            then,
            cold_series,
            None,
            "both load the latest snapshot at or before the version, then the tail",
        ),
        Ratio.of_rates(
            "get(version=N) / full replay to N, loads/s",
            then,
            full,
            None,
            "above 1: snapshots spare version=N a full replay",
        ),
    ]


def replay(ledger: Ledger, nid: object, version: int) -> None:
    """What ``get(version=N)`` would cost without snapshots: every event up to N, folded."""
    events = ledger.events.get(nid, lte=version)  # type: ignore[arg-type]
    project_negotiation(None, events)  # type: ignore[arg-type]


def profile(path: Path, size: Size) -> str:
    """Where the time of summary reads goes, now and near the head (cProfile).

    The route function is called in this thread: through ``TestClient`` the app runs in
    another thread, which cProfile does not see.
    """
    from fastapi import Response

    from api.http.deps import Services, TimeTravel
    from api.http.reads.summary import summary_read
    from projections.runner import open_runner

    rng = random.Random(SEED + 2)
    out = io.StringIO()
    ledger = open_ledger(parse_database_url(f"sqlite:///{path}"))
    runner = open_runner(ledger)
    try:
        runner.catch_up()
        settings = Settings(database_url=f"sqlite:///{path}")
        today = datetime.now(UTC).date()
        cases = (
            ("now", [TimeTravel() for _ in range(3)]),
            (
                "as_of_version near the head",
                [TimeTravel(as_of_version=v) for v in near_head(rng, size, 3)],
            ),
        )
        for title, travels in cases:
            profiler = cProfile.Profile()
            profiler.enable()
            for travel in travels:
                summary_read(Services(ledger, runner, settings), SLUG, travel, today, Response())
            profiler.disable()
            stats = pstats.Stats(profiler, stream=out)
            out.write(f"\n---- summary route {title}: 3 calls, by cumulative time\n")
            stats.sort_stats("cumulative").print_stats(25)
            out.write(f"\n---- summary route {title}: 3 calls, by own time\n")
            stats.sort_stats("tottime").print_stats(15)
    finally:
        ledger.close()
    return out.getvalue()


def near_head(rng: random.Random, size: Size, count: int) -> list[int]:
    """Versions in the stream's last tenth: the most events to fold, the longest tail to replay."""
    return [rng.randint(size.events * 9 // 10, size.events - 1) for _ in range(count)]


# ------------------------------------------------------------------ report


def run(quick: bool = False, *, show_profile: bool = False) -> Report:
    size = QUICK if quick else FULL
    passes = QUICK_REPEATS if quick else REPEATS
    report = Report(title=f"Time travel: as_of_version on a {size.events:,}-event negotiation")
    started = time.perf_counter()
    path = build(size)
    print(f"  data: {path} ({time.perf_counter() - started:.1f} s to build or find)")
    slowdowns = measure_reads(path, size, passes, report)
    measure_gets(path, size, passes, report)
    worst = max(slowdowns, key=lambda name: slowdowns[name])
    report.notes.append(
        "worst slowdown of as_of_version reads (random or near the head): "
        + ", ".join(f"{name} {value:.2f}x" for name, value in slowdowns.items())
        + f" (goal <= {SLOWDOWN_GOAL:.0f}x; worst: {worst})"
    )
    report.notes.append(
        f"random versions uniform in 1..{size.events:,} or in its last tenth; "
        f"{size.reads} reads per pass, "
        f"{passes} passes; data cached in {harness.CACHE_DIR}"
    )
    if show_profile or slowdowns[worst] > SLOWDOWN_GOAL:
        print(profile(path, size))
    return report


if __name__ == "__main__":
    parser = harness.command_line(__doc__, "2,000 events, fewer reads")
    parser.add_argument("--profile", action="store_true", help="profile summary reads")
    args = parser.parse_args()
    harness.run_alone(lambda: run(args.quick, show_profile=args.profile))
