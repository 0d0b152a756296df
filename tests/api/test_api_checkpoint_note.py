"""The checkpoint as a C2SP signed note, the tiles, and witnesses' cosignatures, on every store."""

from __future__ import annotations

import base64
from typing import Any

import pytest
from conftest import ClientFactory, TestClient

from api.services.demo import DEMO_SLUG
from api.signed_note import (
    COSIGNATURE_V1,
    cosign,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    signed_by,
    signer_verifier,
)
from domain import merkle

SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
ORIGIN = "parley.test/log"
WITNESS = "witness.test/w1"
WITNESS_SEED = bytes(range(32))
OTHER_SEED = bytes(range(1, 33))
DEMO_EVENTS = 29


def witness_key(name: str = WITNESS, seed: bytes = WITNESS_SEED) -> str:
    return signer_verifier(name, seed, COSIGNATURE_V1).vkey()


@pytest.fixture
def signed(client_factory: ClientFactory, store_url: str) -> TestClient:
    return client_factory(
        store_url, demo=True, signing_key=SEED_HEX, log_origin=ORIGIN, witness_keys=witness_key()
    )


def note_of(client: TestClient, path: str = "/ledger/checkpoint") -> str:
    answer = client.get(path, headers={"Accept": "text/plain"})
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/plain; charset=utf-8"
    assert answer.headers["cache-control"] == "no-cache"
    return answer.text


@pytest.mark.parametrize("store_url", ["memory", "sqlite", "postgres"], indirect=True)
def test_the_note_is_a_c2sp_checkpoint_of_the_json_tree_signed_by_the_published_key(
    signed: TestClient,
) -> None:
    text = note_of(signed)
    tree = signed.get("/ledger/checkpoint").json()
    key = signed.get("/ledger/verifier-key").json()

    note = parse_note(text)
    body = parse_checkpoint(note.text)
    assert (body.origin, body.tree_size, body.root.hex()) == (ORIGIN, DEMO_EVENTS, tree["root"])
    assert len(body.extensions) == 1
    assert body.extensions[0].startswith("timestamp 20")
    assert key["origin"] == ORIGIN
    assert key["public_key"] == tree["public_key"]
    assert signed_by(note, parse_vkey(key["verifier_key"]))
    assert key["witnesses"] == [witness_key()]
    # One tree, one note: the same bytes at every request, and at /checkpoint.
    assert note_of(signed) == text
    assert note_of(signed, "/checkpoint") == text


@pytest.mark.parametrize(
    "accept", ["application/json", "*/*", "text/plain;q=0.5, application/json"]
)
def test_json_stays_the_default_answer(client_factory: ClientFactory, accept: str) -> None:
    client = client_factory("memory://", demo=True, signing_key=SEED_HEX)

    answer = client.get("/ledger/checkpoint", headers={"Accept": accept})

    assert answer.status_code == 200
    assert answer.json()["tree_size"] == DEMO_EVENTS


def test_without_a_signing_key_there_is_no_note_and_no_verifier_key(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("memory://", demo=True)

    for path in ("/checkpoint", "/ledger/verifier-key"):
        answer = client.get(path, headers={"Accept": "text/plain"})
        assert answer.status_code == 404
        assert answer.json()["type"].endswith("/no-signing-key")


def test_the_default_origin_is_the_host_name_and_names_the_key(
    client_factory: ClientFactory,
) -> None:
    client = client_factory("memory://", signing_key=SEED_HEX)

    key = client.get("/ledger/verifier-key").json()

    assert key["origin"].endswith("/parley")
    assert key["verifier_key"].startswith(key["origin"] + "+" + key["key_id"] + "+")
    assert parse_note(note_of(client)).text.startswith(key["origin"] + "\n0\n")


@pytest.mark.parametrize("store_url", ["memory", "sqlite", "postgres"], indirect=True)
def test_tiles_hold_the_tree_and_entries_the_event_hashes(signed: TestClient) -> None:
    events = signed.get(f"/negotiations/{DEMO_SLUG}/events?limit=100").json()
    hashes = [e["hash"] for e in (events["events"] if isinstance(events, dict) else events)]
    root = parse_checkpoint(parse_note(note_of(signed)).text).root

    tile = signed.get(f"/tile/0/000.p/{DEMO_EVENTS}")
    bundle = signed.get(f"/tile/entries/000.p/{DEMO_EVENTS}")

    assert tile.status_code == 200
    assert tile.headers["content-type"] == "application/octet-stream"
    leaves = [tile.content[i : i + 32] for i in range(0, len(tile.content), 32)]
    assert leaves == [merkle.event_leaf(h) for h in hashes]
    assert merkle.root(leaves) == root
    assert bundle.content == b"".join(b"\x00\x20" + bytes.fromhex(h) for h in hashes)
    assert "immutable" not in tile.headers["cache-control"]
    assert signed.get(f"/tile/0/000.p/{DEMO_EVENTS - 1}").status_code == 200  # a smaller tree's
    for missing in ("0/000", f"0/000.p/{DEMO_EVENTS + 1}", "1/000.p/1", "0/x000/000.p/1", "9/z"):
        answer = signed.get(f"/tile/{missing}")
        assert answer.status_code == 404, missing
        assert answer.json()["type"].endswith("/tile-not-found")


def post_cosigned(client: TestClient, note: str) -> Any:
    return client.post(
        "/ledger/checkpoint/cosignatures",
        content=note.encode("utf-8"),
        headers={"Content-Type": "text/plain"},
    )


@pytest.mark.parametrize("store_url", ["memory", "sqlite", "postgres"], indirect=True)
def test_a_witness_cosignature_is_kept_and_served_with_its_checkpoint(signed: TestClient) -> None:
    note = note_of(signed)
    text = parse_note(note).text
    line = cosign(text, WITNESS, WITNESS_SEED, 1767225600).line()

    first = post_cosigned(signed, note + line)
    again = post_cosigned(signed, note + line)

    assert first.status_code == 200, first.text
    assert first.json() == {"tree_size": DEMO_EVENTS, "accepted": [WITNESS], "stored": 1}
    assert again.json()["stored"] == 0
    assert note_of(signed) == note + line
    assert note_of(signed, "/ledger/checkpoint/cosigned") == note + line
    # The log grows: the new checkpoint has no cosignature yet; the cosigned one stays served.
    statement = {
        "type": "statement_made",
        "party": "ROK",
        "speaker": "spokesperson",
        "summary": "later",
        "occurred_at": "2021-04-08",
    }
    assert signed.post(f"/negotiations/{DEMO_SLUG}/events", json=statement).status_code == 201
    grown = parse_note(note_of(signed))
    assert len(grown.signatures) == 1
    assert parse_checkpoint(grown.text).tree_size == DEMO_EVENTS + 1
    assert note_of(signed, "/ledger/checkpoint/cosigned") == note + line


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("unknown-witness", "no valid cosignature"),
        ("bad-cosignature", "no valid cosignature"),
        ("not-ours", "does not carry a valid signature"),
        ("other-tree", "does not carry a valid signature"),
        ("garbage", "not a checkpoint note"),
    ],
)
def test_a_cosignature_that_does_not_verify_is_refused(
    client_factory: ClientFactory, change: str, reason: str
) -> None:
    client = client_factory(
        "memory://", demo=True, signing_key=SEED_HEX, log_origin=ORIGIN, witness_keys=witness_key()
    )
    note = note_of(client)
    text = parse_note(note).text
    posted = {
        "unknown-witness": note + cosign(text, "other.test/w", OTHER_SEED, 1).line(),
        "bad-cosignature": note + cosign(text + "x\n", WITNESS, WITNESS_SEED, 1).line(),
        "not-ours": note.split("\n\n")[0] + "\n\n" + cosign(text, WITNESS, WITNESS_SEED, 1).line(),
        "other-tree": note.replace(text.split("\n")[2], base64.b64encode(bytes(32)).decode()),
        "garbage": "hello",
    }[change]

    answer = post_cosigned(client, posted)

    assert answer.status_code == 422, answer.text
    assert answer.json()["type"].endswith("/cosignature-refused")
    assert reason in answer.json()["detail"]
    assert note_of(client) == note
    assert client.get("/ledger/checkpoint/cosigned").status_code == 404


@pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)
def test_kept_cosignatures_outlive_the_server(
    client_factory: ClientFactory, store_url: str
) -> None:
    settings: dict[str, Any] = {
        "demo": True,
        "signing_key": SEED_HEX,
        "log_origin": ORIGIN,
        "witness_keys": witness_key(),
    }
    first = client_factory(store_url, **settings)
    note = note_of(first)
    line = cosign(parse_note(note).text, WITNESS, WITNESS_SEED, 1767225600).line()
    assert post_cosigned(first, note + line).status_code == 200

    second = client_factory(store_url, **settings)

    assert note_of(second) == note + line
