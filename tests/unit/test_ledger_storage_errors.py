"""The ledger's one storage-error table: every library persistence error has a translation."""

from __future__ import annotations

import inspect
from pathlib import Path

import pytest
from eventsourcing import persistence

from domain import errors
from domain.ledger.storage import STORAGE_ERRORS, storage_error, translate_storage_errors

LIBRARY_ERRORS = sorted(
    (
        cls
        for _, cls in inspect.getmembers(persistence, inspect.isclass)
        if issubclass(cls, persistence.PersistenceError)
    ),
    key=lambda cls: cls.__name__,
)


@pytest.mark.parametrize("library_error", LIBRARY_ERRORS, ids=lambda cls: cls.__name__)
def test_every_library_persistence_error_fails_a_write_as_a_domain_error_unless_it_is_a_clash(
    library_error: type[persistence.PersistenceError],
) -> None:
    translated = storage_error(library_error("driver detail"), "write")
    if issubclass(library_error, persistence.IntegrityError):
        assert translated is None
    else:
        assert isinstance(translated, errors.StorageUnavailable)
        assert str(translated) == "the store did not accept the write: driver detail"


@pytest.mark.parametrize(
    "library_error",
    [
        persistence.OperationalError,
        persistence.InterfaceError,
        persistence.ConnectionUnavailableError,
    ],
)
def test_a_read_the_store_cannot_answer_is_storage_unavailable(
    library_error: type[persistence.PersistenceError],
) -> None:
    with (
        pytest.raises(errors.StorageUnavailable, match=r"^the store is unavailable: down$"),
        translate_storage_errors(),
    ):
        raise library_error("down")


@pytest.mark.parametrize(
    "library_error", [persistence.IntegrityError, persistence.ProgrammingError]
)
def test_a_read_failing_otherwise_surfaces_as_the_library_raised_it(
    library_error: type[persistence.PersistenceError],
) -> None:
    with pytest.raises(library_error), translate_storage_errors():
        raise library_error("a bug, not an outage")


def test_the_table_names_only_library_persistence_errors() -> None:
    assert set(STORAGE_ERRORS) <= set(LIBRARY_ERRORS)


def test_the_ledger_words_storage_failures_only_in_its_table() -> None:
    package = Path(__file__).parents[2] / "domain" / "ledger"
    wording = {
        path.name
        for path in package.glob("*.py")
        if "did not accept the write" in path.read_text(encoding="utf-8")
    }
    assert wording == {"storage.py"}
