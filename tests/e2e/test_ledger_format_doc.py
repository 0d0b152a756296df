"""docs/ledger-format.md stays true: its worked example is what the code computes."""

from __future__ import annotations

import hashlib
import itertools
import re
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from uuid import UUID

from domain import facts
from domain.canonical import GENESIS_HASH
from domain.ledger import Ledger
from domain.values import Party, Quantity, Source, Term

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


def documented() -> tuple[bytes, str, list[str]]:
    """The example's canonical line, its documented hash, and the chain table's hashes."""
    text = DOC.read_text(encoding="utf-8")
    blocks = code_blocks(text)
    line = next(b for b in blocks if b.startswith('{"event_id"'))
    digest = next(b for b in blocks if re.fullmatch(r"[0-9a-f]{64}", b))
    chain = re.findall(r"^\| \d \| `\w+` \| `[0-9a-f]{12}` \| `([0-9a-f]{64})` \|$", text, re.M)
    return line.encode("utf-8"), digest, chain


def record_the_example() -> Ledger:
    ids = (UUID(int=i) for i in itertools.count(1))
    ledger = Ledger(
        {"PERSISTENCE_MODULE": "eventsourcing.popo"},
        clock=lambda: datetime(2020, 4, 7, 6, 27, 0, 250000, tzinfo=UTC),
        new_id=lambda: next(ids),
    )
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


def test_the_documented_bytes_hash_to_the_documented_hash() -> None:
    line, digest, _ = documented()

    assert hashlib.sha256(line).hexdigest() == digest


def test_the_ledger_records_the_documented_example_with_the_documented_hashes() -> None:
    _, digest, chain = documented()
    ledger = record_the_example()
    try:
        events = ledger.stream("us-rok-sma-2020")
    finally:
        ledger.close()

    assert events[0].prev_hash == GENESIS_HASH
    assert [e.hash for e in events] == chain
    assert events[-1].hash == digest
