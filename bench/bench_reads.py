"""Reads of a negotiation through ``parley serve`` (SQLite): constant in its length, bounded in fan-out.

Run on its own with ``python bench/bench_reads.py [--quick]``; ``bench/run.py`` runs it with the
others. Nothing is asserted; ratios are printed against baselines measured in the same run.

- **Length**: negotiations of 100 and 10,000 events (offers of two parties on one term); p50 of
  the summary, ``/positions``, ``/gaps`` and a timeline page at each size, and of ``GET /health``
  through the same server. Goals: 10k/100 <= 1.5 and each read <= 3x ``/health`` (printed as
  their inverses, so that a met goal is >= the goal column).
- **Time travel**: ``as_of=`` (a moment in the world), ``as_of_version=`` (a version in the
  middle) and the charts (chart.json, chart.svg), each against the plain read of the same
  route (goal for ``as_of=``: <= 3x) and against ``/health``, at 100 and 10,000 events.
- **Fan-out**: 150 parties x 20 terms; every read answers (200 or 422) within 100 ms while a
  thread probes ``/health`` (goal < 50 ms).
- **Writers**: reads/s of one negotiation alone, then beside 16 threads appending to others
  (goal >= 0.9x).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness import FIRST_DAY, PARLEY, TERM, Measurement, Ratio, Report, Server, offer, opening  # noqa: E402

SMALL, LARGE = 100, 10_000
BATCH = 500


def fill(client: httpx.Client, slug: str, events: int) -> None:
    assert client.post("/negotiations", json=opening(slug)).status_code == 201
    bodies = [offer(i) for i in range(events - 4)]  # the opening made 4: itself, 2 parties, a term
    for at in range(0, len(bodies), BATCH):
        response = client.post(f"/negotiations/{slug}/events", json=bodies[at : at + BATCH])
        assert response.status_code == 201, response.text


def p50_ms(client: httpx.Client, path: str, n: int, **params: Any) -> float:
    times = []
    for _ in range(n):
        start = time.perf_counter()
        response = client.get(path, params=params)
        times.append(1000 * (time.perf_counter() - start))
        assert response.status_code in (200, 422), (path, response.status_code, response.text[:300])
    return statistics.median(times)


READS: dict[str, tuple[str, dict[str, Any]]] = {
    "summary": ("", {}),
    "/positions": ("/positions", {}),
    "/gaps": ("/gaps", {}),
    "timeline page (50 events)": ("/timeline", {"limit": 50}),
}


def length_runs(report: Report, client: httpx.Client, n: int) -> None:
    health = p50_ms(client, "/health", n)
    report.measurements.append(Measurement("GET /health p50", health, "ms"))
    for name, (suffix, params) in READS.items():
        small = p50_ms(client, f"/negotiations/small{suffix}", n, **params)
        large = p50_ms(client, f"/negotiations/large{suffix}", n, **params)
        report.measurements.append(Measurement(f"{name} p50 at {SMALL} events", small, "ms"))
        report.measurements.append(Measurement(f"{name} p50 at {LARGE} events", large, "ms"))
        report.ratios.append(
            Ratio(
                f"{name}: {SMALL} / {LARGE} events p50",
                small / large,
                1 / 1.5,
                "goal 10k <= 1.5x 100",
            )
        )
        report.ratios.append(
            Ratio(
                f"{name}: /health / read p50 at {LARGE}",
                health / large,
                1 / 3,
                "goal read <= 3x /health",
            )
        )


TRAVELS: dict[str, tuple[str, dict[str, Any]]] = {
    "summary": ("", {}),
    "/positions": ("/positions", {}),
    "/gaps": ("/gaps", {}),
    "chart.json": ("/chart.json", {}),
    "chart.svg": ("/chart.svg", {}),
}


def time_travel_runs(report: Report, client: httpx.Client, n: int) -> None:
    """Each read plain, at ``as_of=``, ``as_of_version=`` and ``as_of_recorded=`` (each
    mid-history); the ratios to the plain read are printed, never asserted."""
    health = p50_ms(client, "/health", n)
    report.measurements.append(Measurement("GET /health p50 (time travel)", health, "ms"))
    for size, slug in ((SMALL, "small"), (LARGE, "large")):
        middle = (FIRST_DAY + timedelta(days=1 + size // 20)).isoformat()
        # as_of_recorded: when the middle event was recorded (the same prefix as_of_version).
        found = client.get(
            f"/negotiations/{slug}/events", params={"after_version": size // 2 - 1, "limit": 1}
        )
        moment = found.json()["events"][0]["recorded_at"]
        for name, (suffix, params) in TRAVELS.items():
            path = f"/negotiations/{slug}{suffix}"
            runs = max(3, n // 3) if name == "chart.svg" else n
            plain = p50_ms(client, path, runs, **params)
            as_of = p50_ms(client, path, runs, as_of=middle, **params)
            version = p50_ms(client, path, runs, as_of_version=size // 2, **params)
            recorded = p50_ms(client, path, runs, as_of_recorded=moment, **params)
            for label, value in (
                ("plain", plain),
                ("as_of=", as_of),
                ("as_of_version=", version),
                ("as_of_recorded=", recorded),
            ):
                report.measurements.append(
                    Measurement(f"{name} {label} p50 at {size} events", value, "ms")
                )
            report.ratios.append(
                Ratio(
                    f"{name}: plain / as_of= p50 at {size}",
                    plain / as_of,
                    1 / 3,
                    "goal as_of <= 3x plain read",
                )
            )
            report.ratios.append(
                Ratio(f"{name}: plain / as_of_version= p50 at {size}", plain / version, None, "")
            )
            report.ratios.append(
                Ratio(f"{name}: plain / as_of_recorded= p50 at {size}", plain / recorded, None, "")
            )
            report.ratios.append(
                Ratio(f"{name}: /health / as_of= p50 at {size}", health / as_of, None, "")
            )
            report.ratios.append(
                Ratio(f"{name}: /health / as_of_version= p50 at {size}", health / version, None, "")
            )


def fan_out(report: Report, client: httpx.Client, n: int) -> None:
    slug = "wide"
    response = client.post("/negotiations", json=opening(slug, parties=150, terms=20))
    assert response.status_code == 201, response.text
    offers = [offer(i, f"P{i}", terms=20) for i in range(0, 150, 15)]
    response = client.post(f"/negotiations/{slug}/events", json=offers)
    assert response.status_code == 201, response.text[:300]
    worst: list[float] = []
    stop = threading.Event()

    def probe() -> None:
        with httpx.Client(base_url=str(client.base_url), timeout=30) as own:
            while not stop.is_set():
                start = time.perf_counter()
                own.get("/health")
                worst.append(1000 * (time.perf_counter() - start))

    thread = threading.Thread(target=probe, daemon=True)
    thread.start()
    slowest = 0.0
    try:
        for suffix, params in (
            ("", {}),
            ("/positions", {}),
            ("/gaps", {}),
            ("/gaps", {"term": TERM}),
            ("/gaps", {"pair": "P0,P15"}),
            ("/timeline", {}),
            ("/chart.json", {}),
        ):
            slowest = max(slowest, p50_ms(client, f"/negotiations/{slug}{suffix}", n, **params))
    finally:
        stop.set()
        thread.join(timeout=30)
    report.measurements.append(Measurement("150x20: slowest read p50", slowest, "ms"))
    report.measurements.append(Measurement("150x20: /health max meanwhile", max(worst), "ms"))
    report.ratios.append(
        Ratio("150x20: 100 ms / slowest read", 100 / slowest, 1.0, "goal <= 100 ms")
    )
    report.ratios.append(
        Ratio("150x20: 50 ms / worst /health", 50 / max(worst), 1.0, "goal /health < 50 ms")
    )


def per_second(client: httpx.Client, path: str, seconds: float) -> float:
    count, end = 0, time.monotonic() + seconds
    while time.monotonic() < end:
        assert client.get(path).status_code == 200
        count += 1
    return count / seconds


def writers(report: Report, client: httpx.Client, seconds: float) -> None:
    read = "/negotiations/small/positions"
    alone, health_alone = per_second(client, read, seconds), per_second(client, "/health", seconds)
    stop = threading.Event()
    base = str(client.base_url)

    def write(k: int) -> None:
        with httpx.Client(base_url=base, timeout=30) as own:
            slug = f"writer-{k}"
            own.post("/negotiations", json=opening(slug))
            i = 0
            while not stop.is_set():
                own.post(f"/negotiations/{slug}/events", json=offer(i))
                i += 1

    threads = [threading.Thread(target=write, args=(k,), daemon=True) for k in range(16)]
    for t in threads:
        t.start()
    time.sleep(0.5)
    beside, health_beside = (
        per_second(client, read, seconds),
        per_second(client, "/health", seconds),
    )
    stop.set()
    for t in threads:
        t.join(timeout=30)
    report.measurements.append(Measurement("reads/s alone", alone, "1/s"))
    report.measurements.append(Measurement("reads/s beside 16 writers", beside, "1/s"))
    report.measurements.append(Measurement("/health/s beside 16 writers", health_beside, "1/s"))
    report.ratios.append(
        Ratio("reads beside 16 writers / alone", beside / alone, 0.9, "one server, 2 cores shared")
    )
    report.ratios.append(
        Ratio(
            "the same, each over /health at that time",
            (beside / health_beside) / (alone / health_alone),
            0.9,
            "what waiting for the views costs beyond the server being busy",
        )
    )


PARTS = ("length", "travel", "fanout", "writers")


def run(quick: bool = False, parts: tuple[str, ...] = PARTS) -> Report:
    n = 15 if quick else 40
    report = Report(title="Reads of one negotiation, SQLite, parley serve (sequential client)")
    with tempfile.TemporaryDirectory(prefix="parley-bench-reads-") as tmp:
        env = {
            "PARLEY_DATABASE_URL": f"sqlite:///{tmp}/reads.db",
            "PARLEY_MAX_PARTIES": "200",
            "PARLEY_LOG_LEVEL": "WARNING",
            "PARLEY_READ_WAIT_SECONDS": "60",
        }
        with (
            Server([str(PARLEY), "serve"], env) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as client,
        ):
            fill(client, "small", SMALL)
            fill(client, "large", LARGE)
            client.get("/negotiations/large")  # waits for the views to hold it
            steps: dict[str, Callable[[], None]] = {
                "length": lambda: length_runs(report, client, n),
                "travel": lambda: time_travel_runs(report, client, n),
                "fanout": lambda: fan_out(report, client, max(3, n // 5)),
                "writers": lambda: writers(report, client, 2.0 if quick else 5.0),
            }
            for part in parts:
                steps[part]()
    report.notes.append(
        "the machine is shared (2 cores, other agents): read the CPU-bound ratios with that in mind"
    )
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--part", action="append", choices=PARTS, help="only these (repeatable)")
    args = parser.parse_args()
    result = run(quick=args.quick, parts=tuple(args.part or PARTS))
    for m in result.measurements:
        print(f"{m.name:55} {m.value:10.2f} {m.unit}")
    for r in result.ratios:
        met = "" if r.met is None else ("met" if r.met else "NOT met")
        print(f"{r.name:55} {r.value:10.3f} (goal >= {r.goal}) {met} {r.note}")
