"""API keys: stored hashed on every store, who records what, retraction for admins only,
key management over HTTP, and when the server runs open."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, retraction, sma_negotiation

from api.http.auth import Gate, Principal, Role, Unauthenticated, is_loopback
from api.store.keys import KEY_PREFIX, KEYS_TABLE, KeyNameTaken, KeyNotFound, KeyStore, open_keys
from domain.errors import InvalidValue
from domain.ledger import Ledger

# The tests that look into a table or share a store between processes: memory:// has no
# table, and each process has a memory store of its own, by design.
shared_stores = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)

# --------------------------------------------------------------- the store


@pytest.fixture
def keys(ledger: Ledger, clock: Callable[[], datetime]) -> KeyStore:
    return open_keys(ledger, clock)


def test_a_new_key_is_recognised_and_carries_its_name_and_role(keys: KeyStore) -> None:
    key, secret = keys.create("newsroom", Role.RECORDER)

    assert secret.startswith(KEY_PREFIX)
    assert len(secret) >= len(KEY_PREFIX) + 43  # 32 random bytes
    assert keys.authenticate(secret) == key
    assert (key.name, key.role, key.revoked_at) == ("newsroom", Role.RECORDER, None)
    assert keys.any_active()


def test_two_keys_never_share_a_secret(keys: KeyStore) -> None:
    _, first = keys.create("a", Role.READER)
    _, second = keys.create("b", Role.READER)
    assert first != second
    assert keys.authenticate(first).name == "a"  # type: ignore[union-attr]
    assert keys.authenticate(second).name == "b"  # type: ignore[union-attr]


def test_an_unknown_or_foreign_key_is_not_recognised(keys: KeyStore) -> None:
    _, secret = keys.create("a", Role.READER)
    assert keys.authenticate(secret[:-1]) is None
    assert keys.authenticate("") is None
    assert keys.authenticate("Bearer " + secret) is None


def test_a_revoked_key_is_no_longer_recognised_but_stays_listed(keys: KeyStore, clock: Any) -> None:
    _, secret = keys.create("a", Role.ADMIN)
    revoked_at = clock.advance(minutes=5)

    revoked = keys.revoke("a")

    assert revoked.revoked_at == revoked_at
    assert keys.authenticate(secret) is None
    assert not keys.any_active()
    assert [(k.name, k.active) for k in keys.all_keys()] == [("a", False)]
    assert keys.revoke("a").revoked_at == revoked_at  # revoking again changes nothing


def test_a_name_is_never_given_twice_not_even_after_revocation(keys: KeyStore) -> None:
    keys.create("a", Role.READER)
    with pytest.raises(KeyNameTaken):
        keys.create("a", Role.ADMIN)
    keys.revoke("a")
    with pytest.raises(KeyNameTaken):
        keys.create("a", Role.READER)


@pytest.mark.parametrize("name", ["", " a", "a b", "-a", "a" * 65, "é", "a/b"])
def test_a_key_name_that_could_not_be_a_recorder_name_is_refused(keys: KeyStore, name: str) -> None:
    with pytest.raises(InvalidValue):
        keys.create(name, Role.READER)


def test_an_unknown_role_is_refused(keys: KeyStore) -> None:
    with pytest.raises(InvalidValue, match="reader, recorder, admin"):
        keys.create("a", "root")


def test_revoking_an_unknown_key_says_so(keys: KeyStore) -> None:
    with pytest.raises(KeyNotFound):
        keys.revoke("nobody")


def test_keys_are_listed_in_the_order_they_were_made(keys: KeyStore, clock: Any) -> None:
    for name in ("zed", "amy", "bob"):
        keys.create(name, Role.READER)
        clock.advance(seconds=1)
    assert [k.name for k in keys.all_keys()] == ["zed", "amy", "bob"]
    assert all(k.created_at.tzinfo is not None for k in keys.all_keys())


def raw_rows(ledger: Ledger) -> list[tuple[Any, ...]]:
    """Every stored column of the keys table, read past the key store."""
    recorder: Any = ledger.recorder
    datastore = recorder.datastore
    table = KEYS_TABLE
    if hasattr(datastore, "schema"):
        table = f'"{datastore.schema}".{KEYS_TABLE}'
    with datastore.transaction(commit=False) as cursor:
        cursor.execute(f"SELECT * FROM {table}")
        return [tuple(dict(row).values()) for row in cursor.fetchall()]


@shared_stores
def test_only_the_keys_hash_is_stored(ledger: Ledger) -> None:
    keys = open_keys(ledger)
    _, secret = keys.create("a", Role.RECORDER)

    stored = [str(v) for row in raw_rows(ledger) for v in row]

    assert not any(secret in value or secret[len(KEY_PREFIX) :] in value for value in stored)
    assert hashlib.sha256(secret.encode()).hexdigest() in stored


@shared_stores
def test_keys_outlive_the_process_that_made_them(ledger_factory: Callable[[], Ledger]) -> None:
    _, secret = open_keys(ledger_factory()).create("a", Role.ADMIN)

    later = open_keys(ledger_factory())

    assert later.authenticate(secret).name == "a"  # type: ignore[union-attr]


# ---------------------------------------------------------------- the gate


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def two_processes(
    ledger_factory: Callable[[], Ledger],
) -> tuple[Gate, FakeMonotonic, KeyStore]:
    """The server's gate (on its own clock) and the CLI's key store, on one store (tests using
    it are ``shared_stores``)."""
    tick = FakeMonotonic()
    return Gate(open_keys(ledger_factory()), monotonic=tick), tick, open_keys(ledger_factory())


@shared_stores
def test_a_key_made_by_another_process_closes_an_open_server_within_a_second(
    two_processes: tuple[Gate, FakeMonotonic, KeyStore],
) -> None:
    gate, tick, cli = two_processes
    assert gate.principal(None) == Principal("anonymous", Role.ADMIN, authenticated=False)

    _, secret = cli.create("first", Role.READER)
    assert not gate.principal(None).authenticated  # the open answer is cached briefly
    tick.now += 1.01

    with pytest.raises(Unauthenticated):
        gate.principal(None)
    assert gate.principal(f"Bearer {secret}") == Principal("first", Role.READER)


@shared_stores
def test_a_key_revoked_by_another_process_is_refused_within_a_second(
    two_processes: tuple[Gate, FakeMonotonic, KeyStore],
) -> None:
    gate, tick, cli = two_processes
    _, secret = cli.create("first", Role.READER)
    cli.create("second", Role.READER)
    assert gate.principal(f"Bearer {secret}").name == "first"

    cli.revoke("first")
    tick.now += 1.01

    with pytest.raises(Unauthenticated, match="unknown or revoked"):
        gate.principal(f"Bearer {secret}")


def test_revoking_every_key_does_not_reopen_a_running_server(keys: KeyStore) -> None:
    tick = FakeMonotonic()
    gate = Gate(keys, monotonic=tick)
    keys.create("only", Role.ADMIN)
    gate.changed()
    with pytest.raises(Unauthenticated):
        gate.principal(None)

    keys.revoke("only")
    gate.changed()
    tick.now += 60

    with pytest.raises(Unauthenticated):
        gate.principal(None)


def test_a_server_bound_beyond_loopback_never_runs_open(keys: KeyStore) -> None:
    gate = Gate(keys, open_allowed=False)
    with pytest.raises(Unauthenticated):
        gate.principal(None)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("127.0.0.1", True),
        ("127.8.9.10", True),
        ("::1", True),
        ("[::1]", True),
        ("localhost", True),
        ("0.0.0.0", False),  # noqa: S104 - the address under test
        ("::", False),
        ("192.168.1.20", False),
        ("parley.example.org", False),
    ],
)
def test_only_loopback_addresses_count_as_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# ------------------------------------------------------------------- HTTP


@pytest.fixture
def keyed(client: Any) -> tuple[Any, Callable[..., dict[str, str]]]:
    """The app with the SMA negotiation opened by the admin key ``boss``."""
    gate: Gate = client.app.state.gate
    made: dict[str, str] = {}

    def as_(name: str, role: Role = Role.READER) -> dict[str, str]:
        if name not in made:
            made[name] = gate.keys.create(name, role)[1]
            gate.changed()
        return {"Authorization": f"Bearer {made[name]}"}

    opened = client.post("/negotiations", json=sma_negotiation(), headers=as_("boss", Role.ADMIN))
    assert opened.status_code == 201, opened.text
    return client, as_


def test_each_event_is_recorded_by_the_name_of_the_key_that_sent_it(keyed: Any) -> None:
    client, as_ = keyed
    sent = post_events(client, offer(), headers=as_("newsroom", Role.RECORDER))
    assert sent.status_code == 201, sent.text

    events = client.get(
        "/negotiations/usa-rok-sma/events", params={"limit": 100}, headers=as_("reader")
    ).json()["events"]

    assert {e["recorded_by"] for e in events[:-1]} == {"boss"}
    assert events[-1]["recorded_by"] == "newsroom"


def test_a_retraction_needs_an_admin_key_even_inside_a_batch(keyed: Any) -> None:
    client, as_ = keyed
    recorder = as_("newsroom", Role.RECORDER)
    sent = post_events(client, offer(), headers=recorder)
    event_id = sent.json()["events"][0]["event_id"]
    retracting = retraction(event_id, "the figure was misreported", "2019-11-19")

    refused = post_events(client, [offer(amount="4000000000"), retracting], headers=recorder)
    problem = assert_problem(refused, 403, "forbidden")
    assert "retracting an event" in problem["detail"]
    version = sent.json()["version"]
    reader = as_("reader")
    assert client.get("/negotiations/usa-rok-sma", headers=reader).json()["version"] == version

    accepted = post_events(client, retracting, headers=as_("editor", Role.ADMIN))
    assert accepted.status_code == 201, accepted.text


def test_idempotency_keys_of_two_api_keys_do_not_meet(keyed: Any) -> None:
    client, as_ = keyed
    headers = {"Idempotency-Key": "morning-batch"}
    first = post_events(client, offer(), headers={**headers, **as_("a", Role.RECORDER)})
    second = post_events(client, offer(), headers={**headers, **as_("b", Role.RECORDER)})

    assert first.status_code == second.status_code == 201
    assert "Idempotent-Replayed" not in second.headers
    assert second.json()["version"] == first.json()["version"] + 1


def test_an_admin_makes_lists_and_revokes_keys_over_http(keyed: Any) -> None:
    client, as_ = keyed
    admin = as_("boss", Role.ADMIN)

    made = client.post("/keys", json={"name": "wire", "role": "recorder"}, headers=admin)
    assert made.status_code == 201, made.text
    secret = made.json()["key"]
    wire = {"Authorization": f"Bearer {secret}"}
    assert post_events(client, offer(), headers=wire).status_code == 201

    listed = client.get("/keys", headers=admin).json()
    assert [(k["name"], k["role"], k["active"]) for k in listed] == [
        ("boss", "admin", True),
        ("wire", "recorder", True),
    ]
    assert secret not in client.get("/keys", headers=admin).text

    revoked = client.delete("/keys/wire", headers=admin)
    assert revoked.status_code == 200, revoked.text
    assert revoked.json()["active"] is False
    assert_problem(post_events(client, offer(), headers=wire), 401, "unauthenticated")


def test_key_management_over_http_reports_taken_and_unknown_names(keyed: Any) -> None:
    client, as_ = keyed
    admin = as_("boss", Role.ADMIN)
    taken = client.post("/keys", json={"name": "boss", "role": "reader"}, headers=admin)
    assert_problem(taken, 409, "key-name-taken")
    assert_problem(client.delete("/keys/nobody", headers=admin), 404, "key-not-found")
    bad = client.post("/keys", json={"name": "two words", "role": "reader"}, headers=admin)
    assert_problem(bad, 422, "validation")


def test_without_keys_events_are_recorded_by_anonymous(sma: Any) -> None:
    assert post_events(sma, offer()).status_code == 201
    assert {e["recorded_by"] for e in ledger_events(sma)} == {"anonymous"}


def test_a_server_configured_for_a_public_interface_refuses_requests_without_keys(
    client_factory: Any,
) -> None:
    public = client_factory("memory://", host="0.0.0.0")  # noqa: S104 - nothing is bound

    assert_problem(public.get("/negotiations"), 401, "unauthenticated")
    assert public.get("/health").status_code == 200


def test_a_key_made_at_runtime_closes_the_open_server_at_once(client: Any) -> None:
    assert client.get("/negotiations").status_code == 200
    gate: Gate = client.app.state.gate
    _, secret = gate.keys.create("first", Role.READER)
    gate.changed()

    assert_problem(client.get("/negotiations"), 401, "unauthenticated")
    assert client.get("/negotiations", headers={"Authorization": f"Bearer {secret}"}).is_success


def test_created_at_is_the_store_clock_in_utc(keys: KeyStore) -> None:
    key, _ = keys.create("a", Role.READER)
    assert key.created_at == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
