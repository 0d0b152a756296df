"""Where one HTTP append spends its CPU: cProfile over appends to Parley and to the baseline app.

Both apps run in this process on a SQLite file, driven through ``httpx.ASGITransport`` (no
sockets), with FastAPI's thread-pool hop run inline so that one profiler sees all the work.
Prints CPU per append of each and the top functions of Parley's appends by own time and by
cumulative time. ``python bench/profile_append.py [--appends N] [--top N]``.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import anyio.to_thread
import httpx

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))

from harness import offer, opening  # noqa: E402

CLIENTS = 16


async def _inline(func: Callable[..., Any], *args: Any, **_: Any) -> Any:
    return func(*args)


@contextlib.asynccontextmanager
async def running(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as client:
            yield client


REPEAT = False
"""Each path gets the same body every time (as ``bench_http``'s wrk script sends them)."""


async def appends(client: httpx.AsyncClient, paths: list[str], count: int) -> None:
    for i in range(count):
        body = offer(i % len(paths) if REPEAT else i)
        response = await client.post(paths[i % len(paths)], json=body)
        assert response.status_code == 201, response.text


class RunnerProfile:
    """Profiles the projection runner's thread too (cProfile sees one thread only)."""

    def __init__(self) -> None:
        self.profiler = cProfile.Profile(time.thread_time)
        self.on = False

    def install(self) -> None:
        from projections.runner import ProjectionRunner

        original = ProjectionRunner.step
        me = self

        def step(runner: ProjectionRunner) -> int | None:
            if not me.on:
                return original(runner)
            me.profiler.enable()
            try:
                return original(runner)
            finally:
                me.profiler.disable()

        ProjectionRunner.step = step  # type: ignore[method-assign]


RUNNER = RunnerProfile()


def profile(
    make_app: Callable[[], Any], paths: list[str], setup: Callable[[Any], Any], count: int
) -> tuple[float, pstats.Stats, pstats.Stats | None]:
    async def main() -> tuple[float, cProfile.Profile]:
        async with running(make_app()) as client:
            await setup(client)
            await appends(client, paths, 200)  # warm caches and imports
            profiler = cProfile.Profile(time.thread_time)
            started = time.process_time()
            RUNNER.on = True
            profiler.enable()
            await appends(client, paths, count)
            profiler.disable()
            RUNNER.on = False
            return (time.process_time() - started) / count, profiler

    RUNNER.profiler = cProfile.Profile(time.thread_time)
    cpu, profiler = asyncio.run(main())
    runner = RUNNER.profiler
    runner.create_stats()
    return cpu, pstats.Stats(profiler), pstats.Stats(runner) if runner.stats else None


def top(stats: pstats.Stats, key: str, n: int) -> str:
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(key).print_stats(n)
    lines = out.getvalue().splitlines()
    start = next(i for i, line in enumerate(lines) if "ncalls" in line)
    return "\n".join(lines[start : start + n + 1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument("--save", help="also write parley's profile here (pstats format)")
    parser.add_argument("--save-runner", help="also write the runner thread's profile here")
    parser.add_argument(
        "--views-elsewhere",
        action="store_true",
        help="no runner thread in the server (PARLEY_PROJECT_IN_PROCESS=false): the append alone",
    )
    parser.add_argument(
        "--repeat",
        action="store_true",
        help="each negotiation gets the same offer every time, as bench_http's wrk load sends",
    )
    args = parser.parse_args()
    global REPEAT
    REPEAT = args.repeat
    anyio.to_thread.run_sync = _inline  # type: ignore[assignment]
    # httpx's ASGI transport tries ``import sniffio`` on every request; without sniffio
    # installed each try searched sys.path (4 find_spec calls, ~0.3 s per 1500 appends) and
    # showed up in these profiles as if the server paid it. Marked absent, it fails at once.
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

    from api.http.app import create_app
    from api.settings import Settings

    with tempfile.TemporaryDirectory(prefix="parley-profile-") as tmp:
        os.environ["BASELINE_SQLITE"] = f"{tmp}/baseline.db"
        from http_baseline_app import create_app as create_baseline

        async def nothing(_: Any) -> None:
            return None

        base_paths = [f"/streams/s-{n}/events" for n in range(CLIENTS)]
        base_cpu, _, _ = profile(create_baseline, base_paths, nothing, args.appends)

        slugs = [f"bench-{n}" for n in range(CLIENTS)]

        async def open_them(client: httpx.AsyncClient) -> None:
            for slug in slugs:
                response = await client.post("/negotiations", json=opening(slug))
                assert response.status_code == 201, response.text

        settings = Settings(
            database_url=f"sqlite:///{tmp}/parley.db",
            project_in_process=not args.views_elsewhere,
        )
        paths = [f"/negotiations/{slug}/events" for slug in slugs]
        RUNNER.install()
        cpu, stats, runner = profile(lambda: create_app(settings), paths, open_them, args.appends)

    if args.save:
        stats.dump_stats(args.save)
    if args.save_runner and runner is not None:
        runner.dump_stats(args.save_runner)
    print(f"CPU per append (in-process, profiled): parley {1000 * cpu:.2f} ms")
    print(f"CPU per append (in-process, profiler on): baseline {1000 * base_cpu:.2f} ms")
    print(f"ratio of CPU per append, baseline / parley: {base_cpu / cpu:.2f}")
    print("\nParley, by own time:")
    print(top(stats, "tottime", args.top))
    print("\nParley, by cumulative time:")
    print(top(stats, "cumulative", args.top))
    if runner is not None:
        print("\nParley's projection runner (its own thread), by own time:")
        print(top(runner, "tottime", args.top))
        print("\nParley's projection runner, by cumulative time:")
        print(top(runner, "cumulative", args.top))


if __name__ == "__main__":
    main()
