"""The ``parley`` command: serve the API, load JSON Lines files, load the demo negotiation."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from api.demo import DEMO_SLUG, LoadError, LoadReport, count_lines, load_demo, load_jsonl
from api.settings import Settings
from api.store import StoreURLError, open_ledger, parse_database_url, prepare_store
from domain import errors
from domain.ledger import Ledger

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
        config = parse_database_url(settings.database_url, cache_size=settings.cache_size)
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
) -> None:
    """Serve the HTTP API (PARLEY_DATABASE_URL names the store)."""
    import uvicorn

    from api.app import create_app

    settings = _settings(host=host, port=port, demo=demo)
    try:
        config = parse_database_url(settings.database_url, cache_size=settings.cache_size)
    except StoreURLError as e:
        raise _fail(f"PARLEY_DATABASE_URL: {e}", code=2) from None
    if settings.create_tables:
        # Once here, so the server's start-up (and any worker) never races on CREATE TABLE.
        try:
            prepare_store(config)
        except errors.StorageUnavailable as e:
            raise _fail(e.detail) from None
    out.print(
        f"store: {config.description}; serving on http://{settings.host}:{settings.port}",
        highlight=False,
    )
    api = create_app(settings.model_copy(update={"create_tables": False}))
    uvicorn.run(api, host=settings.host, port=settings.port, log_level="info")


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
        progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            console=out,
            transient=True,
            disable=not out.is_terminal,
        )
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


if __name__ == "__main__":
    app()
