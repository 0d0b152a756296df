"""Regression tests of the second hardening pass (issue 11): one or more per finding."""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterator
from urllib.parse import quote

import pytest
from apitools import assert_problem
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import MutableHeaders
from starlette.exceptions import StarletteDeprecationWarning

from api.http.app import create_app
from api.http.auth import Gate
from api.http.observability import add_missing
from api.http.problems.table import CATALOGUE
from api.http.security import SECURITY_HEADERS
from api.settings import Settings
from api.store.keys import KeyNotFound, Role
from domain import errors

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient


@pytest.fixture
def remote_client() -> Iterator[TestClient]:
    """The app as reached over a connection that arrived on 10.0.0.5 (ASGI "server")."""
    app = create_app(Settings(database_url="memory://"))
    with TestClient(app, base_url="http://10.0.0.5") as client:
        yield client


@pytest.fixture
def keyed(client):
    gate = client.app.state.gate
    _, secret = gate.keys.create("first-admin", Role.ADMIN)
    gate.changed()
    return client, secret


# ------------------------------------------------ 3. DNS rebinding: Host in open mode


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:8000", "127.0.0.1", "127.0.0.1:8000", "[::1]", "[::1]:8000"]
)
def test_an_open_server_answers_requests_addressed_to_loopback(client, host):
    response = client.get("/health", headers={"Host": host})

    assert response.status_code == 200, response.text


@pytest.mark.parametrize(
    "host",
    [
        "evil.example",
        "evil.example:8000",
        "127.0.0.1.nip.io",
        "localhost.evil.example",
        "10.0.0.5",
        "[::2]:8000",
        "",
        "localhost:8000:1",
    ],
)
def test_an_open_server_refuses_a_host_that_is_not_loopback(client, host):
    response = client.post("/negotiations", json={"slug": "rebound"}, headers={"Host": host})

    assert_problem(response, 421, "host-not-loopback")
    assert client.get("/negotiations").json()["items"] == []


@pytest.mark.parametrize(
    ("value", "loopback"),
    [
        (" localhost:8000\t", True),  # optional whitespace (RFC 9110) is SP and HTAB
        ("\x85localhost", False),  # a Host header is read as Latin-1: NEL is a byte, not space
        ("\xa0localhost", False),
        ("localhost\x0b", False),
        ("\u3000localhost", False),
    ],
)
def test_only_sp_and_htab_surround_a_loopback_host(value, loopback):
    from api.http.security import loopback_host_header

    assert loopback_host_header(value) is loopback


def test_a_keyed_server_does_not_care_which_host_was_asked(keyed):
    client, secret = keyed

    response = client.get(
        "/health", headers={"Host": "parley.example.org", "Authorization": f"Bearer {secret}"}
    )

    assert response.status_code == 200


# ------------------------------------------------ 4. the open mode checks the socket


def test_an_open_server_reached_on_a_non_loopback_address_refuses(remote_client):
    # As `uvicorn api.http.app:create_app --factory --host 0.0.0.0`, whose settings say loopback.
    response = remote_client.get("/health", headers={"Host": "localhost"})

    assert_problem(response, 403, "open-mode-not-loopback")


# ------------------------------------------------ 9. nosniff, CSP, offline docs


@pytest.mark.parametrize("path", ["/", "/n/usa-rok-sma", "/docs", "/redoc", "/health", "/problems"])
def test_every_answer_forbids_sniffing_and_framing(client, path):
    response = client.get(path)

    assert response.headers["x-content-type-options"] == "nosniff"
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self';" in policy
    assert "unsafe-inline" not in policy.split("script-src")[1].split(";")[0]


HEADER_NAMES = st.sampled_from(
    [b"x-frame-options", b"X-Frame-Options", b"referrer-policy", b"x-request-id", b"etag"]
)


@pytest.mark.parametrize(
    "adding", [SECURITY_HEADERS, ((b"x-request-id", b"req-1"),)], ids=["security", "request-id"]
)
@given(raw=st.lists(st.tuples(HEADER_NAMES, st.binary(max_size=3)), max_size=6))
def test_add_missing_adds_what_mutable_headers_added(
    adding: tuple[tuple[bytes, bytes], ...], raw: list[tuple[bytes, bytes]]
) -> None:
    expected = {"headers": tuple(raw)}
    headers = MutableHeaders(scope=expected)
    for name, value in adding:
        if name.decode() not in headers:
            headers.append(name.decode(), value.decode())
    message = {"headers": tuple(raw)}
    add_missing(message, adding)
    assert message["headers"] == expected["headers"]


@pytest.mark.parametrize("path", ["/docs", "/redoc", "/", "/n/usa-rok-sma"])
def test_the_pages_load_no_inline_script_and_nothing_from_another_origin(client, path):
    page = client.get(path).text

    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page, flags=re.S)
    assert scripts
    assert all('src="/' in attrs and body.strip() == "" for attrs, body in scripts), scripts
    assert not re.search(r"(src|href)=\"(https?:)?//", page)
    for asset in re.findall(r'(?:src|href)="(/[^"]*)"', page):
        response = client.get(asset)
        assert response.status_code == 200, asset
        assert response.headers["x-content-type-options"] == "nosniff"


def test_swagger_ui_and_redoc_come_from_the_pinned_package(client):
    from api.http.routes.dashboard import docs_asset

    for name in ("swagger-ui-bundle.js", "swagger-ui.css", "redoc.standalone.js"):
        response = client.get(f"/static/vendor/{name}")
        assert response.status_code == 200
        assert response.content == docs_asset(name).read_bytes()


# ------------------------------------------------ 11. problem types the project serves


def test_every_problem_type_has_a_page_with_its_one_title(client):
    index = client.get("/problems")
    assert index.status_code == 200
    for code, problem in CATALOGUE.items():
        assert f'href="/problems/{code}"' in index.text
        page = client.get(f"/problems/{code}")
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("text/html")
        assert f'<h1 id="title">{problem.title.replace("&", "&amp;")}</h1>' in page.text.replace(
            "&#x27;", "'"
        )


def test_a_problem_names_its_type_page_and_its_request(client):
    response = client.get("/negotiations/nope", headers={"X-Request-ID": "req-42"})

    problem = assert_problem(response, 404, "negotiation-not-found")
    assert problem["instance"] == "urn:x-parley:request:req-42"
    assert client.get(problem["type"]).status_code == 200


def test_an_unknown_problem_code_is_a_404_problem(client):
    assert_problem(client.get("/problems/nope"), 404, "http-not-found")


# ------------------------------------------------ 1. metrics labels stay few


def test_invented_methods_and_paths_do_not_grow_the_metrics(client):
    before = client.get("/metrics").text
    for i in range(50):
        client.request(f"X{i:04d}" + "A" * 2000, f"/made-up/{i}/{'p' * 500}")
    after = client.get("/metrics").text

    assert "A" * 100 not in after
    assert "p" * 100 not in after
    assert len(after) - len(before) < 5_000
    assert 'method="<other>"' in after


# ------------------------------------------------ 11. HTTP conformance


def get_routes(app) -> list[str]:
    from fastapi.routing import iter_route_contexts

    return sorted(
        {
            r.path
            for r in iter_route_contexts(app.routes)
            if "GET" in (r.methods or ()) and "{" not in r.path
        }
    )


def test_head_answers_every_get_route_with_the_gets_status_and_headers_and_no_body(sma):
    paths = [
        *get_routes(sma.app),
        "/negotiations/usa-rok-sma",
        "/n/usa-rok-sma",
        "/negotiations/usa-rok-sma/stream",
    ]
    assert len(paths) > 8
    for path in [p for p in paths if p.endswith("/stream")]:
        # A GET of a stream never ends; its HEAD answers at once, with the stream's head.
        head = sma.head(path)
        assert head.status_code == 200, path
        assert head.headers["content-type"].startswith("text/event-stream"), path
        assert head.content == b"", path
    for path in [p for p in paths if not p.endswith("/stream")]:
        get, head = sma.get(path), sma.head(path)
        assert head.status_code == get.status_code, path
        assert head.content == b"", path
        assert head.headers["content-type"] == get.headers["content-type"], path


def test_a_wrong_method_names_head_among_the_allowed_ones(client):
    response = client.put("/negotiations/usa-rok-sma/gaps")

    assert_problem(response, 405, "http-method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD"


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/negotiations", "GET, HEAD, POST"),
        ("/negotiations/usa-rok-sma/events", "GET, HEAD, POST"),
        ("/keys", "GET, HEAD, POST"),
        ("/keys/someone", "DELETE"),
    ],
)
def test_a_wrong_method_names_every_method_the_path_answers(client, path, allowed):
    # Starlette names only the first matching route's methods: POST alone for /negotiations.
    response = client.request("PURGE", path)

    assert_problem(response, 405, "http-method-not-allowed")
    assert response.headers["allow"] == allowed


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_a_body_that_is_not_json_is_a_415_problem(client, content_type):
    response = client.post(
        "/negotiations", content=b'{"slug": "x"}', headers={"Content-Type": content_type}
    )

    assert_problem(response, 415, "unsupported-media-type")


def test_json_media_types_with_parameters_are_json(client):
    response = client.post(
        "/negotiations", content=b"{}", headers={"Content-Type": "application/json; charset=utf-8"}
    )

    assert_problem(response, 422, "validation")


def test_a_bad_key_says_invalid_token(keyed):
    client, _ = keyed

    response = client.get("/negotiations", headers={"Authorization": "Bearer not-a-key"})

    assert_problem(response, 401, "unauthenticated")
    assert response.headers["www-authenticate"] == 'Bearer realm="parley", error="invalid_token"'
    missing = client.get("/negotiations")
    assert missing.headers["www-authenticate"] == 'Bearer realm="parley"'
    malformed = client.get("/negotiations", headers={"Authorization": "Basic eDp5"})
    assert 'error="invalid_request"' in malformed.headers["www-authenticate"]


class _KeysOutage:
    def any_active(self) -> bool:
        raise errors.StorageUnavailable("the store is unavailable: db.internal refused")


def test_when_the_store_cannot_say_whether_keys_exist_the_fence_answers_503(client):
    client.app.state.gate = Gate(_KeysOutage())  # type: ignore[arg-type]

    response = client.get("/health", headers={"Host": "evil.example"})

    assert_problem(response, 503, "storage-unavailable")
    assert "db.internal" not in response.text


# ------------------------------------------------ 6. ids are checked before any SQL

NUL_TEXTS = ["\x00", "a\x00b", "00000000-0000-0000-0000-00000000000\x00"]


def _string_parameters(openapi: dict) -> list[tuple[str, str, str, str]]:
    """(method, path, where, name) of every string parameter of a GET or DELETE operation."""
    found = []
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method not in ("get", "delete"):
                continue
            for parameter in operation.get("parameters", []):
                schema = json_of(parameter.get("schema", {}))
                if parameter["in"] in ("query", "path") and '"string"' in schema:
                    found.append((method.upper(), path, parameter["in"], parameter["name"]))
    return found


def json_of(value: object) -> str:
    import json

    return json.dumps(value)


def test_nul_in_any_id_or_name_is_never_a_server_error(sma_store_client):
    client = sma_store_client
    parameters = _string_parameters(client.app.openapi())
    assert any(name == "event_id" for *_, name in parameters)
    for method, path, where, name in parameters:
        for text in NUL_TEXTS:
            values = {"slug": "usa-rok-sma", "name": "someone", "code": "validation"}
            params = {}
            if where == "path":
                values[name] = quote(text, safe="")
            else:
                params[name] = text
            url = re.sub(r"\{(\w+)(?::path)?\}", lambda m, v=values: v.get(m[1], "x"), path)
            response = client.request(method, url, params=params)
            assert response.status_code < 500, (method, path, name, response.text)


@pytest.fixture
def sma_store_client(store_client):
    from apitools import sma_negotiation

    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    return store_client


def test_a_key_name_with_nul_is_not_found_before_the_store_sees_it(store_client):
    keys = store_client.app.state.gate.keys

    with pytest.raises(KeyNotFound):
        keys.revoke("admin\x00")
    with pytest.raises(errors.InvalidValue):
        keys.create("admin\n", Role.ADMIN)


# ------------------------------------------------ 8. reserved key names


@pytest.mark.parametrize("name", ["anonymous", "cli", "Anonymous", "CLI"])
def test_keys_cannot_take_the_names_of_open_mode_and_cli_writes(keyed, name):
    client, secret = keyed

    response = client.post(
        "/keys",
        json={"name": name, "role": "reader"},
        headers={"Authorization": f"Bearer {secret}"},
    )

    problem = assert_problem(response, 422, "invalid-value")
    assert "reserved" in problem["detail"]


# ------------------------------------------------ 12. OpenAPI says what the server does


def test_openapi_declares_the_bearer_scheme_and_which_operations_need_it(client):
    document = client.get("/openapi.json").json()

    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"
    operations = {
        (method, path): operation
        for path, item in document["paths"].items()
        for method, operation in item.items()
    }
    assert operations[("get", "/negotiations")]["security"] == [{"bearer": []}]
    assert operations[("post", "/negotiations/{slug}/events")]["security"] == [{"bearer": []}]
    assert operations[("get", "/health")]["security"] == []
    assert all("security" in op for op in operations.values())
    assert document["externalDocs"]["url"] == "/problems"


@pytest.mark.parametrize(
    ("amount", "accepted"),
    [
        ("5E+9", True),
        ("1389000000000.5", True),
        ("-7", True),
        (".5", False),
        ("7.", False),
        (" 7", False),
        ("7 ", False),
        ("5_000", False),
        ("+5", False),
        ("0x10", False),
        ("1e", False),
    ],
)
def test_an_amount_is_accepted_exactly_when_the_documented_pattern_matches(sma, amount, accepted):
    pattern = next(
        branch["pattern"]
        for branch in sma.get("/openapi.json").json()["components"]["schemas"]["QuantityIn"][
            "properties"
        ]["amount"]["anyOf"]
        if branch.get("type") == "string"
    )
    response = sma.post(
        "/negotiations/usa-rok-sma/events",
        json={
            "type": "offer_made",
            "party": "USA",
            "kind": "offer",
            "occurred_at": "2019-09-24",
            "values": {"annual_contribution": {"amount": amount, "unit": "KRW"}},
        },
    )

    assert bool(re.fullmatch(pattern, amount)) is accepted
    assert response.status_code == (201 if accepted else 422), response.text


@pytest.mark.parametrize(
    "name",
    [
        "\u200b",
        "\u200b\u200c\u200d\u2060",
        "\u3164",
        "\u2800",
        "\ufeff ",
        "\u0301",
        "Evil\u202eyrtnuoc",
        "\u2066Name\u2069",
    ],
)
def test_a_party_name_that_shows_nothing_or_reorders_text_is_refused(sma, name):
    response = sma.post(
        "/negotiations/usa-rok-sma/events",
        json={
            "type": "party_joined",
            "party": {"id": "X", "name": name},
            "occurred_at": "2019-09-24",
        },
    )

    problem = assert_problem(response, 422, "invalid-value")
    assert problem["field"] == "party.name"


def test_a_right_to_left_name_with_its_marks_is_still_a_name(sma):
    response = sma.post(
        "/negotiations/usa-rok-sma/events",
        json={
            "type": "party_joined",
            "party": {"id": "IL", "name": "\u05d9\u05e9\u05e8\u05d0\u05dc\u200f"},
            "occurred_at": "2019-09-24",
        },
    )

    assert response.status_code == 201, response.text
