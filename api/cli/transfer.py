"""``parley export`` and ``parley import``: the ledger as a verifiable JSON Lines file, and back."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TextIO

import typer

from api.cli.common import (
    all_slugs,
    checkpoint_option,
    current_settings,
    fail,
    opened_ledger,
    out,
    progress_bar,
)
from api.services.plover import plover_export
from api.services.restore import ImportRefused, read_export, restore_export
from api.services.signed_tree import SignedTree, check_signed_tree, signed_tree
from api.services.transfer import export_ledger, export_negotiation, to_line
from api.signed_note import NoteError
from domain import errors


class ExportFormat(StrEnum):
    jsonl = "jsonl"
    plover = "plover"


def register(app: typer.Typer) -> None:
    """Adds ``parley export`` and ``parley import`` to the ``parley`` app."""
    app.command("export")(export)
    app.command("import")(import_)


@contextlib.contextmanager
def _replacing(file: Path) -> Iterator[TextIO]:
    """Writes beside ``file`` and moves it into place at the end: never a half-written export."""
    partial = file.with_name(f".{file.name}.partial")
    try:
        with partial.open("w", encoding="utf-8", newline="\n") as f:
            yield f
        os.replace(partial, file)
    finally:
        partial.unlink(missing_ok=True)


def export(
    file: Annotated[
        Path, typer.Argument(dir_okay=False, writable=True, help="The .jsonl file to write")
    ],
    negotiation: Annotated[
        str | None,
        typer.Option("--negotiation", "-n", help="Only this negotiation (its slug) [default: all]"),
    ] = None,
    format_: Annotated[
        ExportFormat,
        typer.Option(
            "--format",
            help="jsonl: every event with its metadata and hashes (for `parley import`); "
            "plover: PLOVER 2.0 event records",
        ),
    ] = ExportFormat.jsonl,
) -> None:
    """Write the ledger (or one negotiation) to a JSON Lines file."""
    with opened_ledger(current_settings()) as ledger:
        try:
            if format_ is ExportFormat.plover:
                slugs = [negotiation] if negotiation else all_slugs(ledger)
                exports = [plover_export(ledger, slug) for slug in slugs]
                total = sum(e.records for e in exports)
                with progress_bar() as progress, _replacing(file) as f:
                    task = progress.add_task(f"exporting {file.name}", total=total)
                    for exported in exports:
                        for record in exported.items:
                            f.write(to_line(record, sort_keys=False))
                            progress.advance(task)
                for exported in exports:
                    out.print(f"{exported.negotiation}: {exported.summary()}", highlight=False)
                out.print(f"[green]exported[/] {total} PLOVER records to {file}", highlight=False)
                return
            whole = (
                export_negotiation(ledger, negotiation) if negotiation else export_ledger(ledger)
            )
            with progress_bar() as progress, _replacing(file) as f:
                task = progress.add_task(f"exporting {file.name}", total=whole.total)
                for number, line in enumerate(whole.lines()):
                    f.write(line)
                    if number:
                        progress.advance(task)
        except (errors.NegotiationNotFound, errors.StorageUnavailable) as e:
            raise fail(e.detail) from None
    count = len(whole.header["negotiations"])
    out.print(
        f"[green]exported[/] {whole.total} events of {count} negotiation"
        f"{'' if count == 1 else 's'} to {file}",
        highlight=False,
    )


def import_(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="A `parley export` file"),
    ],
    checkpoint: Annotated[
        Path | None,
        checkpoint_option(
            "A signed-note checkpoint of the ledger the file was exported from "
            "(GET /checkpoint): refuse the file unless its Merkle tree has that root"
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The verifier key (name+keyid+base64, GET /ledger/verifier-key) that must "
            "have signed the --checkpoint",
        ),
    ] = None,
) -> None:
    """Restore an export into an empty store, verifying every hash first; all or nothing."""
    signed: SignedTree | None = None
    if checkpoint is not None or key is not None:
        if checkpoint is None or key is None:
            raise fail("--checkpoint and --key go together: a note and the key it is signed by", 2)
        try:
            signed = signed_tree(checkpoint.read_bytes(), key)
        except NoteError as e:
            raise fail(f"{checkpoint}: {e}", code=2) from None
    with opened_ledger(current_settings()) as ledger:
        try:
            held = ledger.head_position()
        except errors.StorageUnavailable as e:
            raise fail(e.detail) from None
        if held:
            raise fail(
                f"the store already holds events (log position {held}): "
                "import restores into an empty store only"
            )
        with file.open("rb") as f:
            total = sum(1 for _ in f)
        try:
            with progress_bar() as progress, file.open("rb") as f:
                task = progress.add_task(f"verifying {file.name}", total=total)
                parsed = read_export(f, on_line=lambda _: progress.advance(task))
            matched = check_signed_tree(parsed, signed) if signed is not None else None
            restored = restore_export(ledger, parsed)
        except ImportRefused as e:
            raise fail(f"{file}: line {e.line}: {e.message}; nothing was written") from None
        except errors.StorageUnavailable as e:
            raise fail(f"{e.detail}; nothing was written") from None
    if matched is not None:
        out.print(f"[green]matched[/] {matched}", highlight=False)
    count = len(restored.heads)
    out.print(
        f"[green]restored[/] {restored.events} events of {count} negotiation"
        f"{'' if count == 1 else 's'} (log position {restored.position})",
        highlight=False,
    )
    for slug, (version, head) in restored.heads.items():
        out.print(f"  {slug}: version {version}, head {head}", highlight=False)
