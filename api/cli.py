"""The ``parley`` command: serve the API, load JSON Lines and the demo, keep and rebuild views."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from rich.console import Console

from api.demo import DEMO_SLUG, LoadError, LoadReport, count_lines, load_demo, load_jsonl
from api.deps import view_storage_errors
from api.progress import progress_bar
from api.settings import Settings
from api.store import StoreURLError, open_ledger, parse_database_url, prepare_store
from domain import errors
from domain.ledger import Ledger
from projections.runner import ProjectionRunner, open_runner, rich_progress
from projections.views import VIEWS, check_views

app = typer.Typer(
    name="parley",
    help="Parley: an event-sourced negotiation ledger.",
    no_args_is_help=True,
    add_completion=False,
)
out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


def _settings(**overrides: Any) -> Settings:
    """Settings from ``PARLEY_*`` variables, with the options actually given on top."""
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _fail(message: str, code: int = 1) -> typer.Exit:
    err.print(f"[bold red]error:[/] {message}", highlight=False, soft_wrap=True)
    return typer.Exit(code)


@contextlib.contextmanager
def _ledger(settings: Settings) -> Iterator[Ledger]:
    """The configured store, with its tables created first when settings ask for it."""
    try:
        config = parse_database_url(
            settings.database_url,
            cache_size=settings.cache_size,
            store_timeout=settings.store_timeout_seconds,
        )
    except StoreURLError as e:
        raise _fail(f"PARLEY_DATABASE_URL: {e}", code=2) from None
    try:
        ledger = open_ledger(config, create_tables=settings.create_tables)
    except errors.StorageUnavailable as e:
        raise _fail(e.detail) from None
    out.print(f"store: {config.description}", highlight=False)
    with contextlib.closing(ledger):
        yield ledger


def _summary(report: LoadReport) -> None:
    opened = len(report.negotiations)
    slugs = f" ({', '.join(report.negotiations)})" if opened else ""
    out.print(
        f"[green]loaded[/] {report.lines} lines: {report.events} events recorded, "
        f"{opened} negotiation{'' if opened == 1 else 's'} opened{slugs}",
        highlight=False,
        soft_wrap=True,
    )


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface to listen on [default: 127.0.0.1]")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [default: 8000]")] = None,
    demo: Annotated[
        bool | None,
        typer.Option(
            "--demo/--no-demo",
            help="Load the demo negotiation at start-up when the store is empty "
            "[default: PARLEY_DEMO, else no]",
        ),
    ] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            envvar="PARLEY_WORKERS",
            help="API processes sharing the port; more than 1 needs PostgreSQL. This process "
            "then runs the one projection runner (PARLEY_PROJECT_IN_PROCESS=false: none, "
            "run `parley project`)",
        ),
    ] = 1,
) -> None:
    """Serve the HTTP API (PARLEY_DATABASE_URL names the store)."""
    import uvicorn

    from api.app import create_app

    settings = _settings(host=host, port=port, demo=demo)
    try:
        config = parse_database_url(
            settings.database_url,
            cache_size=settings.cache_size,
            store_timeout=settings.store_timeout_seconds,
        )
    except StoreURLError as e:
        raise _fail(f"PARLEY_DATABASE_URL: {e}", code=2) from None
    if workers > 1 and config.kind != "postgres":
        # memory:// would give each worker a ledger of its own; a SQLite file takes one
        # writer at a time, so more processes add lock waits, not appends.
        raise _fail(
            f"--workers {workers} needs PostgreSQL (PARLEY_DATABASE_URL=postgresql://...): "
            f"{config.kind} serves one worker only",
            code=2,
        )
    if settings.create_tables:
        # Once here, so the server's start-up (and any worker) never races on CREATE TABLE.
        try:
            prepare_store(config)
        except errors.StorageUnavailable as e:
            raise _fail(e.detail) from None
    from api.cli_keys import open_mode_refusal

    refusal = open_mode_refusal(settings, config)
    if refusal is not None:
        raise _fail(refusal, code=2)
    out.print(
        f"store: {config.description}; serving on http://{settings.host}:{settings.port}"
        + (f" with {workers} workers" if workers > 1 else ""),
        highlight=False,
    )
    if workers == 1:
        api = create_app(settings.model_copy(update={"create_tables": False}))
        with _sigterm_ends_cleanly():
            uvicorn.run(api, host=settings.host, port=settings.port, **_uvicorn_options(settings))
        return
    _serve_workers(settings, workers)


@contextlib.contextmanager
def _sigterm_ends_cleanly() -> Iterator[None]:
    """Exit 0 after a graceful stop on SIGTERM.

    uvicorn raises the signal again once it has shut down, under the handler it found:
    by default that would end the process with -15 after a shutdown that went well.
    """
    previous = signal.signal(signal.SIGTERM, lambda signum, frame: None)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _uvicorn_options(settings: Settings) -> dict[str, Any]:
    """Logging (JSON lines by default, in every worker) and how long SIGTERM waits."""
    from api.observability import logging_config

    return {
        "log_config": logging_config(settings.log_format, settings.log_level),
        "log_level": settings.log_level.lower(),
        "access_log": False,  # the app logs each request itself, with its id and route
        # On SIGTERM: stop accepting, let requests under way (appends too) finish, then exit.
        "timeout_graceful_shutdown": settings.graceful_shutdown_seconds,
    }


def _serve_workers(settings: Settings, workers: int) -> None:
    """N uvicorn workers on one socket; this process loads the demo and runs the one runner."""
    import uvicorn

    from api.demo import ensure_demo

    with _ledger(settings.model_copy(update={"create_tables": False})) as ledger:
        if settings.demo:
            try:
                ensure_demo(ledger)
            except (LoadError, errors.StorageUnavailable) as e:
                raise _fail(f"loading the demo: {e}") from None
        runner: ProjectionRunner | None = None
        if settings.project_in_process:
            with _runner(ledger) as opened:
                runner = opened.start()
            out.print("projections: kept by this process for every worker", highlight=False)
        else:
            out.print(
                "projections: none here (PARLEY_PROJECT_IN_PROCESS=false): run `parley project`",
                highlight=False,
            )
        # Workers are spawned, not forked: each builds its app from the PARLEY_* variables,
        # so they say what this process already did (tables, demo) and who keeps the views,
        # and where it listens (the app decides from the host whether it may run open).
        os.environ.update(
            {
                "PARLEY_DATABASE_URL": settings.database_url,
                "PARLEY_HOST": settings.host,
                "PARLEY_PORT": str(settings.port),
                "PARLEY_CREATE_TABLES": "false",
                "PARLEY_DEMO": "false",
                "PARLEY_PROJECT_IN_PROCESS": "false",
            }
        )
        try:
            uvicorn.run(
                "api.app:create_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=workers,
                **_uvicorn_options(settings),
            )
        finally:
            if runner is not None:
                runner.stop()


@app.command()
def load(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A .jsonl file"),
    ],
    recorded_by: Annotated[
        str, typer.Option(help="Who the ledger says recorded these events")
    ] = "cli",
) -> None:
    """Record every line of a JSON Lines file (see api/demo/sma.jsonl for the format)."""
    settings = _settings()
    total = count_lines(file)
    with _ledger(settings) as ledger:
        progress = progress_bar(out)
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
                raise _fail(f"{file}: line {e.line}: {e.message}") from None
            except errors.StorageUnavailable as e:
                progress.stop()
                raise _fail(e.detail) from None
    _summary(report)


@app.command()
def demo() -> None:
    """Load the demo negotiation (US-ROK SMA talks 2019-2021) unless it is already there."""
    settings = _settings()
    with _ledger(settings) as ledger:
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
            raise _fail(f"demo data, line {e.line}: {e.message}") from None
    _summary(report)


@contextlib.contextmanager
def _runner(ledger: Ledger) -> Iterator[ProjectionRunner]:
    """The projection runner over the ledger's store, its view tables created if missing."""
    try:
        with view_storage_errors():
            yield open_runner(ledger)
    except errors.StorageUnavailable as e:
        raise _fail(e.detail) from None


@app.command()
def project() -> None:
    """Keep the read views up to date, in the foreground, until SIGTERM or Ctrl-C.

    For deployments where the API runs several workers (PARLEY_PROJECT_IN_PROCESS=false):
    one or more of these keep the views; runners racing on one store each apply an event once.
    """
    settings = _settings()
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        with _ledger(settings) as ledger, _runner(ledger) as runner:
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
                raise _fail(f"the projection runner stopped: {runner.error!r}")
            reached = min(runner.positions(refresh=True).values())
            out.print(
                f"stopped at position {reached}: {runner.applied} events applied",
                highlight=False,
            )
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@app.command()
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
    settings = _settings()
    try:
        chosen = check_views(view) if view else VIEWS
    except ValueError as e:
        raise _fail(str(e), code=2) from None
    with (
        _ledger(settings) as ledger,
        _runner(ledger) as runner,
        rich_progress(f"rebuilding {', '.join(chosen)}") as progress,
    ):
        counts = runner.rebuild(chosen, progress)
    rows = ", ".join(f"{name}: {counts[name]} rows" for name in chosen)
    out.print(
        f"[green]rebuilt[/] at position {counts['position']} from {counts['events']} events ({rows})",
        highlight=False,
    )


if __name__ == "__main__":
    app()


def _register_more_commands() -> None:
    # Imported here: these modules import helpers from this one.
    from api import cli_keys, cli_ledger, cli_transfer, terminal

    cli_keys.register(app)
    cli_ledger.register(app)
    cli_transfer.register(app)
    terminal.register(app)


_register_more_commands()
