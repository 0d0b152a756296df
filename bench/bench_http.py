"""HTTP append throughput: ``parley serve`` against a minimal baseline, and workers on PostgreSQL.

Run on its own with ``python bench/bench_http.py [--quick]``; ``bench/run.py`` runs it with the
others (its ``run(quick)``) and prints the table. Nothing is asserted. Every server is a
subprocess on 127.0.0.1; the load is an ``httpx.AsyncClient`` in this process with
``CONCURRENCY`` requests in flight, each pass bounded in time and in count.

- **SQLite, one worker**: single-event appends (``offer_made``) to distinct negotiations,
  one per concurrent client, against ``bench/http_baseline_app.py``: FastAPI + eventsourcing
  appending the same JSON to one aggregate per client with no validation, on the same SQLite
  store (WAL). The servers are up together and driven in turn, one pass each per round;
  the ratio (goal >= 0.8) is the median over rounds of parley's appends/s over the
  baseline's in the same round, so that a core's drift over a minute is not read as a
  difference between them. The CPU-time column divides appends by the CPU seconds the
  server's processes spent, and CPU per append is printed for both. The load comes from
  wrk (Debian's, a process of its own) when installed.
- **PostgreSQL, 1, 2 and 4 workers** (``parley serve --workers N``, the projection runner in
  the parent): distinct negotiations, then one hot negotiation shared by every client.
  Appends/s, p50 and p99 latency; 4 workers over 1 (goal >= 1.6 on 2 cores). Refused
  appends (409 after the writers' retries ran out) are counted, never in the rate.

The load generator, the servers and PostgreSQL share the machine's cores: on 2 cores the
client takes a good part of one, which caps what more workers can show.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import PARLEY, Measurement, Ratio, Report, Server, offer, opening  # noqa: E402

UVICORN = Path(sys.executable).with_name("uvicorn")
PG = os.environ.get("PARLEY_BENCH_PG", "postgresql://postgres@127.0.0.1:5432")
RATIO_GOAL = 0.8
SCALE_GOAL = 1.6
CONCURRENCY = 16
WORKER_COUNTS = (1, 2, 4)
MAX_PER_PASS = 20_000


@dataclass(frozen=True)
class Plan:
    passes: int
    seconds: float
    """Of each timed pass."""
    warmup: float
    rounds: int
    """Of the SQLite comparison: one pass of each server per round (``sqlite_rounds``)."""


FULL = Plan(passes=3, seconds=4.0, warmup=1.0, rounds=7)
QUICK = Plan(passes=2, seconds=1.5, warmup=0.5, rounds=5)


# ------------------------------------------------------------------ servers


@contextlib.contextmanager
def postgres_database() -> Iterator[str]:
    import psycopg

    name = f"parley_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/postgres", autocommit=True, connect_timeout=5) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{PG}/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# ------------------------------------------------------------------ load


@dataclass
class Pass:
    appends: int
    wall: float
    cpu: float
    """CPU seconds of the server's processes during the pass."""
    latencies: list[float]
    refused: Counter[int]

    @property
    def rate(self) -> float:
        return self.appends / self.wall


async def drive(base_url: str, paths: list[str], seconds: float, limit: int) -> Pass:
    """One client per path, each appending in a loop until the time or the count runs out.

    Each path gets the one offer wrk sends it (``wrk_drive``: the k-th path, ``offer(k)``): offers
    numbered afresh each pass were dated before those of the pass before, so every timed
    pass back-dated its lines and parley's runner refolded them, a cost the wrk load (what
    issue 10's goal is measured with) does not have.
    """
    latencies: list[float] = []
    refused: Counter[int] = Counter()
    numbers = itertools.count()
    appended = 0
    limits = httpx.Limits(max_connections=len(paths), max_keepalive_connections=len(paths))
    async with httpx.AsyncClient(base_url=base_url, timeout=30.0, limits=limits) as client:

        async def writer(path: str, body: dict[str, Any]) -> None:
            nonlocal appended
            while time.perf_counter() < deadline:
                i = next(numbers)
                if i >= limit:
                    return
                sent = time.perf_counter()
                response = await client.post(path, json=body)
                latencies.append(time.perf_counter() - sent)
                if response.status_code == 201:
                    appended += 1
                else:
                    refused[response.status_code] += 1

        start = time.perf_counter()
        deadline = start + seconds
        await asyncio.gather(*(writer(path, offer(k)) for k, path in enumerate(paths)))
        wall = time.perf_counter() - start
    return Pass(appended, wall, 0.0, latencies, refused)


WRK = shutil.which("wrk")
WRK_SCRIPT = """
local paths = {%s}
local bodies = {%s}
local n = 0
request = function()
  n = n + 1
  local i = (n %% #paths) + 1
  return wrk.format("POST", paths[i], {["Content-Type"] = "application/json"}, bodies[i])
end
"""


def wrk_drive(server: Server, paths: list[str], seconds: float) -> Pass:
    """wrk (a C load generator, another process) with one connection per path, one thread.

    Connections take the paths in turn, so two may append to one negotiation at once, as
    with the baseline's streams. Appends are the 2xx answers; latencies are wrk's.
    """
    assert WRK is not None
    seconds = max(1, round(seconds))  # wrk takes whole seconds
    quoted = ", ".join(f'"{p}"' for p in paths)
    bodies = ", ".join("[[" + json.dumps(offer(i)) + "]]" for i in range(len(paths)))
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        script.write(WRK_SCRIPT % (quoted, bodies))
    try:
        before = server.cpu()
        done = subprocess.run(
            [
                WRK,
                "-t1",
                f"-c{len(paths)}",
                f"-d{seconds}s",
                "--latency",
                "-s",
                script.name,
                server.base_url,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        cpu = server.cpu() - before
    finally:
        os.unlink(script.name)
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(m?s)", out).group(1))  # type: ignore[union-attr]
    wall = seconds
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    refused: Counter[int] = Counter({0: int(bad.group(1))} if bad else {})
    # wrk reports percentiles, not samples: 98 copies of p50 and 2 of p99 pool to the same.
    latencies: list[float] = []
    for q, copies in (("50", 98), ("99", 2)):
        found = re.search(rf"^\s+{q}%\s+([\d.]+)(us|ms|s)$", out, re.M)
        if found:
            scale = {"us": 1e-6, "ms": 1e-3, "s": 1.0}[found.group(2)]
            latencies += [float(found.group(1)) * scale] * copies
    appended = requests - sum(refused.values())
    return Pass(appended, wall, cpu, latencies, refused)


@dataclass
class Result:
    name: str
    passes: list[Pass]

    def rate(self) -> float:
        return statistics.median(p.rate for p in self.passes)

    def cpu_rate(self) -> float:
        return statistics.median(p.appends / max(p.cpu, 1e-9) for p in self.passes)

    def percentile(self, q: float) -> float:
        pooled = sorted(x for p in self.passes for x in p.latencies)
        return 1000 * pooled[min(len(pooled) - 1, int(q * len(pooled)))]

    def refused(self) -> int:
        return sum(sum(p.refused.values()) for p in self.passes)

    def summary(self) -> str:
        return (
            f"{self.name}: {self.rate():,.0f} appends/s, p50 {self.percentile(0.5):.1f} ms, "
            f"p99 {self.percentile(0.99):.1f} ms, refused {self.refused()}, "
            f"CPU {1000 / self.cpu_rate():.2f} ms per append"
        )

    def measurements(self) -> list[Measurement]:
        return [
            Measurement(
                f"{self.name}: appends",
                self.rate(),
                "appends/s",
                tuple(p.rate for p in self.passes),
            ),
            Measurement(f"{self.name}: p50", self.percentile(0.50), "ms"),
            Measurement(f"{self.name}: p99", self.percentile(0.99), "ms"),
            Measurement(f"{self.name}: CPU per append", 1000 / self.cpu_rate(), "ms"),
        ]


def one_pass(server: Server, paths: list[str], seconds: float, use_wrk: bool) -> Pass:
    """One timed pass of load on ``server``, with the CPU its processes spent."""
    if use_wrk:
        # The same requests in warm-up and timed passes: the httpx driver's offers carry
        # other dates, which would leave wrk's offers back-dated (a refold of their lines).
        return wrk_drive(server, paths, seconds)
    before = server.cpu()
    done = asyncio.run(drive(server.base_url, paths, seconds, MAX_PER_PASS))
    done.cpu = server.cpu() - before
    return done


def measure(
    server: Server, name: str, paths: list[str], plan: Plan, *, use_wrk: bool = False
) -> Result:
    """A warm-up, then ``plan.passes`` timed passes of one server."""
    one_pass(server, paths, plan.warmup, use_wrk)
    result = Result(
        name, [one_pass(server, paths, plan.seconds, use_wrk) for _ in range(plan.passes)]
    )
    print(f"  {result.summary()}")
    return result


def open_negotiations(server: Server, slugs: list[str]) -> None:
    with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
        for slug in slugs:
            response = client.post("/negotiations", json=opening(slug))
            response.raise_for_status()


def distinct_paths(prefix: str = "bench") -> tuple[list[str], list[str]]:
    slugs = [f"{prefix}-{n}" for n in range(CONCURRENCY)]
    return slugs, [f"/negotiations/{slug}/events" for slug in slugs]


# ------------------------------------------------------------------ the runs


def sqlite_rounds(plan: Plan, tmp: Path) -> tuple[Result, Result, Result, list[Round]]:
    """The baseline app and parley, all three up at once, driven in turn round after round
    with the same load generator (wrk when installed, else the httpx client; both are
    processes of their own).

    Parley runs twice: as ``parley serve`` runs by default (the views kept by the server's
    own runner thread, whose CPU counts), and with ``PARLEY_PROJECT_IN_PROCESS=false`` (the
    views left to a ``parley project`` process, not run here): the append path alone.

    On a shared 2-core machine the speed of a core drifts by tens of per cent over seconds;
    one server measured for a minute and the other the next minute compared that drift, not
    the servers. Each round drives every server for one pass, in an order that turns from
    round to round, and the ratios are taken per round (see ``Round``) before their median.
    """
    use_wrk = WRK is not None
    loader = "wrk" if use_wrk else "httpx"
    servers = [
        (
            f"SQLite, baseline app ({loader})",
            Server(
                [str(UVICORN), "--factory", "http_baseline_app:create_app"],
                {"BASELINE_SQLITE": str(tmp / "baseline.db")},
            ),
            [f"/streams/stream-{n}/events" for n in range(CONCURRENCY)],
        )
    ]
    for name, extra in (
        ("parley 1 worker", {}),
        ("parley 1 worker, views elsewhere", {"PARLEY_PROJECT_IN_PROCESS": "false"}),
    ):
        env = {"PARLEY_DATABASE_URL": f"sqlite:///{tmp / name.replace(' ', '_')}.db", **extra}
        servers.append((f"SQLite, {name} ({loader})", Server([str(PARLEY), "serve"], env), []))
    passes: list[list[Pass]] = [[] for _ in servers]
    with contextlib.ExitStack() as stack:
        for _, server, paths in servers:
            stack.enter_context(server)
            if not paths:
                slugs, paths[:] = distinct_paths()
                open_negotiations(server, slugs)
            one_pass(server, paths, plan.warmup, use_wrk)
        for round_ in range(plan.rounds):
            order = list(range(len(servers)))
            turn = round_ % len(order)
            for i in order[turn:] + order[:turn]:
                _, server, paths = servers[i]
                passes[i].append(one_pass(server, paths, plan.seconds, use_wrk))
    results = [Result(name, done) for (name, _, _), done in zip(servers, passes, strict=True)]
    for result in results:
        print(f"  {result.summary()}")
    baseline, parley, bare = results
    rounds = [
        Round(b, p, e) for b, p, e in zip(baseline.passes, parley.passes, bare.passes, strict=True)
    ]
    return baseline, parley, bare, rounds


@dataclass(frozen=True)
class Round:
    """One pass of each server, taken one after the other within seconds."""

    baseline: Pass
    parley: Pass
    bare: Pass
    """Parley with the views elsewhere."""


def round_ratio(rounds: list[Round], which: str, *, cpu: bool = False) -> float:
    """The median over rounds of ``which`` (parley or bare) over the baseline of the same round."""

    def rate(p: Pass) -> float:
        return p.appends / max(p.cpu, 1e-9) if cpu else p.rate

    return statistics.median(rate(getattr(r, which)) / rate(r.baseline) for r in rounds)


def postgres_runs(plan: Plan) -> dict[tuple[int, str], Result]:
    results: dict[tuple[int, str], Result] = {}
    for workers in WORKER_COUNTS:
        with postgres_database() as url:
            argv = [str(PARLEY), "serve", "--workers", str(workers)]
            with Server(argv, {"PARLEY_DATABASE_URL": url}) as server:
                slugs, paths = distinct_paths()
                open_negotiations(server, [*slugs, "hot"])
                results[workers, "distinct"] = measure(
                    server, f"PostgreSQL, {workers} worker(s), distinct", paths, plan
                )
                results[workers, "hot"] = measure(
                    server,
                    f"PostgreSQL, {workers} worker(s), one hot",
                    ["/negotiations/hot/events"] * CONCURRENCY,
                    plan,
                )
    return results


OUTAGE_BOUND = 5.0
"""``PARLEY_STORE_TIMEOUT_SECONDS`` of the outage run (the default)."""


def postgres_outage(appends: int = 8) -> tuple[float, Counter[int], float]:
    """Appends while PostgreSQL is unreachable (a loopback proxy stops forwarding).

    Returns the slowest answer in seconds, the statuses answered, and the seconds from the
    proxy forwarding again to the first 201 (the server recovers by itself).
    """
    sys.path.insert(0, str(BENCH_DIR.parent / "tests"))
    from pg_proxy import PgProxy

    port = int(PG.rsplit(":", 1)[1])
    with PgProxy(port) as proxy, postgres_database() as url:
        proxied = url.replace(f":{port}/", f":{proxy.port}/")
        env = {"PARLEY_DATABASE_URL": proxied, "PARLEY_STORE_TIMEOUT_SECONDS": str(OUTAGE_BOUND)}
        with Server([str(PARLEY), "serve"], env) as server:
            open_negotiations(server, ["outage"])
            statuses: Counter[int] = Counter()
            slowest = 0.0
            with httpx.Client(base_url=server.base_url, timeout=120.0) as client:
                proxy.stop()
                for i in range(appends):
                    sent = time.perf_counter()
                    response = client.post("/negotiations/outage/events", json=offer(i))
                    slowest = max(slowest, time.perf_counter() - sent)
                    statuses[response.status_code] += 1
                proxy.resume()
                back = time.perf_counter()
                while client.post("/negotiations/outage/events", json=offer(0)).status_code != 201:
                    if time.perf_counter() - back > 120:
                        break
                    time.sleep(0.1)
                recovered = time.perf_counter() - back
    return slowest, statuses, recovered


def sqlite_synchronous() -> int:
    """The ``synchronous`` a fresh SQLite connection gets on this build (2 is FULL)."""
    with contextlib.closing(sqlite3.connect(":memory:")) as conn:
        value: int = conn.execute("PRAGMA synchronous").fetchone()[0]
        return value


def run(quick: bool = False) -> Report:
    plan = QUICK if quick else FULL
    report = Report(title=f"HTTP appends ({CONCURRENCY} clients in flight, loopback)")
    with tempfile.TemporaryDirectory(prefix="parley-bench-http-") as tmp:
        baseline, parley, bare, rounds = sqlite_rounds(plan, Path(tmp))
    report.measurements += baseline.measurements() + parley.measurements() + bare.measurements()
    each = ", ".join(f"{r.parley.rate / r.baseline.rate:.2f}" for r in rounds)
    report.ratios.append(
        Ratio(
            "parley / baseline app, SQLite, 1 worker",
            round_ratio(rounds, "parley"),
            RATIO_GOAL,
            "appends/s of parley serve over FastAPI + eventsourcing with no validation, "
            f"median of {len(rounds)} rounds ({each})",
            round_ratio(rounds, "parley", cpu=True),
        )
    )
    report.ratios.append(
        Ratio(
            "parley (views in another process) / baseline app, SQLite",
            round_ratio(rounds, "bare"),
            None,
            "the append path alone: the views' CPU is the difference from the row above",
            round_ratio(rounds, "bare", cpu=True),
        )
    )
    import psycopg

    try:
        pg = postgres_runs(plan)
    except psycopg.OperationalError as e:  # no PostgreSQL here: the SQLite half still stands
        report.notes.append(f"PostgreSQL runs skipped: {type(e).__name__}: {e}")
        return report
    for result in pg.values():
        report.measurements += result.measurements()
    slowest, statuses, recovered = postgres_outage()
    report.measurements += [
        Measurement("PostgreSQL outage: slowest append answer", 1000 * slowest, "ms"),
        Measurement("PostgreSQL outage: first 201 after the store returns", 1000 * recovered, "ms"),
    ]
    report.ratios.append(
        Ratio(
            "PostgreSQL outage: bound / slowest answer",
            OUTAGE_BOUND / slowest,
            1.0,
            f"appends while the store is unreachable answer within PARLEY_STORE_TIMEOUT_SECONDS"
            f"={OUTAGE_BOUND:g}; answers {dict(statuses)}",
        )
    )
    refused = {f"{w}/{mode}": r.refused() for (w, mode), r in pg.items() if r.refused()}
    for workers in WORKER_COUNTS[1:]:
        for mode in ("distinct", "hot"):
            goal = SCALE_GOAL if (workers, mode) == (WORKER_COUNTS[-1], "distinct") else None
            report.ratios.append(
                Ratio(
                    f"PostgreSQL {workers} workers / 1 worker, {mode}",
                    pg[workers, mode].rate() / pg[1, mode].rate(),
                    goal,
                    f"appends/s, {'one negotiation per client' if mode == 'distinct' else 'every client on one negotiation'}",
                )
            )
    report.notes.append(
        f"SQLite: {plan.rounds} rounds of one {plan.seconds:.1f} s pass per server, the order turning"
        f" each round; PostgreSQL: {plan.passes} passes of {plan.seconds:.1f} s per row;"
        f" {plan.warmup:.1f} s of warm-up per server;"
        f" SQLite's default synchronous on this build: {sqlite_synchronous()} (2 = FULL, as parley sets)"
    )
    report.notes.append(
        f"{os.cpu_count()} cores shared by the client, the servers and PostgreSQL"
        + (f"; refused (409) appends: {refused}" if refused else "; no append refused")
    )
    return report


if __name__ == "__main__":
    args = harness.command_line(__doc__, "2 passes of 1.5 s per row").parse_args()
    harness.run_alone(lambda: run(args.quick))
