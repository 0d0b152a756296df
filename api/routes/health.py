"""Liveness: is the store answering, and how far has the ledger got."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import LedgerDep
from api.schemas import HealthPublic

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", summary="Liveness and the ledger's head position")
def health(ledger: LedgerDep, request: Request) -> HealthPublic:
    return HealthPublic(
        status="ok", store=request.app.state.store_kind, head_position=ledger.head_position()
    )
