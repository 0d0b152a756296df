"""The terminal's list (``parley negotiations``) and ``GET /negotiations`` show the same entries.

Both come from ``projections.index.fold_negotiation``: the index view keeps its output as the
log grows, the terminal folds a negotiation's records. A random valid history
(``test_time_travel_property``'s: offers, withdrawals, rejections, agreements and their
rejections, rates, rounds, status changes to open, suspended, concluded and collapsed,
retractions of any of them) plus status changes at moments with a UTC offset (and their
retractions) is recorded through the API; the HTTP list's item (less its gaps) must equal
``index_entry`` of the ledger's stream.
"""

from __future__ import annotations

import warnings
from datetime import timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning
from test_time_travel_property import HISTORIES, OPENED_ON, SLUG, Step, post, record_history

from api.http.app import create_app
from api.settings import Settings
from projections.index import index_entry
from projections.records import stream_of

with warnings.catch_warnings():  # as in tests/api/conftest.py
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

STATUSES = ("open", "suspended", "concluded", "collapsed")
MOMENTS = st.lists(
    st.tuples(
        st.integers(0, 700),  # day
        st.integers(0, 23),  # hour
        st.sampled_from(["+09:00", "-05:00", "+00:00"]),
        st.sampled_from(STATUSES),
        st.booleans(),  # retracted afterwards
    ),
    max_size=4,
)


def moment_changes(client: TestClient, moments: list[tuple[int, int, str, str, bool]]) -> None:
    for day, hour, offset, status, retract in moments:
        at = f"{(OPENED_ON + timedelta(days=day)).isoformat()}T{hour:02d}:30:00{offset}"
        body = {"type": "status_changed", "status": status, "reason": "news", "occurred_at": at}
        response = post(client, f"/negotiations/{SLUG}/events", body)
        if response.status_code != 201 or not retract:
            continue
        target = response.json()["events"][0]["event_id"]
        retraction = {
            "type": "event_retracted",
            "retracted_event_id": target,
            "reason": "wrong",
            "occurred_at": at,
        }
        post(client, f"/negotiations/{SLUG}/events", retraction)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(history=HISTORIES, moments=MOMENTS)
def test_the_cli_list_and_the_http_list_agree(
    history: list[list[Step]], moments: list[tuple[int, int, str, str, bool]]
) -> None:
    with TestClient(
        create_app(Settings(database_url="memory://")), base_url="http://localhost"
    ) as client:
        record_history(client, history)
        moment_changes(client, moments)
        response = client.get("/negotiations")
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        ledger = client.app.state.ledger  # type: ignore[attr-defined]
        entry = index_entry(stream_of(ledger.stream(SLUG)))

    assert len(items) == 1
    item = dict(items[0])
    item.pop("gaps")
    assert entry is not None
    # The API leaves out a party's actor_code when it has none.
    entry["parties"] = [{k: v for k, v in p.items() if v is not None} for p in entry["parties"]]
    assert entry == item
