"""``parley verify`` and ``parley checkpoint``: the tamper-evident ledger, offline.

Both only read: they check the store as it is and never move the views on (an auditor's
tool should not write to what it audits).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from api.cli.common import (
    checkpoint_option,
    current_settings,
    fail,
    opened_ledger,
    opened_runner,
    out,
    progress_bar,
)
from api.services.checkpoints import (
    Checkpoint,
    checkpoint_body,
    log_verifier,
    make_checkpoint,
    public_key_of,
)
from api.services.cosignatures import open_cosignatures
from api.services.ledger_proofs import extends
from api.services.ledger_scan import verify_ledger
from api.settings import Settings, parse_witness_keys
from api.signed_note import (
    ED25519,
    Note,
    NoteError,
    cosigners,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    sign,
    signed_by,
)
from domain import errors
from projections.storage import view_storage_errors


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the `parley` app."""
    app.command()(verify)
    app.command()(checkpoint)


def verify(
    checkpoint_file: Annotated[
        Path | None,
        checkpoint_option(
            "A checkpoint saved earlier (`parley checkpoint --out`, JSON or a signed "
            "note, e.g. from GET /checkpoint): check that today's ledger extends it"
        ),
    ] = None,
    key: Annotated[
        str | None,
        typer.Option(
            "--key",
            help="The verifier key (name+keyid+base64) a signed-note checkpoint must be signed "
            "by [default: that of PARLEY_SIGNING_KEY under PARLEY_LOG_ORIGIN]",
        ),
    ] = None,
    witness: Annotated[
        list[str] | None,
        typer.Option(
            "--witness",
            help="A witness's cosignature/v1 verifier key (repeatable) "
            "[default: PARLEY_WITNESS_KEYS]",
        ),
    ] = None,
    min_cosignatures: Annotated[
        int,
        typer.Option(
            "--min-cosignatures",
            min=0,
            help="How many of those witnesses must have cosigned the signed-note checkpoint",
        ),
    ] = 0,
) -> None:
    """Re-hash every stored event; exit 1 naming the first that no longer matches."""
    saved = None
    signed_note_report: str | None = None
    settings = current_settings()
    if checkpoint_file is not None:
        try:
            content = checkpoint_file.read_text(encoding="utf-8")
        except UnicodeDecodeError as e:
            raise fail(f"{checkpoint_file}: not a checkpoint: {e}", code=2) from None
        if content.lstrip().startswith("{"):
            try:
                saved = Checkpoint.from_json(json.loads(content))
            except ValueError as e:
                raise fail(f"{checkpoint_file}: not a checkpoint: {e}", code=2) from None
        else:
            saved, signed_note_report = _opened_note(
                checkpoint_file, content, key, witness, min_cosignatures, settings
            )
    elif key is not None or witness or min_cosignatures:
        raise fail("--key, --witness and --min-cosignatures check a --checkpoint note", code=2)
    with opened_ledger(settings) as ledger, opened_runner(ledger) as runner, progress_bar() as bar:
        task = bar.add_task("verifying the ledger", total=ledger.head_position())
        try:
            with view_storage_errors():
                report = verify_ledger(ledger, runner.views, on_event=lambda: bar.advance(task))
                extension = extends(runner.views, saved) if saved is not None else None
        except errors.StorageUnavailable as e:
            raise fail(e.detail) from None
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
        raise fail(f"the ledger does not verify: {where}: {bad.reason}")
    out.print(
        f"[green]ok[/] {report.events_checked} events re-hashed up to position {report.head}; "
        f"Merkle tree of {report.tree_size} leaves, root {report.root}",
        highlight=False,
    )
    if saved is None or extension is None:
        return
    if signed_note_report is not None:
        consistent, why = extension
        if not consistent:
            raise fail(why)
        out.print(f"[green]ok[/] {why} ({signed_note_report})", highlight=False)
        return
    signed = saved.signature_ok()
    if signed is False:
        raise fail(f"{checkpoint_file}: the checkpoint's signature does not verify")
    ours = settings.signing_seed()
    if signed and ours is not None and saved.public_key != public_key_of(ours):
        raise fail(f"{checkpoint_file}: signed with another key than PARLEY_SIGNING_KEY's")
    consistent, why = extension
    if not consistent:
        raise fail(why)
    out.print(
        f"[green]ok[/] {why} (checkpoint of {saved.timestamp}"
        f"{', signature verified' if signed else ', unsigned'})",
        highlight=False,
    )


class CheckpointFormat(StrEnum):
    json = "json"
    note = "note"


def checkpoint(
    out_file: Annotated[
        Path,
        typer.Option("--out", dir_okay=False, help="Where to save the checkpoint"),
    ],
    format_: Annotated[
        CheckpointFormat,
        typer.Option(
            "--format",
            help="json: {tree_size, root, timestamp, signature?}; note: a C2SP tlog-checkpoint "
            "signed note (needs PARLEY_SIGNING_KEY), with the witnesses' cosignatures",
        ),
    ] = CheckpointFormat.json,
) -> None:
    """Save today's checkpoint of the global Merkle tree (signed when PARLEY_SIGNING_KEY is set)."""
    settings = current_settings()
    seed = settings.signing_seed()
    if format_ is CheckpointFormat.note and seed is None:
        raise fail("a signed note needs a signing key: set PARLEY_SIGNING_KEY", code=2)
    origin = settings.origin()
    with opened_ledger(settings) as ledger, opened_runner(ledger) as runner:
        try:
            with view_storage_errors():
                lag = runner.lag()
                made = make_checkpoint(runner.views, datetime.now(UTC), seed)
                if seed is not None and format_ is CheckpointFormat.note:
                    text = checkpoint_body(runner.views, origin, made.tree_size)
                    witnessed = open_cosignatures(ledger).for_text(text)
                    note = Note(text, (sign(text, origin, seed), *witnessed)).encode()
        except errors.StorageUnavailable as e:
            raise fail(e.detail) from None
    if format_ is CheckpointFormat.note:
        out_file.write_text(note, encoding="utf-8", newline="\n")
    else:
        out_file.write_text(json.dumps(made.to_json(), indent=2) + "\n", encoding="utf-8")
    behind = max(lag.values())
    lagging = f" (the views are {behind} events behind the ledger)" if behind else ""
    out.print(
        f"[green]saved[/] checkpoint of {made.tree_size} leaves, root {made.root}, "
        f"{'signed' if made.signature else 'unsigned'}, to {out_file}{lagging}",
        highlight=False,
    )
    if seed is not None:
        out.print(f"verifier key: {log_verifier(origin, seed).vkey()}", highlight=False)


def _opened_note(
    file: Path,
    content: str,
    key: str | None,
    witness: list[str] | None,
    min_cosignatures: int,
    settings: Settings,
) -> tuple[Checkpoint, str]:
    """A signed-note checkpoint, checked with the verifier key and the witnesses' keys."""
    try:
        note = parse_note(content)
        body = parse_checkpoint(note.text)
        if key is not None:
            verifier = parse_vkey(key)
        else:
            seed = settings.signing_seed()
            if seed is None:
                raise fail(
                    f"{file}: a signed note is checked with a verifier key: give --key "
                    "(GET /ledger/verifier-key) or set PARLEY_SIGNING_KEY",
                    code=2,
                )
            verifier = log_verifier(settings.origin(), seed)
        witnesses = parse_witness_keys(" ".join(witness)) if witness else settings.witnesses()
    except NoteError as e:
        raise fail(f"{file}: {e}", code=2) from None
    if verifier.key_type != ED25519:
        raise fail(f"--key {verifier.name}: a log's key has type 0x01 (Ed25519)", code=2)
    if not signed_by(note, verifier):
        raise fail(f"{file}: the checkpoint is not signed by {verifier.vkey()}")
    if body.origin != verifier.name:
        raise fail(f"{file}: the checkpoint's origin {body.origin!r} is not {verifier.name!r}")
    cosigned = cosigners(note, witnesses)
    if len(cosigned) < min_cosignatures:
        raise fail(
            f"{file}: {len(cosigned)} valid witness cosignature"
            f"{'' if len(cosigned) == 1 else 's'}, {min_cosignatures} required"
        )
    names = ", ".join(s.name for s, _ in cosigned)
    report = (
        f"note signed by {verifier.name}+{verifier.key_id.hex()}; "
        f"{len(cosigned)} witness cosignature{'' if len(cosigned) == 1 else 's'}"
        + (f" ({names})" if names else "")
    )
    saved = Checkpoint(body.tree_size, body.root.hex(), " ".join(body.extensions))
    return saved, report
