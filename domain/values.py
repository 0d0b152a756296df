"""Value objects of a negotiation: quantities, sources, parties, terms, and time points."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal, InvalidOperation
from functools import cache

from domain.errors import InvalidValue

SLUG_RE = re.compile(r"[a-z0-9-]{1,64}")
PARTY_ID_RE = re.compile(r"[A-Za-z0-9_-]{1,32}")
TERM_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
ISSUE_ID_RE = re.compile(r"[A-Za-z0-9_.-]{1,64}")
#: Control characters other than tab and newline, DEL, and lone surrogates.
FORBIDDEN_TEXT_RE = re.compile("[\x00-\x08\x0b-\x1f\x7f\ud800-\udfff]")
PLAIN_UNIT_RE = re.compile(r"[a-z][a-z_]{0,31}")
#: ``YYYY-MM-DD``, and RFC 3339-like datetimes (seconds and their fraction optional). The
#: offset is optional here so that a naive datetime gets its own, clearer refusal.
ISO_DATE_RE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
ISO_DATETIME_RE = re.compile(
    r"[0-9]{4}-[0-9]{2}-[0-9]{2}[Tt ][0-9]{2}:[0-9]{2}(:[0-9]{2}(\.[0-9]+)?)?(Z|[+-][0-9]{2}:[0-9]{2})?"
)
#: How much of a client's value an error message quotes.
QUOTE_LIMIT = 80

#: Amounts beyond these bounds are refused: a bargained quantity never needs them,
#: and unbounded exponents would let one request allocate huge strings.
MAX_INTEGER_DIGITS = 30
MAX_FRACTION_DIGITS = 18

OccurredAt = date | datetime
"""When a fact happened in the world: a date, or a datetime that carries its offset."""


def quoted(value: object) -> str:
    """A client's value as an error message quotes it: its repr, cut short when long."""
    if isinstance(value, str) and len(value) > QUOTE_LIMIT:
        return repr(value[:QUOTE_LIMIT] + "…")
    text = repr(value)
    return text if len(text) <= QUOTE_LIMIT else text[:QUOTE_LIMIT] + "…"


@cache
def iso4217_codes() -> frozenset[str]:
    """The active ISO 4217 currency codes (from pycountry's copy of the standard)."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.currencies)


ACTOR_CODE_RE = re.compile(r"[A-Z]{3} [A-Z]{3}(?: [A-Z]{3})?")
"""A PLOVER actor code: a top-level code, a primary sector, an optional secondary code."""
NON_STATE_ACTORS = frozenset(("IGO", "NGO", "ISM", "IMG", "MNC"))
"""The PLOVER manual's top-level codes for actors that are not a country ("Actor codes")."""
PRIMARY_SECTORS = frozenset(
    [
        "GOV",
        "JUD",
        "LEG",
        "MIL",
        "COP",
        "OPP",
        "PTY",
        "REB",
        "PRM",
        "SPY",
        "UAF",
        "CVL",
        "ELI",
        "BUS",
        "EDU",
        "MED",
        "LAB",
        "AGR",
        "JRN",
        "REF",
        "REL",
        "SOC",
        "CRM",
    ]
)
"""The PLOVER manual's sector primary codes; the secondary code is left open there."""


@cache
def iso3166_alpha3() -> frozenset[str]:
    """ISO 3166-1 alpha-3 country codes (pycountry's copy of the standard)."""
    import pycountry

    return frozenset(c.alpha_3 for c in pycountry.countries)


def check_actor_code(code: str, field: str) -> str:
    """``KOR GOV``: a country (ISO 3166 alpha-3) or non-state code, then a PLOVER sector."""
    if not ACTOR_CODE_RE.fullmatch(code):
        raise InvalidValue(
            f"actor code {quoted(code)} is a country code and a sector, e.g. 'KOR GOV', "
            "'USA BUS', with at most one secondary code (PLOVER)",
            field=field,
        )
    top, sector = code[:3], code[4:7]
    if top not in iso3166_alpha3() and top not in NON_STATE_ACTORS:
        raise InvalidValue(
            f"actor code {quoted(code)}: {top} is not an ISO 3166 alpha-3 country code "
            f"(nor one of PLOVER's {', '.join(sorted(NON_STATE_ACTORS))})",
            field=field,
        )
    if sector not in PRIMARY_SECTORS:
        raise InvalidValue(
            f"actor code {quoted(code)}: {sector} is not a PLOVER sector "
            f"({', '.join(sorted(PRIMARY_SECTORS))})",
            field=field,
        )
    return code


def is_currency(unit: str) -> bool:
    return unit in iso4217_codes()


def check_unit(unit: str, field: str = "unit") -> str:
    """A term's unit: an ISO 4217 code, or a plain lower-case word such as `percent`."""
    if is_currency(unit) or PLAIN_UNIT_RE.fullmatch(unit):
        return unit
    raise InvalidValue(
        f"unit {quoted(unit)} is neither an ISO 4217 currency code nor a plain lower-case word",
        field=field,
    )


def check_currency(code: str, field: str) -> str:
    if not is_currency(code):
        raise InvalidValue(f"{quoted(code)} is not an ISO 4217 currency code", field=field)
    return code


def check_pattern(value: str, pattern: re.Pattern[str], what: str, field: str) -> str:
    if not pattern.fullmatch(value):
        raise InvalidValue(f"{what} {quoted(value)} must match {pattern.pattern}", field=field)
    return value


def check_text(value: str, field: str, *, max_length: int = 10_000, required: bool = True) -> str:
    """Free text: no control characters other than newline and tab, bounded in length."""
    if required and not value.strip():
        raise InvalidValue(f"{field} must not be blank", field=field)
    if len(value) > max_length:
        raise InvalidValue(f"{field} is longer than {max_length} characters", field=field)
    bad = FORBIDDEN_TEXT_RE.search(value)
    if bad is not None:
        what = "a lone surrogate" if bad.group() >= "\ud800" else "a control character"
        raise InvalidValue(f"{field} contains {what}", field=field)
    return value


BIDI_CONTROLS_RE = re.compile("[\u202a-\u202e\u2066-\u2069]")
"""Embeddings, overrides and isolates: they reorder the text around a name (Trojan Source)."""
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me"})
_INVISIBLE_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")  # fillers, blank


def is_invisible(char: str) -> bool:
    return char in _INVISIBLE_LETTERS or unicodedata.category(char) in _INVISIBLE_CATEGORIES


def check_name(value: str, field: str, *, max_length: int = 500) -> str:
    """A name or title: text that shows something, and no bidi override reordering it."""
    check_text(value, field, max_length=max_length)
    if BIDI_CONTROLS_RE.search(value):
        raise InvalidValue(
            f"{field} contains a bidirectional override or isolate (U+202A-U+202E, U+2066-U+2069)",
            field=field,
        )
    if all(is_invisible(c) for c in value):
        raise InvalidValue(
            f"{field} must not be blank (it has only invisible characters)", field=field
        )
    return value


def to_amount(value: Decimal | str | int, field: str = "amount") -> Decimal:
    """A finite decimal in plain notation (``5E+9`` becomes ``5000000000``), within bounds."""
    if isinstance(value, float):
        raise InvalidValue("amounts are decimals, never binary floats", field=field)
    if isinstance(value, str) and not value.isascii():
        # Decimal() reads any script's digits ("٣٤" is 34): a ledger keeps what was written.
        raise InvalidValue(f"{quoted(value)} is not a decimal number", field=field)
    try:
        amount = value if isinstance(value, Decimal) else Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidValue(f"{quoted(value)} is not a decimal number", field=field) from None
    if not amount.is_finite():
        raise InvalidValue("an amount must be a finite number", field=field)
    _, digits, exponent = amount.as_tuple()
    if not isinstance(exponent, int):  # only NaN and infinities have a letter exponent
        raise InvalidValue("an amount must be a finite number", field=field)
    integer_digits = len(digits) + exponent
    fraction_digits = -exponent if exponent < 0 else 0
    if integer_digits > MAX_INTEGER_DIGITS or fraction_digits > MAX_FRACTION_DIGITS:
        raise InvalidValue(
            f"an amount may have at most {MAX_INTEGER_DIGITS} integer and "
            f"{MAX_FRACTION_DIGITS} fractional digits",
            field=field,
        )
    if exponent <= 0 and type(amount) is Decimal and amount:
        return amount  # already plain: format() and Decimal() would rebuild it digit for digit
    plain = Decimal(format(amount, "f"))
    return plain + 0 if plain == 0 else plain  # -0 becomes 0


_MIDNIGHT_UTC = "T00:00:00.000000+00:00"


def sort_key(at: OccurredAt) -> str:
    """Orders time points: a date sorts at 00:00 UTC of that day.

    The key is a fixed-width UTC ISO string, so keys compare correctly as strings.
    """
    if type(at) is date:
        # What the general case makes of a date, without building the datetime (an append
        # asks for several keys): tests/properties/test_domain_fast_paths.py holds them equal.
        return at.isoformat() + _MIDNIGHT_UTC
    if isinstance(at, datetime):
        moment = at.astimezone(UTC)
    else:
        moment = datetime.combine(at, time(0, 0), tzinfo=UTC)
    return moment.isoformat(timespec="microseconds")


def end_of_key(at: OccurredAt) -> str:
    """The last key a time point covers: a whole day for a date, the instant for a datetime.

    ``as_of=<date>`` includes everything that occurred on that date.
    """
    if isinstance(at, datetime):
        return sort_key(at)
    return datetime.combine(at, time.max, tzinfo=UTC).isoformat(timespec="microseconds")


def parse_occurred_at(value: str | date | datetime, field: str = "occurred_at") -> OccurredAt:
    """An ISO date, or an ISO datetime with an offset; the precision given is kept."""
    if isinstance(value, datetime):
        parsed: OccurredAt = value
    elif isinstance(value, date):
        return value
    else:
        text = value.strip()
        try:
            # Python also reads ISO week dates, ordinal dates and any separator: not ours.
            if ISO_DATE_RE.fullmatch(text):
                parsed = date.fromisoformat(text)
            elif ISO_DATETIME_RE.fullmatch(text):
                parsed = datetime.fromisoformat(text)
            else:
                raise ValueError(text)
        except ValueError:
            raise InvalidValue(
                f"{quoted(value)} is not an ISO 8601 date or datetime", field=field
            ) from None
    if isinstance(parsed, datetime) and parsed.utcoffset() is None:
        raise InvalidValue(
            "a datetime must carry its UTC offset (e.g. 2020-04-06T20:30:00+09:00)", field=field
        )
    if isinstance(parsed, datetime):
        # sort_key() converts to UTC; at the edges of the calendar that overflows.
        try:
            parsed.astimezone(UTC)
        except OverflowError:
            raise InvalidValue(f"{quoted(value)} is out of range in UTC", field=field) from None
    return parsed


def format_occurred_at(at: OccurredAt) -> str:
    return at.isoformat()


@dataclass(frozen=True)
class Quantity:
    amount: Decimal
    unit: str


@dataclass(frozen=True)
class Source:
    title: str
    url: str | None = None
    publisher: str | None = None
    published_on: date | None = None


@dataclass(frozen=True)
class Party:
    id: str
    name: str
    actor_code: str | None = None
    """PLOVER/CAMEO actor code: ISO 3166 alpha-3 country and a sector, e.g. ``KOR GOV``."""


@dataclass(frozen=True)
class Term:
    id: str
    name: str
    unit: str


@dataclass(frozen=True)
class Delegation:
    party: str
    lead: str
    members: tuple[str, ...] = ()


@dataclass(frozen=True)
class Participant:
    party: str
    name: str
    role: str | None = None


@dataclass(frozen=True)
class Readout:
    party: str
    summary: str
    sources: tuple[Source, ...] = ()


VALUE_TYPES: tuple[type, ...] = (Quantity, Source, Party, Term, Delegation, Participant, Readout)
