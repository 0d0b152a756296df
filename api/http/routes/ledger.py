"""The tamper-evident ledger: checkpoints and proofs of the global Merkle tree, and a full re-hash.

Checkpoints and proofs read the Merkle view once it holds every event recorded before the
request (read-your-writes, as the other views); hashes are lower-case hex, and any client
can check a proof with ``domain/verify.py`` alone. With ``Accept: text/plain`` the checkpoint
is a C2SP signed note (``api.signed_note``) that Go's ``golang.org/x/mod/sumdb/note`` opens,
carrying the cosignatures witnesses gave for it.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from api import signed_note
from api.errors import CosignatureRefused, NotCosigned
from api.http.auth import Role, require
from api.http.deps import (
    LedgerDep,
    RunnerDep,
    Services,
    ServicesDep,
    SettingsDep,
    view_storage_errors,
)
from api.http.notes import (
    NOTE_RESPONSE,
    CosignaturesDep,
    note_response,
    signing_seed,
    wants_note,
)
from api.http.schemas import (
    CheckpointPublic,
    ConsistencyProofPublic,
    CosignaturesPublic,
    InclusionProofPublic,
    Problem,
    VerifierKeyPublic,
    VerifyPublic,
)
from api.services import ledger_proofs, ledger_scan
from api.services.checkpoints import checkpoint_body, log_verifier, make_checkpoint
from api.services.cosignatures import CosignatureStore

router = APIRouter(prefix="/ledger", tags=["ledger"])


def get_now() -> datetime:
    """The time a checkpoint is stamped with."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]


@router.get(
    "/checkpoint",
    summary="The global Merkle tree's size and root (RFC 9162), signed when configured",
    response_model=CheckpointPublic,
    response_model_exclude_none=True,
    responses=NOTE_RESPONSE,
)
def checkpoint(
    request: Request, services: ServicesDep, cosignatures: CosignaturesDep, now: NowDep
) -> Any:
    settings = services.settings
    views = services.fresh_views()
    if wants_note(request.headers.get("accept")):
        return note_response(views, settings, cosignatures)
    with view_storage_errors():
        made = make_checkpoint(views, now, settings.signing_seed())
    return CheckpointPublic(**made.to_json())


@router.get(
    "/checkpoint/cosigned",
    summary="The largest checkpoint witnesses cosigned, as a signed note with their cosignatures",
    response_class=PlainTextResponse,
    responses={404: {"model": Problem, "description": "No signing key, or nothing cosigned"}},
)
def cosigned_checkpoint(services: ServicesDep, cosignatures: CosignaturesDep) -> Response:
    settings = services.settings
    views = services.fresh_views()
    with view_storage_errors():
        latest = cosignatures.latest()
    if latest is None:
        raise NotCosigned("no witness has cosigned a checkpoint of this log yet")
    return note_response(views, settings, cosignatures, latest.tree_size)


@router.post(
    "/checkpoint/cosignatures",
    summary="Hand in witnesses' cosignature/v1 lines on a checkpoint of this log",
    dependencies=[require(Role.RECORDER)],
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"text/plain": {"schema": {"type": "string"}}},
            "description": "The checkpoint note as this log served it, with the witnesses' "
            "cosignature lines added",
        }
    },
    responses={
        404: {"model": Problem, "description": "The server has no signing key"},
        422: {"model": Problem, "description": "Not our checkpoint, or no valid cosignature"},
    },
)
async def add_cosignatures(
    request: Request, services: ServicesDep, cosignatures: CosignaturesDep
) -> CosignaturesPublic:
    body = await request.body()
    return await run_in_threadpool(accept_cosignatures, body, services, cosignatures)


def accept_cosignatures(
    body: bytes, services: Services, cosignatures: CosignatureStore
) -> CosignaturesPublic:
    settings = services.settings
    seed = signing_seed(settings)
    origin = settings.origin()
    try:
        note = signed_note.parse_note(body)
        posted = signed_note.parse_checkpoint(note.text)
    except signed_note.NoteError as e:
        raise CosignatureRefused(f"not a checkpoint note: {e}") from None
    if not signed_note.signed_by(note, log_verifier(origin, seed)):
        raise CosignatureRefused(f"the checkpoint does not carry a valid signature of {origin}")
    views = services.fresh_views()
    with view_storage_errors():
        size = views.tree_size()
        if posted.tree_size > size:
            raise CosignatureRefused(f"the log has {size} leaves, not {posted.tree_size}")
        ours = checkpoint_body(views, origin, posted.tree_size)
    if note.text != ours:
        raise CosignatureRefused(
            f"the log's checkpoint of {posted.tree_size} leaves is not this one"
        )
    witnesses = settings.witnesses()
    if not witnesses:
        raise CosignatureRefused("no witness is configured (PARLEY_WITNESS_KEYS)")
    found = signed_note.cosigners(note, witnesses)
    if not found:
        names = ", ".join(w.name for w in witnesses)
        raise CosignatureRefused(f"no valid cosignature/v1 of a configured witness ({names})")
    stored = cosignatures.add(posted.tree_size, note.text, found)
    return CosignaturesPublic(
        tree_size=posted.tree_size, accepted=[s.name for s, _ in found], stored=stored
    )


@router.get(
    "/verifier-key",
    summary="The key that verifies this log's signed checkpoints, as a note verifier key",
    responses={404: {"model": Problem, "description": "The server has no signing key"}},
)
def verifier_key(settings: SettingsDep) -> VerifierKeyPublic:
    seed = signing_seed(settings)
    verifier = log_verifier(settings.origin(), seed)
    return VerifierKeyPublic(
        origin=verifier.name,
        key_id=verifier.key_id.hex(),
        public_key=base64.b64encode(verifier.public_key).decode("ascii"),
        verifier_key=verifier.vkey(),
        witnesses=[w.vkey() for w in settings.witnesses()],
    )


@router.get(
    "/proof/inclusion",
    summary="The audit path of an event in the tree of a given size",
    responses={
        404: {"model": Problem, "description": "No event has that id"},
        422: {"model": Problem, "description": "No tree of that size holds the event"},
    },
)
def inclusion_proof(
    services: ServicesDep,
    event_id: Annotated[str, Query(max_length=64)],
    tree_size: Annotated[
        int | None, Query(ge=1, description="Default: the tree's size now")
    ] = None,
) -> InclusionProofPublic:
    views = services.fresh_views()
    with view_storage_errors():
        proof = ledger_proofs.inclusion(views, event_id.strip().lower(), tree_size)
    return InclusionProofPublic.model_validate(proof, from_attributes=True)


@router.get(
    "/proof/consistency",
    summary="The proof that the tree of size `to` extends the tree of size `from`",
    responses={422: {"model": Problem, "description": "No tree of that size"}},
    response_model_by_alias=True,
)
def consistency_proof(
    services: ServicesDep,
    from_: Annotated[int, Query(alias="from", ge=0)],
    to: Annotated[int | None, Query(ge=0, description="Default: the tree's size now")] = None,
) -> ConsistencyProofPublic:
    views = services.fresh_views()
    with view_storage_errors():
        proof = ledger_proofs.consistency(views, from_, to)
    return ConsistencyProofPublic.model_validate(
        {"from": proof.old_size, "to": proof.new_size, "proof": proof.proof}
    )


@router.get(
    "/verify",
    summary="Re-hash every stored event; name the first that no longer matches",
    response_model_exclude_none=True,
)
def verify(ledger: LedgerDep, runner: RunnerDep, settings: SettingsDep) -> VerifyPublic:
    with view_storage_errors():
        # Give the Merkle view the chance to hold every event recorded before this call, but
        # verify regardless: a damaged row can stop the views, and that is what to report.
        runner.wait_for(ledger.head_position(), timeout=settings.read_wait_seconds)
        report = ledger_scan.verify_ledger(ledger, runner.views)
    return VerifyPublic.model_validate(report.to_json())
