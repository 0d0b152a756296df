"""docs/ledger-format.md stays true: its worked examples and vectors are what the code computes."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import rfc8785
from support import contract_fact, memory_ledger

from domain import facts
from domain.canonical import GENESIS_HASH, canonical_bytes, canonical_document, event_hash
from domain.ledger import Ledger
from domain.values import Party, Quantity, Source, Term
from domain.verify import jcs_bytes

DOC = Path(__file__).resolve().parents[2] / "docs" / "ledger-format.md"


def code_blocks(text: str) -> list[str]:
    """The contents of the fenced code blocks of a Markdown text, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            if current is None:
                current = []
            else:
                blocks.append("\n".join(current))
                current = None
        elif current is not None:
            current.append(line)
    return blocks


def section(title: str) -> str:
    text = DOC.read_text(encoding="utf-8")
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else None]


def documented(format_version: int = 1) -> tuple[bytes, str, list[str]]:
    """A worked example's canonical line, its documented hash, and its chain table's hashes."""
    if format_version == 1:
        text = section("A worked example (format 1)")
        row = r"^\| \d \| `\w+` \| `[0-9a-f]{12}` \| `([0-9a-f]{64})` \|$"
    else:
        text = section("Ledger format 2: RFC 8785 (JCS)")
        row = r"^\| \d \| `\w+` \| `([0-9a-f]{64})` \|$"
    blocks = code_blocks(text)
    line = next(b for b in blocks if b.startswith('{"event_id"'))
    digest = next(b for b in blocks if re.fullmatch(r"[0-9a-f]{64}", b))
    chain = re.findall(row, text, re.M)
    return line.encode("utf-8"), digest, chain


def vectors() -> list[tuple[str, str, str]]:
    """(input JSON, bytes in hex, sha256) of every ``jcs-vector`` block."""
    text = DOC.read_text(encoding="utf-8")
    found = re.findall(
        r"^```jcs-vector\ninput:  (.*)\nbytes:  ([0-9a-f]+)\nsha256: ([0-9a-f]{64})\n```$",
        text,
        re.M,
    )
    return [(a, b, c) for a, b, c in found]


def record_the_example() -> Ledger:
    ledger = memory_ledger(lambda: datetime(2020, 4, 7, 6, 27, 0, 250000, tzinfo=UTC))
    herald = Source(
        title="Defense ministers of Seoul, Washington discuss defense cost-sharing deal",
        publisher="The Korea Herald",
        published_on=date(2020, 4, 7),
    )
    ledger.open_negotiation(
        facts.NegotiationOpened(
            slug="us-rok-sma-2020",
            title="US–ROK SMA talks",  # noqa: RUF001 - the doc's example has the en dash
            occurred_at=date(2019, 9, 24),
        ),
        [Party("USA", "United States"), Party("ROK", "Republic of Korea")],
        [Term("annual_contribution", "Annual contribution", "KRW")],
        recorded_by="demo",
    )
    ledger.record(
        "us-rok-sma-2020",
        [
            facts.OfferMade(
                occurred_at=date(2019, 9, 24),
                party="ROK",
                kind="offer",
                values={"annual_contribution": Quantity(Decimal("1.04E12"), "KRW")},
                sources=(herald,),
                note="2019 level, ≈ $850 million (같이 갑시다)",
            )
        ],
        recorded_by="demo",
    )
    return ledger


def the_example_events() -> list[Any]:
    """The stored events of the documented example, recorded afresh."""
    ledger = record_the_example()
    try:
        return list(ledger.stream("us-rok-sma-2020"))
    finally:
        ledger.close()


@pytest.mark.parametrize("format_version", [1, 2])
def test_the_documented_bytes_hash_to_the_documented_hash(format_version: int) -> None:
    line, digest, chain = documented(format_version)

    assert hashlib.sha256(line).hexdigest() == digest == chain[-1]
    assert len(chain) == 5


def test_the_ledger_records_the_documented_example_with_the_format_2_hashes() -> None:
    line, digest, chain = documented(2)
    events = the_example_events()

    assert events[0].prev_hash == GENESIS_HASH
    assert [e.ledger_format for e in events] == [2] * 5
    assert [e.hash for e in events] == chain
    assert events[-1].hash == digest
    assert rfc8785.dumps(json.loads(line)) == line


def test_the_format_1_example_is_what_format_1_computes_for_the_same_events() -> None:
    line, digest, chain = documented(1)
    events = the_example_events()

    prev, hashes, last = GENESIS_HASH, [], b""
    for event in events:
        document = canonical_document(
            fact=contract_fact(event),
            negotiation="us-rok-sma-2020",
            version=event.originator_version,
            event_id=event.event_id,
            recorded_at=event.timestamp,
            recorded_by=event.recorded_by,
            prev_hash=prev,
            ledger_format=1,
        )
        prev, last = event_hash(document), canonical_bytes(document)
        hashes.append(prev)
    assert hashes == chain
    assert last == line
    assert prev == digest


def test_the_documented_test_vectors_are_rfc8785() -> None:
    found = vectors()

    assert len(found) == 4
    for source, hex_bytes, digest in found:
        value = json.loads(source)
        assert jcs_bytes(value).hex() == hex_bytes, source
        assert rfc8785.dumps(value).hex() == hex_bytes, source
        assert hashlib.sha256(bytes.fromhex(hex_bytes)).hexdigest() == digest, source


def test_the_vectors_have_tabs_line_separators_astral_characters_and_emoji_keys() -> None:
    inputs = [json.loads(source) for source, _, _ in vectors()]
    strings = {s for value in inputs for item in value.items() for s in item if isinstance(s, str)}
    text = "".join(strings)

    assert "\t" in text
    assert "\u2028" in text
    assert "\U0001d11e" in text
    assert "\U0001f600" in {key for value in inputs for key in value}
