"""``parley serve --workers N``: N API processes on one PostgreSQL, one projection runner.

Which worker answered a request is read from the kernel: the server side of the client's
connection is a socket that only the accepting worker holds (``/proc/net/tcp`` gives its
inode, ``/proc/<pid>/fd`` its owner).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from support import stop_process
from test_crash_safety import (
    PARLEY,
    ParleyServer,
    analytics,
    ledger_events,
    negotiation,
    offer,
    postgres_database,
    rebuild_views,
    wait_for_views,
)
from typer.testing import CliRunner

from api.cli import app

WORKERS = 2
MIN_APPENDS_PER_WORKER = 10
SPREAD_DEADLINE = 20.0


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_database("parley_workers") as url:
        yield url


# ------------------------------------------------------------------ who answered


def worker_pids(parent: int) -> set[int]:
    """The uvicorn workers: the children of ``parley serve`` started by multiprocessing."""
    children = Path(f"/proc/{parent}/task/{parent}/children").read_text().split()
    return {
        int(pid) for pid in children if b"spawn_main" in Path(f"/proc/{pid}/cmdline").read_bytes()
    }


def socket_inode(server_port: int, client_port: int) -> str:
    """The inode of the server side of a loopback TCP connection."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        local, remote, inode = fields[1], fields[2], fields[9]
        if int(local.split(":")[1], 16) == server_port and int(remote.split(":")[1], 16) == (
            client_port
        ):
            return inode
    msg = f"no server socket for the connection from port {client_port}"
    raise AssertionError(msg)


def owner(pids: set[int], inode: str) -> int:
    wanted = f"socket:[{inode}]"
    for pid in pids:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            with contextlib.suppress(FileNotFoundError):
                if os.readlink(fd) == wanted:
                    return pid
    msg = f"no worker holds {wanted}"
    raise AssertionError(msg)


def answered_by(response: httpx.Response, server_port: int, pids: set[int]) -> int:
    """The worker that holds the connection ``response`` came on (still open)."""
    _, client_port = response.extensions["network_stream"].get_extra_info("client_addr")
    return owner(pids, socket_inode(server_port, client_port))


def parley_project(database_url: str, log_path: Path) -> subprocess.Popen[bytes]:
    """``parley project`` on ``database_url``, its output in ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [str(PARLEY), "project"],
            env={**os.environ, "PARLEY_DATABASE_URL": database_url},
            stdout=log,
            stderr=subprocess.STDOUT,
        )


# ------------------------------------------------------------------ the tests


@pytest.mark.postgres
@pytest.mark.slow
def test_two_workers_both_take_appends_and_one_runner_applies_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    server = ParleyServer(database_url, tmp_path / "server.log", workers=WORKERS)
    # A second runner, racing the one in `parley serve`: the views take each event once.
    project: subprocess.Popen[bytes] | None = None
    slugs = ["workers-a", "workers-b"]
    try:
        server.start()
        assert server.proc is not None
        pids = worker_pids(server.proc.pid)
        assert len(pids) == WORKERS, pids
        project = parley_project(database_url, tmp_path / "project.log")
        with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
            for slug in slugs:
                assert client.post("/negotiations", json=negotiation(slug)).status_code == 201
            health = client.get("/health").json()
            assert health["projections"] == "external", health

        # -- when appends come on fresh connections until each worker took its share
        acked: dict[int, list[tuple[str, str]]] = defaultdict(list)
        deadline = time.monotonic() + SPREAD_DEADLINE
        i = 0
        while min((len(acked[pid]) for pid in pids), default=0) < MIN_APPENDS_PER_WORKER:
            assert time.monotonic() < deadline, {pid: len(acked[pid]) for pid in pids}
            with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
                slug = slugs[i % 2]
                response = client.post(f"/negotiations/{slug}/events", json=offer(f"w-{i}-0/1", i))
                assert response.status_code == 201, response.text
                worker = answered_by(response, server.port, pids)
                acked[worker].append((slug, response.json()["events"][0]["event_id"]))
            i += 1

        # then both workers answered, and what each acknowledged is in the ledger once
        assert set(acked) == pids
        with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
            stored = {
                slug: Counter(e["event_id"] for e in ledger_events(client, slug)) for slug in slugs
            }
            for appended in acked.values():
                for slug, event_id in appended:
                    assert stored[slug][event_id] == 1, (slug, event_id)

            # then the views hold every event once and agree with a rebuild
            wait_for_views(client)
            live = analytics(client, slugs)
            for slug in slugs:
                timeline = Counter(e["event_id"] for e in live[f"{slug}/timeline"]["events"])
                assert timeline == stored[slug], slug
            rebuild_views(database_url, tmp_path / "rebuild.log")
            assert analytics(client, slugs) == live
        assert project.poll() is None, (tmp_path / "project.log").read_text()
    finally:
        if project is not None:
            stop_process(project)
        server.stop()


@pytest.mark.postgres
@pytest.mark.slow
def test_workers_without_a_runner_leave_the_views_to_parley_project(
    database_url: str, tmp_path: Path
) -> None:
    server = ParleyServer(
        database_url,
        tmp_path / "server.log",
        workers=WORKERS,
        env={"PARLEY_PROJECT_IN_PROCESS": "false"},
    )
    project: subprocess.Popen[bytes] | None = None
    try:
        server.start()
        with httpx.Client(base_url=server.base_url, timeout=20.0) as client:
            assert client.post("/negotiations", json=negotiation("idle")).status_code == 201
            recorded = client.post("/negotiations/idle/events", json=offer("idle-0-0/1", 0))
            assert recorded.status_code == 201, recorded.text

            # nobody keeps the views: they stay behind the ledger
            health: dict[str, Any] = client.get("/health").json()
            assert health["head_position"] == recorded.json()["events"][0]["position"]
            assert all(v["position"] == 0 for v in health["views"].values()), health

            project = parley_project(database_url, tmp_path / "project.log")
            wait_for_views(client)
            timeline = client.get("/negotiations/idle/timeline").json()["events"]
            assert recorded.json()["events"][0]["event_id"] in {e["event_id"] for e in timeline}
    finally:
        if project is not None:
            stop_process(project)
        server.stop()


@pytest.mark.parametrize("url", ["sqlite:///{tmp}/w.db", "memory://"])
def test_more_than_one_worker_is_refused_without_postgres(
    url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_DATABASE_URL", url.format(tmp=tmp_path))

    result = CliRunner().invoke(app, ["serve", "--workers", "2"])

    assert result.exit_code == 2
    assert "needs PostgreSQL" in result.stderr
    assert "Traceback" not in result.output
    assert not (tmp_path / "w.db").exists()
