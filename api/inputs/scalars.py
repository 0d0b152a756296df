"""The scalar input types of requests and files: decimals, dates, time points, free-form JSON.

Amounts are decimals written as JSON strings (JSON integers are accepted too); a JSON number
with a fraction is a binary float by the time it is parsed, so it is refused rather than
silently rounded. ``occurred_at`` stays a string here: the domain parses it and decides.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    ValidationInfo,
    WithJsonSchema,
)

from domain.canonical import FORMAT_KEY, LEDGER_FORMAT, MAX_SAFE_INTEGER
from domain.errors import InvalidValue
from domain.negotiation import MAX_DETAILS_DEPTH
from domain.values import (
    ISO_DATE_RE,
    MAX_FRACTION_DIGITS,
    MAX_INTEGER_DIGITS,
    QUOTE_LIMIT,
    to_amount,
)

FLOAT_REFUSED = (
    'send decimals as strings (e.g. "1389000000000"): a JSON number with a fraction '
    "is a binary float and would lose digits"
)

UNSAFE_INTEGER = (
    f"integers are limited to ±(2^53 - 1) = ±{MAX_SAFE_INTEGER}: JSON numbers beyond that "
    'lose digits in JavaScript and RFC 8785 refuses them; send them as strings ("12345…")'
)

AMOUNT_PATTERN = r"^-?[0-9]+(\.[0-9]+)?([eE][+-]?[0-9]+)?$"
"""What an amount string may be, exactly as the OpenAPI document says: no sign but "-", no
blanks, no "_", digits on both sides of a point; an exponent is read (``5E+9``) and the amount
kept in plain notation."""
_AMOUNT_RE = re.compile(AMOUNT_PATTERN, re.ASCII)


def _amount(value: Any) -> Decimal:
    if isinstance(value, str) and not _AMOUNT_RE.fullmatch(value):
        raise ValueError(
            f"{value[:64]!r} is not a decimal number as the API writes them: "
            'digits with an optional "-" and fractional part, e.g. "1389000000000.5"'
        )
    if isinstance(value, bool):
        raise ValueError('an amount is a decimal string such as "1389000000000"')
    if isinstance(value, float):
        raise ValueError(FLOAT_REFUSED)
    if not isinstance(value, str | int | Decimal):
        raise ValueError('an amount is a decimal string such as "1389000000000"')
    try:
        return to_amount(value)
    except InvalidValue as e:
        raise ValueError(e.detail) from None


def _decimal_text(value: Decimal) -> str:
    return format(value, "f")


Amount = Annotated[
    Decimal,
    BeforeValidator(_amount),
    PlainSerializer(_decimal_text, return_type=str),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": AMOUNT_PATTERN},
                {"type": "integer"},
            ],
            "description": "A decimal as a JSON string, or a JSON integer: at most "
            f"{MAX_INTEGER_DIGITS} integer and {MAX_FRACTION_DIGITS} fractional digits once "
            "written out in plain notation (an exponent is read: 5E+9 is 5000000000).",
            "examples": ["1389000000000"],
        }
    ),
]


def _iso_date(value: Any) -> date:
    if isinstance(value, date):
        return value
    # ISO_DATE_RE, not only the length: Python also reads week dates such as 2020-W15-1.
    if not isinstance(value, str) or not ISO_DATE_RE.fullmatch(value):
        raise ValueError("a date is an ISO 8601 string such as 2020-04-07")
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise ValueError("a date is an ISO 8601 string such as 2020-04-07") from None


IsoDate = Annotated[
    date,
    BeforeValidator(_iso_date),
    WithJsonSchema({"type": "string", "format": "date", "examples": ["2020-04-07"]}),
]

OccurredAtText = Annotated[
    str,
    Field(
        description="When it happened in the world: an ISO date, or a datetime with its offset.",
        examples=["2020-04-06T20:30:00+09:00", "2020-04-06"],
    ),
]


def _details_path(path: tuple[str | int, ...]) -> str:
    """``details.a[2].b`` for a message: keys are the client's text, so cut short and with
    lone surrogates escaped (pydantic cannot carry them in an error)."""
    text = "details"
    for segment in path:
        if isinstance(segment, int):
            text += f"[{segment}]"
        else:
            key = segment if len(segment) <= QUOTE_LIMIT else segment[:QUOTE_LIMIT] + "…"
            text += "." + key.encode("utf-8", "backslashreplace").decode("utf-8")
    return text


def _without_floats(value: Any, info: ValidationInfo) -> Any:
    """Free-form JSON where every number is an int: floats would put binary rounding on record.

    Integers stay within ±(2^53 - 1), which RFC 8785 (ledger format 2) hashes exactly; only
    a format-1 event being imported (``context={"ledger_format": 1}``) keeps larger ones.
    Walked with a stack, not recursion, and no deeper than the domain keeps: a body nested
    thousands deep is refused, never a RecursionError.
    """
    context = info.context if isinstance(info.context, dict) else {}
    safe_only = context.get(FORMAT_KEY, LEDGER_FORMAT) >= 2
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if len(path) > MAX_DETAILS_DEPTH:
            raise ValueError(
                f"{_details_path(path)} is nested too deeply (at most {MAX_DETAILS_DEPTH} levels)"
            )
        if isinstance(node, float):
            raise ValueError(f"{_details_path(path)}: {FLOAT_REFUSED}")
        if (
            safe_only
            and isinstance(node, int)
            and not isinstance(node, bool)
            and abs(node) > MAX_SAFE_INTEGER
        ):
            raise ValueError(f"{_details_path(path)}: {UNSAFE_INTEGER}")
        # Pushed in reverse, so the first offending value in the body is the one reported.
        if isinstance(node, dict):
            stack.extend((v, (*path, k)) for k, v in reversed(node.items()))
        elif isinstance(node, list):
            stack.extend((node[i], (*path, i)) for i in reversed(range(len(node))))
    return value


Details = Annotated[dict[str, Any], AfterValidator(_without_floats)]


class Strict(BaseModel):
    """Unknown fields are refused: a typo must not silently drop a fact's detail."""

    model_config = ConfigDict(extra="forbid")
