"""Live streams: what 100 idle subscribers cost the appends, and how soon an event reaches one.

``parley``'s app is served by uvicorn in a thread on a SQLite file; appends come from one
httpx client, one offer per request. "Idle" subscribers follow another negotiation: the
hub hands them every row but they keep none. The latency is from the append's 201 (as
the client sees it) to the subscriber's reading of that event's frame.
"""

from __future__ import annotations

import json
import socket
import statistics
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import harness
import httpx
import uvicorn
from harness import Measurement, Ratio, Report, Series, offer, opening

from api.http.app import create_app
from api.settings import Settings

SUBSCRIBERS = 100
SUBSCRIBER_GOAL = 0.90
LATENCY_GOAL_MS = 100.0
SLUG = "bench"
IDLE_SLUG = "quiet"


@contextmanager
def served(database: Path) -> Iterator[tuple[str, Any]]:
    app = create_app(Settings(database_url=f"sqlite:///{database}", log_level="WARNING"))
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(256)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="on", timeout_graceful_shutdown=5)
    )
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}", app
    finally:
        app.state.hub.close()
        server.should_exit = True
        thread.join(timeout=30)
        sock.close()


def subscribe(
    url: str,
    path: str,
    ready: threading.Barrier,
    stop: threading.Event,
    seen: dict[str, float] | None = None,
) -> None:
    """Follows a stream until ``stop``; notes when each event id was read (if asked)."""
    with httpx.Client(base_url=url, timeout=None) as client, client.stream("GET", path) as r:  # noqa: S113 - a stream is read until stopped
        ready.wait()
        for line in r.iter_lines():
            if stop.is_set():
                return
            if seen is not None and line.startswith("data:"):
                seen[json.loads(line[5:])["event_id"]] = time.perf_counter()


def appends(client: httpx.Client, count: int, start: int) -> list[tuple[str, float]]:
    acknowledged = []
    for i in range(start, start + count):
        response = client.post(f"/negotiations/{SLUG}/events", json=offer(i))
        assert response.status_code == 201, response.text
        acknowledged.append((response.json()["events"][0]["event_id"], time.perf_counter()))
    return acknowledged


def run(quick: bool = False) -> Report:
    count = 100 if quick else 300
    passes = 2 if quick else 3
    report = Report(
        title=f"Live streams (SQLite, {SUBSCRIBERS} idle subscribers, {count} appends a pass)"
    )
    with tempfile.TemporaryDirectory(prefix="parley-bench-streams-") as tmp:  # noqa: SIM117
        with served(Path(tmp) / "parley.db") as (url, app), httpx.Client(base_url=url) as client:
            for slug in (SLUG, IDLE_SLUG):
                assert client.post("/negotiations", json=opening(slug)).status_code == 201
            appends(client, 50, 0)  # warm-up
            alone, watched = Series(count), Series(count)
            done = 50
            stop = threading.Event()
            ready = threading.Barrier(SUBSCRIBERS + 1)
            threads = [
                threading.Thread(
                    target=subscribe,
                    args=(url, f"/negotiations/{IDLE_SLUG}/stream", ready, stop),
                    daemon=True,
                )
                for _ in range(SUBSCRIBERS)
            ]
            # Alternate passes without and with the subscribers, so drift hits both alike.
            for _ in range(passes):
                alone.add(lambda: appends(client, count, done))  # noqa: B023 - called at once
                done += count
            for t in threads:
                t.start()
            ready.wait()
            for _ in range(passes):
                watched.add(lambda: appends(client, count, done))  # noqa: B023 - called at once
                done += count
            subscribed = app.state.hub.subscribers
            stop.set()
            # Latency: one subscriber of the whole log, appends one at a time.
            seen: dict[str, float] = {}
            one = threading.Barrier(2)
            stop_one = threading.Event()
            follower = threading.Thread(
                target=subscribe, args=(url, "/events/stream", one, stop_one, seen), daemon=True
            )
            follower.start()
            one.wait()
            acknowledged = []
            for i in range(count):
                acknowledged += appends(client, 1, done + i)
                time.sleep(0.002)  # single appends spaced out: each one's own delivery
            deadline = time.monotonic() + 10
            while len(seen) < len(acknowledged) and time.monotonic() < deadline:
                time.sleep(0.01)
            stop_one.set()
    delays = sorted(1000 * (seen[e] - t) for e, t in acknowledged if e in seen)
    p50 = statistics.median(delays)
    p99 = delays[min(len(delays) - 1, int(0.99 * len(delays)))]
    report.measurements += [
        Measurement.rate_of("appends/s, no subscribers", alone, "appends/s"),
        Measurement.rate_of(f"appends/s, {SUBSCRIBERS} idle subscribers", watched, "appends/s"),
        Measurement("event reaches a subscriber after its 201, p50", p50, "ms"),
        Measurement("event reaches a subscriber after its 201, p99", p99, "ms"),
    ]
    report.ratios.append(
        Ratio.of_rates(
            f"appends with {SUBSCRIBERS} idle subscribers / with none",
            watched,
            alone,
            SUBSCRIBER_GOAL,
            f"{subscribed} streams open during the passes",
        )
    )
    report.ratios.append(
        Ratio(
            "latency goal / p99 delivery after the 201",
            LATENCY_GOAL_MS / max(p99, 0.001),
            None,
            f"p99 {p99:.1f} ms against {LATENCY_GOAL_MS:.0f} ms (>= 1: within); "
            f"{len(delays)}/{len(acknowledged)} events seen",
        )
    )
    return report


if __name__ == "__main__":
    harness.main(__doc__, run)
