"""Recording from the negotiation page, in Chromium: the forms send what the API takes.

What is recorded from a form shows on the dance; an entry begun before another client
appended is refused (412), explained and the page refreshed; an error of the problem
document is shown next to the field it names and nothing is written; a server with keys
asks for a recorder key once. Screenshots go to test-output/ (docs/ with
PARLEY_SCREENSHOT_DIR=docs, for the README).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from browsers import VIEWPORT, create_key, tab
from live_server import serve

from api.http.app import create_app
from api.services.demo import DEMO_SLUG
from api.settings import Settings

pytestmark = pytest.mark.slow

DOCS = Path(
    os.environ.get("PARLEY_SCREENSHOT_DIR") or Path(__file__).resolve().parents[2] / "test-output"
)
TERM = "annual_contribution"
TERM_NAME = "South Korea's annual contribution to US Forces Korea upkeep"
EVENTS = f"/negotiations/{DEMO_SLUG}/events"


@pytest.fixture
def base_url() -> Iterator[str]:
    """The demo on the in-memory store, served afresh for each test (tests append to it)."""
    with serve(create_app(Settings(database_url="memory://", demo=True))) as url:
        yield url


def ledger(base_url: str, key: str | None = None) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = httpx.get(f"{base_url}{EVENTS}?limit=1000", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def version(base_url: str) -> int:
    found: int = httpx.get(f"{base_url}/negotiations/{DEMO_SLUG}", timeout=10).json()["version"]
    return found


def open_page(page: Any, base_url: str) -> Any:
    page.goto(f"{base_url}/n/{DEMO_SLUG}")
    page.wait_for_selector('#page[aria-busy="false"][data-term]')
    page.wait_for_selector('#record[data-state="ready"] #record-form[data-kind="offer_made"]')
    return page.locator("#record-form")


def fill_offer(form: Any, party: str, amount: str, day: str = "2020-05-01") -> None:
    form.get_by_label("Party", exact=True).select_option(party)
    form.get_by_label("Kind", exact=True).select_option("demand" if party == "USA" else "offer")
    form.get_by_label(TERM_NAME, exact=True).fill(amount)
    form.get_by_label("When it happened", exact=True).fill(day)
    form.get_by_label("Title", exact=True).fill("Esper, Jeong discuss <b>cost-sharing</b> talks")
    form.get_by_label("Link", exact=True).fill("https://en.yna.co.kr/view/AEN20200407000451325")
    form.get_by_label("Publisher", exact=True).fill("Yonhap")


def recorded_ids(page: Any) -> list[str]:
    page.wait_for_selector("#record-form[data-recorded]")
    found: str = page.get_attribute("#record-form", "data-recorded")
    return found.split()


def submit(page: Any, was: str | None) -> str:
    """Sends the form; the id it recorded (``was``: the one the form showed before, if any)."""
    page.click("#record-submit")
    page.wait_for_function(
        "(was) => { const n = document.getElementById('record-form');"
        " return n.dataset.recorded && n.dataset.recorded !== was; }",
        arg=was,
    )
    [event_id] = recorded_ids(page)
    return event_id


def offer_drawn(page: Any, event_id: str) -> None:
    page.wait_for_function(
        "(id) => (document.getElementById('dance').data || []).some("
        "t => t.meta && t.meta.role === 'offers' && (t.ids || []).includes(id))",
        arg=event_id,
    )


def field_error(page: Any, path: str) -> str:
    """The error shown in the field (or group) the body's ``path`` was sent from."""
    slot = page.locator(f'#record-form [data-field="{path}"] > .field-error')
    slot.wait_for(state="visible")
    found: str = slot.inner_text()
    return found


def test_an_offer_recorded_from_the_form_shows_on_the_dance(page: Any, base_url: str) -> None:
    form = open_page(page, base_url)
    before = version(base_url)
    fill_offer(form, "USA", "1300000000000")
    DOCS.mkdir(exist_ok=True)
    box = page.locator("#record").bounding_box()
    scrolled = page.evaluate("() => window.scrollY")
    page.screenshot(
        path=str(DOCS / "record-form.png"),
        full_page=True,
        clip={
            "x": box["x"],
            "y": box["y"] + scrolled,
            "width": box["width"],
            "height": box["height"],
        },
    )

    page.click("#record-submit")

    [event_id] = recorded_ids(page)
    offer_drawn(page, event_id)
    drawn = page.evaluate(
        "(id) => document.getElementById('dance').data.filter(t => t.meta && t.meta.role === "
        "'offers').flatMap(t => t.ids.map((i, k) => [i, t.y[k]])).find(([i]) => i === id)[1]",
        event_id,
    )
    chart = httpx.get(f"{base_url}/negotiations/{DEMO_SLUG}/chart.json", timeout=10).json()
    assert drawn == pytest.approx(1300000000000 / float(chart["scale"]))  # drawn to its scale
    page.wait_for_selector(f'#timeline li[data-event-id="{event_id}"]')
    assert "Recorded" in page.inner_text("#record-state")
    entry = ledger(base_url)[-1]
    assert entry["event_id"] == event_id
    assert entry["version"] == before + 1
    assert (entry["type"], entry["party"], entry["kind"]) == ("offer_made", "USA", "demand")
    assert entry["values"] == {TERM: {"amount": "1300000000000", "unit": "KRW"}}
    assert entry["occurred_at"] == "2020-05-01"
    assert entry["sources"] == [
        {
            "title": "Esper, Jeong discuss <b>cost-sharing</b> talks",
            "url": "https://en.yna.co.kr/view/AEN20200407000451325",
            "publisher": "Yonhap",
            "published_on": None,
        }
    ]
    # The markup in the source's title stays text on the page.
    assert page.locator("#timeline b").count() == 0


def test_an_entry_begun_before_the_page_redraws_with_the_own_write_is_recorded(
    page: Any, base_url: str
) -> None:
    """An entry typed while the page has not yet redrawn with the tab's own write (a slow
    server) stands against that write: recorded, never a 412 for the tab's own write."""
    form = open_page(page, base_url)
    before = version(base_url)
    held: list[Any] = []
    page.route("**/page.json*", lambda route: held.append(route))  # redraws wait
    try:
        fill_offer(form, "USA", "1300000000000")
        page.click("#record-submit")
        page.wait_for_function(
            "() => document.getElementById('record-state').textContent.startsWith('Recorded')"
        )
        assert held, "the redraw after the write was not asked for"
        fill_offer(form, "ROK", "1200000000000", day="2020-05-02")  # typed before the redraw
    finally:
        page.unroute("**/page.json*")
        for route in held:
            route.continue_()
    first = recorded_ids(page)  # marked once the page shows it
    submit(page, " ".join(first))
    assert f"now version {before + 2} " in page.inner_text("#record-state")
    entries = ledger(base_url)
    assert [e["version"] for e in entries[-2:]] == [before + 1, before + 2]
    assert [e["party"] for e in entries[-2:]] == ["USA", "ROK"]


def test_a_stale_entry_is_explained_the_page_refreshed_and_then_recorded(
    page: Any, base_url: str
) -> None:
    # The live stream is cut: what the page learns of the other client's event, it learns
    # from the refresh that follows the 412.
    page.route("**/stream*", lambda route: route.abort())
    form = open_page(page, base_url)
    begun = version(base_url)
    fill_offer(form, "ROK", "1100000000000")

    other = httpx.post(
        f"{base_url}{EVENTS}",
        json={
            "type": "statement_made",
            "party": "USA",
            "speaker": "A State Department spokesperson",
            "summary": "Seoul must pay more.",
            "occurred_at": "2020-05-01",
        },
        timeout=10,
    )
    assert other.status_code == 201, other.text
    other_id = other.json()["events"][0]["event_id"]
    assert page.locator(f'li[data-event-id="{other_id}"]').count() == 0

    page.click("#record-submit")

    page.wait_for_selector("#record-state.stale")
    said = page.inner_text("#record-state")
    assert f"version {begun}" in said
    assert f"version {begun + 1}" in said
    assert "someone else recorded" in said
    page.wait_for_selector(f'li[data-event-id="{other_id}"]')  # the page was refreshed
    assert version(base_url) == begun + 1  # nothing of the form's was written
    assert [e["event_id"] for e in ledger(base_url)][-1] == other_id
    assert form.get_by_label(TERM_NAME, exact=True).input_value() == "1100000000000"

    page.click("#record-submit")  # checked, and sent again: now against what the page shows

    [event_id] = recorded_ids(page)
    offer_drawn(page, event_id)
    assert version(base_url) == begun + 2
    assert ledger(base_url)[-1]["values"][TERM]["amount"] == "1100000000000"


def test_an_error_is_shown_next_to_its_field_and_nothing_is_written(
    page: Any, base_url: str
) -> None:
    form = open_page(page, base_url)
    before = version(base_url)

    # Refused by the request's validation: the problem's `errors` name the field.
    fill_offer(form, "USA", "1.3 trillion")
    page.click("#record-submit")
    message = field_error(page, f"values.{TERM}.amount")
    assert "not a decimal number" in message
    amount = form.get_by_label(TERM_NAME, exact=True)
    assert amount.get_attribute("aria-invalid") == "true"
    assert "nothing was written" in page.inner_text("#record-state")
    assert version(base_url) == before

    # Refused by a rule of the negotiation: the problem's `field` names the term's row.
    amount.fill("1300000000000")
    form.get_by_label("Unit", exact=True).fill("years")
    page.click("#record-submit")
    message = field_error(page, f"values.{TERM}")
    assert "does not fit term" in message
    assert amount.get_attribute("aria-invalid") is None  # the earlier error is gone
    assert version(base_url) == before

    # Another form, another rule: a round number already on record.
    page.click('#record-kinds button[data-kind="round_held"]')
    page.wait_for_selector('#record-form[data-kind="round_held"]')
    form.get_by_label("Round number", exact=True).fill("1")
    form.get_by_label("When it happened", exact=True).fill("2020-05-01")
    page.click("#record-submit")
    assert "already on record" in field_error(page, "number")
    assert version(base_url) == before
    assert page.locator("#record-form[data-recorded]").count() == 0


@pytest.fixture
def keyed(tmp_path: Path) -> Iterator[tuple[str, dict[str, str]]]:
    """(base URL, keys by role) of the demo on a SQLite file whose store has keys."""
    url = f"sqlite:///{tmp_path}/parley.db"
    keys = {role: create_key(url, role, role) for role in ("reader", "recorder")}
    with serve(create_app(Settings(database_url=url, demo=True))) as base:
        yield base, keys


def test_a_server_with_keys_asks_for_a_recorder_key_once(
    browser: Any, keyed: tuple[str, dict[str, str]]
) -> None:
    base_url, keys = keyed

    def key(question: int) -> str:
        # Reading asks first (a reader key is enough); recording asks for more.
        return keys["reader"] if question == 1 else keys["recorder"]

    with tab(browser, key, viewport=VIEWPORT) as opened:
        page = opened.page
        form = open_page(page, base_url)
        assert len(opened.questions) == 1
        fill_offer(form, "USA", "1300000000000")
        first = submit(page, None)
        offer_drawn(page, first)

        fill_offer(form, "ROK", "1100000000000", "2020-05-02")
        second = submit(page, first)
        offer_drawn(page, second)
    assert len(opened.questions) == 2, opened.questions
    assert "recorder" in opened.questions[1]
    assert "reader key" in opened.questions[1]  # it says which key the tab holds
    entries = {e["event_id"]: e for e in ledger(base_url, keys["reader"])}
    assert entries[first]["recorded_by"] == entries[second]["recorded_by"] == "recorder"
    assert opened.errors == []


def record(page: Any, kind: str, fill: Any) -> str:
    """Opens the form for ``kind``, lets ``fill`` fill it in, sends it; the recorded id."""
    form = page.locator("#record-form")
    page.click(f'#record-kinds button[data-kind="{kind}"]')
    page.wait_for_selector(f'#record-form[data-kind="{kind}"]')
    was = form.get_attribute("data-recorded")
    fill(form)
    return submit(page, was)


def test_each_form_records_the_fact_the_api_describes(page: Any, base_url: str) -> None:
    open_page(page, base_url)
    demo = ledger(base_url)
    usa_offer = next(
        e
        for e in demo
        if e["type"] == "offer_made" and e["party"] == "USA" and "05-11" in e["occurred_at"]
    )
    rok_offer = next(
        e for e in demo if e["type"] == "offer_made" and e["occurred_at"] == "2020-03-31"
    )

    def when(form: Any, day: str) -> None:
        form.get_by_label("When it happened", exact=True).fill(day)

    def statement(form: Any) -> None:
        form.get_by_label("Party", exact=True).select_option("ROK")
        form.get_by_label("Speaker", exact=True).fill("Defense Ministry spokesperson")
        form.get_by_label("What was said", exact=True).fill("Talks go on.")
        when(form, "2020-05-12")

    def round_(form: Any) -> None:
        form.get_by_label("Round number", exact=True).fill("8")
        form.get_by_label("Location", exact=True).fill("Seoul")
        form.get_by_label("Party", exact=True).select_option("ROK")
        form.get_by_label("Led by", exact=True).fill("Jeong Eun-bo")
        form.get_by_label("Members, one a line", exact=True).fill("Kim\nLee")
        form.get_by_label("Outcome", exact=True).fill("No agreement.")
        when(form, "2020-05-20")

    def rate(form: Any) -> None:
        form.get_by_label("1 unit of", exact=True).fill("USD")
        form.get_by_label("is worth, in", exact=True).fill("KRW")
        form.get_by_label("Rate", exact=True).fill("1230.5")
        when(form, "2020-05-12")

    def call(form: Any) -> None:
        form.get_by_label("Channel", exact=True).select_option("video")
        form.get_by_label("Initiated by", exact=True).select_option("ROK")
        form.get_by_label("Minutes", exact=True).fill("30")
        form.get_by_label("Topics, one a line", exact=True).fill("cost sharing\nunpaid leave")
        form.get_by_label("Party", exact=True).nth(0).select_option("USA")  # the participant
        form.get_by_label("Name", exact=True).fill("Mark Esper")
        form.get_by_label("What it said", exact=True).nth(0).fill("A fair deal, quickly.")
        when(form, "2020-05-13T09:00:00-04:00")

    def agreement(form: Any) -> None:
        form.get_by_label("Status", exact=True).select_option("tentative")
        form.get_by_label(TERM_NAME, exact=True).fill("1200000000000")
        when(form, "2020-05-14")

    ids = {
        "statement": record(page, "statement_made", statement),
        "round": record(page, "round_held", round_),
        "rate": record(page, "exchange_rate_recorded", rate),
        "call": record(page, "call_held", call),
        "agreement": record(page, "agreement_reached", agreement),
    }

    def reject_agreement(form: Any) -> None:
        form.get_by_label("Rejected by", exact=True).select_option("USA")
        form.get_by_label("What is rejected", exact=True).select_option(ids["agreement"])
        form.get_by_label("Reason (for an agreement)", exact=True).fill("Too low.")
        when(form, "2020-05-15")

    def reject_offer(form: Any) -> None:
        form.get_by_label("Rejected by", exact=True).select_option("ROK")
        form.get_by_label("What is rejected", exact=True).select_option(usa_offer["event_id"])
        when(form, "2020-05-16")

    def withdraw(form: Any) -> None:
        form.get_by_label("The offer withdrawn", exact=True).select_option(rok_offer["event_id"])
        form.get_by_label("Withdrawn by", exact=True).select_option("ROK")
        when(form, "2020-05-17")

    def retract(form: Any) -> None:
        form.get_by_label("The event to retract", exact=True).select_option(ids["statement"])
        form.get_by_label("Why it is retracted", exact=True).fill("Said by another ministry.")
        when(form, "2020-05-18")

    ids["agreement_rejection"] = record(page, "rejection", reject_agreement)
    ids["offer_rejection"] = record(page, "rejection", reject_offer)
    ids["withdrawal"] = record(page, "offer_withdrawn", withdraw)
    ids["retraction"] = record(page, "event_retracted", retract)

    entries = {e["event_id"]: e for e in ledger(base_url)}
    got = {name: entries[event_id] for name, event_id in ids.items()}
    assert got["statement"]["retracted"] is True
    assert (got["statement"]["party"], got["statement"]["summary"]) == ("ROK", "Talks go on.")
    assert got["round"]["number"] == 8
    assert got["round"]["delegations"] == [
        {"party": "ROK", "lead": "Jeong Eun-bo", "members": ["Kim", "Lee"]}
    ]
    assert (got["rate"]["base"], got["rate"]["quote"], got["rate"]["rate"]) == (
        "USD",
        "KRW",
        "1230.5",
    )
    assert got["call"]["channel"] == "video"
    assert got["call"]["duration_minutes"] == 30
    assert got["call"]["topics"] == ["cost sharing", "unpaid leave"]
    assert got["call"]["participants"] == [{"party": "USA", "name": "Mark Esper", "role": None}]
    assert got["call"]["readouts"] == [
        {"party": "USA", "summary": "A fair deal, quickly.", "sources": []}
    ]
    assert got["call"]["occurred_at"] == "2020-05-13T09:00:00-04:00"
    assert got["agreement"]["values"] == {TERM: {"amount": "1200000000000", "unit": "KRW"}}
    assert got["agreement_rejection"]["type"] == "agreement_rejected"
    assert got["agreement_rejection"]["agreement_event_id"] == ids["agreement"]
    assert got["agreement_rejection"]["reason"] == "Too low."
    assert got["offer_rejection"]["type"] == "offer_rejected"
    assert got["offer_rejection"]["offer_event_id"] == usa_offer["event_id"]
    assert got["withdrawal"]["offer_event_id"] == rok_offer["event_id"]
    assert got["retraction"]["retracted_event_id"] == ids["statement"]
    assert got["retraction"]["reason"] == "Said by another ministry."
