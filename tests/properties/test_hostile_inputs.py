"""Hostile request bodies: refused cleanly as problem+json, or stored exactly as sent.

Whatever a client sends, the answer is never 5xx; an error is ``application/problem+json``
and writes nothing (the negotiation's version does not move); a ``201`` reads back the values
it was sent, decimals as normalised strings. Runs on memory and on PostgreSQL, the store that
refuses NUL in text.
"""

from __future__ import annotations

import itertools
import json
import re
import warnings
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from starlette.exceptions import StarletteDeprecationWarning

from api.app import create_app
from api.settings import Settings

with warnings.catch_warnings():  # as in tests/api/conftest.py
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

PROBLEM_JSON = "application/problem+json"
SCHEMAS = itertools.count(1)
SLUG = "hostile"
DECIMAL_TEXT = re.compile(r"-?\d+(\.\d+)?")
HOSTILE = settings(
    max_examples=40,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# ------------------------------------------------------------------ hostile values

NASTY_TEXT = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\ud800",
    "\udfff x",
    "\x1b[31m",
    "\x7f",
    "\t\n",
    "\u202eright-to-left\u202c",
    "\u200f\u200e",
    "a\u200db",
    "\ufeff",
    "\U0001f469\u200d\U0001f469\u200d\U0001f467",
    "e\u0301\u0301\u0301",
    "\U0010ffff",
    "$\\frac{$",
    "<script>alert(1)</script>",
    "'; DROP TABLE events; --",
    "x" * 10_001,
    "\u00e9" * 300_000,
]
TEXT = st.one_of(st.sampled_from(NASTY_TEXT), st.text(max_size=40))
NASTY_AMOUNTS: list[Any] = [
    "1e999999",
    "-1e999999",
    "1e-999999",
    "-0",
    "-0.000",
    "NaN",
    "-nan",
    "sNaN",
    "Infinity",
    "-Infinity",
    "0." + "0" * 5000 + "1",
    "0." + "0" * 17 + "1",
    "0." + "0" * 18 + "1",
    "9" * 30,
    "9" * 31,
    "1" * 40,
    " 5 ",
    "5_000",
    "0x10",
    "\u0663",
    "1,5",
    "",
    5,
    -0,
    10**40,
    1.5,
    -0.0,
    1e308,
    True,
    None,
    [],
    {},
]
AMOUNTS = st.one_of(
    st.sampled_from(NASTY_AMOUNTS),
    st.decimals(allow_nan=True, allow_infinity=True).map(str),
    st.integers(-(10**35), 10**35),
)
NASTY_DATES = [
    "0001-01-01",
    "9999-12-31",
    "+10000-01-01",
    "-0001-01-01",
    "2020-02-30",
    "2020-13-01",
    "2020-04-06T20:30:00+23:59",
    "2020-04-06T20:30:00-23:59",
    "2020-04-06T20:30:00+24:00",
    "0001-01-01T00:00:00+23:59",
    "9999-12-31T23:59:59-23:59",
    "2020-04-06T20:30:00",
    "2020-04-06T20:30:00Z",
    "2020-04-06T20:30:00.123456789+09:00",
    "2020-W15-1",
    "20200406",
    " 2020-04-06 ",
    "",
    20200406,
    None,
]
DATES = st.one_of(
    st.sampled_from(NASTY_DATES),
    st.dates().map(lambda d: d.isoformat()),
    st.text(max_size=30),
)
JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), TEXT)
WRONG_TYPES = st.one_of(
    JSON_SCALARS,
    st.lists(JSON_SCALARS, max_size=3),
    st.dictionaries(TEXT, JSON_SCALARS, max_size=3),
)

# ------------------------------------------------------------------ valid templates


def templates() -> dict[str, dict[str, Any]]:
    """One valid body per event type, against the negotiation ``opened_body`` opens."""
    quantity = {"amount": "1389000000000", "unit": "KRW"}
    return {
        "party_joined": {"party": {"id": "USFK", "name": "US Forces Korea"}},
        "term_defined": {"term": {"id": "share", "name": "Share", "unit": "percent"}},
        "round_held": {
            "number": 1,
            "location": "Seoul",
            "delegations": [{"party": "ROK", "lead": "Jeong Eun-bo", "members": ["A"]}],
            "outcome": "none",
        },
        "call_held": {
            "channel": "phone",
            "initiated_by": "USA",
            "participants": [{"party": "USA", "name": "Esper", "role": "SecDef"}],
            "duration_minutes": 20,
            "topics": ["SMA"],
            "readouts": [{"party": "ROK", "summary": "fair", "sources": [{"title": "KH"}]}],
        },
        "meeting_held": {"location": "Seoul", "topics": ["SMA"]},
        "offer_made": {"party": "ROK", "kind": "offer", "values": {"cost": quantity}},
        "offer_withdrawn": {
            "party": "ROK",
            "offer_event_id": "3f1c2a9e-8d4b-4c1a-9e7f-2b6d5a4c3e21",
        },
        "offer_rejected": {
            "party": "USA",
            "offer_event_id": "3f1c2a9e-8d4b-4c1a-9e7f-2b6d5a4c3e21",
        },
        "statement_made": {"party": "ROK", "speaker": "Choi", "summary": "a fair level"},
        "issue_raised": {
            "issue_id": "unpaid-leave",
            "title": "Unpaid leave",
            "raised_by": "ROK",
            "details": {"workers": 4000},
        },
        "issue_resolved": {"issue_id": "unpaid-leave", "resolution": "paid"},
        "agreement_reached": {"status": "tentative", "values": {"cost": quantity}},
        "agreement_rejected": {
            "party": "USA",
            "agreement_event_id": "7a2e4c6b-1d3f-4b5a-8c9e-0f1a2b3c4d5e",
            "reason": "no",
        },
        "status_changed": {"status": "suspended", "reason": "pause"},
        "exchange_rate_recorded": {"base": "USD", "quote": "KRW", "rate": "1223.5"},
        "event_retracted": {
            "retracted_event_id": "c0ffee00-1234-4abc-8def-0123456789ab",
            "reason": "wrong",
        },
    }


TEMPLATES = templates()


def event(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **TEMPLATES[kind], "occurred_at": "2020-04-06", **fields}


def opened_body(slug: str = SLUG) -> dict[str, Any]:
    return {
        "slug": slug,
        "title": "Hostile talks",
        "parties": [{"id": "USA", "name": "United States"}, {"id": "ROK", "name": "Korea"}],
        "terms": [
            {"id": "cost", "name": "Cost", "unit": "KRW"},
            {"id": "years", "name": "Duration", "unit": "years"},
        ],
        "occurred_at": "2019-09-24",
    }


# ------------------------------------------------------------------ the app and the property


@pytest.fixture(params=["memory", "postgres"])
def client(request: pytest.FixtureRequest, postgres_database: str | None) -> Iterator[TestClient]:
    """The app with one negotiation open, on memory and on PostgreSQL."""
    if request.param == "memory":
        url = "memory://"
    elif postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    else:
        url = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}?schema=h_{next(SCHEMAS)}"
    app = create_app(Settings(database_url=url))
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as test_client:
        opened = test_client.post("/negotiations", json=opened_body())
        assert opened.status_code == 201, opened.text
        yield test_client


def raw(body: Any) -> bytes:
    """JSON with non-ASCII escaped, so lone surrogates travel as ``\\ud800`` escapes."""
    return json.dumps(body, ensure_ascii=True).encode("ascii")


def version(client: TestClient, slug: str = SLUG) -> int:
    """The negotiation's version, from the ledger's aggregate."""
    summary = client.get(f"/negotiations/{slug}")
    assert summary.status_code == 200, summary.text
    found: int = summary.json()["version"]
    return found


def post(client: TestClient, path: str, content: bytes, **headers: str) -> Any:
    return client.post(
        path, content=content, headers={"content-type": "application/json", **headers}
    )


def assert_sound(response: Any) -> None:
    """Never 5xx; JSON of the right media type; an error is a problem of its own status."""
    assert response.status_code < 500, response.text[:500]
    content_type = response.headers.get("content-type")
    if response.status_code >= 400:
        assert content_type == PROBLEM_JSON, (response.status_code, content_type)
        problem = response.json()
        assert problem["status"] == response.status_code
        assert problem["type"]
        assert problem["title"]
        assert "Traceback" not in response.text
    else:
        assert content_type == "application/json", content_type
        response.json()


def post_and_check(client: TestClient, body: bytes) -> Any:
    """Posts events; a refusal must leave the negotiation exactly where it was."""
    before = version(client)
    response = post(client, f"/negotiations/{SLUG}/events", body)
    assert_sound(response)
    after = version(client)
    if response.status_code >= 400:
        assert after == before, f"a {response.status_code} moved the version {before} -> {after}"
    else:
        assert response.status_code == 201
        assert after == response.json()["version"] > before
    return response


def stored(client: TestClient, response: Any) -> list[dict[str, Any]]:
    """The ledger entries a 201 recorded, read back."""
    first = response.json()["events"][0]["version"]
    page = client.get(f"/negotiations/{SLUG}/events", params={"after_version": first - 1})
    assert page.status_code == 200, page.text
    events: list[dict[str, Any]] = page.json()["events"]
    return events[: len(response.json()["events"])]


def assert_same_amount(sent: Any, kept: Any) -> None:
    assert isinstance(kept, str)
    assert DECIMAL_TEXT.fullmatch(kept), kept
    assert Decimal(kept) == Decimal(str(sent).strip())


def assert_same_moment(sent: str, kept: str) -> None:
    """A date stays a date; a datetime keeps its instant and its offset (``Z`` reads +00:00)."""
    text = sent.strip()
    if len(text) == 10:
        assert kept == text  # only YYYY-MM-DD is a date: never a week date such as 2020-W15-1
    else:
        was, now = datetime.fromisoformat(text), datetime.fromisoformat(kept)
        assert (now, now.utcoffset()) == (was, was.utcoffset())


# ------------------------------------------------------------------ properties


@st.composite
def mutated_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with one to three fields replaced by hostile text, wrong types or extras."""
    kind = draw(st.sampled_from(sorted(TEMPLATES)))
    body = event(kind)
    for _ in range(draw(st.integers(1, 3))):
        field = draw(st.sampled_from([*sorted(body), "note", "sources", "unknown_field"]))
        if field == "type":
            body["type"] = draw(st.one_of(TEXT, WRONG_TYPES))
        elif field == "sources":
            body["sources"] = [
                {"title": draw(TEXT), "url": draw(TEXT), "published_on": draw(DATES)}
            ]
        elif field == "occurred_at":
            body["occurred_at"] = draw(DATES)
        else:
            body[field] = draw(st.one_of(TEXT, WRONG_TYPES))
    return body


@HOSTILE
@given(body=mutated_events())
def test_hostile_fields_in_any_event_are_refused_cleanly_or_kept_as_sent(
    client: TestClient, body: dict[str, Any]
) -> None:
    response = post_and_check(client, raw(body))
    if response.status_code == 201:
        (entry,) = stored(client, response)
        for field in ("note", "summary", "reason", "title", "speaker", "location", "outcome"):
            if isinstance(body.get(field), str):
                assert entry[field] == body[field]


@HOSTILE
@given(amount=AMOUNTS, where=st.sampled_from(["offer", "agreement", "rate"]))
def test_hostile_amounts_are_refused_or_read_back_as_the_same_decimal(
    client: TestClient, amount: Any, where: str
) -> None:
    if where == "rate":
        body = event("exchange_rate_recorded", rate=amount)
    else:
        kind = "offer_made" if where == "offer" else "agreement_reached"
        body = event(kind, values={"cost": {"amount": amount, "unit": "KRW"}})
    response = post_and_check(client, raw(body))
    if isinstance(amount, float | bool) or amount is None or isinstance(amount, list | dict):
        assert response.status_code == 422
    if response.status_code == 201:
        (entry,) = stored(client, response)
        kept = entry["rate"] if where == "rate" else entry["values"]["cost"]["amount"]
        assert_same_amount(amount, kept)


@HOSTILE
@given(occurred_at=DATES, ended_at=DATES)
def test_hostile_moments_are_refused_or_kept_at_their_precision(
    client: TestClient, occurred_at: Any, ended_at: Any
) -> None:
    body = event("statement_made", occurred_at=occurred_at)
    response = post_and_check(client, raw(body))
    if response.status_code == 201:
        (entry,) = stored(client, response)
        assert_same_moment(occurred_at, entry["occurred_at"])
    round_held = event("round_held", number=1, ended_at=ended_at, occurred_at="2020-04-06")
    post_and_check(client, raw(round_held))


NESTINGS = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
)


@HOSTILE
@given(details=NESTINGS, depth=st.integers(0, 2000))
def test_hostile_details_are_refused_cleanly_or_kept_as_sent(
    client: TestClient, details: Any, depth: int
) -> None:
    body = event("issue_raised", issue_id=f"issue-{depth}", details={"x": details})
    response = post_and_check(client, raw(body))
    if response.status_code == 201:
        (entry,) = stored(client, response)
        assert entry["details"] == {"x": details}
    deep = '{"a":' * depth + "1" + "}" * depth
    text = raw(event("issue_raised", issue_id=f"deep-{depth}", details={}))
    post_and_check(client, text.replace(b'"details": {}', b'"details": ' + deep.encode()))


@HOSTILE
@given(
    field=st.sampled_from(["slug", "title", "subject", "note", "parties", "terms", "occurred_at"]),
    value=st.one_of(TEXT, WRONG_TYPES, DATES),
    extra=st.booleans(),
)
def test_hostile_negotiations_are_refused_without_a_trace_or_opened_as_sent(
    client: TestClient, field: str, value: Any, extra: bool
) -> None:
    body = opened_body(f"n-{abs(hash((field, repr(value), extra))) % 10**12}")
    body[field] = value
    if extra:
        body["parties"] = [{"id": "USA", "name": "United States", "flag": "\U0001f1fa\U0001f1f8"}]
    response = post(client, "/negotiations", raw(body))
    assert_sound(response)
    slug = body["slug"]
    if response.status_code == 201:
        summary = client.get(f"/negotiations/{slug}").json()
        for name in ("slug", "title", "subject"):
            assert summary[name] == body.get(name)
    elif isinstance(slug, str) and re.fullmatch(r"[a-z0-9-]{1,64}", slug) and slug != SLUG:
        gone = client.get(f"/negotiations/{slug}")
        assert gone.status_code == 404, f"a refused open left {slug} behind"


RAW_BODIES = [
    b"",
    b"{",
    b'{"type": "statement_made", "party": "ROK"',
    b"\xff\xfe\x00{}",
    b'{"type": "statement_made\xc3"}',
    b'{"type": "\xed\xa0\x80"}',
    b"\x00",
    b"null",
    b"[]",
    b"[[]]",
    b"true",
    b'"\\ud800"',
    b"1e999999",
    b"NaN",
    b"[" * 5000 + b"]" * 5000,
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b"[" + b",".join([b"{}"] * 20_000) + b"]",
    b'{"type": "statement_made", "type": "offer_made"}',
    b"\xef\xbb\xbf{}",
]


@HOSTILE
@given(
    body=st.one_of(st.sampled_from(RAW_BODIES), st.binary(max_size=200)),
    path=st.sampled_from([f"/negotiations/{SLUG}/events", "/negotiations"]),
    content_type=st.sampled_from(
        ["application/json", "text/plain", "application/json; charset=latin-1"]
    ),
)
def test_raw_bytes_are_refused_without_writing_anything(
    client: TestClient, body: bytes, path: str, content_type: str
) -> None:
    before = version(client)
    count = len(client.get("/negotiations").json()["items"])
    response = post(client, path, body, **{"content-type": content_type})
    assert_sound(response)
    assert 400 <= response.status_code < 500
    assert version(client) == before
    assert len(client.get("/negotiations").json()["items"]) == count


@HOSTILE
@given(events=st.lists(mutated_events(), min_size=2, max_size=4), good_first=st.booleans())
def test_a_batch_with_any_hostile_item_writes_nothing_at_all(
    client: TestClient, events: list[dict[str, Any]], good_first: bool
) -> None:
    batch = [event("statement_made", summary="fine"), *events] if good_first else events
    response = post_and_check(client, raw(batch))
    if response.status_code == 201:
        assert len(response.json()["events"]) == len(batch)


def test_a_huge_batch_is_refused_without_writing_anything(client: TestClient) -> None:
    before = version(client)
    batch = [event("statement_made", summary=f"s{i}") for i in range(2000)]
    response = post(client, f"/negotiations/{SLUG}/events", raw(batch))
    assert_sound(response)
    assert response.status_code == 422
    assert version(client) == before


def test_details_nested_hundreds_deep_are_refused_as_invalid(client: TestClient) -> None:
    deep = '{"a":' * 600 + "1" + "}" * 600
    text = raw(event("issue_raised", details={}))
    response = post(
        client,
        f"/negotiations/{SLUG}/events",
        text.replace(b'"details": {}', b'"details": ' + deep.encode()),
    )
    assert response.status_code == 422


def test_a_lone_surrogate_in_a_nested_details_key_is_refused_as_invalid(
    client: TestClient,
) -> None:
    body = event("issue_raised", details={"k": {"\ud800": 1}})
    response = post(client, f"/negotiations/{SLUG}/events", raw(body))
    assert response.status_code == 422
