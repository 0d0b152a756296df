"""Error messages quote a client's value, but never all of a long one."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

import pytest

from domain.errors import InvalidValue, UnknownParty
from domain.facts import NegotiationOpened, StatementMade
from domain.ledger import Ledger
from domain.values import (
    QUOTE_LIMIT,
    SLUG_RE,
    Party,
    Term,
    check_currency,
    check_pattern,
    check_unit,
    parse_occurred_at,
    quoted,
    to_amount,
)

LONG = "x" * 100_000


def test_a_short_value_is_quoted_whole() -> None:
    assert quoted("ROK") == "'ROK'"
    assert quoted(12) == "12"


def test_a_long_text_is_quoted_cut_short_with_an_ellipsis() -> None:
    text = quoted(LONG)

    assert text == repr("x" * QUOTE_LIMIT + "…")


def test_a_long_value_of_another_type_is_cut_short_too() -> None:
    text = quoted(list(range(1000)))

    assert len(text) == QUOTE_LIMIT + 1
    assert text.endswith("…")


@pytest.mark.parametrize(
    "refuse",
    [
        lambda: to_amount(LONG),
        lambda: parse_occurred_at(LONG),
        lambda: check_unit(LONG),
        lambda: check_currency(LONG, "base"),
        lambda: check_pattern(LONG, SLUG_RE, "slug", "slug"),
    ],
    ids=["amount", "occurred_at", "unit", "currency", "pattern"],
)
def test_value_errors_quote_at_most_a_short_part_of_a_long_value(
    refuse: Callable[[], object],
) -> None:
    with pytest.raises(InvalidValue) as refused:
        refuse()

    message = str(refused.value)
    assert "…" in message
    assert len(message) < QUOTE_LIMIT + 200


def test_a_rule_error_quotes_at_most_a_short_part_of_a_long_party_id() -> None:
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"})
    ledger.open_negotiation(
        NegotiationOpened(slug="talks", title="Talks", occurred_at=date(2019, 9, 24)),
        [Party("USA", "United States"), Party("ROK", "Korea")],
        [Term("cost", "Cost", "KRW")],
    )
    statement = StatementMade(party=LONG, speaker="A", summary="s", occurred_at=date(2020, 1, 1))

    with pytest.raises(UnknownParty) as refused:
        ledger.record("talks", [statement])

    assert "…" in str(refused.value)
    assert len(str(refused.value)) < QUOTE_LIMIT + 200
