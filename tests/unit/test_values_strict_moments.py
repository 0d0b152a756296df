"""Time points are ``YYYY-MM-DD`` or RFC 3339-like datetimes: none of Python's other ISO forms."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from domain.errors import InvalidValue
from domain.values import parse_occurred_at


@pytest.mark.parametrize(
    "given",
    [
        "2020-W15-1",  # ISO week date
        "2020-W15",
        "2020-097",  # ordinal date
        "20200406",  # basic format
        "2020-04-06T203000+0900",
        "2020-04-06X20:30:00+09:00",  # Python accepts any separator
        "2020-04-06T20+09:00",  # hours only
        "2020-04-06T20:30:00+09",
        "2020-04-06T20:30:00+0900",
        "2020-04-06T20:30:00+09:00:30",
        "2020-W15-1T20:30:00+09:00",
        "\u0662\u0660\u0662\u0660-04-06",  # Arabic-Indic digits
        "+2020-04-06",
    ],
)
def test_iso_forms_other_than_rfc_3339_are_refused(given: str) -> None:
    with pytest.raises(InvalidValue, match="is not an ISO 8601 date or datetime") as refused:
        parse_occurred_at(given, "occurred_at")

    assert refused.value.field == "occurred_at"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("2020-04-06", date(2020, 4, 6)),
        (" 2020-04-06 ", date(2020, 4, 6)),
        (
            "2020-04-06T20:30:00+09:00",
            datetime(2020, 4, 6, 20, 30, tzinfo=timezone(timedelta(hours=9))),
        ),
        (
            "2020-04-06T20:30+09:00",
            datetime(2020, 4, 6, 20, 30, tzinfo=timezone(timedelta(hours=9))),
        ),
        ("2020-04-06t11:30:00Z", datetime(2020, 4, 6, 11, 30, tzinfo=UTC)),
        (
            "2020-04-06 11:30:00.25-05:00",
            datetime(2020, 4, 6, 11, 30, 0, 250000, tzinfo=timezone(timedelta(hours=-5))),
        ),
    ],
)
def test_dates_and_rfc_3339_datetimes_with_an_offset_are_read(
    given: str, expected: date | datetime
) -> None:
    parsed = parse_occurred_at(given)

    assert parsed == expected
    assert type(parsed) is type(expected)
    if isinstance(expected, datetime):
        assert isinstance(parsed, datetime)
        assert parsed.utcoffset() == expected.utcoffset()


def test_z_reads_as_utc() -> None:
    parsed = parse_occurred_at("2020-04-06T20:30:00Z")

    assert isinstance(parsed, datetime)
    assert parsed.utcoffset() == timedelta(0)


def test_a_datetime_without_an_offset_is_still_refused_for_its_missing_offset() -> None:
    with pytest.raises(InvalidValue, match="must carry its UTC offset"):
        parse_occurred_at("2020-04-06T20:30:00")
