"""The scaffolding every benchmark shares: timing, what a report holds and how it is printed,
servers started and stopped, and SQLite stores built once and cached."""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from domain.values import Party, Term

if TYPE_CHECKING:
    from rich.console import Console

    from domain.ledger import Ledger

BENCH_DIR = Path(__file__).resolve().parent
REPEATS = 5
QUICK_REPEATS = 3
CACHE_DIR = Path(tempfile.gettempdir()) / "parley-bench"
PARLEY = Path(sys.executable).with_name("parley")
START_TIMEOUT = 60.0
FIRST_DAY = date(2020, 1, 1)
TERM = "price"

# The talks the in-process benchmarks record: two parties, one money term in KRW.
PARTIES = (Party("US", "United States"), Party("KR", "Republic of Korea"))
KRW_TERM = Term("annual_contribution", "Annual contribution", "KRW")
OPENED_ON = date(2019, 9, 24)


@dataclass(frozen=True)
class Pass:
    """One timed pass: wall-clock seconds, and this process's CPU seconds."""

    wall: float
    cpu: float


def timed(run: Callable[[], None]) -> Pass:
    """Times ``run``; garbage left by the setup is collected first, not during."""
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    run()
    return Pass(time.perf_counter() - wall, time.process_time() - cpu)


@dataclass
class Series:
    """Timed passes of ``count`` operations each."""

    count: int
    passes: list[Pass] = field(default_factory=list)

    def add(self, run: Callable[[], None]) -> None:
        self.passes.append(timed(run))

    def rates(self) -> tuple[float, ...]:
        return tuple(self.count / p.wall for p in self.passes)

    def rate(self) -> float:
        """Median operations per second (wall clock)."""
        return statistics.median(self.rates())

    def cpu_rate(self) -> float:
        """Median operations per CPU second: less sensitive to other processes' load."""
        return statistics.median(self.count / p.cpu for p in self.passes)

    def latency_ms(self) -> tuple[float, ...]:
        return tuple(1000 * p.wall / self.count for p in self.passes)


@dataclass(frozen=True)
class Measurement:
    """One number a benchmark measured, for the table (never asserted)."""

    name: str
    value: float
    unit: str
    samples: tuple[float, ...] = ()

    @classmethod
    def rate_of(cls, name: str, series: Series, unit: str) -> Measurement:
        return cls(name, series.rate(), unit, series.rates())

    @classmethod
    def latency_of(cls, name: str, series: Series) -> Measurement:
        samples = series.latency_ms()
        return cls(name, statistics.median(samples), "ms", samples)


@dataclass(frozen=True)
class Ratio:
    """A measured ratio against a baseline from the same run, with the issue's goal."""

    name: str
    value: float
    goal: float | None
    """None: reported for information, the issue sets no goal for it."""
    note: str = ""
    cpu_value: float | None = None
    """The same ratio in CPU time, to tell a slow process from a busy machine."""

    @classmethod
    def of_rates(
        cls, name: str, numerator: Series, denominator: Series, goal: float | None, note: str = ""
    ) -> Ratio:
        return cls(
            name,
            numerator.rate() / denominator.rate(),
            goal,
            note,
            numerator.cpu_rate() / denominator.cpu_rate(),
        )

    @property
    def met(self) -> bool | None:
        return None if self.goal is None else self.value >= self.goal


@dataclass
class Report:
    """Everything one benchmark module measured."""

    title: str
    measurements: list[Measurement] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# ------------------------------------------------------------------ printing


def render(console: Console, report: Report, seconds: float) -> None:
    """The two tables of a report: what was measured, and the ratios against their goals."""
    from rich.table import Table

    measured = Table(title=f"{report.title} ({seconds:.0f} s)", title_justify="left")
    measured.add_column("measurement")
    measured.add_column("median", justify="right")
    measured.add_column("unit")
    measured.add_column("passes", justify="right", style="dim")
    for m in report.measurements:
        passes = ", ".join(f"{s:,.0f}" if s >= 100 else f"{s:.1f}" for s in m.samples)
        value = f"{m.value:,.0f}" if m.value >= 100 else f"{m.value:.1f}"
        measured.add_row(m.name, value, m.unit, passes)
    console.print(measured)

    ratios = Table(title_justify="left")
    ratios.add_column("ratio")
    ratios.add_column("value", justify="right")
    ratios.add_column("in CPU time", justify="right", style="dim")
    ratios.add_column("goal", justify="right")
    ratios.add_column("")
    ratios.add_column("what it compares", style="dim")
    for r in report.ratios:
        if r.goal is None:
            goal, verdict = "-", "[dim]info[/dim]"
        else:
            goal = f">= {r.goal:.2f}"
            verdict = "[green]met[/green]" if r.met else "[bold red]not met[/bold red]"
        cpu = "" if r.cpu_value is None else f"{r.cpu_value:.2f}"
        ratios.add_row(r.name, f"{r.value:.2f}", cpu, goal, verdict, r.note)
    console.print(ratios)
    for note in report.notes:
        console.print(f"[dim]note: {note}[/dim]")


def command_line(
    doc: str, quick_help: str = "fewer operations per pass"
) -> argparse.ArgumentParser:
    """The arguments of a benchmark run on its own: its docstring's first line and ``--quick``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help=quick_help)
    return parser


def main(
    doc: str, run: Callable[[bool], Report], quick_help: str = "fewer operations per pass"
) -> None:
    """A benchmark run as a script: ``--quick`` read from its command line, its tables printed."""
    args = command_line(doc, quick_help).parse_args()
    run_alone(lambda: run(args.quick))


def run_alone(run: Callable[[], Report]) -> None:
    """Runs one benchmark on its own and prints its tables as ``bench/run.py`` does."""
    from rich.console import Console

    started = time.perf_counter()
    report = run()
    render(Console(), report, time.perf_counter() - started)


# ------------------------------------------------------------------ stores


def cached(name: str, build: Callable[[Path], None]) -> Path:
    """``CACHE_DIR/name``, made by ``build(partial_path)`` once; a partial build is never reused."""
    CACHE_DIR.mkdir(exist_ok=True)
    path = CACHE_DIR / name
    if path.exists():
        return path
    partial = path.with_suffix(".partial")
    for leftover in CACHE_DIR.glob(partial.name + "*"):
        leftover.unlink()
    build(partial)
    partial.rename(path)
    return path


@contextlib.contextmanager
def sqlite_ledger(path: Path) -> Iterator[Ledger]:
    """A ledger on the SQLite file ``path`` (tables made if missing), closed afterwards."""
    from api.store.store import open_ledger, parse_database_url

    ledger = open_ledger(parse_database_url(f"sqlite:///{path}"), create_tables=True)
    try:
        yield ledger
    finally:
        ledger.close()


# ------------------------------------------------------------------ request bodies


def opening(slug: str, parties: int = 2, terms: int = 1) -> dict[str, Any]:
    """The body of ``POST /negotiations``: parties P0, P1, ..., terms TERM, t1, t2, ..."""
    return {
        "slug": slug,
        "title": f"bench {slug}",
        "parties": [{"id": f"P{i}", "name": f"Party {i}"} for i in range(parties)],
        "terms": [
            {"id": TERM if t == 0 else f"t{t}", "name": f"Term {t}", "unit": "USD"}
            for t in range(terms)
        ],
        "occurred_at": FIRST_DAY.isoformat(),
    }


def offer(i: int, party: str | None = None, terms: int = 1) -> dict[str, Any]:
    """The i-th offer: P0 and P1 in turn (or ``party``), ten a day from FIRST_DAY."""
    who = party or ("P0" if i % 2 == 0 else "P1")
    amount = 100 + i % 400 if who == "P0" else 1000 - i % 400
    return {
        "type": "offer_made",
        "party": who,
        "kind": "offer",
        "values": {
            (TERM if t == 0 else f"t{t}"): {"amount": f"{amount}.25", "unit": "USD"}
            for t in range(terms)
        },
        "occurred_at": (FIRST_DAY + timedelta(days=1 + i // 10)).isoformat(),
    }


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def descendants(pid: int) -> list[int]:
    found = [pid]
    with contextlib.suppress(FileNotFoundError):
        for child in Path(f"/proc/{pid}/task/{pid}/children").read_text().split():
            found += descendants(int(child))
    return found


def cpu_seconds(pids: list[int]) -> float:
    """User + system CPU of these processes so far (``/proc/<pid>/stat``)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError):
            # The command name may hold spaces: the fields counted from after its ')'.
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


@dataclass
class Server:
    """A server subprocess in a process group of its own, up once ``/health`` answers."""

    argv: list[str]
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Server:
        self.proc = subprocess.Popen(
            [*self.argv, "--port", str(self.port)],
            env={**os.environ, **self.env},
            cwd=BENCH_DIR,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health").status_code == 200:
                        return self
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=0.05)
                    msg = f"{' '.join(self.argv)} exited with {self.proc.returncode}"
                    raise RuntimeError(msg)
        msg = f"{' '.join(self.argv)} did not answer /health in {START_TIMEOUT} s"
        raise RuntimeError(msg)

    def __exit__(self, *exc: object) -> None:
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=15)
        self.proc = None

    def cpu(self) -> float:
        assert self.proc is not None
        return cpu_seconds(descendants(self.proc.pid))
