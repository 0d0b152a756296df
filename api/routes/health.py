"""Liveness: is the store answering, how far has the ledger got, how far behind are the views."""

from __future__ import annotations

from fastapi import APIRouter, Request

from api.deps import LedgerDep, RunnerDep, SettingsDep, view_storage_errors
from api.schemas import HealthPublic, ViewHealth

router = APIRouter(prefix="/health", tags=["health"])


@router.get("", summary="Liveness, the ledger's head position and each view's lag")
def health(
    ledger: LedgerDep, runner: RunnerDep, settings: SettingsDep, request: Request
) -> HealthPublic:
    head = ledger.head_position()
    behind = ledger.clock_behind
    with view_storage_errors():
        positions = runner.views.tracked_positions()
    error: BaseException | None = runner.error
    if error is None and settings.project_in_process and not runner.running:
        error = RuntimeError("not running")
    subscribed = runner.subscribed
    return HealthPublic(
        status="ok" if error is None and subscribed is not False else "degraded",
        store=request.app.state.store_kind,
        head_position=head,
        projections="in-process" if settings.project_in_process else "external",
        views={
            name: ViewHealth(position=position, lag=max(0, head - position))
            for name, position in positions.items()
        },
        # The class only: the message may quote SQL or paths, and /health is open to anyone.
        error=None if error is None else f"the projection runner stopped: {type(error).__name__}",
        clock_behind_seconds=None if behind is None else behind.total_seconds(),
        subscribed=subscribed,
    )
