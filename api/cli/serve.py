"""``parley serve``: the HTTP API, in one process or several workers sharing a port."""

from __future__ import annotations

import contextlib
import os
import signal
from collections.abc import Iterator
from typing import Annotated, Any

import typer

from api.cli.common import current_settings, fail, opened_ledger, opened_runner, out, store_config
from api.services.demo import LoadError
from api.settings import Settings, is_loopback
from api.store.keys import open_keys
from api.store.store import (
    StoreConfig,
    open_ledger,
    prepare_store,
)
from domain import errors
from projections.runner import ProjectionRunner


def register(app: typer.Typer) -> None:
    """Adds ``parley serve`` to the ``parley`` app."""
    app.command()(serve)


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

    from api.http.app import create_app

    settings = current_settings(host=host, port=port, demo=demo)
    config = store_config(settings)
    if workers > 1 and config.kind != "postgres":
        # memory:// would give each worker a ledger of its own; a SQLite file takes one
        # writer at a time, so more processes add lock waits, not appends.
        raise fail(
            f"--workers {workers} needs PostgreSQL (PARLEY_DATABASE_URL=postgresql://...): "
            f"{config.kind} serves one worker only",
            code=2,
        )
    if settings.create_tables:
        # Once here, so the server's start-up (and any worker) never races on CREATE TABLE.
        try:
            prepare_store(config)
        except errors.StorageUnavailable as e:
            raise fail(e.detail) from None
    refusal = open_mode_refusal(settings, config)
    if refusal is not None:
        raise fail(refusal, code=2)
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
    from api.http.logs import logging_config

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

    from api.services.demo import ensure_demo

    with opened_ledger(settings.model_copy(update={"create_tables": False})) as ledger:
        if settings.demo:
            try:
                ensure_demo(ledger)
            except (LoadError, errors.StorageUnavailable) as e:
                raise fail(f"loading the demo: {e}") from None
        runner: ProjectionRunner | None = None
        if settings.project_in_process:
            with opened_runner(ledger) as opened:
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
                "api.http.app:create_app",
                factory=True,
                host=settings.host,
                port=settings.port,
                workers=workers,
                **_uvicorn_options(settings),
            )
        finally:
            if runner is not None:
                runner.stop()


def open_mode_refusal(settings: Settings, config: StoreConfig) -> str | None:
    """Why ``parley serve`` must not listen where it was told, or None when it may.

    Without any active key the server runs open: anyone who reaches it reads and writes.
    """
    if is_loopback(settings.host):
        return None
    refusal = (
        f"no API key exists, so the server would run open (anyone reaching {settings.host} "
        "could read and write): it listens only on loopback until one does. Create one with "
        "`parley keys create --role admin --name NAME`, or serve on --host 127.0.0.1"
    )
    if config.kind == "memory":
        return refusal + " (memory:// keeps no keys between processes: it is loopback only)"
    try:
        with contextlib.closing(open_ledger(config)) as ledger:
            exists = open_keys(ledger).any_active()
    except errors.StorageUnavailable as e:
        return e.detail
    return None if exists else refusal
