"""The static dance: one path per party, offers where their date and amount put them."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import datetime
from decimal import Decimal

import pytest
from test_charts import SMA, TODAY, stream

from api.render.charts import Dance
from api.render.dance_fold import dance
from api.render.dance_svg import render

SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"


@pytest.fixture(scope="module")
def chart() -> Dance:
    return dance(stream(*SMA), today=TODAY)


@pytest.fixture(scope="module")
def svg(chart: Dance) -> ET.Element:
    return ET.fromstring(render(chart, "svg"))  # noqa: S314 - our own SVG


def group(root: ET.Element, gid: str) -> ET.Element:
    found = root.find(f".//{SVG}g[@id='{gid}']")
    assert found is not None, f"no <g id={gid!r}>"
    return found


def plot_area(root: ET.Element) -> tuple[float, float, float, float]:
    """The axes box in SVG points: left, top, right, bottom."""
    path = group(root, "plot-area").find(f"{SVG}path")
    assert path is not None
    numbers = [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", path.get("d", ""))]
    xs, ys = numbers[0::2], numbers[1::2]
    return min(xs), min(ys), max(xs), max(ys)


def expected_xy(
    chart: Dance, box: tuple[float, float, float, float], at: datetime, amount: Decimal
):
    left, top, right, bottom = box
    x_low, x_high = chart.x_range
    y_low, y_high = chart.y_range
    fx = (at - x_low) / (x_high - x_low)
    fy = float((amount - y_low) / (y_high - y_low))
    return left + fx * (right - left), bottom - fy * (bottom - top)


def test_each_party_is_one_step_path(chart: Dance, svg: ET.Element) -> None:
    for series in chart.series:
        paths = group(svg, f"dance-{series.party}").findall(f"{SVG}path")
        assert len(paths) == 1
        assert series.color.lower() in paths[0].get("style", "").lower()


def test_offer_points_sit_at_their_date_and_amount(chart: Dance, svg: ET.Element) -> None:
    box = plot_area(svg)
    for party in ("USA", "ROK"):
        uses = group(svg, f"offers-{party}").findall(f".//{SVG}use")
        drawn = [(float(u.get("x", "nan")), float(u.get("y", "nan"))) for u in uses]
        offers = [o for o in chart.offers if o.party == party]
        assert len(drawn) == len(offers) == 2
        for (x, y), o in zip(drawn, offers, strict=True):
            ex, ey = expected_xy(chart, box, o.at, o.amount)
            assert x == pytest.approx(ex, abs=0.5)
            assert y == pytest.approx(ey, abs=0.5)


def test_the_step_path_starts_at_the_first_position(chart: Dance, svg: ET.Element) -> None:
    box = plot_area(svg)
    d = group(svg, "dance-USA").find(f"{SVG}path").get("d", "")  # type: ignore[union-attr]
    x, y = (float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", d)[:2])
    first = chart.series[0].steps[0]
    ex, ey = expected_xy(chart, box, first.at, first.amount or Decimal(0))
    assert (x, y) == (pytest.approx(ex, abs=0.5), pytest.approx(ey, abs=0.5))


def test_the_svg_names_its_axes_and_parties(svg: ET.Element) -> None:
    texts = " ".join(t.text or "" for t in svg.iter(f"{SVG}text"))
    assert "United States (USA)" in texts
    assert "Korea (ROK)" in texts
    assert "KRW" in texts
    assert "when it occurred (UTC)" in texts


def test_the_same_data_renders_the_same_svg(chart: Dance) -> None:
    assert render(chart, "svg") == render(chart, "svg")


def test_an_as_of_chart_marks_that_moment_and_png_renders_too() -> None:
    chart = dance(stream(*SMA), as_of="2020-01-01", today=TODAY)
    root = ET.fromstring(render(chart, "svg"))  # noqa: S314 - our own SVG
    group(root, "as-of")
    assert render(chart, "png").startswith(b"\x89PNG\r\n\x1a\n")
