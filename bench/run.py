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

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

from harness import Report, render  # noqa: E402


def discover() -> list[str]:
    return sorted(p.stem for p in BENCH_DIR.glob("bench_*.py"))


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
