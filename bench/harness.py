"""What a benchmark reports, and the timing helpers they share."""

from __future__ import annotations

import gc
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass, field

REPEATS = 5
QUICK_REPEATS = 3


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
