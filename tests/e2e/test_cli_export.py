"""``parley export`` and ``parley import`` end to end on SQLite files."""

from __future__ import annotations

import json
from pathlib import Path

from support import opened
from typer.testing import CliRunner

from api.cli import app
from api.services.demo import DEMO_SLUG

DEMO_EVENTS = 29


def heads(url: str) -> dict[str, tuple[int, str, int]]:
    with opened(url) as ledger:
        found = {}
        for _, slug in ledger.opened_negotiations():
            neg = ledger.get(slug)
            found[slug] = (neg.version, neg.head_hash, ledger.head_position())
        return found


def test_export_then_import_restores_the_same_heads(source: str, tmp_path: Path) -> None:
    file = tmp_path / "ledger.jsonl"
    target = f"sqlite:///{tmp_path}/target.db"

    exported = CliRunner().invoke(app, ["export", str(file)])
    imported = CliRunner().invoke(app, ["import", str(file)], env={"PARLEY_DATABASE_URL": target})

    assert exported.exit_code == 0, exported.output
    assert f"exported {DEMO_EVENTS} events of 1 negotiation" in exported.stdout
    assert imported.exit_code == 0, imported.output
    assert f"restored {DEMO_EVENTS} events of 1 negotiation" in imported.stdout
    assert heads(target) == heads(source)
    assert len(file.read_text(encoding="utf-8").splitlines()) == DEMO_EVENTS + 1


def test_export_of_one_negotiation_names_it_in_the_header(source: str, tmp_path: Path) -> None:
    file = tmp_path / "sma.jsonl"

    result = CliRunner().invoke(app, ["export", str(file), "--negotiation", DEMO_SLUG])

    assert result.exit_code == 0, result.output
    header = json.loads(file.read_text(encoding="utf-8").splitlines()[0])
    assert header["scope"] == {"negotiation": DEMO_SLUG}
    assert header["events"] == DEMO_EVENTS


def test_export_of_an_unknown_negotiation_fails_and_writes_no_file(
    source: str, tmp_path: Path
) -> None:
    file = tmp_path / "none.jsonl"

    result = CliRunner().invoke(app, ["export", str(file), "--negotiation", "nowhere"])

    assert result.exit_code == 1
    assert "nowhere" in result.stderr
    assert not file.exists()
    assert list(tmp_path.glob("*.partial")) == []


def test_export_as_plover_writes_records_and_counts_what_it_left_out(
    source: str, tmp_path: Path
) -> None:
    file = tmp_path / "sma.plover.jsonl"

    result = CliRunner().invoke(app, ["export", str(file), "--format", "plover"])

    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in file.read_bytes().split(b"\n") if line]
    assert {c for r in records for c in r["event"]} == {
        "CONSULT",
        "AGREE",
        "REQUEST",
        "REJECT",
        "SUPPORT",
    }
    assert f"exported {len(records)} PLOVER records" in result.stdout
    assert "statement_made=3" in result.stdout


def test_an_import_of_a_tampered_file_fails_naming_the_line_and_writes_nothing(
    source: str, tmp_path: Path
) -> None:
    file = tmp_path / "ledger.jsonl"
    assert CliRunner().invoke(app, ["export", str(file)]).exit_code == 0
    lines = file.read_text(encoding="utf-8").splitlines(keepends=True)
    number = next(i for i, line in enumerate(lines, start=1) if "1040000000000" in line)
    lines[number - 1] = lines[number - 1].replace("1040000000000", "1040000000001", 1)
    file.write_text("".join(lines), encoding="utf-8")
    target = f"sqlite:///{tmp_path}/target.db"

    result = CliRunner().invoke(app, ["import", str(file)], env={"PARLEY_DATABASE_URL": target})

    assert result.exit_code == 1
    assert f"line {number}: the hash does not match" in result.stderr
    assert "nothing was written" in result.stderr
    with opened(target) as ledger:
        assert ledger.head_position() == 0


def test_an_import_into_a_store_that_holds_events_is_refused(source: str, tmp_path: Path) -> None:
    file = tmp_path / "ledger.jsonl"
    assert CliRunner().invoke(app, ["export", str(file)]).exit_code == 0

    result = CliRunner().invoke(app, ["import", str(file)])

    assert result.exit_code == 1
    assert "empty store" in result.stderr
    assert heads(source)[DEMO_SLUG][0] == DEMO_EVENTS


def test_an_import_with_a_recorded_at_at_the_end_of_the_calendar_names_its_line(
    source: str, tmp_path: Path
) -> None:
    """Forged consistently (hash and header agree), so only the moment itself is wrong."""
    from domain.canonical import event_hash

    file = tmp_path / "ledger.jsonl"
    assert CliRunner().invoke(app, ["export", str(file)]).exit_code == 0
    documents = [json.loads(line) for line in file.read_text(encoding="utf-8").splitlines()]
    last = {**documents[-1], "recorded_at": "9999-12-31T23:59:59.999999+00:00"}
    body = {k: v for k, v in last.items() if k not in ("hash", "position")}
    last["hash"] = event_hash(body)
    documents[0]["negotiations"][last["negotiation"]]["head_hash"] = last["hash"]
    documents[-1] = last
    file.write_text("".join(json.dumps(d) + "\n" for d in documents), encoding="utf-8")
    target = f"sqlite:///{tmp_path}/target.db"

    result = CliRunner().invoke(app, ["import", str(file)], env={"PARLEY_DATABASE_URL": target})

    assert result.exit_code == 1, result.output
    assert f"line {len(documents)}: recorded_at" in result.stderr
