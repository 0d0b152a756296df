"""The dashboard's routes over HTTP, and the terminal commands, on the demo negotiation."""

from __future__ import annotations

import re
import warnings
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
from fastapi import FastAPI
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from api.cli import terminal
from api.http.app import create_app
from api.http.routes import dashboard
from api.services.demo import DEMO_SLUG, load_demo
from api.settings import Settings
from api.store.store import open_ledger, parse_database_url

with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

SVG = "{http://www.w3.org/2000/svg}"
CHART = f"/negotiations/{DEMO_SLUG}/chart"


def dashboard_app() -> FastAPI:
    """The app on the in-memory store with the demo loaded, the dashboard included."""
    return create_app(Settings(database_url="memory://", demo=True))


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    with TestClient(dashboard_app(), base_url="http://localhost") as client:
        yield client


def test_the_pages_are_served_and_reach_nothing_outside_the_app(client: TestClient) -> None:
    for path in ("/", f"/n/{DEMO_SLUG}"):
        response = client.get(path)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/html")
        assets = re.findall(r'(?:src|href)="([^"]+)"', response.text)
        assert assets
        assert all(a.startswith("/") or a == "#" for a in assets), assets
        for asset in set(assets) - {"#"}:
            assert client.get(asset).status_code == 200, asset


def test_plotly_is_the_bundle_the_plotly_package_ships(client: TestClient) -> None:
    response = client.get("/static/vendor/plotly.min.js")
    assert response.status_code == 200
    assert response.content == dashboard.plotly_js().read_bytes()
    assert response.headers["content-type"].startswith("text/javascript")


@pytest.mark.parametrize("name", ["../app.py", "..%2Fapp.py", "nope.js", "negotiation.py"])
def test_static_serves_only_its_own_assets(client: TestClient, name: str) -> None:
    assert client.get(f"/static/{name}").status_code == 404


def test_chart_json_has_one_point_per_live_offer_on_the_timeline(client: TestClient) -> None:
    chart = client.get(f"{CHART}.json").json()
    timeline = client.get(f"/negotiations/{DEMO_SLUG}/timeline", params={"type": "offer_made"})
    offers = [e["event_id"] for e in timeline.json()["events"] if not e["retracted"]]
    assert sorted(o["event_id"] for o in chart["offers"]) == sorted(offers)
    assert chart["term"]["id"] == "annual_contribution"
    usd = next(o for o in chart["offers"] if o["original"]["unit"] == "USD")
    assert usd["original_text"] == "5,000,000,000 USD"


def test_chart_json_travels_in_time_like_the_analytics(client: TestClient) -> None:
    chart = client.get(f"{CHART}.json", params={"as_of": "2020-04-07"}).json()
    gaps = client.get(f"/negotiations/{DEMO_SLUG}/gaps", params={"as_of": "2020-04-07"}).json()
    pair = gaps["terms"][0]["pairs"][0]
    assert chart["as_of"] == "2020-04-07"
    assert chart["current_gap"] == pair["gap"]
    assert chart["closed_share"] == pair["closed_share"]
    early = client.get(f"{CHART}.json", params={"as_of_version": 8}).json()
    assert len(early["offers"]) == 1


def test_chart_svg_draws_the_dance(client: TestClient) -> None:
    response = client.get(f"{CHART}.svg", params={"as_of": "2020-05-12"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "image/svg+xml"
    root = ET.fromstring(response.content)  # noqa: S314 - our own SVG
    ids = {g.get("id") for g in root.iter(f"{SVG}g")}
    assert {"dance-USA", "dance-ROK", "offers-USA", "offers-ROK", "as-of"} <= ids


def test_chart_of_an_unknown_term_or_negotiation_is_a_problem(client: TestClient) -> None:
    response = client.get(f"{CHART}.svg", params={"term": "nope"})
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert "nope" in response.json()["detail"]
    missing = client.get("/negotiations/no-such-thing/chart.svg")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"


# ------------------------------------------------------------------ terminal


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('terminal')}/t.db"
    ledger = open_ledger(parse_database_url(url), create_tables=True)
    try:
        load_demo(ledger)
    finally:
        ledger.close()
    return url


@pytest.fixture
def parley(store: str, monkeypatch: pytest.MonkeyPatch) -> typer.Typer:
    monkeypatch.setenv("PARLEY_DATABASE_URL", store)
    monkeypatch.setenv("COLUMNS", "200")
    app = typer.Typer()
    terminal.register(app)
    return app


def run(app: typer.Typer, *args: str) -> str:
    result = CliRunner().invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result.output


def test_negotiations_lists_the_demo_with_its_headline_gap(parley: typer.Typer) -> None:
    output = run(parley, "negotiations")
    assert DEMO_SLUG in output
    assert "concluded" in output
    assert "0 KRW USA-ROK" in output


def test_positions_and_gaps_as_of_a_date(parley: typer.Typer) -> None:
    positions = run(parley, "positions", DEMO_SLUG, "--as-of", "2020-05-12")
    assert "1.591 trillion KRW" in positions
    assert "1,300,000,000 USD" in positions
    gaps = run(parley, "gaps", DEMO_SLUG, "--as-of", "2020-05-12")
    assert "415,589,000,000.00 KRW" in gaps
    assert "91.8%" in gaps


def test_timeline_marks_the_retracted_event(parley: typer.Typer) -> None:
    output = run(parley, "timeline", DEMO_SLUG, "--type", "statement_made")
    assert output.count("(retracted)") == 1
    assert "round_held" not in output


def test_chart_writes_the_same_svg_as_the_endpoint(
    parley: typer.Typer, client: TestClient, tmp_path: Path
) -> None:
    out = tmp_path / "dance.svg"
    run(parley, "chart", DEMO_SLUG, "--out", str(out), "--as-of", "2020-05-12")
    served = client.get(f"{CHART}.svg", params={"as_of": "2020-05-12"}).content
    assert out.read_bytes() == served
    png = tmp_path / "dance.png"
    run(parley, "chart", DEMO_SLUG, "--out", str(png))
    assert png.read_bytes().startswith(b"\x89PNG")


def test_terminal_commands_refuse_an_unknown_negotiation(parley: typer.Typer) -> None:
    result = CliRunner().invoke(parley, ["gaps", "no-such-thing"])
    assert result.exit_code == 1
    assert "no negotiation" in result.output
