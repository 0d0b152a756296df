"""Hostile request bodies: refused cleanly as problem+json, or stored exactly as sent.

Whatever a client sends, the answer is never 5xx; an error is ``application/problem+json``
and writes nothing (the negotiation's version does not move); a ``201`` reads back the values
it was sent, decimals as normalised strings. Runs on memory and on PostgreSQL, the store that
refuses NUL in text.

Beyond bodies, the request line and the headers: HEAD on every GET route answers as the GET
does without a body; an open server answers only a ``Host`` that names loopback (a keyed one
lets the key decide); invented, huge or odd method names are refused cleanly and add no series
to ``/metrics``.
"""

from __future__ import annotations

import itertools
import json
import re
import string
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, unquote

import pytest
from fastapi.routing import iter_route_contexts
from hypothesis import HealthCheck, Phase, example, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from starlette.exceptions import StarletteDeprecationWarning

from api.http.app import create_app
from api.settings import Settings
from api.store.keys import Role

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


# ------------------------------------------------------------------ HEAD, Host and methods

PATH_PARAMETER = re.compile(r"\{(\w+)(:path)?\}")
STREAM = "text/event-stream"
PATH_TEXT = st.one_of(
    st.sampled_from([SLUG, "nope", "validation", *NASTY_TEXT[:19]]), st.text(max_size=40)
)
QUERIES = st.dictionaries(
    st.sampled_from(["as_of", "as_of_version", "limit", "cursor", "event_id", "slugs", "x"]),
    PATH_TEXT,
    max_size=2,
)


def get_templates(client: TestClient) -> list[str]:
    """Every route template that answers GET, the pages and assets included."""
    return sorted(
        {
            r.path
            for r in iter_route_contexts(client.app.routes)  # type: ignore[attr-defined]
            if "GET" in (r.methods or ())
        }
    )


def quoted(text: str, safe: str = "") -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe=safe)


def url_of(template: str, values: dict[str, str], query: dict[str, str]) -> str:
    path = PATH_PARAMETER.sub(
        lambda m: quoted(values[m[1]], safe="/" if m[2] else "") or "x", template
    )
    return path + ("?" + urlencode_text(query) if query else "")


def urlencode_text(query: dict[str, str]) -> str:
    return "&".join(f"{quoted(k)}={quoted(v)}" for k, v in query.items())


@dataclass
class Head:
    """A HEAD answer as the app sent it: status, headers and every body byte."""

    status_code: int
    headers: dict[str, str]
    content: bytes


def head(client: TestClient, url: str) -> Head:
    """HEAD through the ASGI interface itself: clients (httpx, requests) drop a HEAD's body,
    and so would hide one the app sent, which uvicorn refuses as longer than Content-Length."""
    path, _, query = url.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "HEAD",
        "scheme": "http",
        "path": unquote(path),
        "raw_path": path.encode("ascii"),
        "root_path": "",
        "query_string": query.encode("ascii"),
        "headers": [(b"host", b"localhost")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 80),
        "state": client.app_state.copy(),  # type: ignore[attr-defined]
    }
    sent: list[dict[str, Any]] = []
    asked = False

    async def receive() -> dict[str, Any]:
        nonlocal asked
        if asked:
            return {"type": "http.disconnect"}
        asked = True
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def call() -> None:
        await client.app(scope, receive, send)

    client.portal.call(call)  # type: ignore[union-attr]
    (start,) = [m for m in sent if m["type"] == "http.response.start"]
    headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in start["headers"]}
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return Head(start["status"], headers, body)


def assert_no_body_like_get(answer: Head, get: Any, url: str) -> None:
    assert answer.content == b"", url
    assert answer.status_code == get.status_code, (url, answer.status_code, get.text[:300])
    assert answer.headers.get("content-type") == get.headers.get("content-type"), url


# Each example asks every GET route twice (about 80 requests): a failure prints every draw,
# and shrinking one would outlast the test's timeout.
@settings(HOSTILE, max_examples=8, phases=[Phase.explicit, Phase.generate])
@given(data=st.data())
def test_head_answers_every_get_route_as_its_get_does_without_a_body(
    client: TestClient, data: st.DataObject
) -> None:
    """HEAD is never 405 nor 5xx where GET is served: the GET's status and media type, no body."""
    templates = get_templates(client)
    assert len(templates) > 30
    before = version(client)
    for template in templates:
        names = PATH_PARAMETER.findall(template)
        values = {name: data.draw(PATH_TEXT, label=name) for name, _ in names}
        url = url_of(template, values, data.draw(QUERIES, label="query"))
        answer = head(client, url)
        assert answer.status_code < 500, (url, answer.status_code)
        assert answer.status_code != 405, url
        assert answer.content == b"", url
        if template.endswith("/stream"):  # a GET of a stream never ends: its head alone
            media_type = answer.headers.get("content-type", "")
            assert (
                media_type.startswith(STREAM)
                if answer.status_code == 200
                else media_type == (PROBLEM_JSON)
            ), (url, answer.status_code, media_type)
            continue
        get = client.get(url)
        assert_no_body_like_get(answer, get, url)
        if get.status_code >= 400:
            assert get.headers["content-type"] == PROBLEM_JSON, url
    assert version(client) == before


LOOPBACK_NAMES = ["localhost", "LOCALHOST", "LocalHost", "localhost.", "127.0.0.1", "[::1]"]
PORTS = st.one_of(st.none(), st.integers(0, 65535).map(str), st.sampled_from(["0", "08000"]))
NEAR_MISSES = [
    "evil.example",
    "localhost.evil.example",
    "evil.localhost",
    "127.0.0.1.nip.io",
    "127.0.0.2",
    "127.1",
    "2130706433",
    "0x7f000001",
    "0.0.0.0",  # noqa: S104 - a Host header, not an address to bind
    "10.0.0.5",
    "[::2]",
    "[::ffff:127.0.0.1]",
    "::1",
    "[::1",
    "localhost:",
    "localhost:8000:1",
    "localhost:123456",
    "localhost:abc",
    "user@localhost",
    "localhost/",
    "localhost\\",
    "localhost\x00",
    "local host",
    "\x0blocalhost",
    "\x1flocalhost",
    "localhost\x0b",
    "",
]


def addressed_to_loopback(value: bytes) -> bool:
    """The issue's rule: ``localhost``, ``127.0.0.1`` or ``[::1]``, with an optional port."""
    text = value.decode("latin-1").strip(" \t")
    if text.startswith("["):
        name, bracket, rest = text.partition("]")
        name += bracket
        port = None if rest == "" else (rest[1:] if rest[:1] == ":" else "not a port")
    else:
        name, colon, port_text = text.partition(":")
        port = port_text if colon else None
    port_ok = port is None or (port.isascii() and port.isdigit() and 1 <= len(port) <= 5)
    return port_ok and name.lower().rstrip(".") in {"localhost", "127.0.0.1", "[::1]"}


@st.composite
def host_headers(draw: st.DrawFn) -> bytes:
    """A loopback name with a port, a near miss of one, or any bytes at all."""
    kind = draw(st.sampled_from(["loopback", "near", "decorated", "bytes"]))
    if kind == "bytes":  # ASCII: the test client sends other bytes re-encoded as UTF-8
        ascii_bytes = st.binary(max_size=40).map(lambda b: bytes(c & 0x7F for c in b))
        return draw(ascii_bytes.filter(lambda b: b"\r" not in b and b"\n" not in b))
    name = draw(st.sampled_from(LOOPBACK_NAMES if kind != "near" else NEAR_MISSES))
    port = draw(PORTS)
    host = name if port is None else f"{name}:{port}"
    if kind == "decorated":
        host = draw(st.sampled_from(["", " ", "\t", "x", "evil."])) + host
        host += draw(st.sampled_from(["", " ", ".", ".evil.example", ":", ":1:2", "@evil", "#"]))
    return host.encode("latin-1")


@HOSTILE
@given(host=host_headers(), twice=st.booleans())
@example(host=b"\x0blocalhost", twice=False)  # str.strip() took VT for optional whitespace
@example(host=b"localhost:8000\x1c", twice=False)
def test_an_open_server_answers_only_requests_addressed_to_loopback(
    client: TestClient, host: bytes, twice: bool
) -> None:
    """DNS rebinding: any other ``Host`` is a 421 problem and writes nothing."""
    slug = f"host-{next(SCHEMAS)}"
    headers = [(b"host", host), (b"host", b"localhost")] if twice else [(b"host", host)]
    response = client.post(
        "/negotiations",
        content=raw(opened_body(slug)),
        headers=[*headers, (b"content-type", b"application/json")],
    )
    assert_sound(response)
    if addressed_to_loopback(host) and not twice:
        assert response.status_code == 201, (host, response.text)
        assert client.get(f"/negotiations/{slug}").status_code == 200
    else:
        assert response.status_code == 421, (host, twice, response.status_code)
        assert response.json()["type"].endswith("/host-not-loopback")
        assert client.get(f"/negotiations/{slug}").status_code == 404, host


@pytest.fixture
def keyed_client(client: TestClient) -> tuple[TestClient, str]:
    """The same app once an admin key exists: it is no longer open."""
    gate = client.app.state.gate  # type: ignore[attr-defined]
    _, secret = gate.keys.create("hostile-admin", Role.ADMIN)
    gate.changed()
    return client, secret


@HOSTILE
@given(host=host_headers(), keyed=st.booleans())
def test_a_keyed_server_answers_by_the_key_whatever_host_was_asked(
    keyed_client: tuple[TestClient, str], host: bytes, keyed: bool
) -> None:
    """With keys the bearer decides (200 with one, 401 without): the ``Host`` never does."""
    client, secret = keyed_client
    headers = [(b"host", host)]
    if keyed:
        headers.append((b"authorization", f"Bearer {secret}".encode()))
    response = client.get("/negotiations", headers=headers)
    assert_sound(response)
    assert response.status_code == (200 if keyed else 401), (host, response.text)


TCHAR = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
INVENTED_METHODS = st.one_of(
    st.text(TCHAR, min_size=1, max_size=24),
    st.sampled_from(
        [
            "PURGE",
            "TRACE",
            "CONNECT",
            "PRI",
            "PROPFIND",
            "M-SEARCH",
            "QUERY",
            "OPTIONS",
            "Get",
            "GET ",
            " GET",
            "G\x00T",
            "\u00e9T",
            "GET\tPOST",
            "",
        ]
    ),
    st.text(max_size=16),
    st.integers(1000, 5000).map(lambda n: "X" * n),
)
METHOD_LABELS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "<other>"}


def metric_series(client: TestClient) -> set[tuple[str, tuple[tuple[str, str], ...]]]:
    """Each series /metrics exposes, by name and labels (values left out: they move)."""
    scraped = client.get("/metrics")
    assert scraped.status_code == 200
    return {
        (sample.name, tuple(sorted(sample.labels.items())))
        for family in text_string_to_metric_families(scraped.text)
        for sample in family.samples
    }


@HOSTILE
@given(
    method=INVENTED_METHODS,
    template=st.sampled_from(
        ["/negotiations", "/negotiations/{slug}/events", "/keys/{slug}", "/health", "/made-up/x"]
    ),
)
def test_invented_methods_are_refused_cleanly_and_the_metrics_stay_bounded(
    client: TestClient, method: str, template: str
) -> None:
    """Never 5xx; the method is a fixed label, so new method names add no series to /metrics."""
    url = template.replace("{slug}", SLUG)
    before = version(client)
    sent = method.upper()  # as httpx sends it
    response = client.request(method, url, content=raw(event("statement_made")))
    assert response.status_code < 500, (method[:40], response.status_code)
    if sent not in METHOD_LABELS:
        assert response.status_code in (404, 405), (method[:40], response.status_code)
        if response.status_code == 405:
            assert response.headers["allow"], url
        assert response.headers["content-type"] == PROBLEM_JSON
        metric_series(client)  # a scrape counts itself after it answered: the next one shows it
        series = metric_series(client)
        # Another invented name on the same path: not one series more.
        assert client.request(sent + "Z", url).status_code == response.status_code
        assert metric_series(client) == series
        if len(sent) >= 4:
            assert sent not in client.get("/metrics").text
    assert version(client) == before
    labels = {
        dict(labels).get("method")
        for _, labels in metric_series(client)
        if "method" in dict(labels)
    }
    assert labels <= METHOD_LABELS, labels
