"""``parley project`` and ``parley rebuild``: keep the read views, or build them anew."""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Annotated

import typer

from api.cli.common import (
    current_settings,
    fail,
    opened_ledger,
    opened_runner,
    out,
    position_bar,
)
from projections.views import VIEWS, check_views


def register(app: typer.Typer) -> None:
    """Adds ``parley project`` and ``parley rebuild`` to the ``parley`` app."""
    app.command()(project)
    app.command()(rebuild)


def project() -> None:
    """Keep the read views up to date, in the foreground, until SIGTERM or Ctrl-C.

    For deployments where the API runs several workers (PARLEY_PROJECT_IN_PROCESS=false):
    one or more of these keep the views; runners racing on one store each apply an event once.
    """
    settings = current_settings()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with opened_ledger(settings) as ledger, opened_runner(ledger) as runner:
            positions = runner.positions(refresh=True)
            out.print(
                f"projecting: views at {min(positions.values())}, the ledger at {runner.head()}"
                " (SIGTERM or Ctrl-C stops)",
                highlight=False,
            )
            runner.start()
            try:
                # The thread does the work; this one waits for a signal or the runner's end.
                while not stop.wait(timeout=0.5) and runner.running:
                    pass
            finally:
                runner.stop()
            if runner.error is not None:
                raise fail(f"the projection runner stopped: {runner.error!r}")
            reached = min(runner.positions(refresh=True).values())
            out.print(
                f"stopped at position {reached}: {runner.applied} events applied",
                highlight=False,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def rebuild(
    view: Annotated[
        list[str] | None,
        typer.Option(
            "--view",
            help=f"A view to rebuild (repeatable) [default: all: {', '.join(VIEWS)}]",
        ),
    ] = None,
) -> None:
    """Rebuild read views from zero into fresh tables and swap them in.

    The API keeps serving the old tables until the swap; events recorded meanwhile are
    applied before it.
    """
    # Its bulk loads and index builds may take minutes on a large ledger: each wait for the
    # store is bounded by the longest store timeout, not the API's few seconds.
    settings = current_settings().model_copy(update={"store_timeout_seconds": 300.0})
    try:
        chosen = check_views(view) if view else VIEWS
    except ValueError as e:
        raise fail(str(e), code=2) from None
    with (
        opened_ledger(settings) as ledger,
        opened_runner(ledger) as runner,
        position_bar(f"rebuilding {', '.join(chosen)}") as progress,
    ):
        counts = runner.rebuild(chosen, progress)
    rows = ", ".join(f"{name}: {counts[name]} rows" for name in chosen)
    out.print(
        f"[green]rebuilt[/] at position {counts['position']} from {counts['events']} events ({rows})",
        highlight=False,
    )
