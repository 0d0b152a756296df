"""Value checks: decimal amounts, time points and their order, free text."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

import pytest

from domain.errors import InvalidValue
from domain.values import (
    check_text,
    check_unit,
    end_of_key,
    parse_occurred_at,
    sort_key,
    to_amount,
)

KST = timezone(timedelta(hours=9))


@pytest.mark.parametrize(
    ("given", "plain"),
    [
        ("5E+9", "5000000000"),
        ("1.10", "1.10"),
        (" 42 ", "42"),
        ("-0", "0"),
        ("-0.00", "0.00"),
        (Decimal("1.2E+3"), "1200"),
        (7, "7"),
        ("9" * 30, "9" * 30),
        ("0." + "1" * 18, "0." + "1" * 18),
    ],
)
def test_amounts_are_kept_in_plain_notation(given: str | Decimal | int, plain: str) -> None:
    assert str(to_amount(given)) == plain


@pytest.mark.parametrize(
    "given",
    ["1" + "0" * 30, "1E+30", "0." + "1" * 19, "1E-19", "NaN", "sNaN", "Infinity", "-inf", "", "x"],
)
def test_amounts_out_of_bounds_or_not_numbers_are_refused(given: str) -> None:
    with pytest.raises(InvalidValue) as caught:
        to_amount(given, "values.x.amount")
    assert caught.value.field == "values.x.amount"


def test_a_binary_float_is_refused_as_an_amount() -> None:
    with pytest.raises(InvalidValue):
        to_amount(1.5)  # type: ignore[arg-type]


def test_a_date_sorts_at_midnight_utc() -> None:
    assert sort_key(date(2020, 4, 6)) == "2020-04-06T00:00:00.000000+00:00"


def test_a_datetime_sorts_at_its_instant_in_utc() -> None:
    assert sort_key(datetime(2020, 4, 6, 8, 30, tzinfo=KST)) == "2020-04-05T23:30:00.000000+00:00"


def test_keys_order_dates_and_datetimes_as_instants() -> None:
    points = [
        datetime(2020, 4, 6, 1, 0, tzinfo=UTC),
        date(2020, 4, 6),
        datetime(2020, 4, 6, 8, 30, tzinfo=KST),
        date(1999, 12, 31),
    ]
    assert sorted(points, key=sort_key) == [points[3], points[2], points[1], points[0]]


def test_the_end_of_a_date_covers_the_whole_day() -> None:
    assert end_of_key(date(2020, 4, 6)) == "2020-04-06T23:59:59.999999+00:00"
    assert sort_key(datetime(2020, 4, 6, 23, 0, tzinfo=UTC)) <= end_of_key(date(2020, 4, 6))
    instant = datetime(2020, 4, 6, 23, 0, tzinfo=UTC)
    assert end_of_key(instant) == sort_key(instant)


def test_an_iso_date_is_parsed_as_a_date() -> None:
    parsed = parse_occurred_at("2020-04-06")
    assert type(parsed) is date


def test_an_iso_datetime_keeps_its_offset() -> None:
    parsed = parse_occurred_at("2020-04-06T20:30:00+09:00")
    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == timedelta(hours=9)


def test_a_utc_datetime_may_be_written_with_z() -> None:
    assert parse_occurred_at("2020-04-06T11:30:00Z") == datetime(2020, 4, 6, 11, 30, tzinfo=UTC)


@pytest.mark.parametrize(
    "given",
    [
        "2020-04-06T20:30:00",
        datetime(2020, 4, 6, 20, 30),
        "2020-04-31",
        "soon",
        "9999-12-31T23:00:00-05:00",
    ],
)
def test_an_occurred_at_without_offset_malformed_or_out_of_range_is_refused(
    given: str | datetime,
) -> None:
    with pytest.raises(InvalidValue) as caught:
        parse_occurred_at(given)
    assert caught.value.field == "occurred_at"


@pytest.mark.parametrize("text", ["plain", "two\nlines", "tab\there", "서울", "emoji 🤝"])
def test_free_text_without_control_characters_is_accepted(text: str) -> None:
    assert check_text(text, "summary") == text


@pytest.mark.parametrize(
    "text", ["\x00", "a\x07b", "\x1b[0m", "\r", "\x7f", "\udfff", "   ", "x" * 10_001]
)
def test_free_text_with_control_characters_blank_or_too_long_is_refused(text: str) -> None:
    with pytest.raises(InvalidValue):
        check_text(text, "summary")


def test_optional_text_may_be_empty() -> None:
    assert check_text("", "note", required=False) == ""


@pytest.mark.parametrize("unit", ["USD", "KRW", "EUR", "percent", "years", "count", "troop_days"])
def test_a_unit_is_a_currency_code_or_a_plain_word(unit: str) -> None:
    assert check_unit(unit) == unit


@pytest.mark.parametrize("unit", ["ABC", "Percent", "per cent", "%", "1x", ""])
def test_other_units_are_refused(unit: str) -> None:
    with pytest.raises(InvalidValue):
        check_unit(unit)
