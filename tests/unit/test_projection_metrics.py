"""The pure metrics of GAP-METRICS, worked by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal, localcontext

import pytest

from projections import metrics
from projections.metrics import Rate

D = Decimal


def at(day: str) -> datetime:
    return datetime.fromisoformat(day + "T00:00:00+00:00")


def test_gap_is_the_distance_whichever_side_is_higher() -> None:
    assert metrics.gap(D("50"), D("10")) == D("40")
    assert metrics.gap(D("10"), D("50")) == D("40")


def test_midpoint_relative_gap_and_ratio_of_two_positions() -> None:
    assert metrics.midpoint(D("30"), D("15")) == D("22.5")
    assert metrics.relative_gap(D("30"), D("15")) == D("0.6666666666666666666666666667")
    assert metrics.ratio(D("15"), D("30")) == D("2")


def test_relative_gap_is_null_when_the_midpoint_is_zero() -> None:
    assert metrics.relative_gap(D("-5"), D("5")) is None


def test_ratio_is_null_unless_both_positions_are_positive() -> None:
    assert metrics.ratio(D("0"), D("5")) is None
    assert metrics.ratio(D("-2"), D("5")) is None


def test_closed_share_measures_how_much_of_the_initial_gap_is_gone() -> None:
    assert metrics.closed_share(D("15"), D("40")) == D("0.625")
    assert metrics.closed_share(D("0"), D("40")) == D("1")
    assert metrics.closed_share(D("60"), D("40")) == D("-0.5")


def test_closed_share_is_null_when_the_initial_gap_is_zero() -> None:
    assert metrics.closed_share(D("3"), D("0")) is None


def test_concession_toward_the_other_side_is_positive_whichever_side_that_is() -> None:
    # The higher party comes down, the lower party goes up: both concede.
    assert metrics.concession(D("50"), D("10"), D("30")) == D("20")
    assert metrics.concession(D("10"), D("50"), D("15")) == D("5")


def test_concession_away_from_the_other_side_is_negative() -> None:
    assert metrics.concession(D("50"), D("10"), D("60")) == D("-10")
    assert metrics.concession(D("10"), D("50"), D("8")) == D("-2")


def test_any_move_from_a_shared_starting_point_counts_as_away() -> None:
    assert metrics.concession(D("20"), D("20"), D("25")) == D("-5")
    assert metrics.concession(D("20"), D("20"), D("15")) == D("-5")
    assert metrics.concession(D("20"), D("20"), D("20")) == D("0")


def test_concession_share_is_a_fraction_of_the_initial_gap() -> None:
    assert metrics.concession_share(D("20"), D("40")) == D("0.5")
    assert metrics.concession_share(D("20"), D("0")) is None


def test_forecast_is_where_the_least_squares_line_through_the_last_three_gaps_reaches_zero() -> (
    None
):
    # x = 0, 10, 20 days; y = 30, 25, 15: slope -0.75, zero at 10 + (70/3)/0.75 = 41.11 days.
    points = [
        (at("2019-12-15"), D("40")),
        (at("2020-01-01"), D("30")),
        (at("2020-01-11"), D("25")),
        (at("2020-01-21"), D("15")),
    ]
    assert metrics.forecast(points) == date(2020, 2, 11)


def test_forecast_counts_time_in_fractions_of_days() -> None:
    # Gaps 30, 20, 10 half a day apart fall 20 a day: zero one and a half days in.
    points = [
        (datetime(2020, 1, 1, 0, tzinfo=UTC), D("30")),
        (datetime(2020, 1, 1, 12, tzinfo=UTC), D("20")),
        (datetime(2020, 1, 2, 0, tzinfo=UTC), D("10")),
    ]
    assert metrics.forecast(points) == date(2020, 1, 2)


@pytest.mark.parametrize(
    "gaps",
    [
        ("30", "25"),  # fewer than three points
        ("30", "30", "20"),  # not strictly decreasing
        ("30", "35", "20"),
        ("30", "20", "0"),  # the gap is closed already
    ],
)
def test_forecast_is_null_without_three_strictly_decreasing_nonzero_gaps(
    gaps: tuple[str, ...],
) -> None:
    days = ["2020-01-01", "2020-01-11", "2020-01-21"]
    points = [(at(day), D(g)) for day, g in zip(days, gaps, strict=False)]
    assert metrics.forecast(points) is None


def test_forecast_beyond_the_calendar_is_null() -> None:
    points = [
        (at("2020-01-01"), D("1000000000000000000")),
        (at("2020-01-02"), D("999999999999999999")),
        (at("2020-01-03"), D("999999999999999998")),
    ]
    assert metrics.forecast(points) is None


def test_conversion_uses_the_latest_rate_on_or_before_the_moment() -> None:
    rates = [
        Rate("2019-09-01T00:00:00.000000+00:00", 3, "USD", "KRW", D("1200")),
        Rate("2020-01-01T00:00:00.000000+00:00", 9, "USD", "KRW", D("1150")),
    ]
    before = "2019-12-31T00:00:00.000000+00:00"
    on = "2020-01-01T00:00:00.000000+00:00"
    assert metrics.convert(D("5"), "USD", "KRW", rates, before) == D("6000")
    assert metrics.convert(D("5"), "USD", "KRW", rates, on) == D("5750")


def test_conversion_accepts_an_inverse_rate_and_divides_by_it() -> None:
    rates = [Rate("2019-09-01T00:00:00.000000+00:00", 3, "KRW", "USD", D("0.0008"))]
    got = metrics.convert(D("1.3"), "USD", "KRW", rates, "2020-01-01T00:00:00.000000+00:00")
    assert got == D("1625")


def test_conversion_without_a_rate_on_or_before_the_moment_is_none() -> None:
    rates = [Rate("2020-01-01T00:00:00.000000+00:00", 3, "USD", "KRW", D("1150"))]
    assert metrics.convert(D("5"), "USD", "KRW", rates, "2019-12-31T00:00:00.000000+00:00") is None
    assert metrics.convert(D("5"), "EUR", "KRW", rates, "2020-02-01T00:00:00.000000+00:00") is None


def test_metrics_keep_28_significant_digits_whatever_the_callers_context() -> None:
    with localcontext() as ctx:
        ctx.prec = 3
        assert metrics.relative_gap(D("2"), D("1")) == D("0.6666666666666666666666666667")
        assert metrics.gap(D("1234567.891"), D("0.001")) == D("1234567.890")


def test_decimals_leave_in_plain_notation_without_negative_zero() -> None:
    assert metrics.fmt(D("5E+9")) == "5000000000"
    assert metrics.fmt(D("-0")) == "0"
    assert metrics.fmt(D("1.50")) == "1.50"
    assert metrics.fmt(None) is None


def test_indexed_rates_pick_what_the_linear_scan_picks_ties_by_version() -> None:
    day = "2020-01-01T00:00:00.000000+00:00"
    rates = [
        Rate(day, 7, "USD", "KRW", D("1100")),
        Rate(day, 4, "KRW", "USD", D("0.001")),
        Rate("2019-01-01T00:00:00.000000+00:00", 9, "USD", "KRW", D("1300")),
        Rate(day, 5, "EUR", "KRW", D("1400")),
    ]
    book = metrics.Rates(rates)
    assert book.latest("KRW", "USD", day) == rates[0]
    assert book.latest("USD", "KRW", "2019-06-01T00:00:00.000000+00:00") == rates[2]
    assert book.latest("USD", "KRW", "2018-06-01T00:00:00.000000+00:00") is None
    assert book.latest("USD", "EUR", day) is None
    assert sorted(book) == sorted(rates)
