"""``parley verify`` and ``parley checkpoint``: the tamper-evident ledger, offline.

Both only read: they check the store as it is and never move the views on (an auditor's
tool should not write to what it audits).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the `parley` app."""
    app.command()(verify)
    app.command()(checkpoint)


def verify(
    checkpoint_file: Annotated[
        Path | None,
        typer.Option(
            "--checkpoint",
            exists=True,
            dir_okay=False,
            readable=True,
            help="A checkpoint saved earlier (`parley checkpoint --out`): check that today's "
            "ledger extends it",
        ),
    ] = None,
) -> None:
    """Re-hash every stored event; exit 1 naming the first that no longer matches."""
    from api.cli import _fail, _ledger, _runner, _settings, out
    from api.deps import view_storage_errors
    from api.ledger_proofs import Checkpoint, extends
    from api.ledger_scan import verify_ledger
    from api.progress import progress_bar
    from domain import errors

    saved = None
    if checkpoint_file is not None:
        try:
            saved = Checkpoint.from_json(json.loads(checkpoint_file.read_text(encoding="utf-8")))
        except (ValueError, UnicodeDecodeError) as e:
            raise _fail(f"{checkpoint_file}: not a checkpoint: {e}", code=2) from None
    settings = _settings()
    with _ledger(settings) as ledger, _runner(ledger) as runner, progress_bar(out) as bar:
        task = bar.add_task("verifying the ledger", total=ledger.head_position())
        try:
            with view_storage_errors():
                report = verify_ledger(ledger, runner.views, on_event=lambda: bar.advance(task))
                extension = extends(runner.views, saved) if saved is not None else None
        except errors.StorageUnavailable as e:
            raise _fail(e.detail) from None
    bad = report.first_bad
    if bad is not None:
        where = ", ".join(
            f"{name} {value}"
            for name, value in (
                ("event", bad.event_id),
                ("negotiation", bad.negotiation),
                ("version", bad.version),
                ("position", bad.position),
            )
            if value is not None
        )
        raise _fail(f"the ledger does not verify: {where}: {bad.reason}")
    out.print(
        f"[green]ok[/] {report.events_checked} events re-hashed up to position {report.head}; "
        f"Merkle tree of {report.tree_size} leaves, root {report.root}",
        highlight=False,
    )
    if saved is None or extension is None:
        return
    signed = saved.signature_ok()
    if signed is False:
        raise _fail(f"{checkpoint_file}: the checkpoint's signature does not verify")
    ours = settings.signing_seed()
    if signed and ours is not None:
        from api.ledger_proofs import public_key_of

        if saved.public_key != public_key_of(ours):
            raise _fail(f"{checkpoint_file}: signed with another key than PARLEY_SIGNING_KEY's")
    consistent, why = extension
    if not consistent:
        raise _fail(why)
    out.print(
        f"[green]ok[/] {why} (checkpoint of {saved.timestamp}"
        f"{', signature verified' if signed else ', unsigned'})",
        highlight=False,
    )


def checkpoint(
    out_file: Annotated[
        Path,
        typer.Option("--out", dir_okay=False, help="Where to save the checkpoint (JSON)"),
    ],
) -> None:
    """Save today's checkpoint of the global Merkle tree (signed when PARLEY_SIGNING_KEY is set)."""
    from api.cli import _fail, _ledger, _runner, _settings, out
    from api.deps import view_storage_errors
    from api.ledger_proofs import make_checkpoint
    from domain import errors

    settings = _settings()
    with _ledger(settings) as ledger, _runner(ledger) as runner:
        try:
            with view_storage_errors():
                lag = runner.lag()
                made = make_checkpoint(runner.views, datetime.now(UTC), settings.signing_seed())
        except errors.StorageUnavailable as e:
            raise _fail(e.detail) from None
    out_file.write_text(json.dumps(made.to_json(), indent=2) + "\n", encoding="utf-8")
    behind = max(lag.values())
    note = f" (the views are {behind} events behind the ledger)" if behind else ""
    out.print(
        f"[green]saved[/] checkpoint of {made.tree_size} leaves, root {made.root}, "
        f"{'signed' if made.signature else 'unsigned'}, to {out_file}{note}",
        highlight=False,
    )
