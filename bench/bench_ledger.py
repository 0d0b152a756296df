"""The ledger core on a SQLite file: commands/s against a bare eventsourcing aggregate, and
appends to a long negotiation against a fresh one.

Run on its own with ``python bench/bench_ledger.py [--quick] [--profile]``; ``bench/run.py``
runs it with the others and prints the table. Nothing here is asserted: the numbers are ratios
against baselines measured in the same process, so the machine's speed cancels out.
"""

from __future__ import annotations

import contextlib
import cProfile
import io
import itertools
import pstats
import sys
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import harness  # bench/ is on sys.path
from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event
from harness import (  # bench/ is on sys.path
    QUICK_REPEATS,
    REPEATS,
    Measurement,
    Ratio,
    Report,
    Series,
)

from api.store.store import StoreConfig, open_ledger, parse_database_url
from domain import facts
from domain.ledger import SNAPSHOT_INTERVAL, Ledger
from domain.values import Quantity, Source

COMMAND_GOAL = 0.8
LONG_STREAM_GOAL = 0.8
LONG_STREAM_EVENTS = 10_000
BUILD_BATCH = 500
TERM = harness.KRW_TERM.id
PARTIES, TERMS = harness.PARTIES, (harness.KRW_TERM,)
SOURCE = Source(
    title="S. Korea, US reach tentative deal on defense cost-sharing",
    url="https://www.koreaherald.com/view.php?ud=20200407000000",
    publisher="The Korea Herald",
)


@dataclass(frozen=True)
class Sizes:
    """How many operations each timed pass makes, and how many passes.

    Passes are whole snapshot intervals, so that each pays for the same number of snapshots.
    """

    commands: int
    appends: int
    warmup: int
    repeats: int

    @classmethod
    def pick(cls, *, quick: bool) -> Sizes:
        if quick:
            return cls(SNAPSHOT_INTERVAL, SNAPSHOT_INTERVAL, 20, QUICK_REPEATS)
        return cls(3 * SNAPSHOT_INTERVAL, SNAPSHOT_INTERVAL, 50, REPEATS)


# ----------------------------------------------------------------- the bare baseline


class Tally(Aggregate):
    """The smallest aggregate that does what a command does: one field, one event."""

    def __init__(self, amount: Decimal) -> None:
        self.amount = amount

    @event("AmountSet")
    def set_amount(self, amount: Decimal) -> None:
        self.amount = amount


class BareApp(Application[UUID]):
    name = "Bare"


def bare_app(path: Path, *, cache_maxsize: str | None) -> BareApp:
    # An empty size means no cache, whatever the process environment says.
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": str(path),
        "AGGREGATE_CACHE_MAXSIZE": cache_maxsize or "",
    }
    return BareApp(env)


def bare_commands(app: BareApp, count: int) -> Callable[[], None]:
    """A new Tally (untimed), then ``count`` times: load it, change the field, save."""
    tally = Tally(Decimal(0))
    app.save(tally)
    tally_id = tally.id
    amounts = [amount(i) for i in range(count)]

    def loop() -> None:
        for value in amounts:
            loaded: Tally = app.repository.get(tally_id)
            loaded.set_amount(value)
            app.save(loaded)

    return loop


# ------------------------------------------------------------------------ Parley

_slugs = itertools.count(1)


def amount(i: int) -> Decimal:
    """Amounts that differ from command to command, in won, with a fractional part now and then."""
    return Decimal(1_389_000_000_000 + 7_919 * i) + (Decimal("0.5") if i % 3 == 0 else 0)


def offer(i: int) -> facts.OfferMade:
    us = i % 2 == 0
    return facts.OfferMade(
        occurred_at=date(2020, 3, 1 + i % 28),
        sources=(SOURCE,),
        party="US" if us else "KR",
        kind="demand" if us else "offer",
        values={TERM: Quantity(amount(i), "KRW")},
    )


def open_negotiation(ledger: Ledger, prefix: str) -> str:
    """A new negotiation with two parties and a KRW term (four events)."""
    slug = f"{prefix}-{next(_slugs)}"
    opened = facts.NegotiationOpened(
        occurred_at=harness.OPENED_ON,
        sources=(SOURCE,),
        slug=slug,
        title="US-South Korea Special Measures Agreement talks",
    )
    ledger.open_negotiation(opened, PARTIES, TERMS)
    return slug


def parley_commands(ledger: Ledger, count: int, slug: str | None = None) -> Callable[[], None]:
    """``count`` times ``record`` one offer, on ``slug`` or on a new negotiation (untimed)."""
    target = slug or open_negotiation(ledger, "cmd")
    offers = [offer(i) for i in range(count)]

    def loop() -> None:
        for fact in offers:
            ledger.record(target, [fact])

    return loop


def build_long_negotiation(ledger: Ledger, events: int) -> str:
    """A negotiation holding exactly ``events`` events, recorded in batches."""
    slug = open_negotiation(ledger, "long")
    missing = events - ledger.get(slug).version
    i = 0
    while missing > 0:
        batch = [offer(i + j) for j in range(min(BUILD_BATCH, missing))]
        ledger.record(slug, batch)
        i += len(batch)
        missing -= len(batch)
    return slug


@contextlib.contextmanager
def cold_ledger(config: StoreConfig) -> Iterator[Ledger]:
    """A new Ledger on the same file: an empty cache, as after a restart."""
    ledger = open_ledger(config)
    try:
        yield ledger
    finally:
        ledger.close()


# ------------------------------------------------------------------------- runs


def measure_commands(workdir: Path, sizes: Sizes, report: Report) -> None:
    """(a) and (b): the bare aggregate with and without cache, and Parley, interleaved."""
    config = parse_database_url(f"sqlite:///{workdir}/bench.db")
    parley_cache = config.env["AGGREGATE_CACHE_MAXSIZE"]
    n = sizes.commands
    with (
        contextlib.closing(bare_app(workdir / "bare.db", cache_maxsize=None)) as bare,
        contextlib.closing(
            bare_app(workdir / "bare-cached.db", cache_maxsize=parley_cache)
        ) as bare_cached,
        contextlib.closing(open_ledger(config, create_tables=True)) as ledger,
    ):
        runs: dict[str, Callable[[int], Callable[[], None]]] = {
            "bare": lambda count: bare_commands(bare, count),
            "bare_cached": lambda count: bare_commands(bare_cached, count),
            "parley": lambda count: parley_commands(ledger, count),
        }
        for make in runs.values():
            make(sizes.warmup)()
        got = {name: Series(n) for name in runs}
        # Interleaved, so that a burst of load elsewhere on the machine hits all three alike.
        for _ in range(sizes.repeats):
            for name, make in runs.items():
                got[name].add(make(n))
    report.measurements += [
        Measurement.rate_of(
            f"bare aggregate, library defaults (no cache), versions 1..{n}", got["bare"], "cmd/s"
        ),
        Measurement.rate_of(
            f"bare aggregate, AGGREGATE_CACHE_MAXSIZE={parley_cache}", got["bare_cached"], "cmd/s"
        ),
        Measurement.rate_of(
            f"Parley record([OfferMade]), new negotiation, versions 5..{n + 4}",
            got["parley"],
            "cmd/s",
        ),
    ]
    report.ratios += [
        Ratio.of_rates(
            "Parley ÷ bare (no cache) cmd/s",
            got["parley"],
            got["bare"],
            COMMAND_GOAL,
            f"bare replays its whole stream on each load; grows with N={n}",
        ),
        Ratio.of_rates(
            "Parley ÷ bare (same cache) cmd/s",
            got["parley"],
            got["bare_cached"],
            COMMAND_GOAL,
            "like for like: both load from the cache",
        ),
    ]


def measure_long_stream(workdir: Path, sizes: Sizes, report: Report) -> None:
    """(c): appends to a negotiation holding 10,000 events against a fresh one."""
    config = parse_database_url(f"sqlite:///{workdir}/long.db")
    n = sizes.appends
    long_name = f"{LONG_STREAM_EVENTS:,}-event negotiation"
    with contextlib.closing(open_ledger(config, create_tables=True)) as ledger:
        setup = Series(LONG_STREAM_EVENTS)
        long_slug = ""

        def build() -> None:
            nonlocal long_slug
            long_slug = build_long_negotiation(ledger, LONG_STREAM_EVENTS)

        setup.add(build)
        # Snapshots hold the whole state, which grows with the stream: the file shows it.
        db = Path(config.env["SQLITE_DBNAME"])
        stored = sum(f.stat().st_size for f in db.parent.glob(db.name + "*"))
        report.measurements.append(
            Measurement.rate_of(
                f"setup: {LONG_STREAM_EVENTS:,} events recorded in batches of {BUILD_BATCH}",
                setup,
                "events/s",
            )
        )
        report.measurements.append(
            Measurement(
                f"setup: SQLite file (+WAL) holding the {LONG_STREAM_EVENTS:,} events",
                stored / 2**20,
                "MiB",
            )
        )
        parley_commands(ledger, sizes.warmup)()
        parley_commands(ledger, sizes.warmup, long_slug)()

        # Warm: the same Ledger, both aggregates in its cache; a new fresh one each pass.
        warm_fresh, warm_long = Series(n), Series(n)
        for _ in range(sizes.repeats):
            warm_fresh.add(parley_commands(ledger, n))
            warm_long.add(parley_commands(ledger, n, long_slug))

        # Cold: a new Ledger per pass; its first append loads the aggregate from the store.
        first = {"fresh": Series(1), "long": Series(1)}
        steady = {"fresh": Series(n), "long": Series(n)}
        for _ in range(sizes.repeats):
            fresh_slug = open_negotiation(ledger, "cold")
            for name, slug in (("fresh", fresh_slug), ("long", long_slug)):
                with cold_ledger(config) as cold:
                    first[name].add(parley_commands(cold, 1, slug))
                    steady[name].add(parley_commands(cold, n, slug))
        long_version = ledger.get(long_slug).version
    report.measurements += [
        Measurement.rate_of("warm: append to a fresh negotiation", warm_fresh, "appends/s"),
        Measurement.rate_of(f"warm: append to a {long_name}", warm_long, "appends/s"),
        Measurement.latency_of("cold: first append, fresh negotiation", first["fresh"]),
        Measurement.latency_of(f"cold: first append, {long_name}", first["long"]),
        Measurement.rate_of(
            "cold: appends after that, fresh negotiation", steady["fresh"], "appends/s"
        ),
        Measurement.rate_of(f"cold: appends after that, {long_name}", steady["long"], "appends/s"),
    ]
    report.ratios += [
        Ratio.of_rates(
            f"warm: {long_name} ÷ fresh appends/s",
            warm_long,
            warm_fresh,
            LONG_STREAM_GOAL,
            "same Ledger, cache hot",
        ),
        Ratio.of_rates(
            f"cold: {long_name} ÷ fresh appends/s",
            steady["long"],
            steady["fresh"],
            LONG_STREAM_GOAL,
            "new Ledger, after its first append",
        ),
        Ratio.of_rates(
            f"cold: first append, {long_name} ÷ fresh rate",
            first["long"],
            first["fresh"],
            None,
            "loads the last snapshot plus the events after it",
        ),
    ]
    report.notes.append(
        f"snapshots every {SNAPSHOT_INTERVAL} events; passes of {n} appends each pay for one; "
        f"the long negotiation ended at version {long_version:,}"
    )


def run(*, quick: bool = False) -> Report:
    sizes = Sizes.pick(quick=quick)
    report = Report(
        f"ledger core on a SQLite file: median of {sizes.repeats} passes"
        + (" (quick)" if quick else "")
    )
    with tempfile.TemporaryDirectory(prefix="parley-bench-") as tmp:
        workdir = Path(tmp)
        measure_commands(workdir, sizes, report)
        measure_long_stream(workdir, sizes, report)
    return report


# -------------------------------------------------------------------- profiling


def profile(quick: bool) -> None:
    """Where Parley's time goes: one profile of fresh commands, one of long-stream appends."""
    sizes = Sizes.pick(quick=quick)
    with tempfile.TemporaryDirectory(prefix="parley-profile-") as tmp:
        config = parse_database_url(f"sqlite:///{tmp}/profile.db")
        with contextlib.closing(open_ledger(config, create_tables=True)) as ledger:
            parley_commands(ledger, sizes.warmup)()
            long_slug = build_long_negotiation(ledger, LONG_STREAM_EVENTS)
            for title, loop in (
                ("fresh negotiation", parley_commands(ledger, sizes.commands)),
                (
                    f"{LONG_STREAM_EVENTS:,}-event negotiation",
                    parley_commands(ledger, sizes.commands, long_slug),
                ),
            ):
                profiler = cProfile.Profile()
                profiler.runcall(loop)
                out = io.StringIO()
                stats = pstats.Stats(profiler, stream=out).strip_dirs()
                stats.sort_stats("cumulative").print_stats(30)
                stats.sort_stats("tottime").print_stats(20)
                print(f"===== {sizes.commands} x record(OfferMade), {title} =====")
                print(out.getvalue())


def main(argv: list[str] | None = None) -> int:
    parser = harness.command_line(__doc__)
    parser.add_argument("--profile", action="store_true", help="cProfile Parley's loops instead")
    args = parser.parse_args(argv)
    if args.profile:
        profile(args.quick)
    else:
        harness.run_alone(lambda: run(quick=args.quick))
    return 0


if __name__ == "__main__":
    sys.exit(main())
