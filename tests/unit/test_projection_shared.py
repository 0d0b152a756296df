"""The helpers the view backends share: the rebuild's catch-up, the timeline query, the
store's kind and its read errors, and the party a record is about."""

from __future__ import annotations

import inspect
from datetime import UTC, datetime
from typing import Any

import pytest
from eventsourcing import persistence
from eventsourcing.popo import POPOApplicationRecorder

from domain import errors, facts
from domain.ledger.storage import storage_error
from domain.values import Party
from projections.records import record_from_fact
from projections.storage import store_kind, view_storage_errors
from projections.views.events import EventRow
from projections.views.interface import TimelineQuery, catch_up


def test_catch_up_applies_each_batch_until_a_read_brings_nothing_new() -> None:
    batches = {0: ([1, 2], 2), 2: ([3], 3), 3: ([], 3)}
    reads: list[int] = []
    applied: list[list[Any]] = []

    def read(after: int) -> tuple[list[EventRow], int]:
        reads.append(after)
        rows, last = batches[after]
        return rows, last  # type: ignore[return-value]  # stand-ins for rows

    assert catch_up(read, 0, applied.append) == 3
    assert reads == [0, 2, 3]
    assert applied == [[1, 2], [3]]


def test_catch_up_with_nothing_to_read_applies_nothing() -> None:
    applied: list[list[EventRow]] = []
    assert catch_up(lambda after: ([], after), 7, applied.append) == 7
    assert applied == []


def test_a_timeline_query_starts_at_the_beginning_without_a_cursor() -> None:
    assert TimelineQuery(None, 10).start == ("", 0)
    assert TimelineQuery(("2020-01-01", 3), 10).start == ("2020-01-01", 3)


def test_store_kind_names_the_backend_and_refuses_another_recorder() -> None:
    assert store_kind(POPOApplicationRecorder(), "views") == "memory"
    with pytest.raises(TypeError, match=r"^no views for a object$"):
        store_kind(object(), "views")


LIBRARY_ERRORS = [
    cls
    for _, cls in inspect.getmembers(persistence, inspect.isclass)
    if issubclass(cls, persistence.PersistenceError)
]


@pytest.mark.parametrize("library_error", LIBRARY_ERRORS, ids=lambda cls: cls.__name__)
def test_a_read_of_the_views_fails_as_a_read_of_the_ledger_does(
    library_error: type[persistence.PersistenceError],
) -> None:
    expected = storage_error(library_error("down"), "read")
    with pytest.raises(Exception) as raised, view_storage_errors():  # noqa: PT011
        raise library_error("down")
    if expected is None:
        assert type(raised.value) is library_error
    else:
        assert isinstance(raised.value, errors.StorageUnavailable)
        assert str(raised.value) == str(expected) == "the store is unavailable: down"


@pytest.mark.parametrize(
    ("fact", "party"),
    [
        (
            facts.OfferWithdrawn(
                occurred_at=datetime(2020, 1, 1, tzinfo=UTC), party="a", offer_event_id="e"
            ),
            "a",
        ),
        (
            facts.PartyJoined(
                occurred_at=datetime(2020, 1, 1, tzinfo=UTC), party=Party(id="b", name="B")
            ),
            "b",
        ),
        (
            facts.IssueRaised(
                occurred_at=datetime(2020, 1, 1, tzinfo=UTC), issue_id="i", title="t", raised_by="c"
            ),
            "c",
        ),
        (facts.StatusChanged(occurred_at=datetime(2020, 1, 1, tzinfo=UTC), status="open"), None),
    ],
    ids=lambda v: getattr(v, "TYPE", str(v)),
)
def test_a_records_party_is_the_field_its_fact_names(fact: facts.Fact, party: str | None) -> None:
    record = record_from_fact(fact, event_id="x", version=1)
    assert record.party == party
    assert record.parties() == ({party} if party else set())
