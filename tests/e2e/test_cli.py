"""The ``parley`` command end to end: load, demo and serve against real stores."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from support import opened, stop_process
from typer.testing import CliRunner

from api.cli import app
from api.services.demo import DEMO_SLUG, LoadError, demo_path, ensure_demo, load_demo, load_jsonl
from domain.ledger import Ledger

DEMO_EVENTS = 29  # 26 lines; the opening line also records two parties and one term


def write_lines(path: Path, *objects: object) -> Path:
    path.write_text("".join(json.dumps(o) + "\n" for o in objects), encoding="utf-8")
    return path


OPENING = {
    "slug": "gm-uaw-2023",
    "title": "GM-UAW master agreement",
    "parties": [{"id": "GM", "name": "General Motors"}, {"id": "UAW", "name": "UAW"}],
    "terms": [{"id": "raise", "name": "General wage increase", "unit": "percent"}],
    "occurred_at": "2023-07-18",
}


def offer(party: str, amount: str, day: str) -> dict[str, object]:
    return {
        "negotiation": "gm-uaw-2023",
        "type": "offer_made",
        "party": party,
        "kind": "offer",
        "values": {"raise": {"amount": amount, "unit": "percent"}},
        "occurred_at": day,
    }


# ------------------------------------------------------------------ parley load


def test_loading_the_demo_file_records_the_sma_negotiation(sqlite_url: str) -> None:
    result = CliRunner().invoke(app, ["load", str(demo_path())])

    assert result.exit_code == 0, result.output
    assert f"{DEMO_EVENTS} events recorded" in result.stdout
    with opened(sqlite_url) as ledger:
        negotiation = ledger.get(DEMO_SLUG)
        assert negotiation.version == DEMO_EVENTS
        assert negotiation.status == "concluded"
        assert set(negotiation.parties) == {"USA", "ROK"}


def test_a_line_breaking_a_rule_exits_1_naming_it_and_records_nothing_of_it(
    sqlite_url: str, tmp_path: Path
) -> None:
    file = write_lines(
        tmp_path / "talks.jsonl",
        OPENING,
        offer("UAW", "40", "2023-08-31"),
        offer("FORD", "9", "2023-09-14"),  # line 3: FORD never joined
        offer("GM", "10", "2023-09-15"),
    )

    result = CliRunner().invoke(app, ["load", str(file)])

    assert result.exit_code == 1
    assert "line 3" in result.stderr
    assert "unknown-party" in result.stderr
    with opened(sqlite_url) as ledger:
        # opened + 2 parties + 1 term + the offer of line 2; nothing from line 3 on
        assert [e.TYPE for e in ledger.stream("gm-uaw-2023")][-1] == "offer_made"
        assert ledger.get("gm-uaw-2023").version == 5


def test_a_malformed_line_exits_1_before_anything_is_written(
    sqlite_url: str, tmp_path: Path
) -> None:
    file = write_lines(tmp_path / "talks.jsonl", OPENING, offer("UAW", "40", "2023-08-31"))
    with file.open("a", encoding="utf-8") as f:
        f.write('{"negotiation": "gm-uaw-2023", "type": "offer_made",\n')

    result = CliRunner().invoke(app, ["load", str(file)])

    assert result.exit_code == 1
    assert "line 3: not valid JSON" in result.stderr
    with opened(sqlite_url) as ledger:
        assert ledger.opened_negotiations() == []


def test_a_float_amount_is_refused_with_its_line_and_field(sqlite_url: str, tmp_path: Path) -> None:
    bad = offer("UAW", "40", "2023-08-31")
    bad["values"] = {"raise": {"amount": 40.5, "unit": "percent"}}
    file = write_lines(tmp_path / "talks.jsonl", OPENING, bad)

    result = CliRunner().invoke(app, ["load", str(file)])

    assert result.exit_code == 1
    assert "line 2: offer_made.values.raise.amount" in result.stderr


def test_a_bad_database_url_is_reported_without_a_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_DATABASE_URL", "mysql://nowhere/db")

    result = CliRunner().invoke(app, ["demo"])

    assert result.exit_code == 2
    assert "PARLEY_DATABASE_URL" in result.stderr
    assert "Traceback" not in result.output


# ------------------------------------------------------------------ parley demo


def test_demo_twice_loads_the_negotiation_once(sqlite_url: str) -> None:
    runner = CliRunner()

    first = runner.invoke(app, ["demo"])
    second = runner.invoke(app, ["demo"])

    assert first.exit_code == 0, first.output
    assert second.exit_code == 0, second.output
    assert "already loaded" in second.stdout
    with opened(sqlite_url) as ledger:
        assert [slug for _, slug in ledger.opened_negotiations()] == [DEMO_SLUG]
        assert ledger.get(DEMO_SLUG).version == DEMO_EVENTS


# ------------------------------------------------------------------ the loader itself


def test_the_demo_loads_on_every_store(ledger: Ledger) -> None:
    report = load_demo(ledger)

    assert report.negotiations == [DEMO_SLUG]
    assert report.events == DEMO_EVENTS
    negotiation = ledger.get(DEMO_SLUG)
    assert negotiation.version == DEMO_EVENTS
    assert negotiation.counts["round_held"] == 7


def test_demo_references_resolve_to_the_events_they_name(ledger: Ledger) -> None:
    load_demo(ledger)
    events = {str(e.event_id): e for e in ledger.stream(DEMO_SLUG)}

    rejection = next(e for e in events.values() if e.TYPE == "agreement_rejected")
    tentative = events[rejection.agreement_event_id]
    assert tentative.status == "tentative"
    retraction = next(e for e in events.values() if e.TYPE == "event_retracted")
    wrong = events[retraction.retracted_event_id]
    assert wrong.TYPE == "statement_made"
    assert str(wrong.occurred_at) == "2020-04-06"
    assert not ledger.get(DEMO_SLUG).is_live(retraction.retracted_event_id)


def test_ensure_demo_loads_only_into_an_empty_store(ledger: Ledger) -> None:
    assert ensure_demo(ledger) is True
    assert ensure_demo(ledger) is False
    assert ledger.get(DEMO_SLUG).version == DEMO_EVENTS


def test_ensure_demo_leaves_a_store_with_other_negotiations_alone(ledger: Ledger) -> None:
    load_jsonl(ledger, [json.dumps(OPENING)])

    assert ensure_demo(ledger) is False
    assert [slug for _, slug in ledger.opened_negotiations()] == ["gm-uaw-2023"]


def test_a_reference_to_no_earlier_line_is_refused_before_anything_is_written(
    ledger: Ledger,
) -> None:
    retraction = {
        "negotiation": "gm-uaw-2023",
        "type": "event_retracted",
        "retracted_event_id": "@nothing",
        "reason": "typo",
        "occurred_at": "2023-09-01",
    }

    with pytest.raises(LoadError, match="no earlier line has ref 'nothing'") as caught:
        load_jsonl(ledger, [json.dumps(OPENING), json.dumps(retraction)])

    assert caught.value.line == 2
    assert ledger.opened_negotiations() == []


# ------------------------------------------------------------------ parley serve


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until_healthy(proc: subprocess.Popen[bytes], base: str) -> httpx.Response:
    """Polls /health, bounded by attempts and a deadline; fails early if the server died."""
    deadline = time.monotonic() + 30
    for _ in range(300):
        try:
            return httpx.get(f"{base}/health", timeout=2)
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            break
        # Waiting on the process both paces the loop and notices a server that exited.
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=0.1)
        if proc.returncode is not None:
            output = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"parley serve exited with {proc.returncode}:\n{output}")
    pytest.fail("parley serve did not answer /health within 30 seconds")


def test_serve_answers_health_and_serves_the_demo(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "PARLEY_DATABASE_URL": f"sqlite:///{tmp_path}/serve.db"}
    parley = Path(sys.executable).with_name("parley")
    proc = subprocess.Popen(
        [str(parley), "serve", "--host", "127.0.0.1", "--port", str(port), "--demo"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        health = wait_until_healthy(proc, base)
        assert health.status_code == 200
        assert health.json()["status"] == "ok"

        summary = httpx.get(f"{base}/negotiations/{DEMO_SLUG}", timeout=5)
        assert summary.status_code == 200
        assert summary.json()["version"] == DEMO_EVENTS
        assert summary.headers["etag"] == f'"{DEMO_EVENTS}"'
    finally:
        stop_process(proc)
        if proc.stdout is not None:
            proc.stdout.close()
