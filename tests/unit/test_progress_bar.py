"""The progress bars of long-running commands show counts and a rate."""

from __future__ import annotations

import io

from rich.console import Console
from rich.progress import MofNCompleteColumn

from api.cli.common import RateColumn, progress_bar


def test_rate_column_shows_items_per_second_once_measured() -> None:
    now = [0.0]
    bar = progress_bar(Console(file=io.StringIO()))
    bar.get_time = lambda: now[0]  # type: ignore[method-assign]
    task = bar.add_task("verifying", total=1_000)
    assert RateColumn().render(bar.tasks[0]).plain == "-/s"

    now[0] = 1.0
    bar.advance(task, 100)
    now[0] = 2.0
    bar.advance(task, 250)

    assert RateColumn().render(bar.tasks[0]).plain == "250/s"


def test_bar_counts_done_of_total_and_stays_silent_off_a_terminal() -> None:
    console = Console(file=io.StringIO(), force_terminal=False)
    bar = progress_bar(console)
    assert bar.disable
    assert any(isinstance(column, MofNCompleteColumn) for column in bar.columns)
    assert any(isinstance(column, RateColumn) for column in bar.columns)
