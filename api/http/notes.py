"""The checkpoint as a C2SP signed note, as ``/ledger/checkpoint`` and tlog-tiles' ``/checkpoint`` serve it."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi.responses import PlainTextResponse, Response

from api import signed_note
from api.errors import NoSigningKey
from api.http.deps import view_storage_errors
from api.http.schemas import Problem
from api.services.checkpoints import checkpoint_body
from api.services.cosignatures import CosignatureStore
from api.settings import Settings
from projections.views import Views


def get_cosignatures(request: Request) -> CosignatureStore:
    store: CosignatureStore = request.app.state.cosignatures
    return store


CosignaturesDep = Annotated[CosignatureStore, Depends(get_cosignatures)]

NOTE_MEDIA_TYPE = "text/plain; charset=utf-8"
NOTE_CACHE = "no-cache"
"""A checkpoint changes as the ledger grows: clients revalidate it every time."""

NOTE_RESPONSE: dict[int | str, dict[str, Any]] = {
    200: {
        "content": {"text/plain": {"schema": {"type": "string"}}},
        "description": "With `Accept: text/plain`: a C2SP tlog-checkpoint signed note (origin, "
        "tree size, base64 root, `timestamp` extension line, signature and cosignature lines)",
    },
    404: {"model": Problem, "description": "A note was asked for and there is no signing key"},
}


def wants_note(accept: str | None) -> bool:
    """Whether ``Accept`` prefers ``text/plain`` (the signed note) to JSON."""
    if not accept:
        return False
    best: tuple[float, int] | None = None
    choice = False
    for order, item in enumerate(accept.split(",")):
        media, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media.lower() not in ("text/plain", "application/json") or quality <= 0:
            continue
        rank = (quality, -order)
        if best is None or rank > best:
            best, choice = rank, media.lower() == "text/plain"
    return choice


def signing_seed(settings: Settings) -> bytes:
    seed = settings.signing_seed()
    if seed is None:
        raise NoSigningKey(
            "this server has no signing key (PARLEY_SIGNING_KEY): it serves no signed checkpoint"
        )
    return seed


def note_response(
    views: Views, settings: Settings, cosignatures: CosignatureStore, size: int | None = None
) -> Response:
    """The signed note of the tree of ``size`` leaves (default: now), with its cosignatures."""
    seed = signing_seed(settings)
    origin = settings.origin()
    with view_storage_errors():
        text = checkpoint_body(views, origin, size)
        witnessed = cosignatures.for_text(text)
    note = signed_note.Note(text, (signed_note.sign(text, origin, seed), *witnessed))
    return PlainTextResponse(
        note.encode(), media_type=NOTE_MEDIA_TYPE, headers={"Cache-Control": NOTE_CACHE}
    )
