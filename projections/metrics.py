"""The pure metrics of GAP-METRICS: small functions of decimals, unit-tested without a store.

Decimal arithmetic runs in explicit local contexts, so no caller's context changes a result:

- ``CONTEXT`` (amounts): 100 significant digits, twice the 48 an accepted amount may carry
  (30 integer + 18 fractional) and some: gaps, midpoints, concessions and products of an amount
  by a rate are exact for every accepted input. A conversion is rounded (half even) to 18
  fractional digits, the finest an amount may carry; dividing by a rate is the only inexact
  step, and it is exact to those 18 digits.
- ``SHARE_CONTEXT`` (dimensionless quotients: relative gap, ratio, closed share, concession
  share): 28 significant digits, half even (the contract asks for at least 12).

A metric that would divide by zero is ``None`` (null in JSON), never an error.

Readings of the contract:

- ``relative_gap = gap / midpoint``: null when the midpoint is zero.
- ``ratio = max / min``: only defined when both positions are positive, null otherwise
  (a ratio across zero or of negatives says nothing about distance).
- ``closed_share = 1 - gap / initial_gap``: null when ``initial_gap`` is 0; negative when the
  gap widened; never above 1 because a gap is never negative.
- ``concession``: ``(current - initial) * sign(other_initial - own_initial)``: movement toward
  where the other party stood at the initial moment, negative for a move away. When both
  started at the same value there is no "toward", so every move counts as away: ``-|move|``.
  Its share is ``concession / initial_gap`` (null when ``initial_gap`` is 0).
- ``forecast``: least squares through the last three ``(time, gap)`` points, time in days
  (fractions included); only when the latest gap is not zero and the three gaps strictly
  decrease. The answer is the UTC date where the line reaches zero; it may lie before the
  latest point when the line is steeper than the last step. A date beyond the calendar's
  range is null.
- ``convert``: the latest rate (by ``occurred_at``, ties in recording order) on or before the
  value's own moment, in either direction: ``base -> quote`` multiplies, ``quote -> base``
  divides (dividing, rather than multiplying by a rounded inverse, keeps precision).
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, date, datetime, timedelta
from decimal import (
    ROUND_HALF_EVEN,
    Context,
    Decimal,
    DivisionByZero,
    InvalidOperation,
    Overflow,
    localcontext,
)
from itertools import pairwise
from typing import NamedTuple

from domain.values import MAX_FRACTION_DIGITS, MAX_INTEGER_DIGITS

AMOUNT_DIGITS = MAX_INTEGER_DIGITS + MAX_FRACTION_DIGITS
_TRAPS = [InvalidOperation, DivisionByZero, Overflow]
CONTEXT = Context(
    prec=2 * AMOUNT_DIGITS + 4, rounding=ROUND_HALF_EVEN, Emin=-999_999, Emax=999_999, traps=_TRAPS
)
"""Amount arithmetic: exact for the sum, difference, half and product of any accepted amounts."""
SHARE_CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN, traps=_TRAPS)
"""Dimensionless quotients, to 28 significant digits."""
CONVERTED_EXPONENT = Decimal(1).scaleb(-MAX_FRACTION_DIGITS)
SECONDS_PER_DAY = Decimal(86400)
MICROSECONDS_PER_DAY = Decimal(86400 * 10**6)


def fmt(value: Decimal | None) -> str | None:
    """The one way a decimal leaves the projections: plain notation, no exponent, no -0."""
    if value is None:
        return None
    if value.is_zero():
        value = abs(value)
    return format(value, "f")


def gap(a: Decimal, b: Decimal) -> Decimal:
    with localcontext(CONTEXT):
        return abs(a - b)


def midpoint(a: Decimal, b: Decimal) -> Decimal:
    with localcontext(CONTEXT):
        return (a + b) / 2


def relative_gap(a: Decimal, b: Decimal) -> Decimal | None:
    middle = midpoint(a, b)
    if middle.is_zero():
        return None
    with localcontext(SHARE_CONTEXT):
        return gap(a, b) / middle


def ratio(a: Decimal, b: Decimal) -> Decimal | None:
    low, high = min(a, b), max(a, b)
    if low <= 0:
        return None
    with localcontext(SHARE_CONTEXT):
        return high / low


def closed_share(current_gap: Decimal, initial_gap: Decimal) -> Decimal | None:
    if initial_gap.is_zero():
        return None
    with localcontext(SHARE_CONTEXT):
        return 1 - current_gap / initial_gap


def concession(own_initial: Decimal, other_initial: Decimal, own_current: Decimal) -> Decimal:
    """Movement since the initial moment toward where the other stood then; away is negative."""
    with localcontext(CONTEXT):
        moved = own_current - own_initial
        if other_initial > own_initial:
            return moved + 0
        if other_initial < own_initial:
            return -moved + 0
        return -abs(moved) + 0


def concession_share(amount: Decimal, initial_gap: Decimal) -> Decimal | None:
    if initial_gap.is_zero():
        return None
    with localcontext(SHARE_CONTEXT):
        return amount / initial_gap


def days_between(earlier: datetime, later: datetime) -> Decimal:
    """Elapsed days, fractions included, exactly to the microsecond."""
    delta = later - earlier
    with localcontext(CONTEXT):
        micro = (delta.days * 86400 + delta.seconds) * 10**6 + delta.microseconds
        return Decimal(micro) / MICROSECONDS_PER_DAY


def forecast(points: Sequence[tuple[datetime, Decimal]]) -> date | None:
    """When a least-squares line through the last three ``(moment, gap)`` points reaches zero."""
    if len(points) < 3:
        return None
    last = points[-3:]
    gaps = [g for _, g in last]
    if gaps[-1].is_zero() or not all(x > y for x, y in pairwise(gaps)):
        return None
    origin = last[0][0]
    with localcontext(CONTEXT):
        xs = [days_between(origin, moment) for moment, _ in last]
        mean_x = sum(xs, Decimal(0)) / 3
        mean_y = sum(gaps, Decimal(0)) / 3
        sxx = sum(((x - mean_x) ** 2 for x in xs), Decimal(0))
        sxy = sum(((x - mean_x) * (y - mean_y) for x, y in zip(xs, gaps, strict=True)), Decimal(0))
        if sxx.is_zero() or sxy >= 0:
            return None
        slope = sxy / sxx
        zero_at = mean_x - mean_y / slope
        micro = (zero_at * MICROSECONDS_PER_DAY).to_integral_value()
    try:
        return (origin + timedelta(microseconds=int(micro))).astimezone(UTC).date()
    except (OverflowError, ValueError):
        return None


class Rate(NamedTuple):
    """One recorded exchange rate: 1 ``base`` = ``rate`` ``quote``, from ``key`` on."""

    key: str
    version: int
    base: str
    quote: str
    rate: Decimal


class Rates:
    """Rates by currency pair, each pair's in ``(key, version)`` order: a lookup bisects."""

    def __init__(self, rates: Iterable[Rate] = ()) -> None:
        self._by_pair: dict[frozenset[str], list[tuple[str, int, Rate]]] = {}
        for rate in rates:
            self._by_pair.setdefault(frozenset((rate.base, rate.quote)), []).append(
                (rate.key, rate.version, rate)
            )
        for found in self._by_pair.values():
            found.sort(key=lambda item: (item[0], item[1]))

    def __iter__(self) -> Iterator[Rate]:
        return (item[2] for found in self._by_pair.values() for item in found)

    def latest(self, one: str, other: str, at_key: str) -> Rate | None:
        found = self._by_pair.get(frozenset((one, other)))
        if not found:
            return None
        # Every (key, version) with key <= at_key sorts before (at_key, +inf).
        at = bisect.bisect_right(found, (at_key, math.inf), key=lambda item: (item[0], item[1]))
        return found[at - 1][2] if at else None


def latest_rate(rates: Iterable[Rate], one: str, other: str, at_key: str) -> Rate | None:
    """The latest rate between two currencies (either direction) on or before ``at_key``."""
    return (rates if isinstance(rates, Rates) else Rates(rates)).latest(one, other, at_key)


def convert(
    amount: Decimal, unit: str, to_unit: str, rates: Iterable[Rate], at_key: str
) -> Decimal | None:
    """``amount`` of ``unit`` in ``to_unit`` at the moment ``at_key``; None without a rate."""
    if unit == to_unit:
        return amount
    rate = latest_rate(rates, unit, to_unit, at_key)
    if rate is None or rate.rate.is_zero():
        return None
    with localcontext(CONTEXT):
        converted = amount * rate.rate if rate.base == unit else amount / rate.rate
        exponent = converted.as_tuple().exponent
        if isinstance(exponent, int) and exponent < -MAX_FRACTION_DIGITS:
            converted = converted.quantize(CONVERTED_EXPONENT)
        return converted
