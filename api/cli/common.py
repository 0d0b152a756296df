"""What every ``parley`` command shares: the consoles, failing, settings, the store, the bar.

Imports none of the command modules (they import this one), so registering them in
``api.cli`` makes no circle.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
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

from api.settings import Settings
from api.store.store import StoreConfig, StoreURLError, open_ledger, parse_database_url
from domain import errors
from domain.ledger import Ledger
from projections.runner import Progress as PositionProgress
from projections.runner import ProjectionRunner, open_runner
from projections.storage import view_storage_errors

out = Console(soft_wrap=True)
"""Results, on standard output (tables pass ``soft_wrap=False`` to fit the terminal)."""
err = Console(stderr=True, soft_wrap=True)
"""Errors and the terminal tables' progress, on standard error."""

PAGE = 500


def current_settings(**overrides: Any) -> Settings:
    """Settings from ``PARLEY_*`` variables, with the options actually given on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def fail(message: str, code: int = 1) -> typer.Exit:
    """Prints ``error: message`` (as text, never markup) and returns the exit to raise."""
    err.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


def checkpoint_option(help_text: str) -> Any:
    """``--checkpoint FILE``: a saved checkpoint, which must be a readable file."""
    return typer.Option("--checkpoint", exists=True, dir_okay=False, readable=True, help=help_text)


def store_config(settings: Settings) -> StoreConfig:
    """The store PARLEY_DATABASE_URL names; exits with code 2 when it names none."""
    try:
        return parse_database_url(
            settings.database_url,
            cache_size=settings.cache_size,
            store_timeout=settings.store_timeout_seconds,
        )
    except StoreURLError as e:
        raise fail(f"PARLEY_DATABASE_URL: {e}", code=2) from None


@contextlib.contextmanager
def opened_ledger(settings: Settings, *, announce: bool = True) -> Iterator[Ledger]:
    """The configured store, with its tables created first when settings ask for it.

    ``announce`` prints which store it is (the terminal tables leave it out).
    """
    config = store_config(settings)
    try:
        ledger = open_ledger(config, create_tables=settings.create_tables)
    except errors.StorageUnavailable as e:
        raise fail(e.detail) from None
    if announce:
        out.print(f"store: {config.description}", highlight=False)
    with contextlib.closing(ledger):
        yield ledger


@contextlib.contextmanager
def opened_runner(ledger: Ledger) -> Iterator[ProjectionRunner]:
    """The projection runner over the ledger's store, its view tables created if missing."""
    try:
        with view_storage_errors():
            yield open_runner(ledger)
    except errors.StorageUnavailable as e:
        raise fail(e.detail) from None


def all_slugs(ledger: Ledger) -> list[str]:
    """Every negotiation's slug, in the order they were opened."""
    found: list[str] = []
    after = 0
    while True:
        page = ledger.opened_negotiations(after, PAGE)
        found += [slug for _, slug in page]
        if len(page) < PAGE:
            return found
        after = page[-1][0]


# ------------------------------------------------------------------ the progress bar


class RateColumn(ProgressColumn):
    """Items per second, as rich measures them over the recent past."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        shown = "-/s" if speed is None else f"{speed:,.0f}/s"
        return Text(shown, style="progress.data.speed")


def progress_bar(console: Console = out) -> Progress:
    """The progress bar of every long-running command: counts, rate and elapsed time.

    Transient, and drawn only on a terminal (scripts and pipes get the summary alone).
    """
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


@contextlib.contextmanager
def position_bar(description: str) -> Iterator[PositionProgress]:
    """The bar as the runner's ``progress(position, head)`` callback (projections draw none)."""
    with progress_bar() as bar:
        task = bar.add_task(description, total=None)

        def update(position: int, head: int) -> None:
            bar.update(task, completed=position, total=head)

        yield update
