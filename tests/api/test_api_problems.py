"""Every error is RFC 9457 problem+json, from one table that covers every domain and API error."""

from __future__ import annotations

import logging

import pytest
from apitools import assert_problem, offer, post_events

import api.http.app
from api import errors as api_errors
from api.http.problems.answers import STORAGE_UNAVAILABLE_DETAIL
from api.http.problems.table import PROBLEM_TABLE, spec_for
from domain import errors


def test_every_domain_and_api_error_class_is_mapped():
    """A new error class must be given a status here, not inherit one by accident."""
    classes = api_errors.all_error_classes()
    missing = [cls.__name__ for cls in classes if cls not in PROBLEM_TABLE]

    assert api_errors.ViewLaggingError in classes
    assert errors.StaleVersion in classes
    assert missing == []


def test_the_server_defines_its_errors_in_the_two_hierarchies_only():
    """An error class declared beside the code raising it would escape the mapping test."""
    assert api.http.app.create_app  # imported for its side effect: every module the server runs
    ours = ("api.", "domain.", "projections.")
    stray = [
        f"{cls.__module__}.{cls.__qualname__}"
        for cls in errors.all_error_classes()
        if cls.__module__.startswith(ours) and cls.__module__ not in ("api.errors", "domain.errors")
    ]

    assert stray == []


def test_problem_types_name_the_rule_and_are_distinct():
    codes = [cls.code for cls in api_errors.all_error_classes()]

    assert len(codes) == len(set(codes))
    for cls in api_errors.all_error_classes():
        if issubclass(cls, errors.RuleViolation):
            assert spec_for(cls).status == 422, cls


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.InvalidValue, 422),
        (errors.UnknownParty, 422),
        (errors.NegotiationNotFound, 404),
        (errors.NegotiationExists, 409),
        (errors.VersionConflict, 409),
        (errors.StaleVersion, 412),
        (errors.IdempotencyKeyReused, 422),
        (errors.StorageUnavailable, 503),
        (api_errors.Unauthenticated, 401),
        (api_errors.Forbidden, 403),
        (api_errors.KeyNotFound, 404),
        (api_errors.KeyNameTaken, 409),
        (api_errors.EventNotInLedger, 404),
        (api_errors.TreeSizeOutOfRange, 422),
        (api_errors.ViewLaggingError, 503),
    ],
)
def test_each_kind_of_error_has_its_status(error, status):
    assert spec_for(error).status == status


def test_an_unmapped_subclass_answers_as_its_family():
    class NewRule(errors.RuleViolation):
        code = "new-rule"

    assert spec_for(NewRule) == PROBLEM_TABLE[errors.RuleViolation]


class BrokenStore:
    """A ledger whose store fails in the ways a real one can, or has a bug."""

    def __init__(self, failure: Exception) -> None:
        self.failure = failure

    def head_position(self) -> int:
        raise self.failure

    def record(self, *args: object, **kwargs: object) -> None:
        raise self.failure


DRIVER_DETAIL = (
    'connection to server at "db.internal" (10.0.0.7), port 5432 failed: '
    'FATAL: database "parley_prod" does not exist'
)


def test_an_unavailable_store_answers_503_with_retry_after(client):
    client.app.state.ledger = BrokenStore(errors.StorageUnavailable(DRIVER_DETAIL))

    response = client.get("/health")

    problem = assert_problem(response, 503, "storage-unavailable")
    assert problem["detail"] == STORAGE_UNAVAILABLE_DETAIL
    assert int(response.headers["retry-after"]) > 0


def test_a_503_keeps_the_drivers_words_in_the_log_not_in_the_answer(client, caplog):
    client.app.state.ledger = BrokenStore(errors.StorageUnavailable(f"the store: {DRIVER_DETAIL}"))

    with caplog.at_level(logging.WARNING):
        response = client.get("/health")

    assert response.status_code == 503
    for leak in ("db.internal", "10.0.0.7", "parley_prod", "5432"):
        assert leak not in response.text
    assert "parley_prod" in caplog.text


def test_writers_that_keep_colliding_are_a_conflict(sma):
    sma.app.state.ledger = BrokenStore(errors.VersionConflict("writers kept colliding"))

    assert_problem(post_events(sma, offer()), 409, "version-conflict")


def test_a_bug_is_a_500_problem_without_a_trace(client_factory):
    client = client_factory("memory://", raise_server_exceptions=False)  # as a server would
    client.app.state.ledger = BrokenStore(RuntimeError("secret internals"))

    response = client.get("/health")

    problem = assert_problem(response, 500, "http-internal-server-error")
    assert "secret" not in response.text
    assert "Traceback" not in response.text
    assert problem["title"] == "Internal Server Error"


def test_an_unknown_route_is_a_404_problem(client):
    assert_problem(client.get("/negotiation"), 404, "http-not-found")


def test_a_wrong_method_is_a_405_problem_that_names_the_allowed_ones(client):
    response = client.delete("/health")

    assert_problem(response, 405, "http-method-not-allowed")
    assert response.headers["allow"] == "GET, HEAD"


def test_health_reports_the_store_and_the_head_position(store_client, store_url):
    kind = store_url.split(":")[0].replace("postgresql", "postgres")
    health = store_client.get("/health").json()
    assert {k: health[k] for k in ("status", "store", "head_position")} == {
        "status": "ok",
        "store": kind,
        "head_position": 0,
    }
    store_client.post(
        "/negotiations",
        json={"slug": "sma", "title": "SMA", "occurred_at": "2019-09-24"},
    )

    assert store_client.get("/health").json()["head_position"] == 1
