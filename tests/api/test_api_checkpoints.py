"""``as_of_version`` and ``as_of_recorded`` read a fold checkpoint and at most K events, on
every store: each read at a version counts the events-view rows it reads, and answers as the
fold of that many events does (``tests/properties/test_time_travel_property`` for random
histories)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest
from apitools import offer, post_events, sma_negotiation
from support import counting_reads

from api.http.deps import TimeTravel
from api.http.reads.travel import stream_of_view

K = 4
READS = ("", "/positions", "/gaps", "/chart.json", "/timeline")
SLUG = "usa-rok-sma"


@pytest.fixture
def client(store_client: Any, monkeypatch: pytest.MonkeyPatch) -> Any:
    """The app on each store, checkpointing every K versions, with the SMA talks opened."""
    monkeypatch.setenv("PARLEY_CHECKPOINT_EVERY", str(K))
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    return store_client


def test_reads_at_a_version_fold_at_most_k_events(client: Any) -> None:
    for i in range(20):
        party = "USA" if i % 2 else "ROK"
        body = offer(party, str(5_000_000_000 + i), "KRW", occurred_at=f"2019-11-{i + 1:02d}")
        assert post_events(client, body).status_code == 201
    head = 25
    views = client.app.state.runner.views
    counts = counting_reads(views)
    for version in (3, 9, 16, 24, head):
        for path in READS:
            counts.clear()
            at = client.get(f"/negotiations/{SLUG}{path}", params={"as_of_version": version})
            assert at.status_code == 200, at.text
            # Without checkpoints the read refolds all ``version`` events.
            assert sum(counts) < K, (path, version, counts)
    # And they are the fold's answer: what the same reads say on a store holding only the
    # first N events is what the time-travel property checks; here, the fold of the view.
    counts.clear()
    travel = TimeTravel(as_of_version=16)
    stream = stream_of_view(views, SLUG, travel)
    assert stream.version == 16


def test_as_of_recorded_is_the_prefix_recorded_by_then(client: Any) -> None:
    recorded: dict[int, str] = {}
    for i in range(10):
        body = offer("USA", str(5_000_000_000 + i), "KRW", occurred_at=f"2019-11-{i + 1:02d}")
        response = post_events(client, body)
        assert response.status_code == 201
        event = response.json()["events"][0]
        recorded[event["version"]] = event["recorded_at"]
    views = client.app.state.runner.views
    counts = counting_reads(views)
    for version, moment in sorted(recorded.items()):
        for path in READS:
            counts.clear()
            then = client.get(f"/negotiations/{SLUG}{path}", params={"as_of_recorded": moment})
            assert then.status_code == 200, then.text
            assert sum(counts) < K, (path, version, counts)
            assert (
                then.json()
                == client.get(
                    f"/negotiations/{SLUG}{path}", params={"as_of_version": version}
                ).json()
            )
            before = datetime.fromisoformat(moment) - timedelta(microseconds=1)
            earlier = client.get(
                f"/negotiations/{SLUG}{path}", params={"as_of_recorded": before.isoformat()}
            )
            assert (
                earlier.json()
                == client.get(
                    f"/negotiations/{SLUG}{path}", params={"as_of_version": version - 1}
                ).json()
            )
    opened = min(recorded.values())
    first = datetime.fromisoformat(opened) - timedelta(days=365)
    response = client.get(
        f"/negotiations/{SLUG}/gaps", params={"as_of_recorded": first.isoformat()}
    )
    assert response.status_code == 404
    assert "was on record at" in response.json()["detail"]
