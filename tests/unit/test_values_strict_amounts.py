"""Amounts are written in ASCII digits: other scripts' digits are refused, not translated."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.errors import InvalidValue
from domain.values import to_amount


@pytest.mark.parametrize(
    "given",
    ["\u0663\u0664", "\u0663", "1\u0663", "\uff15", "\u0966\u0967", "5\u00a0000", "\u2212" + "5"],
    ids=["arabic-indic", "one-arabic-digit", "mixed", "fullwidth", "devanagari", "nbsp", "minus"],
)
def test_an_amount_in_non_ascii_characters_is_refused(given: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        to_amount(given, "values.cost.amount")

    assert refused.value.field == "values.cost.amount"
    assert "is not a decimal number" in str(refused.value)


@pytest.mark.parametrize(("given", "plain"), [("34", "34"), (" 1.50 ", "1.50"), ("-7", "-7")])
def test_an_amount_in_ascii_digits_is_still_read(given: str, plain: str) -> None:
    assert str(to_amount(given)) == plain


def test_decimals_and_integers_are_still_amounts() -> None:
    assert to_amount(Decimal("12.5")) == Decimal("12.5")
    assert to_amount(34) == Decimal(34)
