"""Runs every ``bench/bench_*.py`` and prints what each measured, with its goals met or not.

Usage: ``python bench/run.py [--quick]`` from the repository root, with the project's venv.
Nothing is asserted and the exit status does not depend on the goals: the numbers are ratios
against baselines measured in the same run, to be read, not gated on.
"""

from __future__ import annotations

import argparse
import importlib
import os
import platform
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

from harness import Report  # noqa: E402


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


def render(console: Console, report: Report, seconds: float) -> None:
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Parley's benchmarks: ratios against baselines.")
    parser.add_argument("--quick", action="store_true", help="fewer operations per pass")
    parser.add_argument("only", nargs="*", help="module names to run (default: all bench_*.py)")
    args = parser.parse_args(argv)
    # Piped into a log, rich would wrap at 80 columns; the names are long.
    console = Console(width=None if sys.stdout.isatty() else 150)
    names = args.only or discover()
    console.print(
        f"[bold]Parley benchmarks[/bold]: {', '.join(names)} - Python {platform.python_version()}"
        f" on {platform.machine()}{' (quick)' if args.quick else ''}"
    )
    missed: list[str] = []
    for name in names:
        module = importlib.import_module(name)
        start = time.perf_counter()
        report: Report = module.run(quick=args.quick)
        render(console, report, time.perf_counter() - start)
        # Other processes on the machine skew wall-clock ratios; say how busy it was.
        load = os.getloadavg()
        console.print(
            f"[dim]load average (1, 5, 15 min): {load[0]:.1f}, {load[1]:.1f}, {load[2]:.1f}[/dim]"
        )
        if load[0] > (os.cpu_count() or 1):
            console.print(
                "[yellow]the machine was busier than its cores: wall-clock ratios are unreliable,"
                " read the CPU-time column[/yellow]"
            )
        missed += [f"{name}: {r.name}" for r in report.ratios if r.met is False]
    if missed:
        console.print(f"[bold red]{len(missed)} goal(s) not met[/bold red]: " + "; ".join(missed))
    else:
        console.print("[green]every goal met[/green]")
    return 0


if __name__ == "__main__":
    sys.exit(main())
