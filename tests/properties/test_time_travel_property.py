"""Time travel through the real app: the state at ``as_of_version=N`` is the first N events' state.

A random valid history (offers in two currencies on a money term and a percent term,
withdrawals, rejections, agreements and their rejections, exchange rates, rounds, status
changes and retractions of earlier events) is recorded through the API on store A, a few
events per request. Every event is then replayed, one request each and with the same payload,
into a fresh store B; after the N-th, the summary, ``/positions``, ``/gaps`` and ``/timeline``
of B must equal A's at ``as_of_version=N`` (with and without an ``as_of``). Event ids, hashes,
recorded times and log positions legitimately differ between the stores: ids are compared by
the version of the event they name, the rest is left out.

``as_of_recorded`` at each moment A's ledger recorded something must equal ``as_of_version``
at the last version recorded by then, and a microsecond earlier the version before it. The
app's ledger runs on the real clock, so the expected version comes from the ``recorded_at``
values the API returned.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from api.http.app import create_app
from api.settings import Settings

with warnings.catch_warnings():  # as in tests/api/conftest.py
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SLUG = "time-travel"
OPENED_ON = date(2019, 9, 24)
PARTIES = ({"id": "USA", "name": "United States"}, {"id": "ROK", "name": "Republic of Korea"})
MONEY, SHARE = "contribution", "raise"
TERMS = (
    {"id": MONEY, "name": "Annual contribution", "unit": "KRW"},
    {"id": SHARE, "name": "Yearly raise", "unit": "percent"},
)
PATHS = ("", "/positions", "/gaps", "/timeline", "/chart.json")
# Fields that differ between two stores holding the same events.
STORE_FIELDS = frozenset(
    {"recorded_at", "hash", "prev_hash", "head_hash", "position", "created_at", "updated_at"}
)
SCHEMAS = itertools.count(1)
EXAMPLES = {"memory": 8, "sqlite": 4, "postgres": 3}

# ------------------------------------------------------------------ stores


UrlFactory = Callable[[], str]


@pytest.fixture(params=["memory", "sqlite", "postgres"])
def fresh_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_database: str | None
) -> UrlFactory:
    """Makes the URL of an empty store each time it is called (two per example)."""
    kind = request.param
    if kind == "memory":
        return lambda: "memory://"
    if kind == "sqlite":
        return lambda: f"sqlite:///{tempfile.mkdtemp(dir=tmp_path)}/parley.db"
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    host = os.environ.get("PARLEY_TEST_PG_HOST", "127.0.0.1")
    port = os.environ.get("PARLEY_TEST_PG_PORT", "5432")
    user = os.environ.get("PARLEY_TEST_PG_USER", "postgres")
    return lambda: (
        f"postgresql://{user}@{host}:{port}/{postgres_database}"
        f"?schema=tt{os.getpid()}_{next(SCHEMAS)}"
    )


# ------------------------------------------------------------------ histories


@dataclass(frozen=True)
class Step:
    """One event to attempt; ``pick`` chooses its target among the events recorded so far."""

    kind: str
    day: int
    pick: int = 0
    party: int = 0
    money: int | None = None
    share: int | None = None
    in_usd: bool = False
    choice: int = 0


DAYS = st.integers(min_value=0, max_value=700)
PICKS = st.integers(min_value=0, max_value=1000)
PARTY = st.integers(min_value=0, max_value=1)
MONEY_AMOUNTS = st.none() | st.integers(min_value=1, max_value=5_000)
SHARES = st.none() | st.integers(min_value=0, max_value=100)

STEPS = st.one_of(
    st.builds(
        Step,
        kind=st.just("offer"),
        day=DAYS,
        party=PARTY,
        money=MONEY_AMOUNTS,
        share=SHARES,
        in_usd=st.booleans(),
        choice=st.integers(0, 3),
    ),
    st.builds(Step, kind=st.just("offer"), day=DAYS, party=PARTY, money=MONEY_AMOUNTS),
    st.builds(Step, kind=st.just("withdraw"), day=DAYS, pick=PICKS),
    st.builds(Step, kind=st.just("reject"), day=DAYS, pick=PICKS),
    st.builds(
        Step,
        kind=st.just("agree"),
        day=DAYS,
        money=MONEY_AMOUNTS,
        share=SHARES,
        choice=st.integers(0, 3),
    ),
    st.builds(Step, kind=st.just("reject_agreement"), day=DAYS, pick=PICKS, party=PARTY),
    st.builds(Step, kind=st.just("rate"), day=DAYS, money=st.integers(900, 1400), party=PARTY),
    st.builds(Step, kind=st.just("round"), day=DAYS, pick=st.integers(1, 12)),
    st.builds(Step, kind=st.just("retract"), day=DAYS, pick=PICKS),
    st.builds(Step, kind=st.just("status"), day=DAYS, choice=st.integers(0, 3)),
)
# A few events per request (1 µs apart in recorded_at).
HISTORIES = st.lists(st.lists(STEPS, min_size=1, max_size=3), min_size=3, max_size=14)
AS_OF_DAYS = st.integers(min_value=-10, max_value=720)


@dataclass
class Recorded:
    """What store A holds: per version, the event's type and id, and when it was recorded."""

    types: dict[int, str]
    ids: dict[int, str]
    recorded_at: dict[int, str]
    parties: dict[str, str]
    """Event id -> the party an offer or rejection names."""


def day(offset: int) -> str:
    return (OPENED_ON + timedelta(days=offset)).isoformat()


def pick(recorded: Recorded, types: set[str], index: int) -> str | None:
    """The id of one of the recorded events of those types, or None when there is none."""
    candidates = [recorded.ids[v] for v, t in sorted(recorded.types.items()) if t in types]
    return candidates[index % len(candidates)] if candidates else None


def values_of(step: Step) -> dict[str, Any]:
    values: dict[str, Any] = {}
    if step.money is not None:
        amount = f"{step.money}.5" if step.choice == 1 else str(step.money * 1_000_000)
        values[MONEY] = (
            {"amount": str(step.money), "unit": "USD"}
            if step.in_usd
            else {"amount": amount, "unit": "KRW"}
        )
    if step.share is not None:
        values[SHARE] = {"amount": f"{step.share}.{step.choice}", "unit": "percent"}
    return values


def body_of(step: Step, recorded: Recorded) -> dict[str, Any] | None:
    """The request body of a step against what A holds, or None when it has no target yet."""
    common = {"occurred_at": day(step.day)}
    party = PARTIES[step.party]["id"]
    if step.kind == "offer":
        kinds = ("offer", "demand", "counteroffer", "final_offer")
        return {
            "type": "offer_made",
            "party": party,
            "kind": kinds[step.choice],
            "values": values_of(step),
            **common,
        }
    if step.kind in ("withdraw", "reject"):
        offer = pick(recorded, {"offer_made"}, step.pick)
        if offer is None:
            return None
        # Whoever made it withdraws it; the other side rejects it.
        maker = recorded.parties[offer]
        rejecter = next(p["id"] for p in PARTIES if p["id"] != maker)
        return {
            "type": "offer_withdrawn" if step.kind == "withdraw" else "offer_rejected",
            "party": maker if step.kind == "withdraw" else rejecter,
            "offer_event_id": offer,
            **common,
        }
    if step.kind == "agree":
        statuses = ("tentative", "initialed", "signed", "ratified")
        return {
            "type": "agreement_reached",
            "status": statuses[step.choice],
            "values": values_of(step) or {SHARE: {"amount": "1", "unit": "percent"}},
            **common,
        }
    if step.kind == "reject_agreement":
        agreement = pick(recorded, {"agreement_reached"}, step.pick)
        if agreement is None:
            return None
        return {
            "type": "agreement_rejected",
            "party": party,
            "agreement_event_id": agreement,
            "reason": "turned down",
            **common,
        }
    if step.kind == "rate":
        base, quote, rate = (
            ("USD", "KRW", str(step.money))
            if step.party == 0
            else (
                "KRW",
                "USD",
                f"0.000{step.money}",
            )
        )
        return {
            "type": "exchange_rate_recorded",
            "base": base,
            "quote": quote,
            "rate": rate,
            **common,
        }
    if step.kind == "round":
        return {
            "type": "round_held",
            "number": step.pick,
            "location": "Seoul",
            "delegations": [{"party": "USA", "lead": "DeHart"}, {"party": "ROK", "lead": "Jeong"}],
            "outcome": "no deal",
            **common,
        }
    if step.kind == "retract":
        # Anything after the opening may be retracted, retractions included.
        target = pick(recorded, set(recorded.types.values()) - {"negotiation_opened"}, step.pick)
        if target is None:
            return None
        return {
            "type": "event_retracted",
            "retracted_event_id": target,
            "reason": "wrong",
            **common,
        }
    statuses = ("open", "suspended", "concluded", "collapsed")
    return {"type": "status_changed", "status": statuses[step.choice], "reason": "news", **common}


# ------------------------------------------------------------------ recording


def post(client: TestClient, path: str, body: Any) -> Any:
    response = client.post(path, json=body)
    assert response.status_code < 500, response.text
    return response


def ledger_of(client: TestClient) -> list[dict[str, Any]]:
    response = client.get(f"/negotiations/{SLUG}/events", params={"limit": 1000})
    assert response.status_code == 200, response.text
    events: list[dict[str, Any]] = response.json()["events"]
    return events


def record_history(client: TestClient, history: list[list[Step]]) -> Recorded:
    """Records the opening, then each request's steps as one batch; refused batches are skipped."""
    opening = {
        "slug": SLUG,
        "title": "Time travel",
        "parties": list(PARTIES),
        "terms": list(TERMS),
        "occurred_at": day(0),
    }
    assert post(client, "/negotiations", opening).status_code == 201
    recorded = Recorded({}, {}, {}, {})
    remember(recorded, ledger_of(client))
    for batch in history:
        bodies = [b for b in (body_of(step, recorded) for step in batch) if b is not None]
        if not bodies:
            continue
        response = post(client, f"/negotiations/{SLUG}/events", bodies)
        if response.status_code == 201:
            remember(recorded, response.json()["events"], bodies)
            continue
        # The batch broke a rule: record what of it can be recorded, one event at a time.
        for body in bodies:
            response = post(client, f"/negotiations/{SLUG}/events", body)
            if response.status_code == 201:
                remember(recorded, response.json()["events"], [body])
    return recorded


def remember(
    recorded: Recorded, events: list[dict[str, Any]], bodies: list[dict[str, Any]] | None = None
) -> None:
    for event, body in zip(events, bodies or [{}] * len(events), strict=True):
        if "party" in body:
            recorded.parties[event["event_id"]] = body["party"]
        version = event["version"]
        recorded.types[version] = event["type"]
        recorded.ids[version] = event["event_id"]
        recorded.recorded_at[version] = event["recorded_at"]


METADATA = frozenset(
    {
        "event_id",
        "type",
        "version",
        "position",
        "recorded_at",
        "recorded_by",
        "hash",
        "prev_hash",
        "retracted",
        "retracted_by",
    }
)


def replay_body(entry: dict[str, Any], ids: dict[str, str]) -> dict[str, Any]:
    """The request that records a ledger entry again, its references mapped to store B's ids."""
    body = {k: v for k, v in entry.items() if k not in METADATA}
    for name in ("offer_event_id", "agreement_event_id", "retracted_event_id"):
        if name in body:
            body[name] = ids[body[name]]
    return {"type": entry["type"], **body}


# ------------------------------------------------------------------ comparing


def normalised(document: Any, versions: dict[str, int]) -> Any:
    """The document with event ids named by version and the store's own fields left out."""
    if isinstance(document, dict):
        return {
            versions.get(k, k): normalised(v, versions)
            for k, v in document.items()
            if k not in STORE_FIELDS
        }
    if isinstance(document, list):
        return [normalised(item, versions) for item in document]
    if isinstance(document, str) and document in versions:
        return f"event@v{versions[document]}"
    return document


def read(client: TestClient, path: str, **params: Any) -> Any:
    response = client.get(f"/negotiations/{SLUG}{path}", params=params)
    assert response.status_code == 200, (path, params, response.text)
    return response.json()


def earlier(moment: str) -> str:
    return (datetime.fromisoformat(moment) - timedelta(microseconds=1)).isoformat()


# ------------------------------------------------------------------ the property


def check_time_travel(fresh_url: UrlFactory, history: list[list[Step]], as_of_day: int) -> None:
    as_of = day(as_of_day)
    with ExitStack() as stack:

        def start() -> TestClient:
            app = create_app(Settings(database_url=fresh_url()))
            return stack.enter_context(TestClient(app, base_url="http://localhost"))

        a, b = start(), start()
        recorded = record_history(a, history)
        entries = ledger_of(a)
        assert [e["version"] for e in entries] == sorted(recorded.ids)
        a_versions = {e["event_id"]: e["version"] for e in entries}
        b_ids: dict[str, str] = {}
        b_versions: dict[str, int] = {}
        opened = entries[0]
        opening = {
            k: opened[k] for k in ("slug", "title", "subject", "occurred_at", "sources", "note")
        }
        for entry in entries:
            # B holds exactly the first N events: opened bare, then one event per request.
            if entry["type"] == "negotiation_opened":
                response = post(b, "/negotiations", opening)
                assert response.status_code == 201, response.text
                b_event = ledger_of(b)[0]
            else:
                response = post(b, f"/negotiations/{SLUG}/events", replay_body(entry, b_ids))
                assert response.status_code == 201, (entry, response.text)
                b_event = response.json()["events"][0]
            assert b_event["version"] == entry["version"]
            b_ids[entry["event_id"]] = b_event["event_id"]
            b_versions[b_event["event_id"]] = b_event["version"]
            n = entry["version"]
            for path in PATHS:
                for extra in ({}, {"as_of": as_of}):
                    then = normalised(read(a, path, as_of_version=n, **extra), a_versions)
                    fresh = normalised(read(b, path, **extra), b_versions)
                    assert then == fresh, (path, n, extra)

        # as_of_recorded: what A's ledger said at each moment it recorded something.
        moments = sorted(set(recorded.recorded_at.values()))
        for moment in moments:
            last = max(v for v, at in recorded.recorded_at.items() if at <= moment)
            before = [v for v, at in recorded.recorded_at.items() if at < moment]
            for path in PATHS:
                at_moment = read(a, path, as_of_recorded=moment, as_of=as_of)
                assert at_moment == read(a, path, as_of_version=last, as_of=as_of), (path, moment)
                just_before = a.get(
                    f"/negotiations/{SLUG}{path}", params={"as_of_recorded": earlier(moment)}
                )
                if before:
                    assert just_before.status_code == 200, just_before.text
                    assert just_before.json() == read(a, path, as_of_version=max(before))
                else:
                    assert just_before.status_code == 404, just_before.text


def test_the_state_at_each_version_equals_the_state_built_from_that_many_events(
    fresh_url: UrlFactory, request: pytest.FixtureRequest
) -> None:
    examples = EXAMPLES[request.node.callspec.params["fresh_url"]]

    @settings(
        max_examples=examples,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(history=HISTORIES, as_of_day=AS_OF_DAYS)
    def time_travel(history: list[list[Step]], as_of_day: int) -> None:
        check_time_travel(fresh_url, history, as_of_day)

    time_travel()
