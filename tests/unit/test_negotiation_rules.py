"""Every domain rule of the contract, given-when-then, on the pure domain with a fixed clock."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, Protocol
from uuid import UUID

import pytest
from support import memory_ledger

from domain import errors, facts
from domain.ledger import Ledger, project_negotiation
from domain.negotiation import Ref
from domain.values import Party, Quantity, Term

SLUG = "sma"
OPENED = date(2019, 9, 1)
KST = timezone(timedelta(hours=9))


class FixedClock(Protocol):
    """The ``clock`` fixture of tests/conftest.py."""

    now: datetime

    def __call__(self) -> datetime: ...


# ----------------------------------------------------------------- given


@pytest.fixture
def book(clock: FixedClock) -> Ledger:
    """A ledger holding one negotiation: ROK and USA bargain over money and a percentage."""
    ledger = memory_ledger(clock)
    ledger.open_negotiation(
        facts.NegotiationOpened(slug=SLUG, title="SMA talks", occurred_at=OPENED),
        [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD"), Term("increase", "Rise", "percent")],
    )
    return ledger


def record(book: Ledger, *new: facts.Fact) -> list[str]:
    """Records facts in one request; returns their event ids."""
    return [str(e.event_id) for e in book.record(SLUG, new).events]


def one(book: Ledger, fact: facts.Fact) -> str:
    return record(book, fact)[0]


def refused(book: Ledger, error: type[errors.ParleyError], *new: facts.Fact) -> Any:
    """Asserts the request fails with exactly ``error`` and leaves the negotiation unchanged."""
    before = book.get(SLUG)
    with pytest.raises(errors.ParleyError) as caught:
        book.record(SLUG, new)
    assert type(caught.value) is error, caught.value
    after = book.get(SLUG)
    assert after.version == before.version
    assert vars(after) == vars(before)
    assert len(book.stream(SLUG)) == before.version
    return caught.value


def usd(amount: str, unit: str = "USD") -> dict[str, Quantity]:
    return {"contribution": Quantity(Decimal(amount), unit)}


def offer(
    party: str = "USA",
    on: date | datetime | str = date(2019, 9, 24),
    values: dict[str, Quantity] | None = None,
    kind: Any = "demand",
) -> facts.OfferMade:
    return facts.OfferMade(
        party=party, kind=kind, values=usd("5E+9") if values is None else values, occurred_at=on
    )


def round_(number: int, on: date | datetime | str) -> facts.RoundHeld:
    return facts.RoundHeld(number=number, occurred_at=on)


def status(value: Any, on: date | datetime | str) -> facts.StatusChanged:
    return facts.StatusChanged(status=value, occurred_at=on)


def retract(event_id: str, on: date | str = date(2021, 1, 1)) -> facts.EventRetracted:
    return facts.EventRetracted(retracted_event_id=event_id, reason="wrong", occurred_at=on)


def statement(on: date | datetime | str, party: str = "ROK", summary: str = "x") -> facts.Fact:
    return facts.StatementMade(party=party, speaker="Jeong Eun-bo", summary=summary, occurred_at=on)


def withdraw(offer_id: str, party: str = "USA", on: Any = date(2019, 10, 1)) -> facts.Fact:
    return facts.OfferWithdrawn(party=party, offer_event_id=offer_id, occurred_at=on)


def reject_offer(offer_id: str, party: str = "ROK", on: Any = date(2019, 10, 1)) -> facts.Fact:
    return facts.OfferRejected(party=party, offer_event_id=offer_id, occurred_at=on)


def agreement(on: Any = date(2020, 3, 31)) -> facts.AgreementReached:
    return facts.AgreementReached(status="tentative", values=usd("1.0E+9"), occurred_at=on)


def reject_agreement(agreement_id: str, on: Any = date(2020, 4, 10)) -> facts.Fact:
    return facts.AgreementRejected(
        party="USA", agreement_event_id=agreement_id, reason="too low", occurred_at=on
    )


def raise_issue(issue_id: str = "cost", on: Any = date(2019, 11, 1), **kw: Any) -> facts.Fact:
    return facts.IssueRaised(
        issue_id=issue_id, title="Cost sharing", raised_by="USA", occurred_at=on, **kw
    )


def resolve_issue(issue_id: str = "cost", on: Any = date(2019, 12, 1)) -> facts.Fact:
    return facts.IssueResolved(issue_id=issue_id, resolution="agreed", occurred_at=on)


def rate(base: str, quote: str, value: str, on: Any = date(2019, 9, 1)) -> facts.Fact:
    return facts.ExchangeRateRecorded(base=base, quote=quote, rate=Decimal(value), occurred_at=on)


def stored(book: Ledger, event_id: str) -> Any:
    return next(e for e in book.stream(SLUG) if str(e.event_id) == event_id)


# ------------------------------------------------------- parties and terms


def test_offer_from_unknown_party_is_refused(book: Ledger) -> None:
    error = refused(book, errors.UnknownParty, offer(party="JPN"))
    assert error.field == "[0].party"


def test_offer_on_an_undefined_term_is_refused(book: Ledger) -> None:
    refused(book, errors.UnknownTerm, offer(values={"troops": Quantity(Decimal(1), "count")}))


def test_quantity_in_the_terms_own_unit_is_accepted(book: Ledger) -> None:
    one(book, offer(values={"increase": Quantity(Decimal("13"), "percent")}))
    assert book.get(SLUG).version == 6


def test_quantity_in_another_currency_is_accepted_for_a_money_term(book: Ledger) -> None:
    event_id = one(book, offer(party="ROK", values=usd("1.1E+12", "KRW")))
    assert stored(book, event_id).values["contribution"] == Quantity(
        Decimal("1100000000000"), "KRW"
    )


def test_quantity_in_another_unit_is_refused_for_a_percent_term(book: Ledger) -> None:
    refused(book, errors.UnitMismatch, offer(values={"increase": Quantity(Decimal(13), "USD")}))


def test_quantity_in_a_plain_unit_is_refused_for_a_money_term(book: Ledger) -> None:
    refused(book, errors.UnitMismatch, offer(values=usd("13", "percent")))


def test_a_party_joining_twice_is_refused(book: Ledger) -> None:
    refused(
        book, errors.DuplicateParty, facts.PartyJoined(party=Party("USA", "US"), occurred_at=OPENED)
    )


def test_a_term_defined_twice_is_refused(book: Ledger) -> None:
    term = Term("contribution", "Again", "KRW")
    refused(book, errors.DuplicateTerm, facts.TermDefined(term=term, occurred_at=OPENED))


@pytest.mark.parametrize("party_id", ["", "has space", "X" * 33, "ROK!"])
def test_a_malformed_party_id_is_refused(book: Ledger, party_id: str) -> None:
    joined = facts.PartyJoined(party=Party(party_id, "Someone"), occurred_at=OPENED)
    refused(book, errors.InvalidValue, joined)


@pytest.mark.parametrize("unit", ["Percent", "US$", "", "a" * 33])
def test_a_unit_that_is_neither_a_currency_nor_a_plain_word_is_refused(
    book: Ledger, unit: str
) -> None:
    defined = facts.TermDefined(term=Term("troops", "Troops", unit), occurred_at=OPENED)
    refused(book, errors.InvalidValue, defined)


def test_a_plain_word_unit_is_accepted(book: Ledger) -> None:
    one(book, facts.TermDefined(term=Term("troops", "Troops", "count"), occurred_at=OPENED))
    assert book.get(SLUG).terms["troops"] == Term("troops", "Troops", "count")


def test_a_delegation_of_an_unknown_party_is_refused(book: Ledger) -> None:
    held = facts.RoundHeld(
        number=1,
        occurred_at=date(2019, 9, 24),
        delegations=(facts.Delegation(party="JPN", lead="Someone"),),
    )
    refused(book, errors.UnknownParty, held)


def test_a_call_initiated_by_an_unknown_party_is_refused(book: Ledger) -> None:
    call = facts.CallHeld(channel="phone", initiated_by="JPN", occurred_at=date(2020, 4, 1))
    refused(book, errors.UnknownParty, call)


def test_a_readout_of_an_unknown_party_is_refused(book: Ledger) -> None:
    meeting = facts.MeetingHeld(
        occurred_at=date(2020, 4, 1), readouts=(facts.Readout(party="JPN", summary="fine"),)
    )
    refused(book, errors.UnknownParty, meeting)


def test_an_unknown_offer_kind_is_refused(book: Ledger) -> None:
    refused(book, errors.InvalidValue, offer(kind="ultimatum"))


# ------------------------------------------------------------------ rounds


def test_a_round_number_already_on_record_is_refused(book: Ledger) -> None:
    one(book, round_(1, date(2019, 9, 24)))
    refused(book, errors.RoundNumberTaken, round_(1, date(2019, 10, 23)))


def test_a_higher_round_number_that_occurred_earlier_is_refused(book: Ledger) -> None:
    one(book, round_(2, date(2019, 10, 23)))
    refused(book, errors.RoundOutOfOrder, round_(3, date(2019, 9, 24)))


def test_a_lower_round_number_that_occurred_later_is_refused(book: Ledger) -> None:
    one(book, round_(2, date(2019, 10, 23)))
    refused(book, errors.RoundOutOfOrder, round_(1, date(2019, 11, 18)))


def test_rounds_on_the_same_date_are_allowed(book: Ledger) -> None:
    one(book, round_(2, date(2019, 10, 23)))
    one(book, round_(1, date(2019, 10, 23)))
    assert set(book.get(SLUG).rounds) == {1, 2}


def test_backfilling_an_earlier_round_is_allowed(book: Ledger) -> None:
    one(book, round_(3, date(2019, 11, 18)))
    one(book, round_(1, date(2019, 9, 24)))
    one(book, round_(2, date(2019, 10, 23)))
    assert sorted(book.get(SLUG).rounds) == [1, 2, 3]


def test_round_order_compares_instants_not_local_dates(book: Ledger) -> None:
    # 08:00 in Seoul on the 24th is 23:00 UTC on the 23rd: before a round dated the 24th
    one(book, round_(2, date(2019, 9, 24)))
    refused(book, errors.RoundOutOfOrder, round_(3, datetime(2019, 9, 24, 8, 0, tzinfo=KST)))


def test_a_retracted_round_frees_its_number(book: Ledger) -> None:
    first = one(book, round_(1, date(2019, 9, 24)))
    one(book, retract(first))
    one(book, round_(1, date(2019, 9, 25)))
    assert book.get(SLUG).rounds[1].key.startswith("2019-09-25")


@pytest.mark.parametrize("number", [0, -1, 100_001])
def test_a_round_number_out_of_range_is_refused(book: Ledger, number: int) -> None:
    refused(book, errors.InvalidValue, round_(number, date(2019, 9, 24)))


def test_a_round_that_ends_before_it_began_is_refused(book: Ledger) -> None:
    held = facts.RoundHeld(number=1, occurred_at=date(2019, 9, 24), ended_at=date(2019, 9, 23))
    refused(book, errors.InvalidValue, held)


# ------------------------------------------------- concluded and collapsed


@pytest.mark.parametrize("closing", ["concluded", "collapsed"])
@pytest.mark.parametrize(
    "late",
    [
        pytest.param(lambda ids: offer(on=date(2020, 6, 1)), id="offer_made"),
        pytest.param(lambda ids: round_(9, date(2020, 6, 1)), id="round_held"),
        pytest.param(lambda ids: statement(date(2020, 6, 1)), id="statement_made"),
        pytest.param(lambda ids: rate("USD", "KRW", "1200", date(2020, 6, 1)), id="rate"),
        pytest.param(lambda ids: withdraw(ids["offer"], on=date(2020, 6, 1)), id="withdrawal"),
        pytest.param(lambda ids: raise_issue(on=date(2020, 6, 1)), id="issue_raised"),
    ],
)
def test_events_after_a_close_are_refused(book: Ledger, closing: str, late: Any) -> None:
    ids = {"offer": one(book, offer())}
    one(book, status(closing, date(2020, 5, 1)))
    refused(book, errors.NegotiationClosed, late(ids))


@pytest.mark.parametrize(
    "late",
    [
        pytest.param(lambda ids: retract(ids["offer"], date(2020, 6, 1)), id="event_retracted"),
        pytest.param(lambda ids: status("suspended", date(2020, 6, 1)), id="status_changed"),
        pytest.param(lambda ids: agreement(date(2020, 6, 1)), id="agreement_reached"),
        pytest.param(
            lambda ids: reject_agreement(ids["agreement"], date(2020, 6, 1)),
            id="agreement_rejected",
        ),
    ],
)
def test_retractions_status_changes_and_agreements_may_follow_a_close(
    book: Ledger, late: Any
) -> None:
    ids = {"offer": one(book, offer()), "agreement": one(book, agreement(date(2020, 3, 31)))}
    one(book, status("collapsed", date(2020, 5, 1)))
    one(book, late(ids))
    assert book.get(SLUG).version == 9


def test_an_event_on_the_closing_moment_itself_is_allowed(book: Ledger) -> None:
    one(book, status("concluded", date(2020, 5, 1)))
    one(book, statement(date(2020, 5, 1)))
    refused(book, errors.NegotiationClosed, statement(datetime(2020, 5, 1, 0, 1, tzinfo=UTC)))


def test_backfilling_history_before_the_close_is_allowed(book: Ledger) -> None:
    one(book, status("concluded", date(2020, 5, 1)))
    one(book, offer(on=date(2020, 4, 30)))
    one(book, round_(1, date(2019, 9, 24)))
    assert book.get(SLUG).status == "concluded"


def test_reopening_with_status_open_allows_events_again(book: Ledger) -> None:
    one(book, status("collapsed", date(2020, 5, 1)))
    one(book, status("open", date(2020, 7, 1)))
    one(book, offer(on=date(2020, 7, 2)))
    refused(book, errors.NegotiationClosed, offer(on=date(2020, 6, 1)))


def test_a_suspension_does_not_close_the_negotiation(book: Ledger) -> None:
    one(book, status("suspended", date(2020, 5, 1)))
    one(book, offer(on=date(2020, 6, 1)))
    assert book.get(SLUG).status == "suspended"


def test_a_close_that_would_strand_later_events_is_refused(book: Ledger) -> None:
    one(book, offer(on=date(2020, 6, 1)))
    refused(book, errors.NegotiationClosed, status("concluded", date(2020, 5, 1)))


def test_a_close_after_a_later_reopening_strands_nothing_beyond_it(book: Ledger) -> None:
    one(book, status("open", date(2020, 6, 1)))
    one(book, offer(on=date(2020, 6, 2)))
    one(book, status("concluded", date(2020, 5, 1)))
    refused(book, errors.NegotiationClosed, offer(on=date(2020, 5, 15)))


def test_a_close_before_a_retracted_event_is_allowed(book: Ledger) -> None:
    late = one(book, offer(on=date(2020, 6, 1)))
    one(book, retract(late))
    one(book, status("concluded", date(2020, 5, 1)))
    assert book.get(SLUG).status == "concluded"


def test_retracting_a_reopening_that_would_strand_later_events_is_refused(book: Ledger) -> None:
    one(book, status("concluded", date(2020, 5, 1)))
    reopening = one(book, status("open", date(2020, 7, 1)))
    one(book, statement(date(2020, 8, 1)))
    refused(book, errors.NegotiationClosed, retract(reopening))


def test_retracting_a_reopening_with_nothing_after_it_is_allowed(book: Ledger) -> None:
    one(book, status("concluded", date(2020, 5, 1)))
    reopening = one(book, status("open", date(2020, 7, 1)))
    one(book, retract(reopening))
    assert book.get(SLUG).status == "concluded"


def test_retracting_a_close_allows_later_events_again(book: Ledger) -> None:
    close = one(book, status("collapsed", date(2020, 5, 1)))
    one(book, retract(close))
    one(book, offer(on=date(2020, 6, 1)))
    assert book.get(SLUG).status == "open"


def test_an_unknown_status_is_refused(book: Ledger) -> None:
    refused(book, errors.InvalidValue, status("paused", date(2020, 5, 1)))


# ------------------------------------------------------------- retractions


def test_an_event_is_retracted_at_most_once(book: Ledger) -> None:
    made = one(book, offer())
    one(book, retract(made))
    refused(book, errors.AlreadyRetracted, retract(made))


def test_a_retraction_naming_another_negotiations_event_is_refused(book: Ledger) -> None:
    other = book.open_negotiation(
        facts.NegotiationOpened(slug="other", title="Other", occurred_at=OPENED),
        [Party("USA", "United States")],
    )
    foreign = str(other.events[-1].event_id)
    error = refused(book, errors.UnknownEvent, retract(foreign))
    assert error.field == "[0].retracted_event_id"


def test_a_retraction_naming_no_event_is_refused(book: Ledger) -> None:
    refused(book, errors.UnknownEvent, retract(str(UUID(int=999))))


def test_a_retraction_naming_something_that_is_not_an_event_id_is_refused(book: Ledger) -> None:
    refused(book, errors.InvalidValue, retract("not-a-uuid"))


def test_an_event_id_in_another_spelling_names_the_same_event(book: Ledger) -> None:
    made = one(book, offer())
    retraction = one(book, retract(UUID(made).hex.upper()))
    assert stored(book, retraction).retracted_event_id == made


def test_negotiation_opened_is_not_retractable(book: Ledger) -> None:
    opened = str(book.stream(SLUG)[0].event_id)
    refused(book, errors.NotRetractable, retract(opened))


def test_a_retraction_is_not_retractable(book: Ledger) -> None:
    retraction = one(book, retract(one(book, offer())))
    refused(book, errors.NotRetractable, retract(retraction))


def test_a_party_in_use_cannot_be_retracted(book: Ledger) -> None:
    one(book, offer(party="USA"))
    usa_joined = book.get(SLUG).definitions[Ref.party("USA")]
    refused(book, errors.DefinitionInUse, retract(usa_joined))


def test_a_term_in_use_cannot_be_retracted(book: Ledger) -> None:
    one(book, offer())
    defined = book.get(SLUG).definitions[Ref.term("contribution")]
    refused(book, errors.DefinitionInUse, retract(defined))


def test_a_party_no_longer_in_use_can_be_retracted_and_then_cannot_act(book: Ledger) -> None:
    made = one(book, offer(party="USA"))
    one(book, retract(made))
    one(book, retract(book.get(SLUG).definitions[Ref.party("USA")]))
    assert "USA" not in book.get(SLUG).parties
    refused(book, errors.UnknownParty, offer(party="USA"))


def test_a_retracted_party_may_join_again(book: Ledger) -> None:
    one(book, retract(book.get(SLUG).definitions[Ref.party("USA")]))
    one(book, facts.PartyJoined(party=Party("USA", "United States"), occurred_at=OPENED))
    one(book, offer(party="USA"))
    assert book.get(SLUG).parties["USA"] == "United States"


def test_a_retracted_term_no_longer_takes_quantities(book: Ledger) -> None:
    one(book, retract(book.get(SLUG).definitions[Ref.term("increase")]))
    refused(book, errors.UnknownTerm, offer(values={"increase": Quantity(Decimal(5), "percent")}))


def test_a_retraction_needs_a_reason(book: Ledger) -> None:
    made = one(book, offer())
    blank = facts.EventRetracted(retracted_event_id=made, reason=" ", occurred_at=OPENED)
    refused(book, errors.InvalidValue, blank)


# -------------------------------------------------- withdrawals, rejections


def test_a_party_withdraws_its_own_live_offer(book: Ledger) -> None:
    made = one(book, offer(party="USA"))
    withdrawal = one(book, withdraw(made, party="USA"))
    assert book.get(SLUG).entries[made].withdrawn_by == withdrawal


def test_withdrawing_another_partys_offer_is_refused(book: Ledger) -> None:
    made = one(book, offer(party="USA"))
    refused(book, errors.NotOwnOffer, withdraw(made, party="ROK"))


def test_withdrawing_an_offer_twice_is_refused(book: Ledger) -> None:
    made = one(book, offer())
    one(book, withdraw(made))
    refused(book, errors.OfferNotLive, withdraw(made, on=date(2019, 10, 2)))


def test_withdrawing_a_retracted_offer_is_refused(book: Ledger) -> None:
    made = one(book, offer())
    one(book, retract(made))
    refused(book, errors.AlreadyRetracted, withdraw(made))


def test_retracting_a_withdrawal_makes_the_offer_live_again(book: Ledger) -> None:
    made = one(book, offer())
    one(book, retract(one(book, withdraw(made))))
    assert book.get(SLUG).entries[made].withdrawn_by is None
    one(book, withdraw(made, on=date(2019, 10, 5)))


def test_withdrawing_something_that_is_not_an_offer_is_refused(book: Ledger) -> None:
    said = one(book, statement(date(2019, 9, 24), party="USA"))
    refused(book, errors.WrongEventType, withdraw(said))


def test_withdrawing_an_offer_of_another_negotiation_is_refused(book: Ledger) -> None:
    refused(book, errors.UnknownEvent, withdraw(str(UUID(int=12345))))


def test_a_withdrawal_cannot_occur_before_the_offer(book: Ledger) -> None:
    made = one(book, offer(on=date(2019, 9, 24)))
    refused(book, errors.AnswerBeforeEvent, withdraw(made, on=date(2019, 9, 23)))


def test_a_withdrawal_may_occur_at_the_same_moment_as_the_offer(book: Ledger) -> None:
    made = one(book, offer(on=date(2019, 9, 24)))
    one(book, withdraw(made, on=date(2019, 9, 24)))


def test_rejecting_another_partys_offer_is_accepted(book: Ledger) -> None:
    made = one(book, offer(party="USA"))
    rejection = one(book, reject_offer(made, party="ROK"))
    assert stored(book, rejection).offer_event_id == made


def test_rejecting_its_own_offer_is_refused(book: Ledger) -> None:
    made = one(book, offer(party="USA"))
    refused(book, errors.OwnOfferRejected, reject_offer(made, party="USA"))


def test_rejecting_a_withdrawn_offer_is_refused(book: Ledger) -> None:
    made = one(book, offer())
    one(book, withdraw(made))
    refused(book, errors.OfferNotLive, reject_offer(made, on=date(2019, 10, 2)))


def test_a_rejection_cannot_occur_before_the_offer(book: Ledger) -> None:
    made = one(book, offer(on=date(2019, 9, 24)))
    refused(book, errors.AnswerBeforeEvent, reject_offer(made, on=date(2019, 9, 1)))


def test_a_rejection_by_an_unknown_party_is_refused(book: Ledger) -> None:
    made = one(book, offer())
    refused(book, errors.UnknownParty, reject_offer(made, party="JPN"))


# -------------------------------------------------------------- agreements


def test_an_agreement_rejection_names_an_agreement(book: Ledger) -> None:
    made = one(book, offer())
    refused(book, errors.WrongEventType, reject_agreement(made))


def test_an_agreement_rejection_cannot_occur_before_the_agreement(book: Ledger) -> None:
    reached = one(book, agreement(date(2020, 3, 31)))
    refused(book, errors.AnswerBeforeEvent, reject_agreement(reached, date(2020, 3, 30)))


def test_an_agreement_already_rejected_cannot_be_rejected_again(book: Ledger) -> None:
    reached = one(book, agreement())
    one(book, reject_agreement(reached))
    refused(book, errors.AgreementNotLive, reject_agreement(reached, date(2020, 4, 11)))


def test_retracting_a_rejection_makes_the_agreement_rejectable_again(book: Ledger) -> None:
    reached = one(book, agreement())
    one(book, retract(one(book, reject_agreement(reached))))
    one(book, reject_agreement(reached, date(2020, 4, 12)))


def test_rejecting_a_retracted_agreement_is_refused(book: Ledger) -> None:
    reached = one(book, agreement())
    one(book, retract(reached))
    refused(book, errors.AlreadyRetracted, reject_agreement(reached))


def test_agreement_values_follow_the_unit_rules(book: Ledger) -> None:
    bad = facts.AgreementReached(
        status="signed", values={"increase": Quantity(Decimal(13), "KRW")}, occurred_at=OPENED
    )
    refused(book, errors.UnitMismatch, bad)


def test_an_unknown_agreement_status_is_refused(book: Ledger) -> None:
    bad = facts.AgreementReached(status="agreed", values={}, occurred_at=OPENED)  # type: ignore[arg-type]
    refused(book, errors.InvalidValue, bad)


# ------------------------------------------------------------------ issues


def test_an_issue_raised_by_an_unknown_party_is_refused(book: Ledger) -> None:
    bad = facts.IssueRaised(issue_id="cost", title="Cost", raised_by="JPN", occurred_at=OPENED)
    refused(book, errors.UnknownParty, bad)


def test_an_issue_raised_twice_is_refused(book: Ledger) -> None:
    one(book, raise_issue())
    refused(book, errors.DuplicateIssue, raise_issue(on=date(2019, 11, 2)))


def test_resolving_an_unknown_issue_is_refused(book: Ledger) -> None:
    refused(book, errors.UnknownIssue, resolve_issue("troops"))


def test_resolving_an_issue_twice_is_refused(book: Ledger) -> None:
    one(book, raise_issue())
    one(book, resolve_issue())
    refused(book, errors.IssueAlreadyResolved, resolve_issue(on=date(2019, 12, 2)))


def test_an_issue_cannot_be_resolved_before_it_was_raised(book: Ledger) -> None:
    one(book, raise_issue(on=date(2019, 11, 1)))
    refused(book, errors.AnswerBeforeEvent, resolve_issue(on=date(2019, 10, 31)))


def test_retracting_a_resolution_reopens_the_issue(book: Ledger) -> None:
    one(book, raise_issue())
    one(book, retract(one(book, resolve_issue())))
    assert book.get(SLUG).issues["cost"].resolved is None
    one(book, resolve_issue(on=date(2019, 12, 3)))


def test_an_issue_with_a_live_resolution_cannot_be_retracted(book: Ledger) -> None:
    raised = one(book, raise_issue())
    one(book, resolve_issue())
    refused(book, errors.DefinitionInUse, retract(raised))


def test_a_retracted_issue_frees_its_id(book: Ledger) -> None:
    one(book, retract(one(book, raise_issue())))
    refused(book, errors.UnknownIssue, resolve_issue())
    one(book, raise_issue(on=date(2019, 11, 5)))


def test_issue_details_keep_decimals_in_plain_notation(book: Ledger) -> None:
    raised = one(book, raise_issue(details={"cost": Decimal("5E+9"), "items": ["a", 1, None]}))
    assert stored(book, raised).details == {"cost": Decimal(5000000000), "items": ["a", 1, None]}


@pytest.mark.parametrize(
    "details",
    [
        pytest.param({"cost": 1.5}, id="float"),
        pytest.param({"_type_": "decimal_str", "_data_": "1"}, id="storage-marker"),
        pytest.param({"x": "\x00"}, id="control-character"),
        pytest.param({"x": "\ud800"}, id="lone-surrogate"),
        pytest.param({1: "x"}, id="non-string-key"),
        pytest.param({"x": 10**40}, id="huge-integer"),
        pytest.param({"x": {1, 2}}, id="set"),
    ],
)
def test_issue_details_that_are_not_plain_json_are_refused(
    book: Ledger, details: dict[Any, Any]
) -> None:
    refused(book, errors.InvalidValue, raise_issue(details=details))


def test_issue_details_nested_too_deeply_are_refused(book: Ledger) -> None:
    deep: dict[str, Any] = {}
    for _ in range(50):
        deep = {"x": deep}
    refused(book, errors.InvalidValue, raise_issue(details=deep))


# ---------------------------------------------------------- exchange rates


def test_an_exchange_rate_is_recorded_in_plain_notation(book: Ledger) -> None:
    recorded = one(book, rate("USD", "KRW", "1.2E+3"))
    assert str(stored(book, recorded).rate) == "1200"


@pytest.mark.parametrize(
    ("base", "quote", "value"),
    [
        pytest.param("USD", "USD", "1", id="same-currency"),
        pytest.param("USD", "XYZ", "1200", id="unknown-quote"),
        pytest.param("dollar", "KRW", "1200", id="unknown-base"),
        pytest.param("USD", "KRW", "0", id="zero"),
        pytest.param("USD", "KRW", "-1200", id="negative"),
        pytest.param("USD", "KRW", "1E+40", id="too-large"),
    ],
)
def test_a_malformed_exchange_rate_is_refused(
    book: Ledger, base: str, quote: str, value: str
) -> None:
    refused(book, errors.InvalidValue, rate(base, quote, value))


# -------------------------------------------------------------------- time


def test_a_date_stays_a_date(book: Ledger) -> None:
    made = one(book, offer(on="2020-04-06"))
    at = stored(book, made).occurred_at
    assert type(at) is date
    assert at == date(2020, 4, 6)


def test_a_datetime_keeps_its_offset(book: Ledger) -> None:
    made = one(book, offer(on="2020-04-06T20:30:00+09:00"))
    at = stored(book, made).occurred_at
    assert isinstance(at, datetime)
    assert at.utcoffset() == timedelta(hours=9)
    assert at.isoformat() == "2020-04-06T20:30:00+09:00"


def test_a_datetime_without_offset_is_refused(book: Ledger) -> None:
    error = refused(book, errors.InvalidValue, offer(on="2020-04-06T20:30:00"))
    assert error.field == "[0].occurred_at"


@pytest.mark.parametrize("text", ["yesterday", "2020-13-01", "06/04/2020", ""])
def test_an_occurred_at_that_is_not_iso_8601_is_refused(book: Ledger, text: str) -> None:
    refused(book, errors.InvalidValue, offer(on=text))


def test_an_occurred_at_out_of_range_in_utc_is_refused(book: Ledger) -> None:
    refused(book, errors.InvalidValue, offer(on="0001-01-01T00:00:00+09:00"))


def test_a_date_in_the_future_is_refused(book: Ledger, clock: FixedClock) -> None:
    tomorrow_somewhere = clock.now.date() + timedelta(days=1)
    one(book, statement(tomorrow_somewhere))
    refused(book, errors.InvalidValue, statement(clock.now.date() + timedelta(days=2)))


def test_a_datetime_in_the_future_is_refused(book: Ledger, clock: FixedClock) -> None:
    one(book, statement(clock.now.astimezone(KST)))
    refused(book, errors.InvalidValue, statement(clock.now + timedelta(hours=1)))


# -------------------------------------------------------------------- text


@pytest.mark.parametrize("summary", ["bell\x07", "nul\x00", "del\x7f", "cr\r", "\ud800"])
def test_text_with_control_characters_is_refused(book: Ledger, summary: str) -> None:
    error = refused(book, errors.InvalidValue, statement(date(2020, 1, 1), summary=summary))
    assert error.field == "[0].summary"


def test_text_with_newlines_tabs_and_other_scripts_is_accepted(book: Ledger) -> None:
    said = one(book, statement(date(2020, 1, 1), summary="정은보:\n\t13% 인상"))
    assert stored(book, said).summary == "정은보:\n\t13% 인상"


def test_a_note_with_a_control_character_is_refused(book: Ledger) -> None:
    noted = facts.StatementMade(
        party="ROK", speaker="x", summary="y", note="\x1b[31m", occurred_at=OPENED
    )
    refused(book, errors.InvalidValue, noted)


def test_a_source_that_is_not_a_web_address_is_refused(book: Ledger) -> None:
    sourced = facts.StatementMade(
        party="ROK",
        speaker="x",
        summary="y",
        occurred_at=OPENED,
        sources=(facts.Source(title="Herald", url="javascript:alert(1)"),),
    )
    refused(book, errors.InvalidValue, sourced)


# ------------------------------------------------------------------ replay


def test_replaying_the_stored_events_gives_the_live_state(book: Ledger) -> None:
    made = one(book, offer(on="2019-09-24T10:00:00+09:00"))
    one(book, withdraw(made))
    one(book, round_(1, date(2019, 9, 24)))
    one(book, raise_issue())
    one(book, status("suspended", date(2020, 1, 1)))
    replayed = project_negotiation(None, book.stream(SLUG))
    assert vars(replayed) == vars(book.get(SLUG))


def test_a_recorded_negotiation_opened_is_refused(book: Ledger) -> None:
    again = facts.NegotiationOpened(slug=SLUG, title="Again", occurred_at=OPENED)
    refused(book, errors.InvalidValue, again)


def test_an_empty_batch_is_refused(book: Ledger) -> None:
    empty: Sequence[facts.Fact] = ()
    with pytest.raises(errors.InvalidValue):
        book.record(SLUG, empty)
