"""A negotiation's events: append (one or a batch, atomically) and read the ledger."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Body,
    Depends,
    Header,
    HTTPException,
    Path,
    Query,
    Request,
    Response,
    status,
)
from pydantic import TypeAdapter

from api.auth import Principal, Role, current_principal
from api.deps import (
    IdempotencyKeyHeader,
    LedgerDep,
    Services,
    SlugPath,
    get_services,
    known_slug,
)
from api.schemas import (
    EVENT_CREATE_MODELS,
    EventCreate,
    EventPage,
    Problem,
    RecordedPublic,
    entry_of,
    example_of,
    fingerprint,
    recorded_of,
)
from domain.errors import InvalidValue, ParleyError

router = APIRouter(prefix="/negotiations/{slug}/events", tags=["events"])
appends = APIRouter(prefix="/negotiations/{slug}/events", tags=["events"])
"""The append route, included without the readers' router-wide check: ``appending`` makes it."""

EventsBody = EventCreate | list[EventCreate]
_BODY = TypeAdapter(EventsBody)
IF_MATCH_RE = re.compile(r'^"(\d{1,18})"$')

BODY_EXAMPLES: dict[str, Any] = {
    model.__name__.removesuffix("Create"): {
        "summary": example_of(model)["type"],
        "value": example_of(model),
    }
    for model in EVENT_CREATE_MODELS
}
BODY_EXAMPLES["Batch"] = {
    "summary": "several events, recorded atomically",
    "value": [
        {
            "type": "exchange_rate_recorded",
            "base": "USD",
            "quote": "KRW",
            "rate": "1223.5",
            "occurred_at": "2020-04-06",
        },
        example_of(EVENT_CREATE_MODELS[3]),
    ],
}


def parse_if_match(header: str | None) -> int | None:
    """``"<version>"`` -> the version the client expects; ``*`` asks only that it exists."""
    if header is None or header.strip() == "*":
        return None
    found = IF_MATCH_RE.match(header.strip())
    if found is None:
        raise HTTPException(
            status.HTTP_400_BAD_REQUEST,
            detail='If-Match must be the negotiation\'s ETag, a quoted version such as "7"',
        )
    return int(found.group(1))


@dataclass(frozen=True)
class Appending:
    slug: str
    services: Services
    principal: Principal


async def appending(
    request: Request,
    slug: Annotated[str, Path(description="The negotiation's slug", examples=["us-rok-sma-2020"])],
) -> Appending:
    """The append route's one dependency: the slug, the services and a recorder's principal.

    What the readers' router-wide ``require(Role.READER)``, ``SlugPath``, ``ServicesDep``
    and ``require(Role.RECORDER)`` did, in that order, as one: FastAPI's work per
    dependency was a visible share of an append's CPU.
    """
    principal = await current_principal(request)
    action = f"{request.method} {request.url.path}"
    principal.require(Role.READER, action)
    known = await known_slug(slug)
    services = await get_services(request)
    principal.require(Role.RECORDER, action)
    return Appending(known, services, principal)


def _place(error: ParleyError, index: int, batch: bool) -> ParleyError:
    """Points an item's error at its place in the body: ``[2].party`` in a batch, ``party`` alone."""
    prefix = f"[{index}]"
    if batch:
        if error.field is not None and not error.field.startswith(prefix):
            error.field = f"{prefix}.{error.field}"
        error.extra.setdefault("index", index)
    else:
        if error.field is not None:
            error.field = error.field.removeprefix(prefix + ".")
        error.extra.pop("index", None)
    return error


@appends.post(
    "",
    status_code=status.HTTP_201_CREATED,
    summary="Record one event, or several atomically",
    responses={
        404: {"model": Problem, "description": "No negotiation has that slug"},
        409: {"model": Problem, "description": "Concurrent writers kept colliding"},
        412: {"model": Problem, "description": "If-Match names a version that is not current"},
        422: {"model": Problem, "description": "Invalid, breaks a rule, or a reused key"},
    },
)
def record_events(
    context: Annotated[Appending, Depends(appending)],
    body: Annotated[EventsBody, Body(openapi_examples=BODY_EXAMPLES)],
    response: Response,
    if_match: Annotated[
        str | None,
        Header(alias="If-Match", description='The version the client saw, e.g. "7"'),
    ] = None,
    idempotency_key: IdempotencyKeyHeader = None,
) -> RecordedPublic:
    slug, principal = context.slug, context.principal
    services = context.services
    ledger, runner, settings = services.ledger, services.runner, services.settings
    batch = isinstance(body, list)
    items = body if isinstance(body, list) else [body]
    if len(items) > settings.max_batch:
        raise InvalidValue(f"a request carries at most {settings.max_batch} events", field="events")
    if any(item.type == "event_retracted" for item in items):
        principal.require(Role.ADMIN, "retracting an event")
    expected_version = parse_if_match(if_match)
    new_facts = []
    for index, item in enumerate(items):
        try:
            new_facts.append(item.to_fact())
        except ParleyError as e:
            raise _place(e, index, batch) from None
    try:
        recorded = ledger.record(
            slug,
            new_facts,
            expected_version=expected_version,
            recorded_by=principal.name,
            idempotency_key=idempotency_key,
            # Only a keyed request is ever compared with another: no digest without a key.
            fingerprint="" if idempotency_key is None else fingerprint(_BODY.dump_python(body)),
        )
    except ParleyError as e:
        where = e.extra.get("index")
        if isinstance(where, int):
            _place(e, where, batch)
        raise
    # The views pick the new events up now, not at their next poll; while appends stream
    # in they are applied in batches (a reader's wait for its write still cuts that short).
    runner.nudge(coalesce=True)
    response.headers["ETag"] = f'"{recorded.version}"'
    if recorded.replayed:
        response.headers["Idempotent-Replayed"] = "true"
    return recorded_of(recorded)


@router.get(
    "",
    summary="The ledger of one negotiation, in recorded order",
    responses={404: {"model": Problem, "description": "No negotiation has that slug"}},
)
def list_events(
    slug: SlugPath,
    ledger: LedgerDep,
    after_version: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> EventPage:
    neg = ledger.get(slug)
    found = []
    if after_version < neg.version:
        found = ledger.stream(
            slug, after_version=after_version, up_to_version=neg.version, limit=limit
        )
    positions = (
        ledger.positions(slug, found[0].originator_version, found[-1].originator_version)
        if found
        else {}
    )
    last = found[-1].originator_version if found else None
    return EventPage(
        negotiation=neg.slug,
        events=[entry_of(e, neg, positions.get(e.originator_version)) for e in found],
        next_after_version=last if last is not None and last < neg.version else None,
    )
