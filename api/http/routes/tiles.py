"""C2SP tlog-tiles: the global Merkle tree as static resources any tiled-log client can fetch.

``GET /checkpoint`` is the signed note (as ``GET /ledger/checkpoint`` with ``Accept:
text/plain``); ``GET /tile/<L>/<N>[.p/<W>]`` are hash tiles and ``GET /tile/entries/<N>[.p/<W>]``
entry bundles, read from the Merkle view (``api.services.tiles.tile_data``). A full tile never
changes, so it is cacheable for a year; a partial one is not cached long, and the checkpoint
is revalidated every time.
"""

from __future__ import annotations

from fastapi import APIRouter, Response
from fastapi.responses import PlainTextResponse

from api.http.deps import ServicesDep, view_storage_errors
from api.http.notes import NOTE_RESPONSE, CosignaturesDep, note_response
from api.http.schemas import Problem
from api.services.tiles import parse_tile_path, tile_data

router = APIRouter(tags=["tlog-tiles"])

FULL_TILE_CACHE = "public, max-age=31536000, immutable"
PARTIAL_TILE_CACHE = "public, max-age=10"
TILE_MEDIA_TYPE = "application/octet-stream"


@router.get(
    "/checkpoint",
    summary="The log's checkpoint as a C2SP signed note (tlog-tiles' <prefix>/checkpoint)",
    response_class=PlainTextResponse,
    responses=NOTE_RESPONSE,
)
def checkpoint_note(services: ServicesDep, cosignatures: CosignaturesDep) -> Response:
    return note_response(services.fresh_views(), services.settings, cosignatures)


@router.get(
    "/tile/{path:path}",
    summary="A tile of Merkle tree hashes, or an entry bundle (C2SP tlog-tiles)",
    response_class=Response,
    responses={
        200: {
            "content": {TILE_MEDIA_TYPE: {"schema": {"type": "string", "format": "binary"}}},
            "description": "`<L>/<N>[.p/<W>]`: W (256 when full) 32-byte hashes of tree level "
            "8L; `entries/<N>[.p/<W>]`: W entries, each a big-endian 16-bit length and a "
            "leaf's input (the 32 raw bytes of an event's hash)",
        },
        404: {"model": Problem, "description": "No such tile, or not yet"},
    },
)
def tile(services: ServicesDep, path: str) -> Response:
    wanted = parse_tile_path(path)
    views = services.fresh_views()
    with view_storage_errors():
        data = tile_data(views, wanted)
    cache = FULL_TILE_CACHE if wanted.full else PARTIAL_TILE_CACHE
    return Response(data, media_type=TILE_MEDIA_TYPE, headers={"Cache-Control": cache})
