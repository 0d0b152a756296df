"""``parley load`` and ``parley demo``: JSON Lines into the ledger, the demo negotiation."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import current_settings, fail, opened_ledger, out, progress_bar
from api.services.demo import DEMO_SLUG, LoadError, LoadReport, count_lines, load_demo, load_jsonl
from domain import errors


def register(app: typer.Typer) -> None:
    """Adds ``parley load`` and ``parley demo`` to the ``parley`` app."""
    app.command()(load)
    app.command()(demo)


def load(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A .jsonl file"),
    ],
    recorded_by: Annotated[
        str, typer.Option(help="Who the ledger says recorded these events")
    ] = "cli",
) -> None:
    """Record every line of a JSON Lines file (see api/services/data/sma.jsonl for the format)."""
    settings = current_settings()
    total = count_lines(file)
    with opened_ledger(settings) as ledger:
        progress = progress_bar()
        with progress:
            task = progress.add_task(f"loading {file.name}", total=total)
            try:
                report = load_jsonl(
                    ledger,
                    file,
                    recorded_by=recorded_by,
                    on_line=lambda _line: progress.advance(task),
                )
            except LoadError as e:
                progress.stop()
                raise fail(f"{file}: line {e.line}: {e.message}") from None
            except errors.StorageUnavailable as e:
                progress.stop()
                raise fail(e.detail) from None
    _summary(report)


def demo() -> None:
    """Load the demo negotiation (US-ROK SMA talks 2019-2021) unless it is already there."""
    settings = current_settings()
    with opened_ledger(settings) as ledger:
        with contextlib.suppress(errors.NegotiationNotFound):
            ledger.get(DEMO_SLUG)
            out.print(f"the demo negotiation {DEMO_SLUG} is already loaded", highlight=False)
            return
        try:
            report = load_demo(ledger)
        except LoadError as e:
            if e.line == 1 and isinstance(e.cause, errors.NegotiationExists):
                out.print(f"the demo negotiation {DEMO_SLUG} is already loaded", highlight=False)
                return
            raise fail(f"demo data, line {e.line}: {e.message}") from None
    _summary(report)


def _summary(report: LoadReport) -> None:
    opened = len(report.negotiations)
    slugs = f" ({', '.join(report.negotiations)})" if opened else ""
    out.print(
        f"[green]loaded[/] {report.lines} lines: {report.events} events recorded, "
        f"{opened} negotiation{'' if opened == 1 else 's'} opened{slugs}",
        highlight=False,
        soft_wrap=True,
    )
