"""Ledgers written before ledger format 2 keep verifying, restoring and exporting, on every store.

``tests/fixtures/ledger-format-1.jsonl`` was exported by Parley at commit 0686c87, before format
2 existed (``tests/fixtures/make_ledger_format_1.py`` wrote it). Its events hash Python's sorted
JSON: an integer beyond 2^53, and keys whose code-point order differs from RFC 8785's UTF-16
order (an emoji and a private-use character), so format 2 bytes would not match its hashes.
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from store_histories import check_chain, statements

from api.services.ledger_scan import verify_ledger
from api.services.restore import read_export, restore_export
from api.services.transfer import export_ledger
from domain import errors, facts, verify
from domain.canonical import canonical_bytes, event_hash
from domain.ledger import Ledger
from projections.runner import ProjectionRunner

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "ledger-format-1.jsonl"
SLUG = "sma-v1"


def fixture_lines() -> list[str]:
    # Split on "\n" only, as `parley import` does: str.splitlines would also split at U+2028.
    return [line.decode("utf-8") for line in FIXTURE.read_bytes().split(b"\n") if line]


def bodies(lines: list[str]) -> list[dict[str, Any]]:
    """The event lines' documents with their hash, as ``verify_chain`` takes them."""
    return [{k: v for k, v in json.loads(line).items() if k != "position"} for line in lines[1:]]


@pytest.fixture
def restored(ledger: Ledger) -> Ledger:
    restore_export(ledger, read_export(fixture_lines()))
    return ledger


@pytest.fixture
def runner(restored: Ledger) -> Iterator[ProjectionRunner]:
    made = ProjectionRunner(restored, batch_size=50)
    yield made
    made.stop()


def test_the_fixture_really_is_format_1_and_differs_from_format_2() -> None:
    documents = bodies(fixture_lines())
    issue = documents[-1]
    body = {k: v for k, v in issue.items() if k != "hash"}

    assert all(verify.FORMAT_KEY not in d for d in documents)
    assert event_hash(body) == issue["hash"]
    # The same document in RFC 8785 bytes would hash differently (and cannot hold 2^60).
    with pytest.raises(ValueError, match="2\\^53"):
        verify.jcs_bytes(body)
    del body["payload"]["details"]["beyond_2_53"], body["payload"]["details"]["negative"]
    assert verify.jcs_bytes(body) != canonical_bytes(body)


def test_the_standalone_verifier_checks_a_format_1_file() -> None:
    assert verify.verify_chain(bodies(fixture_lines())) is None


def test_a_format_1_export_restores_with_its_hashes_and_exports_the_same_lines(
    restored: Ledger,
) -> None:
    lines = fixture_lines()
    header = json.loads(lines[0])

    neg = restored.get(SLUG)
    assert (neg.version, neg.head_hash) == (
        header["negotiations"][SLUG]["version"],
        header["negotiations"][SLUG]["head_hash"],
    )
    assert {e.ledger_format for e in restored.stream(SLUG)} == {1}
    check_chain(restored, SLUG)
    assert [line.rstrip("\n") for line in export_ledger(restored).lines()][1:] == lines[1:]


def test_a_restored_format_1_ledger_verifies_with_its_merkle_tree(
    restored: Ledger, runner: ProjectionRunner
) -> None:
    runner.catch_up()

    report = verify_ledger(restored, runner.views)

    assert report.ok, report.first_bad
    assert report.events_checked == len(fixture_lines()) - 1


def test_a_format_1_chain_goes_on_in_format_2_and_the_mixed_file_round_trips(
    restored: Ledger, ledger_factory: Any
) -> None:
    head = restored.get(SLUG).head_hash

    restored.record(SLUG, statements(2, "after format 2"))

    events = restored.stream(SLUG)
    assert [e.ledger_format for e in events[-3:]] == [1, 2, 2]
    assert events[-2].prev_hash == head
    check_chain(restored, SLUG)
    mixed = list(export_ledger(restored).lines())
    assert verify.verify_chain(bodies(mixed)) is None
    assert json.loads(mixed[-1])[verify.FORMAT_KEY] == 2
    assert verify.FORMAT_KEY not in json.loads(mixed[1])


def test_format_2_refuses_the_integer_format_1_kept(restored: Ledger) -> None:
    big = facts.IssueRaised(
        issue_id="bigger",
        title="t",
        raised_by="ROK",
        details={"n": 2**60},
        occurred_at="2020-03-02",
    )
    with pytest.raises(errors.InvalidValue, match="2\\^53") as caught:
        restored.record(SLUG, [big])
    assert caught.value.field == "[0].details.n"


def test_an_event_stored_before_format_2_reads_as_format_1(restored: Ledger) -> None:
    """Rows written before the field existed have no ``ledger_format`` key at all."""
    event = restored.stream(SLUG)[-1]
    stored = restored.mapper.to_stored_event(event)
    state = json.loads(stored.state)
    state.pop("ledger_format")
    old_row = dataclasses.replace(stored, state=json.dumps(state).encode())

    decoded: Any = restored.mapper.to_domain_event(old_row)

    assert decoded.ledger_format == 1
    assert decoded.hash == event.hash
