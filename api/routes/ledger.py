"""The tamper-evident ledger: checkpoints and proofs of the global Merkle tree, and a full re-hash.

Checkpoints and proofs read the Merkle view once it holds every event recorded before the
request (read-your-writes, as the other views); hashes are lower-case hex, and any client
can check a proof with ``domain/verify.py`` alone.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from api import ledger_proofs, ledger_scan
from api.deps import LedgerDep, RunnerDep, SettingsDep, fresh_views, view_storage_errors
from api.schemas import Problem

router = APIRouter(prefix="/ledger", tags=["ledger"])


def get_now() -> datetime:
    """The time a checkpoint is stamped with."""
    return datetime.now(UTC)


NowDep = Annotated[datetime, Depends(get_now)]

HEX_HASH = r"^[0-9a-f]{64}$"


class CheckpointPublic(BaseModel):
    """The global Merkle tree's size and root at a moment, signed when the server has a key."""

    tree_size: int
    root: str = Field(pattern=HEX_HASH)
    timestamp: str
    signature: str | None = Field(
        default=None,
        description="Ed25519 over domain.verify.checkpoint_payload(tree_size, root, timestamp), "
        "base64",
    )
    public_key: str | None = Field(default=None, description="The raw Ed25519 public key, base64")


class InclusionProofPublic(BaseModel):
    leaf_index: int
    tree_size: int
    audit_path: list[str]
    event_id: str
    event_hash: str = Field(description="The event's hash; its leaf is SHA-256(0x00 || its bytes)")
    position: int


class ConsistencyProofPublic(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: int = Field(alias="from", serialization_alias="from")
    to: int
    proof: list[str]


class BadEventPublic(BaseModel):
    position: int | None
    event_id: str | None
    negotiation: str | None
    version: int | None
    reason: str


class VerifyPublic(BaseModel):
    ok: bool
    events_checked: int
    head: int = Field(description="The log position the re-hash reached")
    tree_size: int = Field(description="How many events were also checked against the tree")
    root: str | None = Field(description="The Merkle root recomputed from the checked leaves")
    first_bad: BadEventPublic | None = None


@router.get(
    "/checkpoint",
    summary="The global Merkle tree's size and root (RFC 9162), signed when configured",
    response_model_exclude_none=True,
)
def checkpoint(
    ledger: LedgerDep, runner: RunnerDep, settings: SettingsDep, now: NowDep
) -> CheckpointPublic:
    views = fresh_views(ledger, runner, settings)
    with view_storage_errors():
        made = ledger_proofs.make_checkpoint(views, now, settings.signing_seed())
    return CheckpointPublic(**made.to_json())


@router.get(
    "/proof/inclusion",
    summary="The audit path of an event in the tree of a given size",
    responses={
        404: {"model": Problem, "description": "No event has that id"},
        422: {"model": Problem, "description": "No tree of that size holds the event"},
    },
)
def inclusion_proof(
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    event_id: Annotated[str, Query(max_length=64)],
    tree_size: Annotated[
        int | None, Query(ge=1, description="Default: the tree's size now")
    ] = None,
) -> InclusionProofPublic:
    views = fresh_views(ledger, runner, settings)
    with view_storage_errors():
        proof = ledger_proofs.inclusion(views, event_id.strip().lower(), tree_size)
    return InclusionProofPublic(
        leaf_index=proof.leaf_index,
        tree_size=proof.tree_size,
        audit_path=proof.audit_path,
        event_id=proof.event_id,
        event_hash=proof.event_hash,
        position=proof.position,
    )


@router.get(
    "/proof/consistency",
    summary="The proof that the tree of size `to` extends the tree of size `from`",
    responses={422: {"model": Problem, "description": "No tree of that size"}},
    response_model_by_alias=True,
)
def consistency_proof(
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    from_: Annotated[int, Query(alias="from", ge=0)],
    to: Annotated[int | None, Query(ge=0, description="Default: the tree's size now")] = None,
) -> ConsistencyProofPublic:
    views = fresh_views(ledger, runner, settings)
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
