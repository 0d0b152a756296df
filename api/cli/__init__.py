"""The ``parley`` command: one module per command group, all registered here.

    common     consoles, ``fail``, settings, the opened ledger and runner, the progress bar
    serve      serve (the HTTP API, one process or several workers)
    load       load, demo
    views      project, rebuild
    keys       keys create|list|revoke
    ledger     verify, checkpoint
    transfer   export, import
    terminal   negotiations, positions, gaps, timeline, chart

The command modules import ``common`` and never each other; ``common`` imports none of
them; this module builds the app from them. ``parley`` and ``python -m api.cli`` run it.
"""

from __future__ import annotations

import typer

from api.cli import keys, ledger, load, serve, terminal, transfer, views

app = typer.Typer(
    name="parley",
    help="Parley: an event-sourced negotiation ledger.",
    no_args_is_help=True,
    add_completion=False,
)

# In the order ``parley --help`` lists them.
for group in (serve, load, views, keys, ledger, transfer, terminal):
    group.register(app)

__all__ = ["app"]
