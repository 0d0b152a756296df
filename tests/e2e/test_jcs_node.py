"""Node.js checks Parley's format-2 hashes with the docs' script: JavaScript's own JSON, no Parley.

The script in docs/ledger-format.md ("Checking with another language") sorts keys with
JavaScript's ``sort()`` (UTF-16 code units) and writes strings and numbers with
``JSON.stringify``: an implementation nobody here wrote the encoding rules of. It must accept
every format-2 line of an export and refuse a changed one.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from support import memory_ledger

from api.services.demo import load_demo
from api.services.restore import read_export, restore_export
from api.services.transfer import export_ledger
from domain import facts
from domain.canonical import MAX_SAFE_INTEGER
from domain.ledger import Ledger
from domain.values import Party, Term

ROOT = Path(__file__).resolve().parents[2]
NODE = shutil.which("node")
pytestmark = pytest.mark.skipif(NODE is None, reason="needs Node.js (apt install nodejs)")


def script(tmp_path: Path) -> Path:
    text = (ROOT / "docs" / "ledger-format.md").read_text(encoding="utf-8")
    found = re.search(r"^```js\n(.*?)^```$", text, re.S | re.M)
    assert found is not None
    path = tmp_path / "verify.js"
    path.write_text(found.group(1), encoding="utf-8")
    return path


def node_check(tmp_path: Path, lines: list[str]) -> subprocess.CompletedProcess[str]:
    assert NODE is not None
    return subprocess.run(
        [NODE, str(script(tmp_path))],
        input="".join(lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=60,
        check=False,
    )


def ledger_at(start: datetime) -> Ledger:
    moments = (start + timedelta(seconds=i) for i in itertools.count())
    return memory_ledger(lambda: next(moments))


def tricky(ledger: Ledger) -> None:
    ledger.open_negotiation(
        facts.NegotiationOpened(
            slug="tricky", title="Tab\there, U+2028\u2028, 😀, 𝄞", occurred_at=date(2020, 1, 1)
        ),
        [Party("ROK", "대한민국 😀", "KOR GOV"), Party("USA", "United States")],
        [Term("t", "\ue000 private use", "USD")],
    )
    details = {
        "\U0001f600": [MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER, 0, True, None],
        "\ue000": {"k\u2028": "x\u2029y", "a\tb": "caf\u00e9", "𝄞": "\U0001d11e"},
        "1": "integer-like key",
    }
    ledger.record(
        "tricky",
        [
            facts.IssueRaised(
                issue_id="i",
                title='"quoted" \\ back\\slash / slash',
                raised_by="ROK",
                details=details,
                occurred_at=date(2020, 1, 2),
                note="line\nbreak\u2028separator",
            )
        ],
    )


def exported(ledger: Ledger) -> list[str]:
    return list(export_ledger(ledger).lines())


@pytest.mark.parametrize(
    ("record", "slug"),
    [
        pytest.param(load_demo, "us-rok-sma-2020", id="the_demo"),
        pytest.param(tricky, "tricky", id="tabs_separators_astral_characters_and_emoji_keys"),
    ],
)
def test_node_verifies_every_line_of_an_export(
    tmp_path: Path, record: Callable[[Ledger], object], slug: str
) -> None:
    ledger = ledger_at(datetime(2026, 1, 1, tzinfo=UTC))
    record(ledger)

    done = node_check(tmp_path, exported(ledger))

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") == ledger.get(slug).version


def test_node_follows_a_chain_from_format_1_into_format_2(tmp_path: Path) -> None:
    fixture = (ROOT / "tests" / "fixtures" / "ledger-format-1.jsonl").read_bytes()
    ledger = ledger_at(datetime(2026, 1, 1, tzinfo=UTC))
    restore_export(ledger, read_export(fixture.split(b"\n")))
    ledger.record(
        "sma-v1",
        [facts.StatusChanged(status="suspended", occurred_at=date(2021, 1, 1))],
    )

    done = node_check(tmp_path, exported(ledger))

    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.splitlines() == [f"ok  sma-v1 26 {ledger.get('sma-v1').head_hash}"]


def test_node_refuses_a_changed_line(tmp_path: Path) -> None:
    ledger = ledger_at(datetime(2026, 1, 1, tzinfo=UTC))
    tricky(ledger)
    lines = exported(ledger)
    lines[-1] = lines[-1].replace("9007199254740991", "9007199254740990", 1)

    done = node_check(tmp_path, lines)

    assert done.returncode == 1
    assert done.stdout.splitlines()[-1].startswith("BAD tricky")
