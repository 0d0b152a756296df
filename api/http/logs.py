"""The server's log lines: JSON (or text), each stamped with its request's id.

``logging_config`` is what ``parley serve`` hands uvicorn (and each worker); the access line
itself is written by ``api.http.observability.RequestObserver``.
"""

from __future__ import annotations

import logging
from typing import Any

from pythonjsonlogger.core import RESERVED_ATTRS
from pythonjsonlogger.json import JsonFormatter
from pythonjsonlogger.orjson import OrjsonFormatter

from api.http.observability import current_request_id

LOG_FORMATS = ("json", "text")


class RequestIdFilter(logging.Filter):
    """Stamps each record with the id of the request it was logged under (None outside)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not hasattr(record, "request_id"):
            record.request_id = current_request_id()
        return True


JSON_LINE_OPTIONS: dict[str, Any] = {
    "fmt": "{levelname}{name}{message}{request_id}",
    "style": "{",
    "rename_fields": {"levelname": "level", "name": "logger"},
    "timestamp": "time",
    # uvicorn repeats its message with terminal colours: noise in a log store.
    "reserved_attrs": [*RESERVED_ATTRS, "color_message"],
}
"""What a JSON line holds: time, level, logger, message, request_id and any extras."""


class JsonLineFormatter(OrjsonFormatter):
    """python-json-logger's JSON lines, written by orjson: the standard encoder took half
    the formatter's time on each access line.

    orjson is given no ``default``, so a value it does not write itself (a ``Decimal``, a
    set, an integer beyond 64 bits, a lone surrogate) makes it refuse the line, and the
    standard encoder writes it as it always did. Either way each field reads back the
    same (tests/api/test_logging.py compares the two), except NaN and the infinities,
    which orjson writes as ``null``. The text differs only in spacing and escaping.
    """

    def __init__(self, **options: Any) -> None:
        super().__init__(json_default=None, **options)
        self._standard = JsonFormatter(**options)

    def jsonify_log_record(self, log_data: dict[str, Any]) -> str:
        try:
            return super().jsonify_log_record(log_data)
        except TypeError:  # orjson.JSONEncodeError is a TypeError
            return self._standard.jsonify_log_record(log_data)


def json_formatter() -> logging.Formatter:
    """One JSON object per line: time, level, logger, message, request_id and any extras."""
    return JsonLineFormatter(**JSON_LINE_OPTIONS)


def text_formatter() -> logging.Formatter:
    return logging.Formatter("%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s")


def logging_config(log_format: str = "json", level: str = "INFO") -> dict[str, Any]:
    """A ``dictConfig`` for the server: uvicorn hands it to each worker process too.

    uvicorn's own lines go through the same handler; its access log is off, because the
    middleware writes a richer line for each request.
    """
    if log_format not in LOG_FORMATS:
        raise ValueError(f"log format must be one of {', '.join(LOG_FORMATS)}: {log_format!r}")
    level = level.upper()
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"request_id": {"()": RequestIdFilter}},
        "formatters": {
            "json": {"()": json_formatter},
            "text": {"()": text_formatter},
        },
        "handlers": {
            "default": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": log_format,
                "filters": ["request_id"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["default"], "level": level},
    }
