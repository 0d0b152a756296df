"""Recording events and reading the ledger over HTTP."""

from __future__ import annotations

import itertools

from apitools import ledger_events, offer, post_events, sma_negotiation, version_of

from api.http.schemas import EVENT_CREATE_MODELS

SOURCE = {
    "title": "Defense ministers of Seoul, Washington discuss defense cost-sharing deal",
    "url": "https://www.koreaherald.com/view.php?ud=20200407000699",
    "publisher": "The Korea Herald",
    "published_on": "2020-04-07",
}


def record(client, body):
    response = post_events(client, body)
    assert response.status_code == 201, response.text
    return response.json()["events"]


def test_every_event_type_is_accepted_and_read_back_with_decimal_strings(store_client):
    """The SMA story, one event of each of the sixteen types."""
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    ids = {}

    def add(key, body):
        (event,) = record(store_client, body)
        assert event["type"] == body["type"]
        ids[key] = event["event_id"]

    add(
        "party",
        {
            "type": "party_joined",
            "party": {"id": "USFK", "name": "US Forces Korea"},
            "occurred_at": "2019-09-24",
        },
    )
    add(
        "term",
        {
            "type": "term_defined",
            "term": {"id": "increase", "name": "Yearly increase", "unit": "percent"},
            "occurred_at": "2019-09-24",
        },
    )
    add(
        "round",
        {
            "type": "round_held",
            "number": 1,
            "occurred_at": "2019-09-24",
            "ended_at": "2019-09-25",
            "location": "Seoul",
            "delegations": [
                {"party": "ROK", "lead": "Jeong Eun-bo"},
                {"party": "USA", "lead": "James DeHart", "members": ["aide"]},
            ],
            "outcome": "Positions exchanged",
        },
    )
    add(
        "rate",
        {
            "type": "exchange_rate_recorded",
            "base": "USD",
            "quote": "KRW",
            "rate": "1223.50",
            "occurred_at": "2019-11-01",
        },
    )
    add("demand", offer("USA", "5000000000", "USD", sources=[SOURCE]))
    add(
        "counter",
        offer(
            "ROK",
            1040000000000,
            "KRW",
            occurred_at="2019-11-19",
            kind="counteroffer",
            conditions="within the SMA framework",
        ),
    )
    add(
        "rejected",
        {
            "type": "offer_rejected",
            "party": "ROK",
            "offer_event_id": ids["demand"],
            "occurred_at": "2019-11-19",
        },
    )
    add(
        "increase",
        offer(
            "USA",
            "13.0",
            "percent",
            occurred_at="2020-03-01",
            values={"increase": {"amount": "13.0", "unit": "percent"}},
        ),
    )
    add(
        "withdrawn",
        {
            "type": "offer_withdrawn",
            "party": "USA",
            "offer_event_id": ids["increase"],
            "occurred_at": "2020-03-02",
        },
    )
    add(
        "call",
        {
            "type": "call_held",
            "channel": "phone",
            "initiated_by": "USA",
            "occurred_at": "2020-04-06T20:30:00+09:00",
            "duration_minutes": 20,
            "participants": [
                {"party": "USA", "name": "Mark Esper", "role": "Secretary of Defense"},
                {"party": "ROK", "name": "Jeong Kyeong-doo"},
            ],
            "topics": ["equitable burden sharing"],
            "readouts": [{"party": "ROK", "summary": "Unpaid leave first", "sources": [SOURCE]}],
            "sources": [SOURCE],
        },
    )
    add(
        "meeting",
        {
            "type": "meeting_held",
            "location": "Washington",
            "occurred_at": "2020-03-31",
            "participants": [{"party": "ROK", "name": "Kang Kyung-wha"}],
            "topics": ["SMA"],
            "readouts": [],
        },
    )
    add(
        "statement",
        {
            "type": "statement_made",
            "party": "ROK",
            "speaker": "Choi Hyun-soo",
            "summary": "A deal at a mutually acceptable and fair level",
            "occurred_at": "2020-04-07",
        },
    )
    add(
        "issue",
        {
            "type": "issue_raised",
            "issue_id": "unpaid-leave",
            "title": "Unpaid leave",
            "raised_by": "ROK",
            "details": {"workers": 4000, "share": "0.5", "nested": [1, {"ok": True}]},
            "occurred_at": "2020-04-06",
        },
    )
    add(
        "resolved",
        {
            "type": "issue_resolved",
            "issue_id": "unpaid-leave",
            "resolution": "Seoul advances the wages",
            "occurred_at": "2020-06-02",
        },
    )
    add(
        "deal",
        {
            "type": "agreement_reached",
            "status": "tentative",
            "occurred_at": "2020-03-31",
            "values": {"annual_contribution": {"amount": "1.0389E+12", "unit": "KRW"}},
        },
    )
    add(
        "no-deal",
        {
            "type": "agreement_rejected",
            "party": "USA",
            "agreement_event_id": ids["deal"],
            "reason": "Turned down",
            "occurred_at": "2020-04-10",
        },
    )
    add(
        "status",
        {
            "type": "status_changed",
            "status": "suspended",
            "reason": "transition",
            "occurred_at": "2020-11-03",
        },
    )
    add(
        "retraction",
        {
            "type": "event_retracted",
            "retracted_event_id": ids["meeting"],
            "reason": "it was a phone call",
            "occurred_at": "2020-11-04",
        },
    )

    entries = {e["event_id"]: e for e in ledger_events(store_client)}
    types = {e["type"] for e in entries.values()}
    assert types - {"negotiation_opened"} == {
        m.model_fields["type"].annotation.__args__[0] for m in EVENT_CREATE_MODELS
    }
    assert entries[ids["rate"]]["rate"] == "1223.50"
    assert entries[ids["demand"]]["values"] == {
        "annual_contribution": {"amount": "5000000000", "unit": "USD"}
    }
    assert entries[ids["demand"]]["sources"] == [SOURCE]
    assert entries[ids["counter"]]["values"]["annual_contribution"]["amount"] == "1040000000000"
    assert entries[ids["deal"]]["values"]["annual_contribution"]["amount"] == "1038900000000"
    assert entries[ids["issue"]]["details"] == {
        "workers": 4000,
        "share": "0.5",
        "nested": [1, {"ok": True}],
    }
    call = entries[ids["call"]]
    assert call["occurred_at"] == "2020-04-06T20:30:00+09:00"
    assert call["participants"][0] == {
        "party": "USA",
        "name": "Mark Esper",
        "role": "Secretary of Defense",
    }
    assert call["readouts"][0]["sources"] == [SOURCE]
    assert entries[ids["round"]]["delegations"][1]["members"] == ["aide"]
    assert entries[ids["round"]]["ended_at"] == "2019-09-25"
    assert entries[ids["meeting"]]["retracted"] is True
    assert entries[ids["meeting"]]["retracted_by"] == ids["retraction"]
    assert entries[ids["call"]]["retracted"] is False
    assert entries[ids["call"]]["retracted_by"] is None


def test_ledger_entries_carry_the_hash_chain_and_log_positions(store_client):
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    (recorded,) = record(store_client, offer())

    entries = ledger_events(store_client)

    assert [e["version"] for e in entries] == [1, 2, 3, 4, 5, 6]
    assert entries[0]["prev_hash"] == "0" * 64
    for before, after in itertools.pairwise(entries):
        assert after["prev_hash"] == before["hash"]
        assert after["position"] > before["position"]
    last = entries[-1]
    assert {k: last[k] for k in recorded} == recorded
    assert last["recorded_by"] == "anonymous"
    assert last["party"] == "USA"
    assert last["kind"] == "demand"


def test_the_post_answer_lists_the_recorded_events(sma):
    response = post_events(sma, [offer(), offer("ROK", "1040000000000", "KRW")])

    assert response.status_code == 201
    body = response.json()
    assert body["negotiation"] == "usa-rok-sma"
    assert body["version"] == 7
    assert response.headers["etag"] == '"7"'
    assert [(e["type"], e["version"]) for e in body["events"]] == [
        ("offer_made", 6),
        ("offer_made", 7),
    ]
    assert set(body["events"][0]) == {
        "event_id",
        "type",
        "version",
        "position",
        "recorded_at",
        "hash",
    }


def test_a_batch_with_an_invalid_third_event_records_nothing(store_client):
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    before = ledger_events(store_client)
    batch = [
        offer(),
        offer("ROK", "1040000000000", "KRW", occurred_at="2019-11-19"),
        offer("JPN", "1", "KRW", occurred_at="2019-11-20"),
        offer("USA", "4000000000", "USD", occurred_at="2019-11-21"),
    ]

    response = post_events(store_client, batch)

    assert response.status_code == 422
    problem = response.json()
    assert problem["type"] == "/problems/unknown-party"
    assert problem["index"] == 2
    assert problem["field"] == "[2].party"
    assert version_of(store_client) == 5
    assert ledger_events(store_client) == before


def test_a_batch_with_a_malformed_date_in_its_third_event_records_nothing(sma):
    batch = [offer(), offer(), offer(occurred_at="2019-02-30")]

    problem = post_events(sma, batch).json()

    assert problem["type"] == "/problems/invalid-value"
    assert problem["field"] == "[2].occurred_at"
    assert problem["index"] == 2
    assert version_of(sma) == 5


def test_an_empty_batch_is_refused(sma):
    response = post_events(sma, [])

    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert version_of(sma) == 5


def test_a_batch_beyond_the_configured_maximum_is_refused(client_factory):
    client = client_factory("memory://", max_batch=2)
    client.post("/negotiations", json=sma_negotiation())

    response = post_events(client, [offer(), offer(), offer()])

    assert response.status_code == 422
    assert response.json()["field"] == "events"
    assert version_of(client) == 5


def test_the_ledger_is_read_in_pages_by_version(store_client):
    assert store_client.post("/negotiations", json=sma_negotiation()).status_code == 201
    record(store_client, [offer(occurred_at=f"2019-11-{day}") for day in (18, 19, 20)])

    pages, after = [], 0
    while after is not None:
        response = store_client.get(
            "/negotiations/usa-rok-sma/events", params={"after_version": after, "limit": 3}
        )
        assert response.status_code == 200
        page = response.json()
        pages.append([e["version"] for e in page["events"]])
        after = page["next_after_version"]

    assert pages == [[1, 2, 3], [4, 5, 6], [7, 8]]


def test_reading_past_the_end_of_the_ledger_gives_an_empty_page(sma):
    page = sma.get("/negotiations/usa-rok-sma/events", params={"after_version": 9}).json()

    assert page == {"negotiation": "usa-rok-sma", "events": [], "next_after_version": None}


def test_an_event_page_size_beyond_the_maximum_is_refused(sma):
    response = sma.get("/negotiations/usa-rok-sma/events", params={"limit": 1001})

    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "limit"
