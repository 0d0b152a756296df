"""Positions, gaps, the timeline, the list and the summary's headlines, read from the views."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from apitools import assert_problem, ledger_events, offer, post_events, retraction, sma_negotiation

from api.http.schemas import GapsPublic, HealthPublic, PositionsPublic, TimelinePublic
from api.services.demo import DEMO_SLUG, load_demo
from domain.values import Quantity
from projections.records import stream_of
from projections.rows import stream_from_rows

DEMO = f"/negotiations/{DEMO_SLUG}"
TERM = "annual_contribution"
# The $5 billion demand at the demo's 1223.53 won per dollar.
USA_DEMAND_IN_WON = "6117650000000.00"


@pytest.fixture
def demo(client_factory, store_url):
    """The app on each store, with the demo negotiation recorded straight into its ledger."""
    client = client_factory(store_url)
    load_demo(client.app.state.ledger)
    return client


def positions_by_party(document: dict[str, Any], term: str = TERM) -> dict[str, dict[str, Any]]:
    entry = next(t for t in document["terms"] if t["term"] == term)
    return {p["party"]: p for p in entry["positions"]}


def only_pair(document: dict[str, Any], term: str = TERM) -> dict[str, Any]:
    entry = next(t for t in document["terms"] if t["term"] == term)
    (pair,) = entry["pairs"]
    return pair


def get_json(client, path: str, **params: Any) -> dict[str, Any]:
    response = client.get(path, params=params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# ------------------------------------------------------------------ the demo


def test_the_demo_positions_as_of_december_2019_are_seouls_offer_and_the_converted_demand(demo):
    document = get_json(demo, f"{DEMO}/positions", as_of="2019-12-01")

    assert document["negotiation"] == DEMO_SLUG
    assert document["as_of"] == "2019-12-01"
    by_party = positions_by_party(document)
    assert by_party["ROK"]["value"] == {"amount": "1040000000000", "unit": "KRW"}
    assert by_party["ROK"]["at"] == "2019-09-24"
    assert by_party["USA"]["value"] == {"amount": USA_DEMAND_IN_WON, "unit": "KRW"}
    assert by_party["USA"]["original"] == {"amount": "5000000000", "unit": "USD"}
    assert {p["via"] for p in by_party.values()} == {"offer"}


def test_the_demo_positions_today_are_the_signed_agreement(demo):
    by_party = positions_by_party(get_json(demo, f"{DEMO}/positions"))

    assert by_party["USA"]["value"] == {"amount": "1183300000000", "unit": "KRW"}
    assert by_party["ROK"]["value"] == {"amount": "1183300000000", "unit": "KRW"}
    assert by_party["USA"]["via"] == by_party["ROK"]["via"] == "agreement"
    assert by_party["USA"]["at"] == "2021-04-08"


def test_the_demo_gap_in_december_2019_is_the_whole_distance_as_decimal_strings(demo):
    pair = only_pair(get_json(demo, f"{DEMO}/gaps", as_of="2019-12-01"))

    assert pair["parties"] == ["USA", "ROK"]
    assert pair["positions"] == {"USA": USA_DEMAND_IN_WON, "ROK": "1040000000000"}
    assert pair["gap"] == "5077650000000.00"
    assert pair["midpoint"] == "3578825000000.00"
    assert Decimal(pair["relative_gap"]).quantize(Decimal("0.0001")) == Decimal("1.4188")
    assert pair["initial_at"] == "2019-11-19"
    assert pair["closed_share"] == "0"
    assert pair["days_since_last_move"] == 12
    assert pair["reason"] is None


def test_as_of_the_day_of_the_call_the_tentative_deal_had_closed_the_gap(demo):
    pair = only_pair(get_json(demo, f"{DEMO}/gaps", as_of="2020-04-07"))

    assert pair["positions"] == {"USA": "1175000000000", "ROK": "1175000000000"}
    assert pair["gap"] == "0"
    assert pair["closed_share"] == "1"
    assert [point["at"] for point in pair["history"]] == ["2019-11-19", "2020-03-31"]
    assert pair["concessions"]["ROK"]["amount"] == "135000000000"
    assert pair["days_since_last_move"] == 7


def test_after_the_rejection_the_gap_reopens(demo):
    pair = only_pair(get_json(demo, f"{DEMO}/gaps", as_of="2020-04-25"))

    assert pair["positions"] == {"USA": USA_DEMAND_IN_WON, "ROK": "1175000000000"}
    assert pair["gap"] == "4942650000000.00"
    assert pair["history"][-1]["at"] == "2020-04-20"


def test_the_summary_carries_the_current_positions_and_headline_gaps(demo):
    response = demo.get(DEMO)

    assert response.status_code == 200
    assert response.headers["etag"] == '"29"'
    summary = response.json()
    assert summary["version"] == 29
    assert summary["as_of"] is None
    by_party = positions_by_party({"terms": summary["positions"]})
    assert by_party["ROK"]["value"] == {"amount": "1183300000000", "unit": "KRW"}
    headline = only_pair({"terms": summary["gaps"]})
    assert headline["gap"] == "0"
    assert headline["initial_gap"] == "5077650000000.00"
    assert "history" not in headline
    assert "days_since_last_move" not in headline  # it moves with the clock, not the version


def test_the_summary_as_of_a_date_moves_only_its_positions_and_gaps(demo):
    response = demo.get(DEMO, params={"as_of": "2019-12-01"})

    summary = response.json()
    assert response.headers["etag"] == '"29"'
    assert summary["version"] == 29
    assert summary["status"] == "concluded"
    assert summary["as_of"] == "2019-12-01"
    assert only_pair({"terms": summary["gaps"]})["gap"] == "5077650000000.00"


def test_the_view_feeds_the_folds_the_same_records_as_the_ledger(demo):
    demo.get(DEMO)  # waits for the views
    ledger = demo.app.state.ledger
    from_ledger = stream_of(ledger.stream(DEMO_SLUG))
    from_view = stream_from_rows(demo.app.state.runner.views.events_of(DEMO_SLUG))

    assert [r.payload() for r in from_view.records] == [r.payload() for r in from_ledger.records]
    assert [(r.event_id, r.version, r.key, r.recorded_at) for r in from_view.records] == [
        (r.event_id, r.version, r.key, r.recorded_at) for r in from_ledger.records
    ]
    demand = next(r for r in from_view.records if r.type == "offer_made" and r.party == "USA")
    assert demand.values[TERM] == Quantity(Decimal("5000000000"), "USD")
    rate = next(r for r in from_view.records if r.type == "exchange_rate_recorded")
    assert rate.get("rate") == Decimal("1223.53")


# ------------------------------------------------------------------ read-your-writes


def test_an_append_is_in_the_gaps_read_right_after_it(client_factory, store_url):
    client = client_factory(store_url)
    assert client.post("/negotiations", json=sma_negotiation()).status_code == 201
    post_events(client, offer("ROK", "1040000000000", "KRW", occurred_at="2019-09-24"))

    appended = post_events(client, offer("USA", "5000000000000", "KRW"))
    assert appended.status_code == 201
    pair = only_pair(get_json(client, "/negotiations/usa-rok-sma/gaps"))

    assert pair["positions"] == {"USA": "5000000000000", "ROK": "1040000000000"}
    assert pair["gap"] == "3960000000000"


def test_a_new_negotiation_is_listed_and_summarised_right_after_it_is_opened(sma):
    assert [n["slug"] for n in sma.get("/negotiations").json()["items"]] == ["usa-rok-sma"]
    post_events(sma, {"type": "status_changed", "status": "suspended", "occurred_at": "2020-11-03"})

    (item,) = get_json(sma, "/negotiations")["items"]

    assert item["status"] == "suspended"
    assert item["version"] == 6
    assert item["counts"]["status_changed"] == 1
    assert item["last_occurred_at"] == "2020-11-03"
    assert [p["id"] for p in item["parties"]] == ["USA", "ROK"]


def test_the_list_pages_through_the_index_with_its_cursor(client_factory, store_url):
    client = client_factory(store_url)
    for slug in ("sma-9", "sma-10", "sma-11"):
        assert client.post("/negotiations", json=sma_negotiation(slug)).status_code == 201

    first = get_json(client, "/negotiations", limit=2)
    second = get_json(client, "/negotiations", limit=2, cursor=first["next_cursor"])

    assert [n["slug"] for n in first["items"]] == ["sma-9", "sma-10"]
    assert [n["slug"] for n in second["items"]] == ["sma-11"]
    assert second["next_cursor"] is None


# ------------------------------------------------------------------ time travel


def offer_then_retraction(client) -> tuple[dict[str, Any], dict[str, Any]]:
    """A USA offer (version 6) and its retraction (version 7) on the SMA negotiation."""
    made = post_events(client, offer("USA", "5000000000000", "KRW")).json()["events"][0]
    retracting = retraction(made["event_id"], "entered on the wrong negotiation")
    retracted = post_events(client, retracting).json()["events"][0]
    return made, retracted


def test_as_of_version_before_a_retraction_shows_the_retracted_offer_as_live(sma):
    made, retracted = offer_then_retraction(sma)
    path = "/negotiations/usa-rok-sma/positions"

    before = positions_by_party(get_json(sma, path, as_of_version=made["version"]))
    after = positions_by_party(get_json(sma, path, as_of_version=retracted["version"]))
    now = positions_by_party(get_json(sma, path))

    assert before["USA"]["event_id"] == made["event_id"]
    assert before["USA"]["value"] == {"amount": "5000000000000", "unit": "KRW"}
    assert "USA" not in after
    assert "USA" not in now


def test_as_of_recorded_shows_what_the_ledger_said_then(sma):
    made, retracted = offer_then_retraction(sma)
    path = "/negotiations/usa-rok-sma/positions"

    then = positions_by_party(get_json(sma, path, as_of_recorded=made["recorded_at"]))
    later = positions_by_party(get_json(sma, path, as_of_recorded=retracted["recorded_at"]))

    assert then["USA"]["event_id"] == made["event_id"]
    assert "USA" not in later


def test_as_of_recorded_before_the_opening_finds_no_negotiation(sma):
    response = sma.get(
        "/negotiations/usa-rok-sma/gaps", params={"as_of_recorded": "2000-01-01T00:00:00+00:00"}
    )

    problem = assert_problem(response, 404, "negotiation-not-found")
    assert "2000-01-01" in problem["detail"]


def test_the_summary_as_of_a_version_is_the_aggregate_then(sma):
    made, _ = offer_then_retraction(sma)

    response = sma.get("/negotiations/usa-rok-sma", params={"as_of_version": made["version"]})

    assert response.headers["etag"] == f'"{made["version"]}"'
    summary = response.json()
    assert summary["version"] == made["version"]
    assert "event_retracted" not in summary["counts"]
    usa = positions_by_party({"terms": summary["positions"]})["USA"]
    assert usa["event_id"] == made["event_id"]


def test_the_summary_as_recorded_then_is_the_aggregate_at_that_moment(sma):
    made, _ = offer_then_retraction(sma)

    response = sma.get("/negotiations/usa-rok-sma", params={"as_of_recorded": made["recorded_at"]})

    assert response.headers["etag"] == f'"{made["version"]}"'
    assert response.json()["version"] == made["version"]


def test_the_timeline_as_of_a_version_does_not_yet_flag_the_retracted_offer(sma):
    made, retracted = offer_then_retraction(sma)
    path = "/negotiations/usa-rok-sma/timeline"

    before = get_json(sma, path, as_of_version=made["version"], type="offer_made")["events"]
    now = get_json(sma, path, type="offer_made")["events"]

    assert [(e["event_id"], e["retracted"]) for e in before] == [(made["event_id"], False)]
    assert [(e["retracted"], e["retracted_by"]) for e in now] == [(True, retracted["event_id"])]


def test_an_unencoded_plus_in_an_offset_is_read_as_the_offset(demo):
    # 2020-04-06T20:30:00+09:00 is 11:30 UTC: the call is in, the later UTC-day events are not.
    response = demo.get(f"{DEMO}/timeline?as_of=2020-04-06T20:30:00+09:00&type=call_held")

    assert response.status_code == 200, response.text
    assert response.json()["as_of"] == "2020-04-06T20:30:00+09:00"
    assert response.json()["events"][-1]["occurred_at"] == "2020-04-06T20:30:00+09:00"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"as_of": "April 7"}, "as_of"),
        ({"as_of": "2020-04-07T09:00:00"}, "as_of"),
        ({"as_of_recorded": "2020-04-07"}, "as_of_recorded"),
        ({"as_of_recorded": "2020-04-07T09:00:00"}, "as_of_recorded"),
    ],
)
def test_a_malformed_moment_is_refused_naming_its_parameter(sma, params, field):
    response = sma.get("/negotiations/usa-rok-sma/positions", params=params)

    assert assert_problem(response, 422, "invalid-value")["field"] == field


def test_version_zero_is_refused(sma):
    response = sma.get("/negotiations/usa-rok-sma/gaps", params={"as_of_version": 0})

    assert assert_problem(response, 422, "validation")["errors"][0]["field"] == "as_of_version"


# ------------------------------------------------------------------ timeline


def test_the_timeline_is_in_occurred_order_with_the_retracted_briefing_flagged(demo):
    events = get_json(demo, f"{DEMO}/timeline")["events"]

    assert len(events) == 29
    assert events[0]["type"] == "negotiation_opened"
    keys = [e["occurred_at"][:10] for e in events]
    assert keys == sorted(keys)
    flagged = [e for e in events if e["retracted"]]
    assert [(e["type"], e["occurred_at"]) for e in flagged] == [("statement_made", "2020-04-06")]
    retraction = next(e for e in events if e["type"] == "event_retracted")
    assert flagged[0]["retracted_by"] == retraction["event_id"]


def test_the_timeline_filters_by_types_party_and_dates(demo):
    def types_of(**params: Any) -> list[tuple[str, str]]:
        events = get_json(demo, f"{DEMO}/timeline", **params)["events"]
        return [(e["type"], e["occurred_at"]) for e in events]

    calls_and_statements = types_of(type=["call_held", "statement_made"], **{"from": "2020-04-06"})
    assert calls_and_statements == [
        ("statement_made", "2020-04-06"),
        ("statement_made", "2020-04-06"),
        ("call_held", "2020-04-06T20:30:00+09:00"),
        ("statement_made", "2020-04-07"),
    ]
    assert types_of(type="offer_made", party="USA") == [
        ("offer_made", "2019-11-19"),
        ("offer_made", "2020-05-11"),
    ]
    assert types_of(type="round_held", to="2019-11-18") == [
        ("round_held", "2019-09-24"),
        ("round_held", "2019-10-23"),
        ("round_held", "2019-11-18"),
    ]


def test_the_timeline_payload_keeps_decimals_as_strings(demo):
    (rate,) = get_json(demo, f"{DEMO}/timeline", type="exchange_rate_recorded")["events"]

    assert rate["payload"]["rate"] == "1223.53"
    assert rate["payload"]["base"] == "USD"


def test_an_unknown_event_type_filter_is_refused(sma):
    response = sma.get("/negotiations/usa-rok-sma/timeline", params={"type": "offer_maed"})

    problem = assert_problem(response, 422, "invalid-value")
    assert problem["field"] == "type"
    assert "offer_maed" in problem["detail"]


def test_a_malformed_from_is_refused(sma):
    response = sma.get("/negotiations/usa-rok-sma/timeline", params={"from": "yesterday"})

    assert assert_problem(response, 422, "invalid-value")["field"] == "from"


@pytest.mark.parametrize("view", ["positions", "gaps", "timeline"])
def test_the_analytics_of_an_unknown_negotiation_are_not_found(client, view):
    assert_problem(client.get(f"/negotiations/no-such-talks/{view}"), 404, "negotiation-not-found")


def test_a_pair_without_positions_has_null_metrics_and_a_reason(sma):
    pair = only_pair(get_json(sma, "/negotiations/usa-rok-sma/gaps"))

    assert pair["gap"] is None
    assert pair["concessions"] is None
    assert pair["history"] == []
    assert "no position" in pair["reason"]
    assert get_json(sma, "/negotiations/usa-rok-sma/positions")["terms"][0]["positions"] == []


def test_the_ledger_and_the_timeline_agree_on_every_event(sma):
    offer_then_retraction(sma)

    ledger = {e["event_id"]: e for e in ledger_events(sma)}
    timeline = get_json(sma, "/negotiations/usa-rok-sma/timeline")["events"]

    assert {e["event_id"] for e in timeline} == set(ledger)
    for entry in timeline:
        recorded = ledger[entry["event_id"]]
        assert entry["retracted"] == recorded["retracted"]
        assert entry["recorded_at"] == recorded["recorded_at"]


@pytest.mark.parametrize("model", [PositionsPublic, GapsPublic, TimelinePublic, HealthPublic])
def test_each_documented_response_example_is_a_valid_response(model, client):
    (example,) = model.model_config["json_schema_extra"]["examples"]

    assert model.model_validate(example).model_dump(mode="json") == example
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    assert len(schemas[model.__name__]["examples"]) == 1  # FastAPI leaves out its nulls


def test_the_list_carries_each_negotiations_headline_gaps_as_its_summary_does(demo):
    items = get_json(demo, "/negotiations")["items"]
    (item,) = [i for i in items if i["slug"] == DEMO_SLUG]
    summary = get_json(demo, DEMO)
    assert item["gaps"] == [{**term, "pairs": term["pairs"][:1]} for term in summary["gaps"]]
    assert item["gaps"][0]["pairs"][0]["gap"] is not None


def test_the_timeline_pages_through_the_same_events_with_its_cursor(demo):
    whole = get_json(demo, f"{DEMO}/timeline", limit=1000)
    assert whole["next_cursor"] is None
    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 7}
        if cursor:
            params["cursor"] = cursor
        page = get_json(demo, f"{DEMO}/timeline", **params)
        assert len(page["events"]) <= 7
        seen.extend(page["events"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == whole["events"]
    assert len(seen) > 7


def test_the_timeline_holds_200_events_a_page_unless_asked(sma):
    events = [offer("USA", str(5_000_000_000 + i), "USD") for i in range(230)]
    for at in range(0, len(events), 100):
        assert post_events(sma, events[at : at + 100]).status_code == 201
    page = get_json(sma, "/negotiations/usa-rok-sma/timeline")
    assert len(page["events"]) == 200
    rest = get_json(sma, "/negotiations/usa-rok-sma/timeline", cursor=page["next_cursor"])
    assert len(rest["events"]) == 5 + 230 - 200
    assert rest["next_cursor"] is None


def test_a_timeline_cursor_not_handed_out_is_a_problem(sma):
    response = sma.get("/negotiations/usa-rok-sma/timeline", params={"cursor": "!!"})
    assert_problem(response, 422, "invalid-value")


@pytest.mark.parametrize("travel", [{}, {"as_of": "2019-12-01"}, {"as_of_version": 12}])
def test_the_page_document_holds_what_each_route_answers(demo, travel):
    page = get_json(demo, f"{DEMO}/page.json", **travel)
    assert page["summary"] == get_json(demo, DEMO, **travel)
    assert page["chart"] == get_json(demo, f"{DEMO}/chart.json", **travel)
    assert page["positions"] == get_json(demo, f"{DEMO}/positions", **travel)
    term = page["chart"]["term"]["id"]
    assert page["gaps"] == get_json(demo, f"{DEMO}/gaps", term=term, **travel)
    assert page["timeline"] == get_json(demo, f"{DEMO}/timeline", **travel)
    if travel:
        assert page["timeline_now"] == get_json(demo, f"{DEMO}/timeline")
        assert page["chart_now"] == get_json(demo, f"{DEMO}/chart.json", term=term)


@pytest.mark.parametrize("route", ["chart.json", "chart.svg", "page.json"])
@pytest.mark.parametrize("travel", [{}, {"as_of": "2019-12-01"}, {"as_of_version": 12}])
@pytest.mark.parametrize("term", ["no_such_term", "annual\x00contribution"])
def test_a_term_the_negotiation_lacks_is_a_problem_naming_it(demo, route, travel, term):
    """Stored chart rows are read only for a term the negotiation has: any other (even text
    PostgreSQL refuses) answers 422 with the negotiation's terms, as the fold does."""
    response = demo.get(f"{DEMO}/{route}", params={"term": term, **travel})
    problem = assert_problem(response, 422, "invalid-value")
    assert repr(term) in problem["detail"], problem
    assert TERM in problem["detail"], problem


def test_the_demo_read_from_stored_state_equals_the_folds_at_every_moment(demo):
    """Every number the stored reads give for the demo is what folding its events gives:
    positions, gaps, summary headlines and each term's chart, now and as of each day an
    event occurred (the stored series), and the day before it."""
    from datetime import UTC, date, datetime, timedelta

    from api.render.dance_fold import dance
    from projections.analytics import HEADLINE_FIELDS
    from projections.gaps import gaps
    from projections.positions import positions
    from projections.records import END_OF_TIME

    today = datetime.now(UTC).date()  # as the app's reference date (get_today)
    stream = stream_of(demo.app.state.ledger.stream(DEMO_SLUG))
    days = sorted({r.key[:10] for r in stream.records if r.key != END_OF_TIME})
    moments: list[str | None] = [None]
    for day in days:
        moments += [day, (date.fromisoformat(day) - timedelta(days=1)).isoformat()]
    terms = [t["id"] for t in get_json(demo, DEMO)["terms"]]
    for as_of in moments:
        params = {} if as_of is None else {"as_of": as_of}
        assert get_json(demo, f"{DEMO}/positions", **params) == positions(stream, as_of=as_of)
        expected = gaps(stream, as_of=as_of, today=today)
        assert get_json(demo, f"{DEMO}/gaps", **params) == expected, as_of
        summary = get_json(demo, DEMO, **params)
        assert summary["positions"] == positions(stream, as_of=as_of)["terms"], as_of
        assert summary["gaps"] == [
            {
                "term": t["term"],
                "unit": t["unit"],
                "pairs": [{k: pair[k] for k in HEADLINE_FIELDS} for pair in t["pairs"]],
            }
            for t in expected["terms"]
        ], as_of
        for term in terms:
            chart = get_json(demo, f"{DEMO}/chart.json", term=term, **params)
            assert chart == dance(stream, term=term, as_of=as_of, today=today).to_json(), as_of


def test_as_of_reads_of_a_negotiation_stored_in_an_older_layout_fold_its_events(
    client_factory,
):
    """A negotiation kept before the step rows existed (another ``v`` in its order) answers
    ``as_of`` and its chart from the fold, not from rows it lacks; its next batch stores them."""
    import json

    from api.render.dance_fold import dance
    from projections.positions import positions

    client = client_factory("memory://")
    load_demo(client.app.state.ledger)
    as_of = "2019-12-01"
    before = get_json(client, f"{DEMO}/positions", as_of=as_of)
    chart = get_json(client, f"{DEMO}/chart.json", as_of=as_of)
    views = client.app.state.runner.views
    with views._lock:
        rows = views._live.analytics[DEMO_SLUG]
        for key in [k for k in rows if k.startswith("st/")]:
            del rows[key]
        order = json.loads(rows["order"])
        rows["order"] = json.dumps({**order, "v": 2})

    stream = stream_of(client.app.state.ledger.stream(DEMO_SLUG))
    assert get_json(client, f"{DEMO}/positions", as_of=as_of) == before
    assert before == positions(stream, as_of=as_of)
    assert get_json(client, f"{DEMO}/chart.json", as_of=as_of) == chart
    assert chart == dance(stream, as_of=as_of, today=datetime_today()).to_json()
    rate = {
        "type": "exchange_rate_recorded",
        "base": "EUR",
        "quote": "JPY",
        "rate": "130",
        "occurred_at": "2020-01-02",
    }
    answer = post_events(client, [rate], DEMO_SLUG)
    assert answer.status_code == 201, answer.text
    assert get_json(client, f"{DEMO}/positions", as_of=as_of) == before
    with views._lock:
        assert any(k.startswith("st/") for k in views._live.analytics[DEMO_SLUG])


def datetime_today():
    from datetime import UTC, datetime

    return datetime.now(UTC).date()
