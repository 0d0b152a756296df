"""Every route the app serves, for each of no key / reader / recorder / admin, once keys exist.

The rule table names each route's least role; a route the app serves but the table does
not name fails the first test, so a new route cannot ship without a decision.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from apitools import assert_problem, offer, sma_negotiation
from fastapi.routing import iter_route_contexts
from starlette.exceptions import StarletteDeprecationWarning

from api.http.app import create_app
from api.http.auth import Gate, Role
from api.settings import Settings

with warnings.catch_warnings():  # as in conftest: a warning about the test tool only
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SLUG = "usa-rok-sma"
OPEN = None
READER, RECORDER, ADMIN = Role.READER, Role.RECORDER, Role.ADMIN

RULES: dict[tuple[str, str], Role | None] = {
    # The API's description, not the ledger's data.
    ("GET", "/openapi.json"): OPEN,
    ("GET", "/docs"): OPEN,
    ("GET", "/redoc"): OPEN,
    ("GET", "/problems"): OPEN,
    ("GET", "/problems/{code}"): OPEN,
    # Liveness and counters for monitors.
    ("GET", "/health"): OPEN,
    ("GET", "/metrics"): OPEN,
    # The dashboard's shells and assets hold no data; what they fetch is protected.
    ("GET", "/"): OPEN,
    ("GET", "/n/{slug}"): OPEN,
    ("GET", "/static/vendor/{name}"): OPEN,
    ("GET", "/static/{name}"): OPEN,
    ("GET", "/negotiations/{slug}/chart.json"): READER,
    ("GET", "/negotiations/{slug}/page.json"): READER,
    ("GET", "/negotiations/{slug}/chart.svg"): READER,
    ("POST", "/negotiations"): ADMIN,
    ("GET", "/negotiations"): READER,
    ("GET", "/negotiations/{slug}"): READER,
    ("POST", "/negotiations/{slug}/events"): RECORDER,
    ("GET", "/negotiations/{slug}/events"): READER,
    ("GET", "/negotiations/{slug}/positions"): READER,
    ("GET", "/negotiations/{slug}/gaps"): READER,
    ("GET", "/negotiations/{slug}/timeline"): READER,
    ("GET", "/negotiations/{slug}/audit"): READER,
    ("GET", "/negotiations/{slug}/export"): READER,
    ("GET", "/ledger/checkpoint"): READER,
    ("GET", "/ledger/proof/inclusion"): READER,
    ("GET", "/ledger/proof/consistency"): READER,
    ("GET", "/ledger/verify"): READER,
    ("GET", "/ledger/verifier-key"): READER,
    ("GET", "/ledger/checkpoint/cosigned"): READER,
    ("POST", "/ledger/checkpoint/cosignatures"): RECORDER,
    # C2SP tlog-tiles: the same tree as the proofs, so the same rule.
    ("GET", "/checkpoint"): READER,
    ("GET", "/tile/{path:path}"): READER,
    ("GET", "/events"): READER,
    ("GET", "/compare"): READER,
    ("GET", "/compare/chart.svg"): READER,
    ("GET", "/c"): OPEN,
    ("GET", "/events/stream"): READER,
    ("GET", "/negotiations/{slug}/stream"): READER,
    ("POST", "/keys"): ADMIN,
    ("GET", "/keys"): ADMIN,
    ("DELETE", "/keys/{name}"): ADMIN,
}
CALLERS: tuple[Role | None, ...] = (None, READER, RECORDER, ADMIN)
_names = itertools.count(1)


def served_routes(app: Any) -> set[tuple[str, str]]:
    return {
        (method, route.path)
        for route in iter_route_contexts(app.routes)
        for method in (route.methods or ())
        if method != "HEAD"
    }


def add_key(client: TestClient, role: Role, name: str | None = None) -> str:
    gate: Gate = client.app.state.gate  # type: ignore[attr-defined]
    _, secret = gate.keys.create(name or f"{role.value}-{next(_names)}", role)
    gate.changed()
    return secret


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture(scope="module")
def keyed() -> Iterator[tuple[TestClient, dict[Role, str]]]:
    """One app with the SMA negotiation and a key of each role."""
    app = create_app(Settings(database_url="memory://"))
    with TestClient(app, base_url="http://localhost") as client:
        secrets = {role: add_key(client, role) for role in Role}
        opened = client.post(
            "/negotiations", json=sma_negotiation(), headers=bearer(secrets[ADMIN])
        )
        assert opened.status_code == 201, opened.text
        yield client, secrets


# A stream past its auth check never ends: a Last-Event-ID it refuses (422) stands in.
ENDS_AT_ONCE: dict[str, dict[str, Any]] = {
    path: {"headers": {"Last-Event-ID": "not-a-position"}}
    for path in ("/events/stream", "/negotiations/{slug}/stream")
}


def request_for(client: TestClient, method: str, path: str) -> dict[str, Any]:
    """A request that reaches the route (its answer past the auth check does not matter)."""
    name = f"doomed-{next(_names)}"
    if path == "/keys/{name}":
        add_key(client, READER, name)
    url = (
        path.replace("{path:path}", "0/000")
        .format(slug=SLUG, name=name, code="validation")
        .replace("/static/{name}", "/static/parley.css")
        .replace("/static/vendor/{name}", "/static/vendor/swagger-ui.css")
    )
    bodies = {
        "/negotiations": sma_negotiation(f"opened-{next(_names)}"),
        "/negotiations/{slug}/events": offer(),
        "/keys": {"name": f"made-{next(_names)}", "role": "reader"},
    }
    return {
        "method": method,
        "url": url,
        "json": bodies.get(path) if method == "POST" else None,
        **ENDS_AT_ONCE.get(path, {}),
    }


def test_every_served_route_has_an_auth_rule(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, _ = keyed
    served = served_routes(client.app)
    assert served - set(RULES) == set(), "routes without a rule: add them to RULES"
    assert set(RULES) - served == set(), "rules for routes the app no longer serves"


@pytest.mark.parametrize("caller", CALLERS, ids=lambda c: "no-key" if c is None else c.value)
@pytest.mark.parametrize(("method", "path"), sorted(RULES), ids=lambda x: str(x))
def test_each_route_answers_each_caller_as_its_rule_says(
    keyed: tuple[TestClient, dict[Role, str]], method: str, path: str, caller: Role | None
) -> None:
    client, secrets = keyed
    needed = RULES[(method, path)]
    headers = {} if caller is None else bearer(secrets[caller])
    request = request_for(client, method, path)
    headers = {**request.pop("headers", {}), **headers}
    response = client.request(**request, headers=headers)

    if needed is None:
        assert response.status_code not in (401, 403), response.text
    elif caller is None:
        assert_problem(response, 401, "unauthenticated")
        assert response.headers["WWW-Authenticate"].startswith("Bearer")
    elif not caller.allows(needed):
        problem = assert_problem(response, 403, "forbidden")
        assert problem["required_role"] == needed.value
        assert problem["role"] == caller.value
    else:
        assert response.status_code not in (401, 403), response.text
        assert response.status_code < 500, response.text


def test_a_reader_refused_an_append_is_told_which_request_and_which_role(
    keyed: tuple[TestClient, dict[Role, str]],
) -> None:
    client, _ = keyed
    secret = add_key(client, READER, "reader-told")
    response = client.post(f"/negotiations/{SLUG}/events", json=offer(), headers=bearer(secret))
    problem = assert_problem(response, 403, "forbidden")
    assert problem["detail"] == (
        f"POST /negotiations/{SLUG}/events needs a key with the role recorder; "
        "the key 'reader-told' is a reader key"
    )


@pytest.mark.parametrize(
    "authorization",
    [
        "Bearer parley_not-a-key-this-server-made",
        "Bearer ",
        "Basic dXNlcjpwYXNz",
        "parley_no-scheme",
        "Bearer " + "x" * 5000,
    ],
)
def test_a_malformed_or_unknown_key_is_unauthenticated(
    keyed: tuple[TestClient, dict[Role, str]], authorization: str
) -> None:
    client, _ = keyed
    response = client.get("/negotiations", headers={"Authorization": authorization})
    assert_problem(response, 401, "unauthenticated")


def test_the_scheme_is_case_insensitive(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, secrets = keyed
    response = client.get("/negotiations", headers={"Authorization": f"bearer {secrets[READER]}"})
    assert response.status_code == 200, response.text


def test_the_401_names_no_key_and_shows_none(keyed: tuple[TestClient, dict[Role, str]]) -> None:
    client, secrets = keyed
    response = client.get("/negotiations", headers=bearer(secrets[READER] + "x"))
    problem = assert_problem(response, 401, "unauthenticated")
    assert secrets[READER] not in response.text
    assert "unknown or revoked" in problem["detail"]


# --------------------------------------------------------------- open mode


@pytest.mark.parametrize(("method", "path"), sorted(RULES), ids=lambda x: str(x))
def test_without_keys_every_route_but_key_management_is_open(
    client: TestClient, method: str, path: str
) -> None:
    response = client.request(**request_for_open(method, path))
    if path.startswith("/keys"):
        problem = assert_problem(response, 403, "forbidden")
        assert "parley keys create" in problem["detail"]
    else:
        assert response.status_code not in (401, 403), response.text


def request_for_open(method: str, path: str) -> dict[str, Any]:
    url = (
        path.replace("{path:path}", "0/000")
        .format(slug=SLUG, name="someone", code="validation")
        .replace("/static/{name}", "/static/parley.css")
        .replace("/static/vendor/{name}", "/static/vendor/swagger-ui.css")
    )
    body = {"/keys": {"name": "first", "role": "admin"}}.get(path)
    return {
        "method": method,
        "url": url,
        "json": body if method == "POST" else None,
        **ENDS_AT_ONCE.get(path, {}),
    }


def test_without_keys_a_presented_key_is_not_needed_nor_checked(client: TestClient) -> None:
    response = client.get("/negotiations", headers={"Authorization": "Bearer whatever"})
    assert response.status_code == 200, response.text
