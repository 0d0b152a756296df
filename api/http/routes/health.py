"""Liveness: is the store answering, how far has the ledger got, how far behind are the views."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from fastapi import APIRouter, Request

from api.http.deps import LedgerDep, RunnerDep, SettingsDep, view_storage_errors
from api.http.schemas import HealthPublic, ViewHealth
from domain.ledger import Ledger
from projections.probe import head_and_positions
from projections.runner import ProjectionRunner

router = APIRouter(prefix="/health", tags=["health"])


_PROBES = ThreadPoolExecutor(max_workers=2, thread_name_prefix="parley-health")
"""Threads of /health's own: busy request threads never keep it waiting for one."""


def _probe(ledger: Ledger, runner: ProjectionRunner) -> tuple[int, dict[str, int]]:
    """The head and the views' positions (``projections.probe``), storage errors as problems."""
    with view_storage_errors():
        return head_and_positions(ledger, runner.views)


@router.get("", summary="Liveness, the ledger's head position and each view's lag")
async def health(
    ledger: LedgerDep, runner: RunnerDep, settings: SettingsDep, request: Request
) -> HealthPublic:
    # Async, its reads on threads of its own: /health answers while every worker thread is
    # busy with reads or appends, and in one hop from the event loop.
    loop = asyncio.get_running_loop()
    head, positions = await loop.run_in_executor(_PROBES, _probe, ledger, runner)
    behind = ledger.clock_behind
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
