"""Who is asking: the bearer key of a request, its role, and the routes' role requirements.

Clients send ``Authorization: Bearer <key>``. While no key exists the server runs open:
every request acts as ``anonymous`` with every role but key management, and ``parley serve``
refuses to listen on anything but loopback. Once a key exists, a request without a known,
active key is a 401 and one whose key's role is too low a 403, both problem+json.

Open to anyone whatever the mode: ``/health``, the dashboard's page shells and static assets
(they hold no data; the API calls they make are protected), and the OpenAPI document with
its ``/docs`` and ``/redoc`` pages (they describe the API, not the ledger).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Request
from starlette.concurrency import run_in_threadpool

from api.errors import Forbidden, Unauthenticated
from api.http.schemas import Problem
from api.settings import is_loopback as is_loopback  # the one rule, shared with the CLI
from api.store.keys import ApiKey, KeyStore, Role, hash_key
from domain.ledger import ANONYMOUS

__all__ = [
    "AUTH_RESPONSES",
    "Forbidden",
    "Gate",
    "Principal",
    "PrincipalDep",
    "Role",
    "Unauthenticated",
    "current_principal",
    "is_loopback",
    "require",
]

OPEN_CACHE_SECONDS = 1.0
"""How long "no key exists" is believed before asking the store again (keys made by
``parley keys create`` in another process count from then on)."""
KEY_CACHE_SECONDS = 1.0
"""How long a recognised key is believed: a revocation in another process takes effect
within this time; one through this server at once."""
KEY_CACHE_SIZE = 1024

AUTH_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "No API key, or one unknown or revoked"},
    403: {"model": Problem, "description": "The key's role does not allow this"},
}


ALLOWS = {(have, needed): have.allows(needed) for have in Role for needed in Role}
"""``Role.allows`` for every pair of roles, worked out once: it lists the roles each call."""


@dataclass(frozen=True)
class Principal:
    """Who a request acts as: a key's name and role, or ``anonymous`` on an open server."""

    name: str
    role: Role
    authenticated: bool = True

    def may(self, role: Role) -> bool:
        """Whether this principal's role allows what ``role`` may do."""
        return ALLOWS[self.role, role]

    def require(self, role: Role, action: str) -> None:
        if not self.may(role):
            raise Forbidden(
                f"{action} needs a key with the role {role.value}; the key {self.name!r} "
                f"is a {self.role.value} key",
                required_role=role.value,
                role=self.role.value,
            )

    def require_key(self, action: str) -> None:
        if not self.authenticated:
            raise Forbidden(
                f"{action} needs an admin key, and this server has none (it runs open): "
                "create the first with `parley keys create --role admin --name NAME`",
                required_role=Role.ADMIN.value,
            )


OPEN = Principal(ANONYMOUS, Role.ADMIN, authenticated=False)


class Gate:
    """Turns a request's Authorization header into a principal, with brief caches.

    Once a key has existed, the gate stays closed even if every key is then revoked:
    revoking the last key must not silently open a running server; a restart, with its
    loopback check, is the way back to open mode.
    """

    def __init__(
        self,
        keys: KeyStore,
        *,
        open_allowed: bool = True,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.keys = keys
        self._open_allowed = open_allowed
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._closed = not open_allowed
        self._open_until = 0.0
        self._known: dict[str, tuple[ApiKey, float]] = {}

    def keys_required(self) -> bool:
        if self._closed:
            return True
        now = self._monotonic()
        if now < self._open_until:
            return False
        if self.keys.any_active():
            self._closed = True
            return True
        self._open_until = now + OPEN_CACHE_SECONDS
        return False

    def changed(self) -> None:
        """Keys were made or revoked through this process: forget what was cached."""
        with self._lock:
            self._open_until = 0.0
            self._known.clear()

    def cached(self, authorization: str | None) -> Principal | None:
        """The principal when the caches answer without the key store, else None."""
        now = self._monotonic()
        if not self._closed and now < self._open_until:
            return OPEN
        if not self._closed or not authorization:
            return None
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            return None
        with self._lock:
            cached = self._known.get(hash_key(secret))
        if cached is None or now >= cached[1]:
            return None
        return Principal(cached[0].name, cached[0].role)

    def principal(self, authorization: str | None) -> Principal:
        if not self.keys_required():
            return OPEN
        if not authorization:
            raise Unauthenticated(
                "this server requires an API key: send Authorization: Bearer <key>"
            )
        scheme, _, secret = authorization.strip().partition(" ")
        secret = secret.strip()
        if scheme.lower() != "bearer" or not secret:
            raise Unauthenticated(
                "the Authorization header must be 'Bearer <key>'", error="invalid_request"
            )
        key = self._recognise(secret)
        if key is None:
            raise Unauthenticated("the API key is unknown or revoked", error="invalid_token")
        return Principal(key.name, key.role)

    def _recognise(self, secret: str) -> ApiKey | None:
        digest = hash_key(secret)
        now = self._monotonic()
        with self._lock:
            cached = self._known.get(digest)
        if cached is not None and now < cached[1]:
            return cached[0]
        key = self.keys.authenticate(secret)
        with self._lock:
            if key is None:
                self._known.pop(digest, None)
            else:
                if len(self._known) >= KEY_CACHE_SIZE:
                    self._known.clear()
                self._known[digest] = (key, now + KEY_CACHE_SECONDS)
        return key


async def current_principal(request: Request) -> Principal:
    """The request's principal: from the gate's caches in the event loop when they know it,
    else (the key store must be read) in a worker thread."""
    gate: Gate = request.app.state.gate
    authorization = request.headers.get("authorization")
    found = gate.cached(authorization)
    if found is not None:
        return found
    return await run_in_threadpool(gate.principal, authorization)


PrincipalDep = Annotated[Principal, Depends(current_principal)]


def require(role: Role, *, key: bool = False) -> Any:
    """A dependency (``Depends``) that lets a request through only with at least ``role``.

    ``key=True`` also refuses the open mode's anonymous principal: key management is for
    holders of an admin key only.
    """

    async def check(request: Request, principal: PrincipalDep) -> Principal:  # no I/O: no thread
        action = f"{request.method} {request.url.path}"
        if key:
            principal.require_key(action)
        principal.require(role, action)
        return principal

    check.__name__ = f"require_{role.value}" + ("_key" if key else "")
    return Depends(check)
