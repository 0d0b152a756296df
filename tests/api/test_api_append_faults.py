"""An append is decided once: a COMMIT whose reply was lost is answered as committed.

The recorder is wrapped so that an armed insert commits and then fails the way a lost reply
makes it fail: either the store library retries it (and meets its own rows, IntegrityError,
as eventsourcing's PostgreSQL recorder does) or it gives up with an OperationalError.
"""

from __future__ import annotations

import itertools
import logging
from typing import Any

import pytest
from apitools import ledger_events, offer, post_events, sma_negotiation
from eventsourcing.persistence import OperationalError
from starlette.testclient import TestClient

LOST_REPLY_MODES = ("library-retried", "gave-up")


class LostCommitReply:
    """Wraps ``insert_events``: when armed, the insert commits and its caller hears a failure."""

    def __init__(self, recorder: Any, mode: str) -> None:
        self.insert = recorder.insert_events
        self.mode = mode
        self.armed = False
        self.fired = 0
        recorder.insert_events = self

    def __call__(self, stored_events: Any, **kwargs: Any) -> Any:
        if not self.armed:
            return self.insert(stored_events, **kwargs)
        self.armed = False
        self.insert(stored_events, **kwargs)  # committed; the reply is "lost" below
        self.fired += 1
        if self.mode == "library-retried":
            return self.insert(stored_events, **kwargs)  # the retry meets its own rows
        raise OperationalError("server closed the connection unexpectedly")


@pytest.mark.parametrize("mode", LOST_REPLY_MODES)
def test_an_append_whose_commit_reply_is_lost_is_stored_once_and_answered_201(
    client_factory: Any, store_url: str, mode: str, caplog: pytest.LogCaptureFixture
) -> None:
    client: TestClient = client_factory(store_url)
    fault = LostCommitReply(client.app.state.ledger.recorder, mode)  # type: ignore[attr-defined]
    fault.armed = True
    opened = client.post("/negotiations", json=sma_negotiation())
    assert opened.status_code == 201, opened.text
    version = opened.json()["version"]
    acknowledged: list[str] = [e["event_id"] for e in ledger_events(client)]
    assert len(acknowledged) == version
    cases = itertools.product((False, True), (False, True), (False, True))
    for n, (batch, keyed, if_match) in enumerate(cases):
        body: Any = [offer(amount=f"{n + 1}000"), offer("ROK", f"{n + 1}00")] if batch else offer()
        headers = {"Idempotency-Key": f"k-{n}"} if keyed else {}
        if if_match:
            headers["If-Match"] = f'"{version}"'
        fault.armed = True
        with caplog.at_level(logging.WARNING, logger="domain.ledger"):
            response = post_events(client, body, headers=headers)

        case = f"batch={batch} keyed={keyed} if_match={if_match}"
        assert response.status_code == 201, f"{case}: {response.text}"
        answer = response.json()
        assert answer["version"] == version + (2 if batch else 1), case
        assert [e["version"] for e in answer["events"]] == list(
            range(version + 1, answer["version"] + 1)
        ), case
        version = answer["version"]
        acknowledged += [e["event_id"] for e in answer["events"]]
        if keyed:  # the client's own retry after a lost answer replays, never re-records
            repeat = post_events(client, body, headers=headers)
            assert repeat.status_code == 201, case
            assert repeat.json()["events"] == answer["events"], case

    assert fault.fired == 9
    stored = ledger_events(client)
    assert [e["event_id"] for e in stored] == acknowledged  # each once, in order
    assert [e["version"] for e in stored] == list(range(1, len(stored) + 1))
    verified = client.get("/ledger/verify").json()
    assert verified["ok"] is True, verified
    assert verified["events_checked"] == len(stored)
    assert "answered as committed" in caplog.text


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_a_conflict_with_another_writer_is_still_a_conflict(
    client_factory: Any, store_url: str
) -> None:
    """The check does not mistake someone else's events for ours: If-Match still goes stale."""
    client: TestClient = client_factory(store_url)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    ledger = client.app.state.ledger  # type: ignore[attr-defined]
    insert = ledger.recorder.insert_events
    other = client_factory(store_url)  # another process writing to the same store

    def behind_another_writer(stored_events: Any, **kwargs: Any) -> Any:
        ledger.recorder.insert_events = insert
        assert post_events(other, offer("ROK", "100")).status_code == 201
        return insert(stored_events, **kwargs)

    ledger.recorder.insert_events = behind_another_writer
    response = post_events(client, offer(), headers={"If-Match": '"5"'})

    assert response.status_code == 412, response.text
    assert [e["type"] for e in ledger_events(client)[5:]] == ["offer_made"]
