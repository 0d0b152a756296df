"""Every accepted amount survives the metrics' arithmetic: one explicit context, at the extremes.

An amount may carry 30 integer and 18 fractional digits (48 significant); Python's default
context keeps 28, which rounded gaps and midpoints of such amounts.
"""

from __future__ import annotations

from decimal import Decimal as D
from decimal import localcontext
from fractions import Fraction

import pytest

from domain.values import to_amount
from projections import metrics

LARGEST = D("999999999999999999999999999999.999999999999999999")
SMALLEST = D("0.000000000000000001")
LOWEST = LARGEST.copy_negate()  # unary minus would round in the default context
NEXT_BELOW = D("999999999999999999999999999999.999999999999999998")  # LARGEST - SMALLEST
EXTREMES = [
    (LARGEST, LOWEST),
    (LARGEST, NEXT_BELOW),
    (LARGEST, SMALLEST),
    (D("123456789012345678901234567890.123456789012345678"), D("-0.000000000000000001")),
]


@pytest.mark.parametrize(("a", "b"), EXTREMES)
def test_gap_and_midpoint_of_the_widest_amounts_are_exact(a, b):
    assert to_amount(str(a)) == a  # both are accepted amounts
    assert to_amount(str(b)) == b
    with localcontext() as caller:
        caller.prec = 5  # whatever the caller's context says
        gap, middle = metrics.gap(a, b), metrics.midpoint(a, b)

    assert Fraction(gap) == abs(Fraction(a) - Fraction(b))
    assert Fraction(middle) == (Fraction(a) + Fraction(b)) / 2


def test_a_concession_of_the_widest_amounts_is_exact():
    moved = metrics.concession(LOWEST, LARGEST, NEXT_BELOW)

    assert Fraction(moved) == Fraction(NEXT_BELOW) - Fraction(LOWEST)


@pytest.mark.parametrize("rate", [D("1.000000000000000001"), LARGEST, SMALLEST, D("3")])
def test_a_conversion_keeps_every_digit_an_amount_may_carry(rate):
    rates = [metrics.Rate("2020-01-01", 1, "USD", "KRW", rate)]
    for amount in (LARGEST, SMALLEST, D("1389000000000.05")):
        forward = metrics.convert(amount, "USD", "KRW", rates, "2020-02-01")
        back = metrics.convert(amount, "KRW", "USD", rates, "2020-02-01")
        exact_forward, exact_back = (
            Fraction(amount) * Fraction(rate),
            Fraction(amount) / Fraction(rate),
        )
        step = Fraction(1, 10**18)  # converted amounts are rounded to 18 fractional digits
        assert abs(Fraction(forward) - exact_forward) <= step / 2
        assert abs(Fraction(back) - exact_back) <= step / 2


def test_shares_keep_28_significant_digits():
    assert metrics.relative_gap(D("30"), D("15")) == D("0.6666666666666666666666666667")
