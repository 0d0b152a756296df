"""Fuzzing the API against its own OpenAPI: no 5xx, and every answer is what the document says.

Schemathesis drives the ASGI app in process on ``memory://`` with the demo loaded, so reads of
``us-rok-sma-2020`` hit real data. Hypothesis adds what schemathesis rarely guesses: moments at
the edges of the calendar for time travel, on every store, and hostile paths for the dashboard.
Each bug found has a test of its own at the end, so it stays fixed.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
import schemathesis
from fuzz_support import (
    DEMO_SLUG,
    PROBLEM_JSON,
    TestClient,
    docs_pages_document,
    error_documentation_gaps,
    operations,
    problem_failure,
    security_header_failure,
)
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import not_a_server_error
from schemathesis.python import asgi
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from api.http.app import create_app
from api.settings import Settings

# About 30 examples per operation and phase, with the coverage phase's boundary cases on top:
# a few thousand requests, well under a minute on two cores.
MAX_EXAMPLES = 30
LOCAL = "http://localhost"  # an open server answers only requests addressed to loopback
MAX_VERSION = 2**63 - 1
ClientFactory = Callable[..., Any]
STREAMS = r"/stream$"
"""Server-Sent Events never end: tests/e2e/test_event_streams.py drives them through a server."""

APP = create_app(Settings(database_url="memory://", demo=True))
SERVED_OPENAPI = APP.openapi()
schema = schemathesis.openapi.from_dict(SERVED_OPENAPI)
schema.app = APP  # as from_asgi does: requests go to the app in process
# The fuzzed app runs open (no key exists): the bearer scheme the document declares is not sent.
schema.config.generation.update(
    max_examples=MAX_EXAMPLES, deterministic=True, database="none", with_security_parameters=False
)


@schema.hook("map_path_parameters")
def mostly_the_demo(context: Any, path_parameters: dict[str, Any] | None) -> dict[str, Any] | None:
    """Three slugs in four become the demo's, so reads and writes meet a real negotiation."""
    slug = (path_parameters or {}).get("slug")
    if path_parameters is not None and slug is not None and zlib.crc32(repr(slug).encode()) % 4:
        path_parameters["slug"] = DEMO_SLUG
    return path_parameters


def errors_are_problems(ctx: Any, response: schemathesis.Response, case: schemathesis.Case) -> None:
    """Every error is an RFC 9457 problem of its own status, never a trace."""
    if case.method.upper() == "HEAD":
        return  # no body to judge
    content_type = (response.headers.get("content-type") or [None])[0]
    failure = problem_failure(response.status_code, content_type, response.content)
    if failure is not None:
        raise AssertionError(failure)


def carries_security_headers(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """Every answer, API, page or error: nosniff and the Content-Security-Policy."""
    failure = security_header_failure(response.headers)
    if failure is not None:
        raise AssertionError(f"{case.method} {case.formatted_path}: {failure}")


def head_errors_are_problems(
    ctx: Any, response: schemathesis.Response, case: schemathesis.Case
) -> None:
    """A HEAD error has no body to judge, but its media type still says it is a problem.

    (Whether a HEAD answer has a body cannot be seen here: the client drops it. The
    hostile-input properties call the app through ASGI to see that.)
    """
    content_type = (response.headers.get("content-type") or [None])[0]
    if response.status_code >= 400 and content_type != PROBLEM_JSON:
        raise AssertionError(
            f"HEAD {case.formatted_path}: {response.status_code} as {content_type}"
        )


CHECKS = [
    not_a_server_error,
    carries_security_headers,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    negative_data_rejection,
    errors_are_problems,
]
HEAD_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_headers_conformance,
    carries_security_headers,
    head_errors_are_problems,
]
READ_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    errors_are_problems,
]


@pytest.fixture(scope="module", autouse=True)
def _stop_the_app() -> Any:
    """Schemathesis starts the app's lifespan on the first call; stop it with this module."""
    yield
    asgi.shutdown_lifespans()


@pytest.mark.slow
@schema.exclude(path_regex=STREAMS).parametrize()
def test_every_operation_keeps_its_documented_contract(case: schemathesis.Case) -> None:
    response = case.call_and_validate(base_url=LOCAL, checks=CHECKS)
    # The coverage phase also sends other methods to each path: HEAD follows GET operations.
    if case.method.upper() == case.operation.method.upper() == "GET":
        head = head_of(case)
        assert (head.status_code, media_type(head)) == (response.status_code, media_type(response))


def head_of(case: schemathesis.Case) -> schemathesis.Response:
    """The same request as HEAD, checked as one: never 405, never 5xx, documented status."""
    head = case.operation.Case(
        method="HEAD",
        path_parameters=case.path_parameters,
        headers=case.headers,
        cookies=case.cookies,
        query=case.query,
    )
    response = head.call(base_url=LOCAL)
    head.validate_response(response, checks=HEAD_CHECKS)
    return response


def media_type(response: schemathesis.Response) -> str | None:
    return (response.headers.get("content-type") or [None])[0]


@schema.include(path_regex=STREAMS).parametrize()
def test_every_stream_answers_head_at_once(case: schemathesis.Case) -> None:
    """A stream's GET never ends; its HEAD answers with the stream's head, or the problem."""
    response = head_of(case)
    if response.status_code == 200:
        assert (media_type(response) or "").startswith("text/event-stream")


DOCS_SCHEMA = schemathesis.openapi.from_dict(docs_pages_document(SERVED_OPENAPI))
DOCS_SCHEMA.app = APP
DOCS_SCHEMA.config.generation.update(
    max_examples=10, deterministic=True, database="none", with_security_parameters=False
)
DOCS_CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    carries_security_headers,
    errors_are_problems,
]


@DOCS_SCHEMA.parametrize()
def test_the_docs_pages_answer_get_and_head_under_the_security_headers(
    case: schemathesis.Case,
) -> None:
    checks = HEAD_CHECKS if case.method.upper() == "HEAD" else DOCS_CHECKS
    case.call_and_validate(base_url=LOCAL, checks=checks)


def test_the_fuzzed_document_covers_every_operation_the_app_serves() -> None:
    served = {(m, p) for p, item in SERVED_OPENAPI["paths"].items() for m in item}
    fuzzed = {(m, p) for p, item in schema.raw_schema["paths"].items() for m in item}
    assert served == fuzzed
    assert len(served) >= 11


# ------------------------------------------------------------------ time travel on every store

OFFSETS = st.sampled_from(
    [UTC, timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=23, minutes=59))]
    + [timezone(timedelta(hours=h)) for h in (-12, -5, 9, 14)]
)


def _moments(low: datetime, high: datetime) -> st.SearchStrategy[str]:
    """ISO text of dates and datetimes: with offsets, with ``Z``, without offset, and junk."""
    dates = st.dates(low.date(), high.date()).map(lambda d: d.isoformat())
    aware = st.datetimes(low, high, timezones=OFFSETS).map(lambda d: d.isoformat())
    naive = st.datetimes(low, high).map(lambda d: d.isoformat())
    zulu = st.datetimes(low, high).map(lambda d: d.isoformat() + "Z")
    texts = ["0001-01-01", "9999-12-31", "+10000-01-01", "2020-02-30", "2019-11-19", "-0001-01-01"]
    edges = st.sampled_from([t for t in texts if t[:4] <= high.isoformat()[:4]])
    junk = st.text(max_size=70)
    return st.one_of(edges, dates, aware, naive, zulu, junk)


# Naive bounds, as hypothesis wants them; the offsets are drawn separately.
FIRST_MOMENT = datetime(1, 1, 1)
LAST_MOMENT = datetime(9999, 12, 31, 23, 59, 59)
ANY_MOMENT = _moments(FIRST_MOMENT, LAST_MOMENT)
# Versions past a signed 64-bit integer too: refused as 422, never bound as SQL.
VERSIONS = st.one_of(st.integers(-3, 40), st.integers(1, 2 * MAX_VERSION + 2)).map(str) | st.text(
    max_size=8
)
READ_ROUTES = ["", "/positions", "/gaps", "/timeline", "/chart.json", "/chart.svg"]


@st.composite
def time_travel_reads(draw: st.DrawFn) -> tuple[str, dict[str, str]]:
    route = draw(st.sampled_from(READ_ROUTES))
    query: dict[str, str] = {}
    if draw(st.booleans()):
        query["as_of"] = draw(ANY_MOMENT)
    if draw(st.booleans()):
        query["as_of_version"] = draw(VERSIONS)
    if draw(st.integers(0, 3)) == 0:
        query["as_of_recorded"] = draw(ANY_MOMENT)
    if route == "/timeline":
        if draw(st.booleans()):
            query["from"] = draw(ANY_MOMENT)
        if draw(st.booleans()):
            query["to"] = draw(ANY_MOMENT)
    return route, query


def _encoded(query: dict[str, str]) -> str:
    """A query string as a client could send it, lone surrogates as their UTF-8-ish bytes."""
    return "&".join(
        f"{k}={quote(v.encode('utf-8', 'surrogatepass'), safe='')}" for k, v in query.items()
    )


def _validated_read(client: Any, route: str, query: dict[str, str]) -> Any:
    response = client.get(f"/negotiations/{DEMO_SLUG}{route}?{_encoded(query)}")
    operation = schema[f"/negotiations/{{slug}}{route}"]["GET"]
    case = operation.Case(path_parameters={"slug": DEMO_SLUG}, query=query)
    case.validate_response(response, checks=READ_CHECKS)
    return response


@pytest.fixture
def demo_client(client_factory: ClientFactory, store_url: str) -> Any:
    return client_factory(store_url, raise_server_exceptions=False, demo=True)


@pytest.mark.slow
@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(read=time_travel_reads())
def test_time_travel_reads_answer_every_moment_without_a_server_error(
    demo_client: Any, read: tuple[str, dict[str, str]]
) -> None:
    route, query = read
    _validated_read(demo_client, route, query)


# ------------------------------------------------------------------ the dashboard's pages

PAGE_TYPES = ("text/html", "text/css", "text/javascript", "image/svg+xml")
# NUL, lone surrogates and names longer than the filesystem allows included; a slash would
# make another route of it.
ASSET_NAMES = st.text(st.characters(blacklist_characters="/"), max_size=300)


@pytest.fixture(scope="module")
def page_client() -> Any:
    app = create_app(Settings(database_url="memory://"))
    with TestClient(app, raise_server_exceptions=False, base_url="http://localhost") as client:
        yield client


@settings(max_examples=60, deadline=None, derandomize=True, database=None)
@given(slug=st.text(max_size=200), name=ASSET_NAMES.filter(lambda n: n not in ("", ".", "..")))
def test_dashboard_pages_and_assets_never_fail(page_client: Any, slug: str, name: str) -> None:
    page = page_client.get(f"/n/{quote(slug.encode('utf-8', 'surrogatepass'), safe='')}")
    assert page.status_code in (200, 404), page.text
    if page.status_code == 200:
        assert page.headers["content-type"].startswith("text/html")
    else:
        assert (
            problem_failure(page.status_code, page.headers.get("content-type"), page.content)
            is None
        )
    asset = page_client.get(f"/static/{quote(name.encode('utf-8', 'surrogatepass'), safe='')}")
    assert asset.status_code in (200, 404), asset.text
    if asset.status_code == 200:
        assert asset.headers["content-type"].startswith(PAGE_TYPES)
    else:
        assert (
            problem_failure(asset.status_code, asset.headers.get("content-type"), asset.content)
            is None
        )
    index = page_client.get("/")
    assert index.status_code == 200
    assert index.headers["content-type"].startswith("text/html")


# ------------------------------------------------------------------ findings, kept fixed


def test_openapi_documents_every_error_as_problem_json() -> None:
    assert error_documentation_gaps(SERVED_OPENAPI) == []


def _open_at(client: Any, slug: str, opened: str, *offers: tuple[str, str, str]) -> None:
    body = {
        "slug": slug,
        "title": f"Negotiation {slug}",
        "parties": [{"id": "USA", "name": "United States"}, {"id": "ROK", "name": "Korea"}],
        "terms": [{"id": "cost", "name": "Cost", "unit": "KRW"}],
        "occurred_at": opened,
    }
    assert client.post("/negotiations", json=body).status_code == 201
    events = [
        {
            "type": "offer_made",
            "party": party,
            "kind": "offer",
            "values": {"cost": {"amount": amount, "unit": "KRW"}},
            "occurred_at": at,
        }
        for party, amount, at in offers
    ]
    recorded = client.post(f"/negotiations/{slug}/events", json=events)
    assert recorded.status_code == 201, recorded.text


@pytest.mark.parametrize("chart", ["chart.json", "chart.svg"])
def test_chart_of_events_at_the_start_of_the_calendar_is_drawn(
    page_client: Any, chart: str
) -> None:
    slug = f"year-one-{chart.replace('.', '-')}"
    _open_at(
        page_client, slug, "0001-01-01", ("USA", "5", "0001-01-01"), ("ROK", "1", "2020-01-01")
    )
    assert page_client.get(f"/negotiations/{slug}/{chart}").status_code == 200


@pytest.mark.parametrize("chart", ["chart.json", "chart.svg"])
def test_chart_reaching_the_end_of_the_calendar_is_drawn(page_client: Any, chart: str) -> None:
    slug = f"year-9999-{chart.replace('.', '-')}"
    _open_at(
        page_client, slug, "2019-01-01", ("USA", "5", "2019-01-01"), ("ROK", "1", "2020-01-01")
    )
    answer = page_client.get(f"/negotiations/{slug}/{chart}", params={"as_of": "9999-12-31"})
    assert answer.status_code == 200


@pytest.mark.parametrize("where", ["title", "term"])
def test_chart_svg_draws_dollar_signs_in_names_literally(page_client: Any, where: str) -> None:
    slug = f"mathtext-{where}"
    body = {
        "slug": slug,
        "title": r"Talks $\frac{$" if where == "title" else "Talks",
        "parties": [{"id": "USA", "name": "United States"}, {"id": "ROK", "name": "Korea"}],
        "terms": [
            {"id": "cost", "name": r"$\undefined$" if where == "term" else "Cost", "unit": "KRW"}
        ],
        "occurred_at": "2019-09-24",
    }
    assert page_client.post("/negotiations", json=body).status_code == 201
    assert page_client.get(f"/negotiations/{slug}/chart.svg").status_code == 200


@pytest.fixture(params=["sqlite", "postgres"])
def sql_demo_client(
    request: pytest.FixtureRequest,
    client_factory: ClientFactory,
    tmp_path: Path,
    postgres_database: str | None,
) -> Any:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/parley.db"
    elif postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    else:
        url = (
            f"postgresql://postgres@127.0.0.1:5432/{postgres_database}?schema=fuzz_{tmp_path.name}"
        )
    return client_factory(url, raise_server_exceptions=False, demo=True)


@pytest.mark.parametrize("route", READ_ROUTES)
def test_time_travel_past_a_64_bit_version_is_not_a_server_error(
    sql_demo_client: Any, route: str
) -> None:
    response = _validated_read(sql_demo_client, route, {"as_of_version": str(MAX_VERSION + 1)})
    assert response.status_code in (200, 422)


@pytest.mark.parametrize(
    "moment", ["9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+23:59"], ids=["end", "start"]
)
def test_as_of_recorded_at_the_edges_of_the_calendar_is_refused_as_invalid(
    page_client: Any, moment: str
) -> None:
    response = page_client.get(f"/negotiations/any/gaps?as_of_recorded={quote(moment)}")
    assert response.status_code == 422


@pytest.mark.parametrize("route", ["/positions", "/gaps", "/timeline", "/chart.json", "/chart.svg"])
def test_a_slug_with_nul_is_not_found_on_postgresql(
    client_factory: ClientFactory, postgres_database: str | None, route: str
) -> None:
    if postgres_database is None:
        pytest.skip("PostgreSQL is not reachable (set PARLEY_TEST_POSTGRES=required to fail)")
    url = f"postgresql://postgres@127.0.0.1:5432/{postgres_database}?schema=fuzz_nul"
    client = client_factory(url, raise_server_exceptions=False)
    assert client.get(f"/negotiations/a%00b{route}").status_code == 404


@pytest.mark.parametrize("name", ["%00", "a" * 300 + ".css"], ids=["nul", "too-long"])
def test_static_names_the_filesystem_refuses_are_not_found(page_client: Any, name: str) -> None:
    assert page_client.get(f"/static/{name}").status_code == 404


def test_an_unknown_static_asset_is_a_problem(page_client: Any) -> None:
    response = page_client.get("/static/missing.svg")
    assert response.status_code == 404
    assert response.headers.get("content-type") == PROBLEM_JSON


SLUG_ROUTES = sorted(
    (method, path)
    for method, path, _ in operations(SERVED_OPENAPI)
    if "{slug}" in path and method in ("GET", "POST")
)


@pytest.mark.parametrize("slug", ["a%00b", "UPPER", "x" * 65, "%F0%9F%98%80", "a%2Fb"])
@pytest.mark.parametrize(("method", "path"), SLUG_ROUTES)
def test_every_slug_route_answers_a_slug_no_negotiation_can_have_as_not_found(
    page_client: Any, method: str, path: str, slug: str
) -> None:
    url = path.replace("{slug}", slug)
    response = page_client.request(method, url, json={"type": "statement_made"})
    assert response.status_code == 404, response.text
    assert problem_failure(404, response.headers.get("content-type"), response.content) is None
