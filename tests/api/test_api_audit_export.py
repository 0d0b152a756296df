"""GET /negotiations/{slug}/export: JSON Lines that restore to the same ledger, and PLOVER 2.0."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from apitools import assert_problem, offer, post_events, retraction

from api.services.demo import DEMO_SLUG, load_demo
from api.services.restore import read_export, restore_export
from domain.verify import verify_chain

EXPORT = f"/negotiations/{DEMO_SLUG}/export"
PLOVER_SCHEMA = jsonschema.Draft202012Validator(
    json.loads(
        (Path(__file__).parents[1] / "schemas" / "plover-2.0-record.schema.json").read_text()
    )
)
DEMO_EVENTS = 29


@pytest.fixture
def demo(client_factory: Any, store_url: str) -> Any:
    """The app on each store, with the demo negotiation recorded straight into its ledger."""
    client = client_factory(store_url)
    load_demo(client.app.state.ledger)
    return client


@pytest.fixture
def empty(client_factory: Any, store_url: str, tmp_path: Any) -> Any:
    """The app on a second, empty store of the same kind."""
    if store_url.startswith("sqlite"):
        return client_factory(f"sqlite:///{tmp_path}/restored.db")
    if store_url.startswith("postgresql"):
        return client_factory(store_url + "r")
    return client_factory("memory://")


def lines_of(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    # "\n" only: str.splitlines would also split inside a text holding U+2028.
    return [json.loads(line) for line in response.text.split("\n") if line]


def get_json(client: Any, path: str, **params: Any) -> Any:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


# ------------------------------------------------------------------ JSON Lines


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_the_export_is_a_header_then_every_event_with_its_hash_and_position(demo: Any) -> None:
    header, *documents = lines_of(demo.get(EXPORT))

    assert header["format"] == "parley-export"
    assert header["scope"] == {"negotiation": DEMO_SLUG}
    assert header["events"] == len(documents) == DEMO_EVENTS
    assert [d["version"] for d in documents] == list(range(1, DEMO_EVENTS + 1))
    assert [d["position"] for d in documents] == list(range(1, DEMO_EVENTS + 1))
    summary = get_json(demo, f"/negotiations/{DEMO_SLUG}")
    assert header["negotiations"][DEMO_SLUG] == {
        "version": summary["version"],
        "head_hash": summary["head_hash"],
    }


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_the_exported_lines_verify_offline_with_the_standalone_verifier(demo: Any) -> None:
    _, *documents = lines_of(demo.get(EXPORT))

    # domain/verify.py hashes everything but ``hash``: the log position is not hashed.
    assert (
        verify_chain([{k: v for k, v in d.items() if k != "position"} for d in documents]) is None
    )
    documents[6]["payload"]["note"] = "edited"
    assert verify_chain([{k: v for k, v in d.items() if k != "position"} for d in documents]) == 6


def test_export_then_import_gives_the_same_ledger_positions_gaps_and_audit(
    demo: Any, empty: Any
) -> None:
    body = demo.get(EXPORT).text

    restore_export(empty.app.state.ledger, read_export(body.splitlines()))

    base = f"/negotiations/{DEMO_SLUG}"
    for path in ("", "/events", "/positions", "/gaps", "/audit", "/timeline"):
        params = {"limit": 1000} if path in ("/events", "/audit") else {}
        assert get_json(empty, base + path, **params) == get_json(demo, base + path, **params), path
    assert empty.get(EXPORT).text.splitlines()[1:] == body.splitlines()[1:]


def test_export_then_import_gives_the_same_checkpoint_root(demo: Any, empty: Any) -> None:
    body = demo.get(EXPORT).text

    restore_export(empty.app.state.ledger, read_export(body.splitlines()))

    source, copy = get_json(demo, "/ledger/checkpoint"), get_json(empty, "/ledger/checkpoint")
    assert (copy["tree_size"], copy["root"]) == (source["tree_size"], source["root"])
    assert source["tree_size"] == DEMO_EVENTS


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_the_export_of_an_unknown_negotiation_is_a_404_problem(demo: Any) -> None:
    for params in ({}, {"format": "plover"}):
        response = demo.get("/negotiations/nowhere/export", params=params)
        assert_problem(response, 404, "negotiation-not-found")


@pytest.mark.parametrize("store_url", ["memory"], indirect=True)
def test_an_unknown_export_format_is_refused(demo: Any) -> None:
    assert demo.get(EXPORT, params={"format": "csv"}).status_code == 422


# ------------------------------------------------------------------ PLOVER


@pytest.fixture
def plover(client: Any) -> dict[str, Any]:
    """The demo as PLOVER records by id, with the response's headers and the ledger's events."""
    load_demo(client.app.state.ledger)
    response = client.get(EXPORT, params={"format": "plover"})
    records = lines_of(response)
    events = get_json(client, f"/negotiations/{DEMO_SLUG}/events", limit=1000)["events"]
    return {
        "records": {r["id"]: r for r in records},
        "order": [r["id"] for r in records],
        "headers": response.headers,
        "events": events,
    }


def _event(plover: dict[str, Any], **match: Any) -> dict[str, Any]:
    return next(e for e in plover["events"] if all(e.get(k) == v for k, v in match.items()))


def _codes(actors: list[dict[str, str]]) -> list[str | None]:
    return [a.get("code") for a in actors]


CODES = {"USA": "USA GOV", "ROK": "KOR GOV"}


def test_the_esper_jeong_call_is_a_consult_by_phone(plover: dict[str, Any]) -> None:
    call = _event(plover, type="call_held", occurred_at="2020-04-06T20:30:00+09:00")

    record = plover["records"][call["event_id"]]

    assert (record["event"], record["mode"]) == (["CONSULT"], ["phone"])
    assert record["actor"] == [
        {"code": "USA GOV", "entity_text": "Mark Esper", "office": "Secretary of Defense"}
    ]
    assert _codes(record["recipient"]) == ["KOR GOV"]
    assert record["recipient"][0]["entity_text"] == "Jeong Kyeong-doo"
    assert (record["date"], record["time"]) == ("2020-04-06", "20:30:00+09:00")
    assert "The Korea Herald" in record["cite_info"]["citation"]


def test_offers_are_agree_and_demands_are_request(plover: dict[str, Any]) -> None:
    offers = [e for e in plover["events"] if e["type"] == "offer_made"]

    coded = {(e["party"], e["kind"]): plover["records"][e["event_id"]] for e in offers}

    assert coded[("ROK", "offer")]["event"] == ["AGREE"]
    assert coded[("ROK", "counteroffer")]["event"] == ["AGREE"]
    assert coded[("USA", "demand")]["event"] == ["REQUEST"]
    assert coded[("USA", "demand")]["quad_code"] == 3
    for (party, _), record in coded.items():
        assert _codes(record["actor"]) == [CODES[party]]
        assert _codes(record["recipient"]) == [CODES[p] for p in ("USA", "ROK") if p != party]


def test_the_rejected_tentative_deal_is_a_reject_by_the_united_states(
    plover: dict[str, Any],
) -> None:
    rejection = _event(plover, type="agreement_rejected")

    record = plover["records"][rejection["event_id"]]

    assert record["event"] == ["REJECT"]
    assert (_codes(record["actor"]), _codes(record["recipient"])) == (["USA GOV"], ["KOR GOV"])
    assert record["date"] == "2020-04-20"
    assert "13%" in record["comment"]


def test_the_signed_agreement_is_support_by_both_sides(plover: dict[str, Any]) -> None:
    signed = _event(plover, type="agreement_reached", status="signed")

    record = plover["records"][signed["event_id"]]

    assert record["event"] == ["SUPPORT"]
    # A symmetric event: PLOVER codes every side as actor, with no recipient.
    assert sorted(_codes(record["actor"])) == ["KOR GOV", "USA GOV"]
    assert "recipient" not in record
    assert record["date"] == "2021-04-08"
    assert record["cite_info"]["title"]


def test_every_round_has_both_delegations_as_actors_and_no_recipient_or_mode(
    plover: dict[str, Any],
) -> None:
    rounds = [e for e in plover["events"] if e["type"] == "round_held"]

    assert len(rounds) == 7
    for held in rounds:
        record = plover["records"][held["event_id"]]
        assert record["event"] == ["CONSULT"]
        assert sorted(_codes(record["actor"])) == ["KOR GOV", "USA GOV"]
        assert "recipient" not in record
        assert "mode" not in record


def test_every_demo_record_is_valid_plover(plover: dict[str, Any]) -> None:
    for record_id in plover["order"]:
        errors = sorted(PLOVER_SCHEMA.iter_errors(plover["records"][record_id]), key=str)
        assert not errors, [e.message for e in errors]


def test_every_record_has_the_plover_core_fields_and_points_back_to_its_event(
    plover: dict[str, Any],
) -> None:
    by_id = {e["event_id"]: e for e in plover["events"]}

    for record_id in plover["order"]:
        record = plover["records"][record_id]
        event = by_id[record_id]
        assert {"id", "date", "event", "actor", "cite_info"} <= set(record)
        assert record["actor"]
        assert record["date"] == event["occurred_at"][:10]
        assert record["parley"] == {
            "negotiation": DEMO_SLUG,
            "type": event["type"],
            "version": event["version"],
            "hash": event["hash"],
        }
        cite, sources = record["cite_info"], event["sources"]
        assert cite["codebook"] == "plover-2.0"
        assert "published_on" not in cite
        if sources:
            first = sources[0]
            assert cite["title"] == first["title"]
            assert cite.get("url") == first["url"]
            assert cite.get("publication") == first["publisher"]
            assert all(s["title"] in cite["citation"] for s in sources)
    versions = [by_id[i]["version"] for i in plover["order"]]
    assert versions == sorted(versions)


def _meeting(parties: list[str]) -> dict[str, Any]:
    return {
        "type": "meeting_held",
        "location": "Seoul",
        "participants": [{"party": p, "name": f"{p} negotiator"} for p in parties],
        "occurred_at": "2019-11-19",
    }


def test_meetings_claim_no_host_so_every_side_is_an_actor_of_any_size(sma: Any) -> None:
    joined = {
        "type": "party_joined",
        "party": {
            "id": "FKTU",
            "name": "Federation of Korean Trade Unions",
            "actor_code": "KOR LAB",
        },
        "occurred_at": "2019-11-18",
    }
    assert post_events(sma, joined).status_code == 201
    two = post_events(sma, _meeting(["USA", "ROK"])).json()["events"][0]["event_id"]
    three = post_events(sma, _meeting(["USA", "ROK", "FKTU"])).json()["events"][0]["event_id"]

    exported = sma.get("/negotiations/usa-rok-sma/export", params={"format": "plover"})
    records = {r["id"]: r for r in lines_of(exported)}

    # No host is recorded: not a visit (visitor -> host), nor hosted by a third party.
    for record_id in (two, three):
        assert "mode" not in records[record_id]
        assert "recipient" not in records[record_id]
    assert _codes(records[two]["actor"]) == ["USA GOV", None]
    assert _codes(records[three]["actor"]) == ["USA GOV", None, "KOR LAB"]
    assert records[three]["actor"][1]["entity_text"] == "ROK negotiator"
    for record in records.values():
        assert PLOVER_SCHEMA.is_valid(record)


def test_a_call_without_a_caller_has_every_side_as_actor(plover: dict[str, Any]) -> None:
    call = _event(plover, type="call_held", occurred_at="2020-03-31")

    record = plover["records"][call["event_id"]]

    assert record["mode"] == ["phone"]
    assert sorted(_codes(record["actor"])) == ["KOR GOV", "USA GOV"]
    assert "recipient" not in record


def test_events_without_a_plover_category_are_left_out_and_counted(
    plover: dict[str, Any],
) -> None:
    written = {by["type"] for by in plover["events"] if by["event_id"] in plover["records"]}
    left_out = dict(
        item.split("=") for item in plover["headers"]["parley-plover-left-out"].split(", ")
    )

    assert written == {
        "round_held",
        "call_held",
        "offer_made",
        "agreement_reached",
        "agreement_rejected",
    }
    assert int(plover["headers"]["parley-plover-records"]) == len(plover["records"])
    assert left_out["statement_made"] == "3"
    assert sum(int(v) for v in left_out.values()) + len(plover["records"]) == DEMO_EVENTS


def test_a_rejected_offer_is_a_reject_aimed_at_whoever_made_it(sma: Any) -> None:
    demand = post_events(sma, offer()).json()["events"][0]["event_id"]
    rejection = post_events(
        sma,
        {
            "type": "offer_rejected",
            "party": "ROK",
            "offer_event_id": demand,
            "occurred_at": "2019-11-19",
        },
    ).json()["events"][0]["event_id"]

    records = lines_of(sma.get("/negotiations/usa-rok-sma/export", params={"format": "plover"}))

    record = next(r for r in records if r["id"] == rejection)
    assert record["event"] == ["REJECT"]
    # ROK has no actor code and is no ISO country code: no code, its name as entity_text.
    assert (_codes(record["actor"]), _codes(record["recipient"])) == ([None], ["USA GOV"])
    assert record["actor"][0]["entity_text"] == "Republic of Korea"


def test_a_retracted_event_is_left_out_of_plover(sma: Any) -> None:
    made = post_events(sma, offer()).json()["events"][0]["event_id"]
    post_events(sma, retraction(made))

    response = sma.get("/negotiations/usa-rok-sma/export", params={"format": "plover"})

    assert lines_of(response) == []
    assert "retracted=1" in response.headers["parley-plover-left-out"]
