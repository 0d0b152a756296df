"""Conditional requests: a negotiation's ``ETag`` (its version), If-None-Match and If-Match."""

from __future__ import annotations

import re

from fastapi import HTTPException, status

IF_MATCH_RE = re.compile(r'^"(\d{1,18})"$')


def etag_of(version: int) -> str:
    return f'"{version}"'


def etag_headers(version: int) -> dict[str, str]:
    return {"ETag": etag_of(version)}


def etag_matches(header: str, etag: str) -> bool:
    """Weak comparison, as RFC 9110 asks for If-None-Match."""
    for candidate in header.split(","):
        tag = candidate.strip()
        if tag == "*" or tag.removeprefix("W/") == etag:
            return True
    return False


def not_modified(if_none_match: str | None, version: int) -> bool:
    """Whether If-None-Match names the ETag of ``version`` (a 304 answers it)."""
    return if_none_match is not None and etag_matches(if_none_match, etag_of(version))


def parse_if_match(header: str | None) -> int | None:
    """``"<version>"`` -> the version the client expects; ``*`` asks only that it exists."""
    if header is None or header.strip() == "*":
        return None
    found = IF_MATCH_RE.match(header.strip())
    if found is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail='If-Match must be the negotiation\'s ETag, a quoted version such as "7"',
        )
    return int(found.group(1))
