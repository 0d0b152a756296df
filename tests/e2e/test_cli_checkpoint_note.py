"""``parley checkpoint --format note``, ``parley verify --checkpoint NOTE`` and
``parley import --checkpoint NOTE --key VERIFIER``, on SQLite files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from support import opened
from typer.testing import CliRunner, Result

from api.cli import app
from api.services.demo import DEMO_SLUG
from api.signed_note import COSIGNATURE_V1, cosign, parse_note, signer_verifier
from domain.canonical import event_hash
from domain.facts import StatementMade
from projections.runner import ProjectionRunner

DEMO_EVENTS = 29
SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
ORIGIN = "parley.test/log"
WITNESS = "witness.test/w1"
WITNESS_SEED = bytes(range(32))


@pytest.fixture
def source(source: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """The demo on a SQLite file, projected, with a signing key and an origin configured."""
    url = source
    with opened(url) as ledger:
        ProjectionRunner(ledger).catch_up()
    monkeypatch.setenv("PARLEY_SIGNING_KEY", SEED_HEX)
    monkeypatch.setenv("PARLEY_LOG_ORIGIN", ORIGIN)
    monkeypatch.delenv("PARLEY_WITNESS_KEYS", raising=False)
    return url


def parley(*args: str, **env: str) -> Result:
    return CliRunner().invoke(app, list(args), env=env or None)


def saved_note(tmp_path: Path) -> tuple[Path, str]:
    """A note saved by ``parley checkpoint``, and the verifier key it printed."""
    file = tmp_path / "checkpoint.note"
    result = parley("checkpoint", "--out", str(file), "--format", "note")
    assert result.exit_code == 0, result.output
    line = next(x for x in result.stdout.splitlines() if x.startswith("verifier key: "))
    return file, line.removeprefix("verifier key: ")


def test_a_saved_note_verifies_with_the_printed_key_and_the_ledger_extends_it(
    source: str, tmp_path: Path
) -> None:
    file, vkey = saved_note(tmp_path)
    with opened(source) as ledger:
        made = StatementMade(party="ROK", speaker="s", summary="later", occurred_at="2021-04-08")
        ledger.record(DEMO_SLUG, [made])
        ProjectionRunner(ledger).catch_up()

    result = parley("verify", "--checkpoint", str(file), "--key", vkey)
    configured = parley("verify", "--checkpoint", str(file))  # the key of PARLEY_SIGNING_KEY
    keyless = parley("verify", "--key", vkey)

    assert configured.exit_code == 0, configured.output
    assert keyless.exit_code == 2
    assert "check a --checkpoint note" in keyless.stderr
    assert vkey.startswith(f"{ORIGIN}+")
    assert parse_note(file.read_text(encoding="utf-8")).text.startswith(f"{ORIGIN}\n29\n")
    assert result.exit_code == 0, result.output
    assert f"tree of {DEMO_EVENTS + 1} leaves extends the checkpoint's {DEMO_EVENTS}" in (
        result.stdout
    )
    name, key_id, _ = vkey.split("+", 2)
    assert f"note signed by {name}+{key_id}; 0 witness cosignatures" in result.stdout


def test_a_note_by_another_key_or_altered_is_refused(source: str, tmp_path: Path) -> None:
    file, vkey = saved_note(tmp_path)
    other = signer_verifier(ORIGIN, bytes(32)).vkey()
    altered = tmp_path / "altered.note"
    altered.write_text(file.read_text(encoding="utf-8").replace("\n29\n", "\n28\n"), "utf-8")

    by_other = parley("verify", "--checkpoint", str(file), "--key", other)
    changed = parley("verify", "--checkpoint", str(altered), "--key", vkey)

    assert by_other.exit_code == 1
    assert "is not signed by" in by_other.stderr
    assert changed.exit_code == 1
    assert "is not signed by" in changed.stderr


def test_verify_requires_as_many_witness_cosignatures_as_asked(source: str, tmp_path: Path) -> None:
    file, vkey = saved_note(tmp_path)
    note = file.read_text(encoding="utf-8")
    witness = signer_verifier(WITNESS, WITNESS_SEED, COSIGNATURE_V1).vkey()
    cosigned = tmp_path / "cosigned.note"
    line = cosign(parse_note(note).text, WITNESS, WITNESS_SEED, 1767225600).line()
    cosigned.write_text(note + line, encoding="utf-8")
    checks = ("verify", "--key", vkey, "--witness", witness, "--min-cosignatures")

    unwitnessed = parley(*checks, "1", "--checkpoint", str(file))
    one = parley(*checks, "1", "--checkpoint", str(cosigned))
    two = parley(*checks, "2", "--checkpoint", str(cosigned))

    assert unwitnessed.exit_code == 1
    assert "0 valid witness cosignatures, 1 required" in unwitnessed.stderr
    assert one.exit_code == 0, one.output
    assert f"1 witness cosignature ({WITNESS})" in one.stdout
    assert two.exit_code == 1
    assert "1 valid witness cosignature, 2 required" in two.stderr


# ------------------------------------------------------------------ import against a checkpoint


def forged_export(file: Path) -> Path:
    """The export with one statement rewritten and every hash after it recomputed."""
    lines = [json.loads(x) for x in file.read_text(encoding="utf-8").splitlines()]
    header, documents = lines[0], lines[1:]
    target = next(d for d in documents if d["type"] == "statement_made")
    target["payload"]["summary"] = "something the parties never said"
    heads: dict[str, str] = {}
    for document in documents:
        slug = document["negotiation"]
        if slug in heads:
            document["prev_hash"] = heads[slug]
        body = {k: v for k, v in document.items() if k not in ("hash", "position")}
        document["hash"] = event_hash(body)
        heads[slug] = document["hash"]
    for slug, head in heads.items():
        header["negotiations"][slug]["head_hash"] = head
    forged = file.with_name("forged.jsonl")
    forged.write_text(
        "".join(json.dumps(d, ensure_ascii=False) + "\n" for d in [header, *documents]), "utf-8"
    )
    return forged


def import_into(tmp_path: Path, name: str, *args: str) -> tuple[Result, str]:
    target = f"sqlite:///{tmp_path}/{name}.db"
    return parley("import", *args, PARLEY_DATABASE_URL=target), target


def head_of(url: str) -> int:
    with opened(url) as ledger:
        return ledger.head_position()


def test_a_forged_file_with_recomputed_hashes_is_refused_against_a_signed_checkpoint(
    source: str, tmp_path: Path
) -> None:
    export = tmp_path / "ledger.jsonl"
    assert parley("export", str(export)).exit_code == 0
    note, vkey = saved_note(tmp_path)
    forged = forged_export(export)

    unchecked, _ = import_into(tmp_path, "unchecked", str(forged))
    refused, refused_url = import_into(
        tmp_path, "refused", str(forged), "--checkpoint", str(note), "--key", vkey
    )
    genuine, genuine_url = import_into(
        tmp_path, "genuine", str(export), "--checkpoint", str(note), "--key", vkey
    )

    # Without a checkpoint the forgery is internally consistent: that is the hole it closes.
    assert unchecked.exit_code == 0, unchecked.output
    assert refused.exit_code == 1
    assert "the file is not the ledger it signed" in refused.stderr
    assert "nothing was written" in refused.stderr
    assert head_of(refused_url) == 0
    assert genuine.exit_code == 0, genuine.output
    assert f"tree of {DEMO_EVENTS} events has the root signed by {ORIGIN}+" in genuine.stdout
    assert head_of(genuine_url) == DEMO_EVENTS


def test_import_refuses_a_checkpoint_not_signed_by_the_given_key(
    source: str, tmp_path: Path
) -> None:
    export = tmp_path / "ledger.jsonl"
    assert parley("export", str(export)).exit_code == 0
    note, _ = saved_note(tmp_path)
    other: Any = signer_verifier(ORIGIN, bytes(32)).vkey()

    refused, url = import_into(
        tmp_path, "t", str(export), "--checkpoint", str(note), "--key", other
    )
    alone, _ = import_into(tmp_path, "u", str(export), "--checkpoint", str(note))

    assert refused.exit_code == 2
    assert "is not signed by" in refused.stderr
    assert head_of(url) == 0
    assert alone.exit_code == 2
    assert "--checkpoint and --key go together" in alone.stderr
