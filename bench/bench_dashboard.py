"""The dashboard drawn by Chromium against ``parley serve`` (SQLite): index page and a 10,000-event page.

Run on its own with ``python bench/bench_dashboard.py [--quick]``; ``bench/run.py`` runs it with
the others. Nothing is asserted (the browser tests check what the pages show and how many data
requests they make); without Chromium and Playwright it reports nothing and says why.

- **Index page, 200 negotiations**: the time from navigation until the list is drawn
  (``#negotiations[aria-busy="false"]``), median of several loads, against the same page with
  its data calls (``/negotiations…``) blocked, in the same browser and run (goal <= 1.5x).
- **A negotiation of 10,000 events**: the time until its page is drawn
  (``#page[aria-busy="false"]``), the dance chart holding every offer, and its data requests.
"""

from __future__ import annotations

import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import PARLEY, Measurement, Ratio, Report, Server, offer, opening  # noqa: E402

NEGOTIATIONS = 200
BIG = "ten-thousand"
BIG_EVENTS = 10_000
INDEX_GOAL = 1.5
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-sync"]


def fill(client: httpx.Client) -> None:
    for n in range(NEGOTIATIONS):
        slug = f"index-{n:03d}"
        assert client.post("/negotiations", json=opening(slug)).status_code == 201
        assert client.post(f"/negotiations/{slug}/events", json=[offer(0), offer(1)]).is_success
    assert client.post("/negotiations", json=opening(BIG)).status_code == 201
    bodies = [offer(i) for i in range(BIG_EVENTS - 4)]
    for at in range(0, len(bodies), 500):
        response = client.post(f"/negotiations/{BIG}/events", json=bodies[at : at + 500])
        assert response.status_code == 201, response.text[:300]
    client.get(f"/negotiations/{BIG}")  # the views hold it all


def load_ms(page: Any, url: str, selector: str) -> float:
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_selector(selector, timeout=120_000)
    return 1000 * (time.perf_counter() - start)


def run(quick: bool = False) -> Report:
    report = Report(title="Dashboard in Chromium (parley serve, SQLite)")
    chromium = os.environ.get("PARLEY_CHROMIUM") or shutil.which("chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        chromium = None
    if chromium is None:
        report.notes.append("no Chromium or Playwright here: nothing measured")
        return report
    loads = 3 if quick else 7
    with tempfile.TemporaryDirectory(prefix="parley-bench-dashboard-") as tmp:
        env = {"PARLEY_DATABASE_URL": f"sqlite:///{tmp}/d.db", "PARLEY_LOG_LEVEL": "WARNING"}
        with (
            Server([str(PARLEY), "serve"], env) as server,
            httpx.Client(base_url=server.base_url, timeout=120) as client,
        ):
            fill(client)
            base = server.base_url
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=chromium, args=ARGS)
                try:
                    page = browser.new_page(viewport={"width": 1280, "height": 900})
                    index = '#negotiations[aria-busy="false"]'
                    load_ms(page, f"{base}/", index)  # warm: assets cached as a user's would be
                    drawn = statistics.median(
                        load_ms(page, f"{base}/", index) for _ in range(loads)
                    )
                    rows = page.locator("#negotiations tr[data-slug]").count()
                    page.route(f"{base}/negotiations**", lambda route: route.abort())
                    blocked = statistics.median(
                        load_ms(page, f"{base}/", index) for _ in range(loads)
                    )
                    page.unroute(f"{base}/negotiations**")
                    data: list[str] = []
                    page.on(
                        "request",
                        lambda r: (
                            data.append(r.url) if r.url.startswith(f"{base}/negotiations") else None
                        ),
                    )
                    busy = '#page[aria-busy="false"][data-term]'
                    big = statistics.median(
                        load_ms(page, f"{base}/n/{BIG}", busy) for _ in range(max(2, loads // 2))
                    )
                    points = page.evaluate(
                        """() => document.getElementById('dance').data
                            .filter(t => t.meta && t.meta.role === 'offers')
                            .reduce((n, t) => n + (t.x || []).length, 0)"""
                    )
                    requests_per_load = len(data) / max(2, loads // 2)
                finally:
                    browser.close()
    report.measurements += [
        Measurement(f"index page, {rows} negotiations drawn", drawn, "ms"),
        Measurement("index page, data calls blocked", blocked, "ms"),
        Measurement(f"negotiation page, {BIG_EVENTS:,} events drawn", big, "ms"),
        Measurement("  its dance chart's offer points", points, "points"),
        Measurement("  its data requests per load", requests_per_load, "requests"),
    ]
    report.ratios.append(
        Ratio(
            f"index page: blocked / drawn ({rows} negotiations)",
            blocked / drawn,
            1 / INDEX_GOAL,
            f"goal drawn <= {INDEX_GOAL}x the page with its data calls blocked",
        )
    )
    report.notes.append("the machine is shared: page times are wall-clock and noisy")
    return report


if __name__ == "__main__":
    harness.main(__doc__, run, "3 loads of each page")
