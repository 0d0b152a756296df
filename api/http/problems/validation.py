"""Request validation errors as a problem's ``errors``: ``[{field, message}]`` in the body's terms."""

from __future__ import annotations

from typing import Any

from fastapi.exceptions import RequestValidationError

_LOCATIONS = ("body", "query", "path", "header", "cookie")
_TAG_ERRORS = ("union_tag_invalid", "union_tag_not_found")


def field_path(loc: tuple[Any, ...] | list[Any], body: Any) -> str:
    """``values.annual_contribution.amount`` or ``[2].party`` from a pydantic location.

    Pydantic puts the tag of a discriminated union (``offer_made``) into the location;
    it is dropped where the body really has an object of that ``type`` at that point.
    """
    parts: list[str] = []
    node = body
    for segment in loc:
        if isinstance(node, dict) and isinstance(segment, str):
            if segment not in node and node.get("type") == segment:
                continue
            node = node.get(segment)
        elif isinstance(node, list) and isinstance(segment, int):
            node = node[segment] if 0 <= segment < len(node) else None
        else:
            node = None
        if isinstance(segment, int):
            parts.append(f"[{segment}]")
        else:
            parts.append(("." if parts else "") + str(segment))
    return "".join(parts)


def _is_branch_label(segment: Any) -> bool:
    """Pydantic names the branch of a plain union by its type, e.g. ``list[...]``."""
    return isinstance(segment, str) and "[" in segment and segment.endswith("]")


def validation_errors(exc: RequestValidationError) -> list[dict[str, str]]:
    """``[{field, message}]``, keeping only the union branch that matches the body's shape."""
    raw = list(exc.errors())
    body = exc.body
    by_shape = []
    for error in raw:
        loc = tuple(error.get("loc", ()))
        where, rest = (loc[0], loc[1:]) if loc and loc[0] in _LOCATIONS else ("body", loc)
        if rest and _is_branch_label(rest[0]) and not (isinstance(body, dict) and rest[0] in body):
            branch_is_list = str(rest[0]).startswith("list[")
            if where == "body" and branch_is_list != isinstance(body, list):
                continue
            rest = rest[1:]
        if error.get("type") in _TAG_ERRORS:
            rest = (*rest, "type")  # the discriminator itself is what is wrong
        by_shape.append((where, rest, error))
    if not by_shape:  # every branch failed for a body of neither shape: say so once
        by_shape = [("body", (), {"msg": "the body must be a JSON object or array"})]
    found: list[dict[str, str]] = []
    for where, rest, error in by_shape:
        path = field_path(rest, body) if where == "body" else ".".join(str(s) for s in rest)
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        item = {"field": path or where, "message": message}
        if item not in found:
            found.append(item)
    return found


def is_malformed_json(exc: RequestValidationError) -> bool:
    return any(e.get("type") == "json_invalid" for e in exc.errors())
