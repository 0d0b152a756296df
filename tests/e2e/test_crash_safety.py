"""Crash safety, proven: ``parley serve`` killed with SIGKILL under concurrent writers.

Six writer threads append to negotiations of their own and to one they all share, some
requests in batches, some with an ``Idempotency-Key``. Once enough appends are acknowledged
the server's process group gets SIGKILL mid-load; a new server on the same store must then
show every acknowledged event exactly once, no request half-written, the hash chain whole,
idempotent retries answered with the first response, and views equal to a rebuild.

The helpers here (``ParleyServer``, ``postgres_database``…) also serve ``test_workers_*.py``.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import PG_HOST, PG_PORT, PG_USER, fresh_database, postgres_admin

from api.store.store import _DurableSQLitePool, open_ledger, parse_database_url

PARLEY = Path(sys.executable).with_name("parley")
START_TIMEOUT = 30.0
WRITERS = 6
KILL_AFTER_ACKS = 200
"""Acknowledged requests before the kill: enough history, and writers still in flight."""
LOAD_DEADLINE = 15.0
CONVERGE_TIMEOUT = 30.0
TERM = "price"
FIRST_DAY = date(2020, 1, 1)


# ------------------------------------------------------------------ servers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class ParleyServer:
    """``parley serve`` in a process group of its own, its output in a log file."""

    database_url: str
    log: Path
    workers: int = 1
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Starts it and returns once ``/health`` answers 200 (bounded by START_TIMEOUT)."""
        self.port = free_port()
        env = {
            **os.environ,
            "PARLEY_DATABASE_URL": self.database_url,
            "PARLEY_READ_WAIT_SECONDS": "20",
            **self.env,
        }
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [str(PARLEY), "serve", "--port", str(self.port), "--workers", str(self.workers)],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # its own process group: SIGKILL reaches every worker
            )
        deadline = time.monotonic() + START_TIMEOUT
        with httpx.Client(base_url=self.base_url, timeout=2.0) as client:
            while time.monotonic() < deadline:
                with contextlib.suppress(httpx.TransportError):
                    if client.get("/health").status_code == 200:
                        return
                # The pause between attempts also notices a server that died at start-up.
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.proc.wait(timeout=0.05)
                    pytest.fail(f"parley serve exited with {self.proc.returncode}:\n{self.tail()}")
        pytest.fail(f"parley serve did not answer /health in {START_TIMEOUT} s:\n{self.tail()}")

    def kill(self) -> None:
        """SIGKILL to the whole process group: no shutdown code runs anywhere."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=10)
        self.proc = None

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL if it has not ended within 10 s."""
        if self.proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.kill()
        finally:
            if self.proc is not None:
                # The group may outlive its leader (a worker still stopping).
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc = None

    def tail(self, lines: int = 40) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@contextlib.contextmanager
def postgres_database(prefix: str) -> Iterator[str]:
    """A fresh PostgreSQL database, dropped afterwards; skips (or fails, when required)."""
    admin = postgres_admin()
    if admin is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    with fresh_database(admin, prefix) as name:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path}/crash.db"
        return
    with postgres_database("parley_crash") as url:
        yield url


# ------------------------------------------------------------------ what clients send


def negotiation(slug: str) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": f"crash test {slug}",
        "parties": [{"id": "A", "name": "Buyer"}, {"id": "B", "name": "Seller"}],
        "terms": [{"id": TERM, "name": "Price", "unit": "USD"}],
        "occurred_at": FIRST_DAY.isoformat(),
    }


def offer(tag: str, i: int) -> dict[str, Any]:
    """An offer that moves: A climbs from 100, B comes down from 1000, a day apart."""
    party = "A" if i % 2 == 0 else "B"
    amount = 100 + i if party == "A" else 1000 - i
    return {
        "type": "offer_made",
        "party": party,
        "kind": "offer",
        "values": {TERM: {"amount": f"{amount}.50", "unit": "USD"}},
        "occurred_at": (FIRST_DAY + timedelta(days=1 + i % 700)).isoformat(),
        "note": tag,  # the request's tag, to find its events in the ledger
    }


@dataclass
class Append:
    """One append request and what became of it."""

    slug: str
    tag: str
    body: dict[str, Any] | list[dict[str, Any]]
    key: str | None
    outcome: str = "unsent"  # "acked" | "refused" | "unknown"
    status: int | None = None
    events: list[tuple[str, int]] = field(default_factory=list)
    """``(event_id, version)`` of each event, as the 201 said."""

    @property
    def size(self) -> int:
        return len(self.body) if isinstance(self.body, list) else 1

    def send(self, client: httpx.Client) -> httpx.Response:
        headers = {"Idempotency-Key": self.key} if self.key else {}
        return client.post(f"/negotiations/{self.slug}/events", json=self.body, headers=headers)


def events_of(response: httpx.Response) -> list[tuple[str, int]]:
    return [(e["event_id"], e["version"]) for e in response.json()["events"]]


class Load:
    """Writer threads appending until the server stops answering or the load is called off."""

    def __init__(self, base_url: str, writers: int, shared: str) -> None:
        self.base_url = base_url
        self.writers = writers
        self.shared = shared
        self.appends: list[Append] = []
        self.acked = 0
        self.unexpected: list[str] = []
        self.enough = threading.Event()
        self.halt = threading.Event()
        self._lock = threading.Lock()
        self._threads = [
            threading.Thread(target=self._write, args=(w,), name=f"writer-{w}", daemon=True)
            for w in range(writers)
        ]

    @staticmethod
    def own(writer: int) -> str:
        return f"crash-w{writer}"

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def join(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        assert not any(t.is_alive() for t in self._threads), "a writer did not stop"

    def _write(self, writer: int) -> None:
        with httpx.Client(base_url=self.base_url, timeout=20.0) as client:
            for i in itertools.count():
                if self.halt.is_set():
                    return
                slug = self.shared if i % 2 else self.own(writer)
                tag = f"w{writer}-r{i}"
                # Every fourth request a batch of three; every third one with a key.
                body: Any = (
                    [{**offer(tag, 3 * i + k), "note": f"{tag}-{k}/3"} for k in range(3)]
                    if i % 4 == 3
                    else {**offer(tag, i), "note": f"{tag}-0/1"}
                )
                append = Append(slug, tag, body, f"crash-{tag}" if i % 3 == 0 else None)
                with self._lock:
                    self.appends.append(append)
                try:
                    response = append.send(client)
                except httpx.TransportError:
                    append.outcome = "unknown"  # the server died with this one in flight
                    return
                append.status = response.status_code
                if response.status_code == 201:
                    append.outcome = "acked"
                    append.events = events_of(response)
                    with self._lock:
                        self.acked += 1
                        if self.acked >= KILL_AFTER_ACKS:
                            self.enough.set()
                    continue
                append.outcome = "refused"
                if response.status_code != 409:  # concurrent writers may run out of retries
                    self.unexpected.append(f"{tag}: {response.status_code} {response.text}")


# ------------------------------------------------------------------ what the ledger says


def ledger_events(client: httpx.Client, slug: str) -> list[dict[str, Any]]:
    """Every page of the negotiation's ledger."""
    events: list[dict[str, Any]] = []
    after: int | None = 0
    while after is not None:
        page = client.get(
            f"/negotiations/{slug}/events", params={"after_version": after, "limit": 1000}
        )
        assert page.status_code == 200, page.text
        events += page.json()["events"]
        after = page.json()["next_after_version"]
    return events


def wait_for_views(client: httpx.Client, timeout: float = CONVERGE_TIMEOUT) -> dict[str, Any]:
    """Polls ``/health`` until every view has no lag; returns the last answer."""
    deadline = time.monotonic() + timeout
    while True:
        health = client.get("/health")
        assert health.status_code == 200, health.text
        body: dict[str, Any] = health.json()
        assert body["error"] is None, body
        if all(v["lag"] == 0 for v in body["views"].values()):
            return body
        assert time.monotonic() < deadline, f"the views did not catch up: {body}"
        # The next /health is the pause: each one is a round trip to the store.


def analytics(client: httpx.Client, slugs: list[str]) -> dict[str, Any]:
    """Positions, gaps and timeline of each negotiation, as the views serve them."""
    found: dict[str, Any] = {}
    for slug in slugs:
        for view in ("positions", "gaps"):
            response = client.get(f"/negotiations/{slug}/{view}")
            assert response.status_code == 200, response.text
            found[f"{slug}/{view}"] = response.json()
            # as_of reads the stored position series: they converge and rebuild too
            for days in (3, 350):
                as_of = (FIRST_DAY + timedelta(days=days)).isoformat()
                response = client.get(f"/negotiations/{slug}/{view}", params={"as_of": as_of})
                assert response.status_code == 200, response.text
                found[f"{slug}/{view}?as_of={as_of}"] = response.json()
        # the timeline is paged: follow its cursor to the end
        params: dict[str, Any] = {"limit": 1000}
        pages = []
        while True:
            response = client.get(f"/negotiations/{slug}/timeline", params=params)
            assert response.status_code == 200, response.text
            pages.append(response.json())
            if not pages[-1].get("next_cursor"):
                break
            params = {"limit": 1000, "cursor": pages[-1]["next_cursor"]}
        timeline = pages[0]
        timeline["events"] = [e for page in pages for e in page["events"]]
        found[f"{slug}/timeline"] = timeline
    return found


def rebuild_views(database_url: str, log: Path) -> None:
    result = subprocess.run(
        [str(PARLEY), "rebuild"],
        env={**os.environ, "PARLEY_DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    with log.open("a") as f:
        f.write(result.stdout)


def verify_ledger(client: httpx.Client) -> None:
    """``GET /ledger/verify`` is ok."""
    response = client.get("/ledger/verify")
    assert response.status_code == 200, response.text
    verdict = response.json()
    assert verdict["ok"] is True, verdict


# ------------------------------------------------------------------ the tests


def test_sqlite_connections_commit_with_synchronous_full(tmp_path: Path) -> None:
    ledger = open_ledger(parse_database_url(f"sqlite:///{tmp_path}/s.db"), create_tables=True)
    try:
        datastore: Any = ledger.recorder.datastore
        assert isinstance(datastore.pool, _DurableSQLitePool)
        with datastore.transaction(commit=False) as cursor:
            cursor.execute("PRAGMA synchronous")
            assert cursor.fetchone()[0] == 2  # FULL
            cursor.execute("PRAGMA journal_mode")
            assert cursor.fetchone()[0] == "wal"
    finally:
        ledger.close()


@pytest.mark.slow
def test_a_server_killed_mid_load_keeps_every_acknowledged_event_exactly_once(
    database_url: str, tmp_path: Path
) -> None:
    server = ParleyServer(database_url, tmp_path / "server.log")
    shared = "crash-shared"
    slugs = [Load.own(w) for w in range(WRITERS)] + [shared]
    load: Load | None = None
    try:
        # -- given negotiations, and writers at full speed
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
            for slug in slugs:
                opened = client.post("/negotiations", json=negotiation(slug))
                assert opened.status_code == 201, opened.text
        load = Load(server.base_url, WRITERS, shared)
        load.start()

        # -- when the server's process group is killed mid-load
        assert load.enough.wait(timeout=LOAD_DEADLINE), (
            f"only {load.acked} appends acknowledged in {LOAD_DEADLINE} s:\n{server.tail()}"
        )
        server.kill()
        load.halt.set()
        load.join(timeout=30)
        assert not load.unexpected, load.unexpected
        in_flight = [a for a in load.appends if a.outcome == "unknown"]
        assert in_flight, "the kill found no request in flight: it was not mid-load"

        # -- and a new server starts on the same store
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=30.0) as client:
            # then a retry with the same key answers the first response, never a second copy
            for append in load.appends:
                if append.key is None or append.outcome not in ("acked", "unknown"):
                    continue
                retried = append.send(client)
                assert retried.status_code == 201, retried.text
                if append.outcome == "acked":
                    assert events_of(retried) == append.events, append.tag
                    assert retried.headers.get("Idempotent-Replayed") == "true"
                else:  # it may or may not have been stored before the kill: now it is, once
                    append.outcome = "acked"
                    append.events = events_of(retried)

            # then every acknowledged event is in the ledger once, at the version it was given
            acked_by_slug: dict[str, dict[str, int]] = defaultdict(dict)
            for append in load.appends:
                if append.outcome == "acked":
                    assert len(append.events) == append.size
                    acked_by_slug[append.slug].update(append.events)
            assert sum(len(acked) for acked in acked_by_slug.values()) >= KILL_AFTER_ACKS
            appends_by_tag = {a.tag: a for a in load.appends}
            for slug in slugs:
                events = ledger_events(client, slug)
                assert [e["version"] for e in events] == list(range(1, len(events) + 1)), slug
                ids = Counter(e["event_id"] for e in events)
                assert max(ids.values()) == 1, f"{slug}: an event id appears twice"
                stored = {e["event_id"]: e["version"] for e in events}
                for event_id, version in acked_by_slug[slug].items():
                    assert stored.get(event_id) == version, f"{slug}: acknowledged {event_id}"
                # the hash chain is whole
                for before, after in itertools.pairwise(events):
                    assert after["prev_hash"] == before["hash"], f"{slug} v{after['version']}"

                # then nothing is half-written: a request's events are all there, once, or none
                parts: dict[str, list[tuple[str, str]]] = defaultdict(list)
                for event in (e for e in events if e["type"] == "offer_made"):
                    tag, part = event["note"].rsplit("-", 1)
                    parts[tag].append((part, event["event_id"]))
                for tag, found in parts.items():
                    append = appends_by_tag[tag]
                    assert append.slug == slug
                    assert append.outcome in ("acked", "unknown"), f"{tag} was {append.outcome}"
                    expected = [f"{k}/{append.size}" for k in range(append.size)]
                    assert [part for part, _ in found] == expected, f"{tag}: {found}"
                    if append.outcome == "acked":
                        assert [event_id for _, event_id in found] == [
                            event_id for event_id, _ in append.events
                        ], tag

            # then the views converge to what a rebuild from zero makes of the ledger
            wait_for_views(client)
            live = analytics(client, slugs)
            for slug in slugs:
                timeline = [e["event_id"] for e in live[f"{slug}/timeline"]["events"]]
                assert sorted(timeline) == sorted(
                    e["event_id"] for e in ledger_events(client, slug)
                )
            rebuild_views(database_url, tmp_path / "rebuild.log")
            assert analytics(client, slugs) == live

            verify_ledger(client)
    finally:
        if load is not None:
            load.halt.set()
        server.stop()
