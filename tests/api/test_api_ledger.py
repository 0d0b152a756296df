"""/ledger/*: checkpoints, proofs that verify with domain/verify.py alone, and the full re-hash."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, sma_negotiation
from ledger_tamper import corrupt, delete_row, edit_state, replace_bytes
from starlette.testclient import TestClient

from domain import verify

SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"
"""RFC 8032's first Ed25519 test key."""
ClientFactory = Callable[..., TestClient]
PUBLIC_B64 = base64.b64encode(
    bytes.fromhex("d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a")
).decode()


def history(client: TestClient) -> list[dict[str, Any]]:
    """The SMA negotiation and a few offers; the recorded events, in log order."""
    opened = client.post("/negotiations", json=sma_negotiation())
    assert opened.status_code == 201, opened.text
    for amount in ("5000000000", "1300000000", "4000000000"):
        party = "USA" if amount != "1300000000" else "ROK"
        made = post_events(client, offer(party, amount))
        assert made.status_code == 201, made.text
    # The views hold every event before a test edits a stored row: the checkpoint waits for
    # them, so the runner cannot meet the edited row first and name another event.
    checkpoint(client)
    return ledger_events(client)


def checkpoint(client: TestClient) -> dict[str, Any]:
    response = client.get("/ledger/checkpoint")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def proves(proof: dict[str, Any], event_hash: str, root: str) -> bool:
    return verify.verify_inclusion(
        proof["leaf_index"],
        proof["tree_size"],
        verify.event_leaf_hash(event_hash),
        [bytes.fromhex(h) for h in proof["audit_path"]],
        bytes.fromhex(root),
    )


def test_checkpoint_of_an_empty_ledger_is_the_empty_tree_unsigned(client: TestClient) -> None:
    found = checkpoint(client)

    assert found["tree_size"] == 0
    assert found["root"] == verify.EMPTY_ROOT.hex()
    assert "signature" not in found
    assert verify.checkpoint_payload(0, found["root"], found["timestamp"])


def test_inclusion_proofs_verify_against_the_checkpoint_on_every_store(
    store_client: TestClient,
) -> None:
    events = history(store_client)
    found = checkpoint(store_client)
    assert found["tree_size"] == len(events)

    for index, event in enumerate(events):
        response = store_client.get(
            "/ledger/proof/inclusion",
            params={"event_id": event["event_id"], "tree_size": found["tree_size"]},
        )
        assert response.status_code == 200, response.text
        proof = response.json()
        assert (proof["leaf_index"], proof["event_hash"]) == (index, event["hash"])
        assert proves(proof, event["hash"], found["root"])
        assert all(h == h.lower() and len(h) == 64 for h in proof["audit_path"])


def test_an_inclusion_proof_in_an_older_tree_verifies_against_that_trees_checkpoint(
    store_client: TestClient,
) -> None:
    store_client.post("/negotiations", json=sma_negotiation())
    old = checkpoint(store_client)
    first = store_client.get("/negotiations/usa-rok-sma/events").json()["events"][0]
    post_events(store_client, offer())

    response = store_client.get(
        "/ledger/proof/inclusion",
        params={"event_id": first["event_id"], "tree_size": old["tree_size"]},
    )

    assert response.status_code == 200, response.text
    assert proves(response.json(), first["hash"], old["root"])
    assert not proves(response.json(), first["hash"], checkpoint(store_client)["root"])


def test_consistency_proof_shows_the_new_checkpoint_extends_the_old_on_every_store(
    store_client: TestClient,
) -> None:
    store_client.post("/negotiations", json=sma_negotiation())
    old = checkpoint(store_client)
    post_events(store_client, [offer(), offer("ROK", "1300000000")])
    new = checkpoint(store_client)

    response = store_client.get(
        "/ledger/proof/consistency", params={"from": old["tree_size"], "to": new["tree_size"]}
    )

    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["from"], body["to"]) == (old["tree_size"], new["tree_size"])
    assert verify.verify_consistency(
        body["from"],
        body["to"],
        bytes.fromhex(old["root"]),
        bytes.fromhex(new["root"]),
        [bytes.fromhex(h) for h in body["proof"]],
    )


def test_consistency_proof_defaults_to_the_tree_now(sma: TestClient) -> None:
    body = sma.get("/ledger/proof/consistency", params={"from": 2}).json()

    assert body["to"] == checkpoint(sma)["tree_size"] == 5


@pytest.mark.parametrize("key", [SEED_HEX, base64.b64encode(bytes.fromhex(SEED_HEX)).decode()])
def test_checkpoint_is_signed_with_the_configured_key_and_verifies_with_its_public_key(
    client_factory: ClientFactory, key: str
) -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    client = client_factory("memory://", signing_key=key)
    history(client)

    found = checkpoint(client)

    assert found["public_key"] == PUBLIC_B64
    public = Ed25519PublicKey.from_public_bytes(base64.b64decode(found["public_key"]))
    payload = verify.checkpoint_payload(found["tree_size"], found["root"], found["timestamp"])
    public.verify(base64.b64decode(found["signature"]), payload)  # raises when it does not
    from cryptography.exceptions import InvalidSignature

    forged = verify.checkpoint_payload(found["tree_size"] + 1, found["root"], found["timestamp"])
    with pytest.raises(InvalidSignature):
        public.verify(base64.b64decode(found["signature"]), forged)


def test_an_unknown_event_has_no_inclusion_proof(sma: TestClient) -> None:
    response = sma.get(
        "/ledger/proof/inclusion", params={"event_id": "00000000-0000-0000-0000-000000000000"}
    )

    problem = assert_problem(response, 404, "event-not-found")
    assert problem["field"] == "event_id"


def test_a_tree_larger_than_the_ledger_has_no_proofs(sma: TestClient) -> None:
    first = sma.get("/negotiations/usa-rok-sma/events").json()["events"][0]

    inclusion = sma.get(
        "/ledger/proof/inclusion", params={"event_id": first["event_id"], "tree_size": 6}
    )
    consistency = sma.get("/ledger/proof/consistency", params={"from": 1, "to": 6})
    backwards = sma.get("/ledger/proof/consistency", params={"from": 4, "to": 3})

    assert assert_problem(inclusion, 422, "tree-size-out-of-range")["tree_size"] == 5
    assert assert_problem(consistency, 422, "tree-size-out-of-range")["field"] == "to"
    assert assert_problem(backwards, 422, "tree-size-out-of-range")["field"] == "from"


def test_an_event_is_not_in_a_tree_recorded_before_it(sma: TestClient) -> None:
    last = sma.get("/negotiations/usa-rok-sma/events").json()["events"][-1]

    response = sma.get(
        "/ledger/proof/inclusion", params={"event_id": last["event_id"], "tree_size": 2}
    )

    problem = assert_problem(response, 422, "tree-size-out-of-range")
    assert problem["leaf_index"] == 4


def test_tree_sizes_below_one_are_refused_by_validation(sma: TestClient) -> None:
    response = sma.get("/ledger/proof/inclusion", params={"event_id": "x", "tree_size": 0})

    assert_problem(response, 422, "validation")


def test_verify_of_an_untouched_ledger_is_ok_on_every_store(store_client: TestClient) -> None:
    events = history(store_client)
    root = checkpoint(store_client)["root"]

    body = store_client.get("/ledger/verify").json()

    assert body == {
        "ok": True,
        "events_checked": len(events),
        "head": events[-1]["position"],
        "tree_size": len(events),
        "root": root,
    }


# ------------------------------------------------------------------ tampering

sql_stores = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


def bad_of(client: TestClient) -> dict[str, Any]:
    response = client.get("/ledger/verify")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is False
    first_bad: dict[str, Any] = body["first_bad"]
    return first_bad


@sql_stores
def test_verify_names_an_event_whose_amount_was_edited_in_the_database(
    store_url: str, store_client: TestClient
) -> None:
    events = history(store_client)
    target = events[6]  # ROK's offer of 1300000000

    edit_state(store_url, target["position"], replace_bytes(b"1300000000", b"1200000000"))

    first_bad = bad_of(store_client)
    assert first_bad["event_id"] == target["event_id"]
    assert (first_bad["negotiation"], first_bad["version"]) == ("usa-rok-sma", 7)
    assert first_bad["position"] == target["position"]
    assert "does not match" in first_bad["reason"]


@sql_stores
def test_verify_names_an_event_whose_bytes_no_longer_decode(
    store_url: str, store_client: TestClient
) -> None:
    events = history(store_client)
    target = events[5]

    edit_state(store_url, target["position"], corrupt)

    first_bad = bad_of(store_client)
    assert first_bad["event_id"] == target["event_id"]
    assert first_bad["reason"].startswith("the stored bytes no longer decode")


@sql_stores
def test_verify_names_an_event_deleted_from_the_database(
    store_url: str, store_client: TestClient
) -> None:
    events = history(store_client)
    target = events[6]

    delete_row(store_url, target["position"])

    first_bad = bad_of(store_client)
    assert first_bad["event_id"] == target["event_id"]
    assert first_bad["version"] == 7
