"""Concurrent writers on one negotiation: every acknowledged event is stored once, none is lost.

Writers are threads sharing one ledger, ledgers sharing one store (each with its own
aggregate cache, as separate server processes have), and real OS processes.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from store_histories import check_chain, open_seed, statements

from api.store.store import StoreConfig, open_ledger, parse_database_url
from domain import errors
from domain.ledger import SNAPSHOT_INTERVAL, Ledger, Recorded

SLUG = "sma-2020"
JOIN_TIMEOUT = 60.0
WORKER = Path(__file__).with_name("store_worker.py")
LedgerFactory = Callable[[], Ledger]

# A memory store lives inside one ledger: sharing it needs a file or a server.
shared_stores = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


def run_threads(count: int, target: Callable[[int], None]) -> None:
    """Runs ``target(i)`` on ``count`` threads started together; re-raises the first failure."""
    barrier = threading.Barrier(count)
    failures: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait(timeout=JOIN_TIMEOUT)
            target(i)
        except BaseException as e:  # reported to the test thread below
            failures.append(e)

    threads = [threading.Thread(target=body, args=(i,), daemon=True) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=JOIN_TIMEOUT)
    assert not any(t.is_alive() for t in threads), "a writer thread did not finish in time"
    if failures:
        raise failures[0]


def assert_stored_exactly_once(ledger: Ledger, acked: list[UUID], opening: int) -> None:
    """The stream after the opening events is exactly the acknowledged events, once each."""
    events = check_chain(ledger, SLUG)
    stored = [e.event_id for e in events[opening:]]
    duplicated = [i for i, n in Counter(stored).items() if n > 1]
    assert not duplicated, f"stored twice: {duplicated}"
    assert len(acked) == len(set(acked)), "one event was acknowledged twice"
    assert set(stored) == set(acked), (
        f"lost: {set(acked) - set(stored)}, never acknowledged: {set(stored) - set(acked)}"
    )


def test_appends_from_many_threads_are_each_stored_once(ledger: Ledger) -> None:
    opening = open_seed(ledger, SLUG).version
    acked: list[UUID] = []
    per_thread = 20

    def append(i: int) -> None:
        for fact in statements(per_thread, f"thread-{i}"):
            recorded = ledger.record(SLUG, [fact])
            acked.extend(e.event_id for e in recorded.events)

    run_threads(8, append)

    assert len(acked) == 8 * per_thread
    assert_stored_exactly_once(ledger, acked, opening)
    assert ledger.get(SLUG).version == opening + 8 * per_thread


def race_on_version(
    ledger: Ledger, writers: int, version: int, label: str
) -> tuple[list[UUID], list[errors.StaleVersion]]:
    """``writers`` threads append at once, each expecting ``version``."""
    won: list[UUID] = []
    stale: list[errors.StaleVersion] = []

    def append(i: int) -> None:
        try:
            recorded = ledger.record(SLUG, statements(1, f"{label}-{i}"), expected_version=version)
        except errors.StaleVersion as e:
            stale.append(e)
        else:
            won.extend(e.event_id for e in recorded.events)

    run_threads(writers, append)
    return won, stale


def test_writers_expecting_the_same_version_have_exactly_one_winner(ledger: Ledger) -> None:
    open_seed(ledger, SLUG)
    writers = 6
    for round_ in range(3):
        version = ledger.get(SLUG).version

        won, stale = race_on_version(ledger, writers, version, f"round-{round_}")

        assert len(won) == 1, f"round {round_}: {len(won)} writers won"
        assert len(stale) == writers - 1
        assert all(e.expected == version for e in stale)
        assert ledger.get(SLUG).version == version + 1
        assert ledger.stream(SLUG)[-1].event_id == won[0]
    check_chain(ledger, SLUG)


def test_threads_opening_the_same_negotiation_have_exactly_one_winner(ledger: Ledger) -> None:
    opened: list[Recorded] = []
    refused: list[errors.NegotiationExists] = []

    def open_it(_: int) -> None:
        try:
            opened.append(open_seed(ledger, SLUG))
        except errors.NegotiationExists as e:
            refused.append(e)

    run_threads(6, open_it)

    assert (len(opened), len(refused)) == (1, 5)
    assert [e.event_id for e in check_chain(ledger, SLUG)] == [e.event_id for e in opened[0].events]


def test_threads_repeating_one_idempotent_opening_all_get_the_same_answer(
    ledger: Ledger,
) -> None:
    answers: list[Recorded] = []

    def open_it(_: int) -> None:
        answers.append(open_seed(ledger, SLUG, idempotency_key="open", fingerprint="f"))

    run_threads(6, open_it)

    assert len({tuple(e.event_id for e in a.events) for a in answers}) == 1
    assert sum(not a.replayed for a in answers) == 1
    assert len(check_chain(ledger, SLUG)) == len(answers[0].events)


# ------------------------------------------------ two ledgers, two aggregate caches


@pytest.fixture
def two_ledgers(ledger_factory: LedgerFactory) -> tuple[Ledger, Ledger, int]:
    """Two ledgers on one store; the first opened the negotiation (cached at that version)."""
    a, b = ledger_factory(), ledger_factory()
    open_seed(a, SLUG)
    return a, b, a.get(SLUG).version


@shared_stores
def test_a_ledger_with_a_cached_negotiation_appends_after_another_ledgers_event(
    two_ledgers: tuple[Ledger, Ledger, int],
) -> None:
    a, b, cached = two_ledgers

    from_b = b.record(SLUG, statements(1, "b"))
    from_a = a.record(SLUG, statements(1, "a"))

    assert from_b.version == cached + 1
    assert from_a.version == cached + 2
    events = check_chain(a, SLUG)
    assert [e.event_id for e in events[-2:]] == [
        from_b.events[0].event_id,
        from_a.events[0].event_id,
    ]
    assert events[-1].prev_hash == from_b.events[0].hash
    assert vars(a.get(SLUG)) == vars(b.get(SLUG))


@shared_stores
def test_a_stale_expected_version_from_a_cached_ledger_is_refused(
    two_ledgers: tuple[Ledger, Ledger, int],
) -> None:
    a, b, seen = two_ledgers
    b.record(SLUG, statements(1, "b"))
    head = b.head_position()

    with pytest.raises(errors.StaleVersion) as refused:
        a.record(SLUG, statements(1, "a"), expected_version=seen)

    assert (refused.value.expected, refused.value.actual) == (seen, seen + 1)
    assert a.head_position() == head
    assert len(check_chain(b, SLUG)) == seen + 1


class RacingClock:
    """A clock that lets another writer append between a ledger's load and its save.

    The ledger reads its clock after loading the negotiation and before saving, so this is
    the moment a concurrent server would slip in.
    """

    def __init__(self, clock: Callable[[], datetime], other: Callable[[], Any]) -> None:
        self._clock = clock
        self._other = other
        self.raced = 0

    def __call__(self) -> datetime:
        if self.raced == 0:
            self.raced += 1
            self._other()
        return self._clock()


@pytest.fixture
def racing(
    ledger_factory: LedgerFactory, store_config: StoreConfig, clock: Any
) -> Iterator[tuple[Ledger, Ledger, RacingClock]]:
    """A ledger whose first write is overtaken by a write of another ledger on the same store."""
    other = ledger_factory()
    open_seed(other, SLUG)
    racing_clock = RacingClock(clock, lambda: other.record(SLUG, statements(1, "other")))
    ledger = open_ledger(store_config, clock=racing_clock)
    try:
        ledger.get(SLUG)
        yield ledger, other, racing_clock
    finally:
        ledger.close()


@shared_stores
def test_an_append_overtaken_between_load_and_save_is_retried_after_the_other(
    racing: tuple[Ledger, Ledger, RacingClock],
) -> None:
    ledger, other, racing_clock = racing
    before = other.get(SLUG).version

    recorded = ledger.record(SLUG, statements(1, "mine"))

    assert racing_clock.raced == 1
    assert recorded.version == before + 2
    events = check_chain(other, SLUG)
    assert [e.recorded_by for e in events[-2:]] == ["anonymous", "anonymous"]
    assert [e.summary for e in events[-2:]] == ["other statement 0", "mine statement 0"]


@shared_stores
def test_an_append_with_expected_version_overtaken_before_its_save_is_stale(
    racing: tuple[Ledger, Ledger, RacingClock],
) -> None:
    ledger, other, racing_clock = racing
    before = other.get(SLUG).version

    with pytest.raises(errors.StaleVersion) as refused:
        ledger.record(SLUG, statements(1, "mine"), expected_version=before)

    assert racing_clock.raced == 1
    assert (refused.value.expected, refused.value.actual) == (before, before + 1)
    assert [e.summary for e in check_chain(other, SLUG)[before:]] == ["other statement 0"]
    # The refused ledger's cache must not keep the unsaved event either.
    assert ledger.record(SLUG, statements(1, "retry")).version == before + 2
    assert [e.summary for e in check_chain(other, SLUG)[before:]] == [
        "other statement 0",
        "retry statement 0",
    ]


@shared_stores
def test_a_cached_negotiation_is_brought_past_another_ledgers_snapshot(
    ledger_factory: LedgerFactory,
) -> None:
    a, b = ledger_factory(), ledger_factory()
    opening = open_seed(a, SLUG).version
    a.record(SLUG, statements(SNAPSHOT_INTERVAL - opening - 5, "a"))
    a.get(SLUG)

    b.record(SLUG, statements(20, "b"))
    recorded = a.record(SLUG, statements(1, "a-late"))

    assert recorded.version == SNAPSHOT_INTERVAL + 16
    assert vars(a.get(SLUG)) == vars(b.get(SLUG)) == vars(ledger_factory().get(SLUG))
    check_chain(b, SLUG)


# ----------------------------------------------------------------- OS processes


def run_workers(commands: list[list[str]]) -> list[dict[str, Any]]:
    """Starts one process per command, lets them all go at once, returns their reports."""
    procs = [
        subprocess.Popen(
            [sys.executable, str(WORKER), *command],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for command in commands
    ]
    try:
        for proc in procs:
            assert proc.stdout is not None
            line = proc.stdout.readline()
            if line.strip() != "ready":
                _, err = proc.communicate(timeout=JOIN_TIMEOUT)
                pytest.fail(f"a worker did not start: {line!r} {err}")
        for proc in procs:
            assert proc.stdin is not None
            proc.stdin.write("go\n")
            proc.stdin.flush()
        reports = []
        for proc in procs:
            out, err = proc.communicate(timeout=JOIN_TIMEOUT)
            assert proc.returncode == 0, err
            reports.append(json.loads(out))
        return reports
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
            # Close the pipes even when an assertion failed above, or their files leak and
            # a later test fails on the ResourceWarning.
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.communicate(timeout=JOIN_TIMEOUT)
                proc.wait(timeout=JOIN_TIMEOUT)


@shared_stores
@pytest.mark.timeout(120)
def test_appends_from_several_processes_are_each_stored_once(
    ledger: Ledger, store_url: str
) -> None:
    opening = open_seed(ledger, SLUG).version
    per_process = 15
    reports = run_workers(
        [["append", store_url, SLUG, str(per_process), f"proc-{i}"] for i in range(3)]
    )

    acked = [UUID(i) for r in reports for i in r["acked"]]
    for r in reports:
        assert len(r["acked"]) + r["conflicts"] == per_process
        assert r["acked"], "a process never got an append acknowledged"
    assert_stored_exactly_once(ledger, acked, opening)
    assert ledger.get(SLUG).version == opening + len(acked)


@shared_stores
@pytest.mark.timeout(120)
def test_processes_preparing_a_fresh_store_at_once_all_succeed(store_url: str) -> None:
    reports = run_workers([["prepare", store_url] for _ in range(4)])

    assert reports == [{"prepared": True}] * 4
    ledger = open_ledger(parse_database_url(store_url), create_tables=False)
    try:
        open_seed(ledger, SLUG)
        ledger.record(SLUG, statements(2, "after"))
        assert len(check_chain(ledger, SLUG)) == 8
    finally:
        ledger.close()
