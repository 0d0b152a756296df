"""The whole ledger in log order: a page at a time (``GET /events``) or live over Server-Sent Events."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Header, Query, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import StreamingResponse
from starlette.types import Receive, Scope, Send

from api.http.deps import LedgerDep, ServicesDep, SlugPath
from api.http.feed import (
    PAGE,
    EventHub,
    Subscription,
    entry_of_row,
    frames,
    negotiation_rows_after,
    rows_after,
)
from api.http.paging import MAX_POSITION
from api.http.schemas import FeedEntry, FeedPage, Problem
from domain.errors import InvalidValue
from projections.views import EventRow

router = APIRouter(tags=["feed"])

CUT_OFF_GRACE = 1.0
"""Seconds an ended stream may take to finish on its own before its connection is cut."""
STREAM_DESCRIPTION = """\
Server-Sent Events: each event recorded from now on (or after `Last-Event-ID` / `after`, the
log position of the last event seen) as `id:` its log position, `event:` its type and
`data:` its ledger entry (with `negotiation`). A reconnecting client sends `Last-Event-ID`
and gets every later event once, with no gap. Comment lines are heartbeats. A client that
falls more than the server's buffer (`PARLEY_STREAM_BUFFER` events) behind is disconnected
and resumes from its last id. Try it: `curl -N -H 'Authorization: Bearer KEY' URL`.
"""
STREAM_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/event-stream": {}}, "description": "The event stream"},
    422: {"model": Problem, "description": "`after` or `Last-Event-ID` is not a log position"},
}


@router.get(
    "/events",
    summary="The whole ledger in log order, a page at a time",
    responses={
        503: {"model": Problem, "description": "The read views lag behind the ledger"},
    },
)
def list_all_events(
    services: ServicesDep,
    after: Annotated[
        int, Query(ge=0, le=MAX_POSITION, description="The log position of the last entry seen")
    ] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> FeedPage:
    views = services.fresh_views()
    rows = rows_after(views, after, limit)
    return FeedPage(
        events=[FeedEntry.model_validate(entry_of_row(r)) for r in rows],
        next_after=rows[-1].position if len(rows) == limit else None,
    )


class EventStreamResponse(StreamingResponse):
    """A stream that also ends when its subscription is ended, even if the client stopped reading."""

    def __init__(self, content: Any, subscription: Subscription, hub: EventHub) -> None:
        super().__init__(
            content,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
        )
        self.subscription = subscription
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            async with anyio.create_task_group() as group:

                async def run(func: Callable[[], Awaitable[None]]) -> None:
                    await func()
                    group.cancel_scope.cancel()

                async def cut_off() -> None:
                    # Ended (overflow, shutdown): the stream says so and returns; a client
                    # that reads nothing keeps it stuck in send, so its connection is cut.
                    await self.subscription.ended.wait()
                    await anyio.sleep(CUT_OFF_GRACE)

                group.start_soon(run, functools.partial(self.stream_response, send))
                group.start_soon(run, cut_off)
                await run(functools.partial(self.listen_for_disconnect, receive))
        except OSError:
            pass  # the client went away mid-write
        finally:
            self.hub.unsubscribe(self.subscription)


def _start(after: int | None, last_event_id: str | None) -> int | None:
    """Where a stream resumes: ``Last-Event-ID`` (a reconnect) wins over ``after``."""
    if last_event_id is not None and last_event_id.strip():
        text = last_event_id.strip()
        if not text.isdigit() or int(text) > MAX_POSITION:
            raise InvalidValue(
                "Last-Event-ID must be a log position (an id this stream sent)",
                field="Last-Event-ID",
            )
        return int(text)
    return after


async def _stream(
    request: Request,
    slug: str | None,
    start: int | None,
) -> EventStreamResponse:
    hub: EventHub = request.app.state.hub
    settings = request.app.state.settings
    if start is None:
        # "From now on": after the last event recorded, which the views may not hold yet.
        start = int(await run_in_threadpool(request.app.state.ledger.head_position))
    subscription = await run_in_threadpool(hub.subscribe, slug, asyncio.get_running_loop())
    views = hub.views

    def catch_up(last: int, upto: int) -> list[EventRow]:
        if slug is None:
            return rows_after(views, last, PAGE, upto=upto)
        return negotiation_rows_after(views, slug, last, upto=upto)

    body = frames(
        hub,
        subscription,
        catch_up,
        start,
        settings.stream_heartbeat_seconds,
        run_in_threadpool,
    )
    return EventStreamResponse(body, subscription, hub)


AfterQuery = Annotated[
    int | None,
    Query(
        ge=0,
        le=MAX_POSITION,
        description="Resume after this log position (default: from now on)",
    ),
]
LastEventIdHeader = Annotated[
    str | None,
    Header(alias="Last-Event-ID", description="Sent by a reconnecting client: wins over `after`"),
]


@router.get(
    "/events/stream",
    summary="Follow the whole ledger live (Server-Sent Events)",
    description=STREAM_DESCRIPTION,
    response_class=StreamingResponse,
    responses=STREAM_RESPONSES,
)
async def stream_all_events(
    request: Request, after: AfterQuery = None, last_event_id: LastEventIdHeader = None
) -> EventStreamResponse:
    return await _stream(request, None, _start(after, last_event_id))


@router.get(
    "/negotiations/{slug}/stream",
    summary="Follow one negotiation live (Server-Sent Events)",
    description=STREAM_DESCRIPTION,
    response_class=StreamingResponse,
    responses={**STREAM_RESPONSES, 404: {"model": Problem, "description": "No such negotiation"}},
)
async def stream_negotiation(
    request: Request,
    slug: SlugPath,
    ledger: LedgerDep,
    after: AfterQuery = None,
    last_event_id: LastEventIdHeader = None,
) -> EventStreamResponse:
    await run_in_threadpool(ledger.get, slug)  # 404 for a negotiation nobody opened
    return await _stream(request, slug, _start(after, last_event_id))
