"""What reading JSON Lines input shares: a line as one JSON object, and schema errors in words."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError


class NotAnObject(ValueError):
    """A line that is not one JSON object; the message says why."""


def json_object(text: str) -> dict[str, Any]:
    """The JSON object a line holds; NotAnObject when it is not valid JSON or not an object."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        msg = f"not valid JSON: {e.msg} (column {e.colno})"
        raise NotAnObject(msg) from None
    if not isinstance(data, dict):
        msg = "a line must be a JSON object"
        raise NotAnObject(msg)
    return data


def validation_message(error: ValidationError, whole: str) -> str:
    """A schema's refusal as ``where: what; ...``; ``whole`` names the input's top level."""
    parts = []
    for item in error.errors(include_url=False):
        where = ".".join(str(p) for p in item["loc"]) or whole
        parts.append(f"{where}: {item['msg']}")
    return "; ".join(parts)
