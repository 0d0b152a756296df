"""Export then import gives the same ledger, on every store; a tampered file writes nothing."""

from __future__ import annotations

import dataclasses
import itertools
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from store_histories import (
    check_chain,
    open_seed,
    record_every_fact_type,
    shape,
    statements,
)
from support import contract_fact as fact_of

from api.services.restore import ImportRefused, read_export, restore_export
from api.services.transfer import export_ledger, export_negotiation
from api.store.store import open_ledger, parse_database_url
from domain import errors, facts
from domain.canonical import event_hash, payload_of
from domain.ledger import Ledger, Restored
from domain.merkle import event_leaf, root

ALPHA, BETA = "sma-alpha", "sma-beta"


@pytest.fixture
def target(store_url: str, tmp_path: Path, clock: Any) -> Iterator[Ledger]:
    """A second, empty store of the same kind as ``store_url``, to import into."""
    if store_url.startswith("sqlite"):
        url = f"sqlite:///{tmp_path}/restored.db"
    elif store_url.startswith("postgresql"):
        url = store_url + "r"  # the schema named last in the URL, with a suffix
    else:
        url = "memory://"
    ledger = open_ledger(parse_database_url(url), clock=clock, create_tables=True)
    yield ledger
    ledger.close()


def interleaved_history(ledger: Ledger, clock: Any) -> None:
    """Two negotiations whose events alternate in the log; every fact type is in one of them."""
    open_seed(ledger, BETA)
    counter = itertools.count()

    def tick() -> None:
        clock.advance(seconds=7)
        ledger.record(BETA, statements(1, "beta", start=next(counter)), recorded_by="clerk-b")

    record_every_fact_type(ledger, ALPHA, tick=tick)


def restore(target: Ledger, lines: list[str]) -> Restored:
    return restore_export(target, read_export(lines))


def exported_lines(ledger: Ledger) -> list[str]:
    return list(export_ledger(ledger).lines())


def stored(ledger: Ledger, slug: str) -> list[tuple[Any, ...]]:
    """Everything the ledger keeps of each event: ids, times, who, hashes and the fact."""
    return [
        (
            e.event_id,
            e.originator_version,
            e.timestamp,
            e.recorded_by,
            e.prev_hash,
            e.hash,
            # As JSON: a Decimal inside free-form ``details`` is kept as the string it hashes as.
            payload_of(fact_of(e)),
            shape(fact_of(e).occurred_at),
        )
        for e in ledger.stream(slug)
    ]


# ------------------------------------------------------------------ round trip


def test_export_then_import_gives_the_same_heads_events_and_positions(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    interleaved_history(ledger, clock)

    restored = restore(target, exported_lines(ledger))

    for slug in (ALPHA, BETA):
        source, copy = ledger.get(slug), target.get(slug)
        assert (copy.version, copy.head_hash) == (source.version, source.head_hash)
        assert restored.heads[slug] == (source.version, source.head_hash)
        assert stored(target, slug) == stored(ledger, slug)
        assert target.positions(slug, 1, copy.version) == ledger.positions(slug, 1, source.version)
        assert copy.status == source.status
        assert copy.entries == source.entries
        check_chain(target, slug)
    assert target.head_position() == ledger.head_position() == restored.position


def test_a_restored_ledger_exports_the_same_lines_and_merkle_root(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    interleaved_history(ledger, clock)
    lines = exported_lines(ledger)

    restore(target, lines)

    again = exported_lines(target)
    assert again[1:] == lines[1:]
    leaves = [event_leaf(json.loads(line)["hash"]) for line in again[1:]]
    assert root(leaves) == root([event_leaf(json.loads(line)["hash"]) for line in lines[1:]])


def test_a_restored_negotiation_continues_its_hash_chain(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    interleaved_history(ledger, clock)
    restore(target, exported_lines(ledger))
    head = target.get(ALPHA).head_hash

    target.record(ALPHA, statements(1, "after the restore"))

    assert target.stream(ALPHA)[-1].prev_hash == head
    check_chain(target, ALPHA)


def test_one_negotiation_exports_alone_and_restores_with_its_ids(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    interleaved_history(ledger, clock)

    lines = list(export_negotiation(ledger, BETA).lines())
    restore(target, lines)

    assert json.loads(lines[0])["scope"] == {"negotiation": BETA}
    assert stored(target, BETA) == stored(ledger, BETA)
    assert [slug for _, slug in target.opened_negotiations()] == [BETA]


def test_an_export_leaves_out_what_is_recorded_after_it_began(ledger: Ledger, clock: Any) -> None:
    interleaved_history(ledger, clock)
    export = export_ledger(ledger, page=3)
    ledger.record(ALPHA, statements(2, "late"))
    ledger.record(BETA, statements(1, "late"))

    documents = list(export.events)

    assert len(documents) == export.total
    assert documents[-1]["position"] == export.header["up_to_position"]
    assert export.header["negotiations"][ALPHA]["version"] == ledger.get(ALPHA).version - 2
    assert export.header["negotiations"][BETA]["version"] == ledger.get(BETA).version - 1


# ------------------------------------------------------------------ refusals


def _documents(lines: list[str]) -> list[dict[str, Any]]:
    return [json.loads(line) for line in lines]


def _lines(documents: list[dict[str, Any]]) -> list[str]:
    return [json.dumps(d, ensure_ascii=False) + "\n" for d in documents]


def _rehashed(document: dict[str, Any]) -> dict[str, Any]:
    body = {k: v for k, v in document.items() if k not in ("hash", "position")}
    return {**document, "hash": event_hash(body)}


@pytest.fixture
def exported(ledger: Ledger, clock: Any) -> list[dict[str, Any]]:
    interleaved_history(ledger, clock)
    return _documents(exported_lines(ledger))


def _line_of(documents: list[dict[str, Any]], slug: str, event_type: str) -> int:
    """The 1-based line of the first event of that type in that negotiation."""
    return next(
        i + 1
        for i, d in enumerate(documents)
        if d.get("negotiation") == slug and d.get("type") == event_type
    )


def _flip_amount(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    line = _line_of(documents, ALPHA, "offer_made")
    tampered = json.loads(json.dumps(documents))
    amount = tampered[line - 1]["payload"]["values"]["annual_contribution"]
    amount["amount"] = amount["amount"].replace("5", "6", 1)
    return tampered, line


def _break_prev_hash(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    line = _line_of(documents, ALPHA, "call_held")
    tampered = list(documents)
    tampered[line - 1] = _rehashed({**documents[line - 1], "prev_hash": "ab" * 32})
    return tampered, line


def _drop_a_line(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    line = _line_of(documents, ALPHA, "offer_rejected")
    following = next(
        i + 1 for i, d in enumerate(documents) if i + 1 > line and d.get("negotiation") == ALPHA
    )
    # The next line of that negotiation, counted in the file without the dropped one.
    return documents[: line - 1] + documents[line:], following - 1


def _drop_the_last_line(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return documents[:-1], len(documents)


def _swap_within_a_negotiation(
    documents: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], int]:
    line = _line_of(documents, ALPHA, "party_joined")  # followed by the second party
    tampered = list(documents)
    tampered[line - 1], tampered[line] = documents[line], documents[line - 1]
    return tampered, line


def _swap_across_negotiations(
    documents: list[dict[str, Any]],
) -> tuple[list[dict[str, Any]], int]:
    line = _line_of(documents, ALPHA, "round_held")  # followed by a beta statement
    assert documents[line]["negotiation"] == BETA
    tampered = list(documents)
    tampered[line - 1], tampered[line] = documents[line], documents[line - 1]
    return tampered, line + 1


def _without_header(documents: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], int]:
    return documents[1:], 1


@pytest.mark.parametrize(
    ("tamper", "says"),
    [
        (_flip_amount, "the hash does not match"),
        (_break_prev_hash, "prev_hash is not the hash of the line before it"),
        (_drop_a_line, "a line is missing or out of order"),
        (_drop_the_last_line, "lines are missing"),
        (_swap_within_a_negotiation, "a line is missing or out of order"),
        (_swap_across_negotiations, "out of log order"),
        (_without_header, "not a header"),
    ],
)
@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_a_tampered_file_is_refused_at_its_line_and_nothing_is_written(
    exported: list[dict[str, Any]],
    target: Ledger,
    tamper: Callable[[list[dict[str, Any]]], tuple[list[dict[str, Any]], int]],
    says: str,
) -> None:
    tampered, line = tamper(exported)

    with pytest.raises(ImportRefused) as refused:
        restore(target, _lines(tampered))

    assert (refused.value.line, says in refused.value.message) == (line, True), refused.value
    assert target.head_position() == 0


def test_a_line_that_is_not_utf8_is_refused_by_number() -> None:
    lines = [b'{"format": "parley-export", "format_version": 1, "negotiations": {}}\n', b"\xff\n"]

    with pytest.raises(ImportRefused) as refused:
        read_export(lines)

    assert refused.value.line == 2
    assert "UTF-8" in refused.value.message


def test_a_consistently_forged_event_still_has_to_pass_the_rules(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    """Hashes prove a file unaltered, not its content sound: restore decides every fact again."""
    interleaved_history(ledger, clock)
    documents = _documents(exported_lines(ledger))
    header, last = documents[0], documents[-1]
    beta_head = header["negotiations"][BETA]
    statement = documents[_line_of(documents, BETA, "statement_made") - 1]
    forged = _rehashed(
        {
            **statement,
            "event_id": "00000000-0000-4000-8000-0000000000ff",
            "version": beta_head["version"] + 1,
            "prev_hash": beta_head["head_hash"],
            "payload": {**statement["payload"], "party": "PRK"},
            "position": last["position"] + 1,
        }
    )
    header = {
        **header,
        "events": header["events"] + 1,
        "negotiations": {
            **header["negotiations"],
            BETA: {"version": forged["version"], "head_hash": forged["hash"]},
        },
    }

    with pytest.raises(ImportRefused) as refused:
        restore(target, _lines([header, *documents[1:], forged]))

    assert refused.value.line == len(documents) + 1
    assert "unknown-party" in refused.value.message
    assert target.head_position() == 0


def test_an_import_into_a_store_that_holds_events_is_refused(
    ledger: Ledger, target: Ledger, clock: Any
) -> None:
    interleaved_history(ledger, clock)
    open_seed(target, "already-here")
    before = target.head_position()

    with pytest.raises(ImportRefused) as refused:
        restore(target, exported_lines(ledger))

    assert "empty store" in refused.value.message
    assert target.head_position() == before


def test_restoring_nothing_writes_nothing(target: Ledger) -> None:
    restored = target.restore([])

    assert restored == Restored(heads={}, events=0, position=0)
    assert target.head_position() == 0


def test_every_fact_type_is_parsed_back_into_the_same_fact(ledger: Ledger, clock: Any) -> None:
    interleaved_history(ledger, clock)

    parsed = read_export(exported_lines(ledger))

    by_id = {e.event_id: e for e in ledger.stream(ALPHA)}
    for item in parsed.events:
        if item.negotiation == ALPHA:
            original = fact_of(by_id[item.event_id])
            assert payload_of(item.fact) == payload_of(original), item.fact.TYPE
            assert shape(item.fact.occurred_at) == shape(original.occurred_at)
    assert {item.fact.TYPE for item in parsed.events} == set(facts.FACT_TYPES)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"hash": "00" * 32}, "hash"),
        ({"prev_hash": "00" * 32}, "prev_hash"),
        ({"version": 99}, "version"),
        ({"recorded_by": "someone else"}, "hash"),
    ],
)
@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_the_ledger_itself_checks_each_restored_events_hash_chain_and_version(
    ledger: Ledger, target: Ledger, clock: Any, change: dict[str, Any], field: str
) -> None:
    """The domain does not rely on the file reader: it verifies what it is handed."""
    interleaved_history(ledger, clock)
    events = read_export(exported_lines(ledger)).events
    index = len(events) // 2
    events[index] = dataclasses.replace(events[index], **change)

    with pytest.raises(errors.InvalidValue) as refused:
        target.restore(events)

    assert (refused.value.field, refused.value.extra["index"]) == (field, index)
    assert target.head_position() == 0


@pytest.mark.parametrize(
    "recorded_at",
    [
        "9999-12-31T23:59:59.999999Z",
        "9999-12-31T23:59:59.999999+00:00",
        "0001-01-01T00:00:00+00:01",
        "9999-12-31T23:59:59-23:59",
        "2020-01-01",
        "not a time",
        12,
        None,
    ],
)
@pytest.mark.parametrize("store_url", ["memory", "sqlite", "postgres"], indirect=True)
def test_a_recorded_at_past_the_calendar_is_refused_by_line_number(
    exported: list[dict[str, Any]], target: Ledger, recorded_at: Any
) -> None:
    """The last line forged consistently (hash and header agree): only its moment is wrong."""
    header, last = exported[0], exported[-1]
    forged = _rehashed({**last, "recorded_at": recorded_at})
    slug = forged["negotiation"]
    header = {
        **header,
        "negotiations": {
            **header["negotiations"],
            slug: {"version": forged["version"], "head_hash": forged["hash"]},
        },
    }

    with pytest.raises(ImportRefused) as refused:
        restore(target, _lines([header, *exported[1:-1], forged]))

    assert refused.value.line == len(exported), refused.value
    # A moment written other than as the ledger writes it fails the hash first: either way,
    # "line N: why", never a crash.
    assert "recorded_at" in refused.value.message or "hash" in refused.value.message
    assert target.head_position() == 0
