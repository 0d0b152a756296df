"""Request ids and JSON log lines: one object a line, the request's id on each, no secrets."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import logging.config
import sys
import uuid
from collections.abc import Iterator
from enum import IntEnum, StrEnum
from typing import Any, NamedTuple

import pytest
from apitools import offer, post_events
from conftest import ClientFactory
from hypothesis import given, settings
from hypothesis import strategies as st
from pythonjsonlogger.json import JsonFormatter
from starlette.testclient import TestClient

from api.http.logs import JSON_LINE_OPTIONS, RequestIdFilter, json_formatter, logging_config
from api.http.observability import fresh_request_id

API_KEY_TEXT = "pk_live_do-not-log-me"
ACCESS_FIELDS = {
    "time",
    "level",
    "message",
    "request_id",
    "method",
    "route",
    "status",
    "duration_ms",
}


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    """Everything logged during the test, formatted as the server formats it."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter())
    handler.addFilter(RequestIdFilter())
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield stream
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def records(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def access_lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [r for r in records(stream) if r["logger"] == "api.access"]


def test_each_request_gets_an_id_in_its_response(client: TestClient) -> None:
    first = client.get("/health").headers["X-Request-ID"]
    second = client.get("/health").headers["X-Request-ID"]
    assert first != second
    assert uuid.UUID(first)


@given(random=st.binary(min_size=16, max_size=16))
def test_a_fresh_request_id_is_the_version_4_uuid_of_its_random_bytes(random: bytes) -> None:
    assert fresh_request_id(random) == uuid.UUID(bytes=random, version=4).hex


def test_a_sane_incoming_request_id_is_kept(client: TestClient) -> None:
    response = client.get("/health", headers={"X-Request-ID": "edge-7f3a:42"})
    assert response.headers["X-Request-ID"] == "edge-7f3a:42"


@pytest.mark.parametrize("bad", ["x" * 129, "two words", "<script>", "line\tbreak", ""])
def test_an_insane_incoming_request_id_is_replaced(client: TestClient, bad: str) -> None:
    response = client.get("/health", headers={"X-Request-ID": bad})
    assert response.headers["X-Request-ID"] != bad
    assert uuid.UUID(response.headers["X-Request-ID"])


def test_problem_bodies_quote_the_request_id(sma: TestClient) -> None:
    response = post_events(sma, offer(party="nobody"), headers={"X-Request-ID": "req-1"})
    assert response.status_code == 422
    assert response.json()["request_id"] == "req-1"
    assert response.headers["X-Request-ID"] == "req-1"


def test_an_unexpected_error_answers_500_with_the_request_id(
    client_factory: ClientFactory, log_lines: io.StringIO
) -> None:
    client = client_factory("memory://", raise_server_exceptions=False)

    def broken() -> None:
        raise RuntimeError("a bug")

    client.app.add_api_route("/broken", broken)  # type: ignore[attr-defined]
    response = client.get("/broken", headers={"X-Request-ID": "req-500"})
    assert response.status_code == 500
    assert response.json()["request_id"] == "req-500"
    assert response.headers["X-Request-ID"] == "req-500"
    [line] = [r for r in access_lines(log_lines) if r["request_id"] == "req-500"]
    assert (line["level"], line["status"], line["route"]) == ("ERROR", 500, "/broken")


def test_each_request_is_logged_as_one_json_line(sma: TestClient, log_lines: io.StringIO) -> None:
    response = post_events(
        sma,
        offer(),
        headers={"X-Request-ID": "req-42", "Authorization": f"Bearer {API_KEY_TEXT}"},
        params={"note": "query strings stay out of the log"},
    )
    assert response.status_code == 201
    [line] = [r for r in access_lines(log_lines) if r["request_id"] == "req-42"]
    assert set(line) >= ACCESS_FIELDS
    assert line["method"] == "POST"
    assert line["route"] == "/negotiations/{slug}/events"
    assert line["path"] == "/negotiations/usa-rok-sma/events"
    assert line["status"] == 201
    assert line["level"] == "INFO"
    assert line["duration_ms"] >= 0
    assert line["time"].endswith("+00:00")
    text = log_lines.getvalue()
    assert API_KEY_TEXT not in text
    assert "query strings" not in text


class Kept(logging.Handler):
    """Keeps the records themselves, to be formatted in the test."""

    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def as_the_standard_encoder_wrote_it(record: logging.LogRecord) -> dict[str, Any]:
    """The line python-json-logger's standard ``JsonFormatter`` writes, read back."""
    line: dict[str, Any] = json.loads(JsonFormatter(**JSON_LINE_OPTIONS).format(record))
    return line


def test_the_access_line_reads_as_the_standard_encoder_wrote_it(sma: TestClient) -> None:
    kept, root = Kept(), logging.getLogger()
    level = root.level
    root.addHandler(kept)
    root.setLevel(logging.INFO)
    try:
        response = post_events(sma, offer(), headers={"X-Request-ID": "req-same"})
    finally:
        root.removeHandler(kept)
        root.setLevel(level)
    assert response.status_code == 201
    [record] = [r for r in kept.records if r.name == "api.access"]
    line = json.loads(json_formatter().format(record))
    assert line == as_the_standard_encoder_wrote_it(record)
    assert list(line) == [
        "level",
        "logger",
        "message",
        "request_id",
        "method",
        "route",
        "path",
        "status",
        "duration_ms",
        "time",
    ]
    assert line["message"] == "POST /negotiations/{slug}/events 201"
    assert line["request_id"] == "req-same"
    assert line["time"] == dt.datetime.fromtimestamp(record.created, dt.UTC).isoformat()


class Colour(StrEnum):
    RED = "red"


class Level(IntEnum):
    HIGH = 3


class Point(NamedTuple):
    x: int
    y: int


SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()  # beyond 64 bits too: orjson refuses them
    | st.floats(allow_nan=False, allow_infinity=False)  # orjson writes NaN as null
    | st.text()
    | st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), min_size=1)
    | st.decimals(allow_nan=False, allow_infinity=False)
    | st.datetimes(timezones=st.none() | st.just(dt.UTC))
    | st.dates()
    | st.uuids()
    | st.binary(max_size=8)
    | st.sampled_from([Colour.RED, Level.HIGH, Point(1, 2), {3, 1}, frozenset({"a"}), ValueError])
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.tuples(inner, inner)
        | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(
    extras=st.dictionaries(st.from_regex(r"\Ax_[a-z]{1,6}\Z"), VALUES, max_size=4),
    message=st.text(max_size=20),
    failed=st.booleans(),
)
def test_any_line_reads_as_the_standard_encoder_wrote_it(
    extras: dict[str, Any], message: str, failed: bool
) -> None:
    exc_info = None
    if failed:
        try:
            raise RuntimeError("boom")
        except RuntimeError:
            exc_info = sys.exc_info()
    record = logging.getLogger("parley.test").makeRecord(
        "parley.test", logging.WARNING, __file__, 1, "%s", (message,), exc_info, extra=extras
    )
    record.request_id = None
    record.color_message = "\x1b[1m"
    assert json.loads(json_formatter().format(record)) == as_the_standard_encoder_wrote_it(record)


def test_lines_logged_inside_a_route_carry_its_request_id(
    client: TestClient, log_lines: io.StringIO
) -> None:
    def noisy() -> dict[str, str]:
        # A sync route runs in a worker thread: the id must travel with the context.
        logging.getLogger("parley.test").warning("something to say")
        return {}

    client.app.add_api_route("/noisy", noisy)  # type: ignore[attr-defined]
    assert client.get("/noisy", headers={"X-Request-ID": "req-noisy"}).status_code == 200
    [said] = [r for r in records(log_lines) if r["logger"] == "parley.test"]
    assert said["message"] == "something to say"
    assert said["request_id"] == "req-noisy"
    assert said["level"] == "WARNING"


def test_lines_outside_requests_have_no_request_id(log_lines: io.StringIO) -> None:
    logging.getLogger("parley.test").warning("at start-up")
    [said] = records(log_lines)
    assert said["request_id"] is None
    assert said["message"] == "at start-up"


def test_the_server_logging_config_writes_json_lines(capsys: pytest.CaptureFixture[str]) -> None:
    saved = logging.getLogger().handlers[:], logging.getLogger().level
    uvicorn_saved = {
        name: (lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access")
        for lg in [logging.getLogger(name)]
    }
    try:
        logging.config.dictConfig(logging_config("json", "info"))
        logging.getLogger("uvicorn.error").info(
            "Started server process", extra={"color_message": "\x1b[1m"}
        )
        logging.getLogger("uvicorn.access").info("GET / 200")  # the middleware's line replaces it
    finally:
        root = logging.getLogger()
        root.handlers[:], root.level = saved
        for name, (handlers, level, propagate, disabled) in uvicorn_saved.items():
            lg = logging.getLogger(name)
            lg.handlers[:], lg.level, lg.propagate, lg.disabled = (
                handlers,
                level,
                propagate,
                disabled,
            )
    lines = capsys.readouterr().err.splitlines()
    assert [json.loads(line)["message"] for line in lines] == ["Started server process"]
    assert "color_message" not in lines[0]


def test_the_text_format_and_unknown_formats() -> None:
    assert logging_config("text")["handlers"]["default"]["formatter"] == "text"
    with pytest.raises(ValueError, match="json, text"):
        logging_config("xml")
