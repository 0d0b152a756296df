"""Checks of a fact's own fields, which need nothing of the negotiation's state."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID

from domain import errors, facts
from domain.canonical import MAX_SAFE_INTEGER
from domain.values import (
    MAX_INTEGER_DIGITS,
    OccurredAt,
    Source,
    check_text,
    parse_occurred_at,
    quoted,
    sort_key,
    to_amount,
)

#: How far ahead of the recording clock a date may lie (the widest UTC offset): the day has
#: begun somewhere on Earth.
FUTURE_TOLERANCE = timedelta(hours=14)
#: How far ahead of the recording clock a datetime may lie: it names an instant, so only the
#: clocks' disagreement is tolerated.
CLOCK_SKEW = timedelta(minutes=5)
MAX_DETAILS_DEPTH = 16
MAX_LIST_LENGTH = 200


def checked_json(value: Any, field: str, depth: int) -> Any:
    """Free-form JSON data, normalised; refuses what storage or the hash would not keep."""
    if depth > MAX_DETAILS_DEPTH:
        raise errors.InvalidValue(f"{field} is nested too deeply", field=field)
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return check_text(value, field, required=False)
    if isinstance(value, int):
        if abs(value) >= 10**MAX_INTEGER_DIGITS:
            raise errors.InvalidValue(f"{field} is too large", field=field)
        return value
    if isinstance(value, Decimal):
        return to_amount(value, field)
    if isinstance(value, list | tuple):
        check_length(value, field)
        return [checked_json(v, f"{field}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, dict):
        check_length(list(value), field)
        checked: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise errors.InvalidValue(f"{field}: keys are strings", field=field)
            check_text(k, f"{field}.{k}", max_length=500)
            # the store marks its own encoded values with this key
            if k == "_type_":
                raise errors.InvalidValue(f"{field}: the key '_type_' is reserved", field=field)
            checked[k] = checked_json(v, f"{field}.{k}", depth + 1)
        return checked
    what = "binary floats are not accepted, use decimals" if isinstance(value, float) else ""
    raise errors.InvalidValue(
        f"{field}: {what or type(value).__name__ + ' is not JSON data'}", field=field
    )


def check_safe_integers(value: Any, field: str) -> None:
    """Refuses integers RFC 8785 cannot hash exactly (beyond ±(2^53 - 1), a double's reach)."""
    if isinstance(value, bool) or value is None:
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_INTEGER:
            raise errors.InvalidValue(
                f"{field}: integers are limited to ±(2^53 - 1) = ±{MAX_SAFE_INTEGER} "
                "(JSON numbers beyond that lose precision); send larger values as text",
                field=field,
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_safe_integers(item, f"{field}.{key}")
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            check_safe_integers(item, f"{field}[{index}]")


def event_ref(value: str, field: str) -> str:
    try:
        return str(UUID(value))
    except (ValueError, AttributeError, TypeError):
        raise errors.InvalidValue(
            f"{quoted(value)} is not an event id (a UUID)", field=field
        ) from None


def check_length(items: tuple[Any, ...] | list[Any], field: str) -> None:
    if len(items) > MAX_LIST_LENGTH:
        raise errors.InvalidValue(f"{field} has more than {MAX_LIST_LENGTH} items", field=field)


def check_topics(topics: tuple[str, ...]) -> None:
    check_length(topics, "topics")
    for i, topic in enumerate(topics):
        check_text(topic, f"topics[{i}]", max_length=500)


def check_sources(sources: tuple[Source, ...], field: str) -> None:
    check_length(sources, field)
    for i, source in enumerate(sources):
        check_text(source.title, f"{field}[{i}].title", max_length=1_000)
        if source.url is not None:
            check_text(source.url, f"{field}[{i}].url", max_length=2_000)
            if not source.url.startswith(("http://", "https://")):
                raise errors.InvalidValue("a source url is http(s)", field=f"{field}[{i}].url")
        if source.publisher is not None:
            check_text(source.publisher, f"{field}[{i}].publisher", max_length=500)


def checked_common(fact: facts.Fact, recorded_at: datetime) -> Any:
    """Checks the fields every fact has; returns the fact with a parsed ``occurred_at``."""
    occurred_at: OccurredAt = parse_occurred_at(fact.occurred_at)
    tolerance = CLOCK_SKEW if isinstance(occurred_at, datetime) else FUTURE_TOLERANCE
    if sort_key(occurred_at) > sort_key(recorded_at.astimezone(UTC) + tolerance):
        raise errors.InvalidValue(
            f"occurred_at {occurred_at.isoformat()} is in the future", field="occurred_at"
        )
    if fact.note is not None:
        check_text(fact.note, "note")
    check_sources(fact.sources, "sources")
    if occurred_at is fact.occurred_at:  # already a date or datetime: nothing to replace
        return fact
    return dataclasses.replace(fact, occurred_at=occurred_at)
