"""The progress bar of every long-running command: counts, rate and elapsed time."""

from __future__ import annotations

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
)
from rich.text import Text


class RateColumn(ProgressColumn):
    """Items per second, as rich measures them over the recent past."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = "-/s" if speed is None else f"{speed:,.0f}/s"
        return Text(shown, style="progress.data.speed")


def progress_bar(console: Console) -> Progress:
    """A transient bar drawn only on a terminal (scripts and pipes get the summary alone)."""
    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        RateColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=not console.is_terminal,
    )
