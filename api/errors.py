"""Errors the API raises on purpose, beside the domain's: one hierarchy, one problem table.

    ParleyError (domain.errors)
    ├── ApiError                     raised by the outside layer, never by the domain
    │   ├── Unauthenticated          no key, or one unknown or revoked (401)
    │   ├── Forbidden                the key's role does not allow this (403)
    │   ├── KeyNotFound              no key has that name (404)
    │   ├── KeyNameTaken             a key of that name exists or existed (409)
    │   ├── EventNotInLedger         no event of the global log has that id (404)
    │   ├── TileNotFound             no such C2SP tile, or not yet (404)
    │   ├── NoSigningKey             a signed note was asked of a server without a key (404)
    │   ├── NotCosigned              no witness has cosigned a checkpoint yet (404)
    │   └── ViewLaggingError         the read views did not catch up in time (503)
    ├── InvalidValue (domain.errors)
    │   ├── TreeSizeOutOfRange       a proof asked about a tree the ledger lacks (422)
    │   └── CosignatureRefused       a cosigned checkpoint that is not ours or not cosigned (422)
    └── … the rest of the domain's errors (domain/errors.py)

``api.http.problems.table.PROBLEM_TABLE`` maps every class of both hierarchies; ``all_error_classes``
lists them for the test that keeps it so. The classes are also importable from the modules
that raise them (``api.http.auth``, ``api.store.keys``, ``api.services.ledger_proofs``, ``api.http.deps``).
"""

from __future__ import annotations

import math
from typing import Any

from domain import errors
from domain.errors import ParleyError

__all__ = [
    "ApiError",
    "CosignatureRefused",
    "EventNotInLedger",
    "Forbidden",
    "KeyNameTaken",
    "KeyNotFound",
    "NoSigningKey",
    "NotCosigned",
    "TileNotFound",
    "TreeSizeOutOfRange",
    "Unauthenticated",
    "ViewLaggingError",
    "all_error_classes",
]


class ApiError(ParleyError):
    """Base of the errors the API layer raises on purpose."""

    code = "api-error"


class Unauthenticated(ApiError):
    """No key, a malformed Authorization header, or a key that is unknown or revoked (401)."""

    code = "unauthenticated"

    def __init__(self, detail: str, *, error: str | None = None, **extra: Any) -> None:
        super().__init__(detail, **extra)
        self.headers = {"WWW-Authenticate": 'Bearer realm="parley"'}
        if error is not None:
            # RFC 6750 §3: "invalid_request" (malformed header), "invalid_token" (bad key).
            self.headers = {"WWW-Authenticate": f'Bearer realm="parley", error="{error}"'}


class Forbidden(ApiError):
    """The key is known but its role does not allow the request (403)."""

    code = "forbidden"


class KeyNameTaken(ApiError):
    """A key of that name exists, or existed: names stay unique because events carry them."""

    code = "key-name-taken"


class KeyNotFound(ApiError):
    """No key has that name."""

    code = "key-not-found"


class EventNotInLedger(ApiError):
    """No event of the global log has that id (or the Merkle view does not hold it yet)."""

    code = "event-not-found"


class TileNotFound(ApiError):
    """No C2SP tile has that path, or the tree is not yet big enough for it."""

    code = "tile-not-found"


class NoSigningKey(ApiError):
    """A signed checkpoint (or the verifier key) was asked of a server without PARLEY_SIGNING_KEY."""

    code = "no-signing-key"


class NotCosigned(ApiError):
    """No witness has cosigned a checkpoint of this log yet."""

    code = "not-cosigned"


class CosignatureRefused(errors.InvalidValue):
    """A posted checkpoint that this log did not sign, or with no valid cosignature of a witness."""

    code = "cosignature-refused"


class TreeSizeOutOfRange(errors.InvalidValue):
    """A proof asked about a tree the ledger does not have (larger than today's, or too small)."""

    code = "tree-size-out-of-range"


class ViewLaggingError(ApiError):
    """The read views did not reach the ledger's head in time: answer 503, never stale data."""

    code = "view-lagging"

    def __init__(self, target: int, reached: int, waited: float) -> None:
        super().__init__(
            f"the read views are at position {reached}, the ledger at {target}; try again shortly",
            position=target,
            view_position=reached,
        )
        self.target = target
        self.reached = reached
        self.retry_after = max(1, math.ceil(waited))
        self.headers = {"Retry-After": str(self.retry_after)}


def all_error_classes() -> list[type[ParleyError]]:
    """Every error class of the domain's hierarchy and of this one."""
    ours = {errors.__name__, __name__}
    return [cls for cls in errors.all_error_classes() if cls.__module__ in ours]
