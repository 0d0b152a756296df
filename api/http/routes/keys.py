"""API keys over HTTP, for holders of an admin key: make one, list them, revoke one.

An open server (no key yet) refuses these: the first key is made with ``parley keys
create`` on the server's machine, so no anonymous caller can mint credentials.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request, status

from api.http.auth import Gate, Role, require
from api.http.schemas import KeyCreate, KeyCreated, KeyPublic, Problem, public_of
from api.store.keys import KeyStore

router = APIRouter(
    prefix="/keys",
    tags=["keys"],
    dependencies=[require(Role.ADMIN, key=True)],
)


def _gate(request: Request) -> Gate:
    gate: Gate = request.app.state.gate
    return gate


def _keys(request: Request) -> KeyStore:
    return _gate(request).keys


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Make an API key (shown once)",
    responses={
        409: {"model": Problem, "description": "A key of that name exists or existed"},
        422: {"model": Problem, "description": "The name or role is invalid"},
    },
)
def create_key(body: KeyCreate, request: Request) -> KeyCreated:
    key, secret = _keys(request).create(body.name, body.role)
    _gate(request).changed()
    return KeyCreated(**public_of(key).model_dump(), key=secret)


@router.get("", summary="Every API key, revoked ones too (never the keys themselves)")
def list_keys(request: Request) -> list[KeyPublic]:
    return [public_of(key) for key in _keys(request).all_keys()]


NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No key has that name"}
}


@router.delete(
    "/{name}",
    summary="Revoke an API key from now on",
    responses={**NOT_FOUND, 422: {"model": Problem, "description": "The name is invalid"}},
)
def revoke_key(
    name: Annotated[str, Path(max_length=64)],
    request: Request,
) -> KeyPublic:
    key = _keys(request).revoke(name)
    _gate(request).changed()
    return public_of(key)
