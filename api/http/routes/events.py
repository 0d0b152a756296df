"""A negotiation's events: append (one or a batch, atomically) and read the ledger."""

from __future__ import annotations

import re
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Header, Path, Request, Response, status
from fastapi.datastructures import DefaultPlaceholder
from fastapi.exceptions import ResponseValidationError
from fastapi.routing import APIRoute, _effective_route_context_var
from pydantic import TypeAdapter
from starlette.concurrency import run_in_threadpool
from starlette.requests import ClientDisconnect

from api.http.auth import Principal, Role, current_principal
from api.http.conditional import etag_of, parse_if_match
from api.http.deps import (
    IdempotencyKeyHeader,
    LedgerDep,
    Services,
    SlugPath,
    get_services,
    known_slug,
)
from api.http.paging import AfterVersionQuery, LedgerLimitQuery, ledger_page
from api.http.schemas import (
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

EventsBody = EventCreate | list[EventCreate]
_BODY = TypeAdapter(EventsBody)

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
    # The refusal's words (the request's URL) are worked out only for a refusal.
    if not principal.may(Role.READER):
        principal.require(Role.READER, _action(request))
    known = await known_slug(slug)
    services = await get_services(request)
    if not principal.may(Role.RECORDER):
        principal.require(Role.RECORDER, _action(request))
    return Appending(known, services, principal)


def _action(request: Request) -> str:
    return f"{request.method} {request.url.path}"


IDEMPOTENCY_KEY_RE = re.compile(r"[\x21-\x7e]{1,255}")
"""What ``IdempotencyKeyHeader`` accepts, checked in the fast path (FastAPI's check decides otherwise)."""


class AppendRoute(APIRoute):
    """The append route, with a fast path for the request that is as it should be.

    FastAPI's handler solves every parameter of every dependency per request (headers one by
    one, the body through the generic machinery) and hops to a worker thread twice (endpoint,
    then response validation): a visible share of an append's CPU. The fast path takes a
    request whose body is JSON (``Content-Type: application/json``), whose headers and body
    validate, and does the same steps directly: the body read and parsed, ``appending``, the
    headers and the body validated by the route's own fields, the endpoint and the response
    serialisation in one worker thread. Anything else (a malformed body, an invalid header
    or body, another media type) goes to FastAPI's handler, which answers exactly as it
    always did; the OpenAPI document is the route's own, unchanged.
    """

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        slow = super().get_route_handler()
        route: Any = _effective_route_context_var.get()
        if route is None or route.original_route is not self:
            route = self
        body_field, response_field = route.body_field, route.response_field
        if (
            [d.call for d in route.dependant.dependencies] != [appending]
            or body_field is None
            or response_field is None
            or route.dependency_overrides_provider is None
            or not isinstance(route.response_class, DefaultPlaceholder)
        ):
            return slow
        overrides_provider = route.dependency_overrides_provider
        status_code = route.status_code

        async def handle(request: Request) -> Response:
            headers = request.headers
            if headers.get("content-type") != "application/json" or getattr(
                overrides_provider, "dependency_overrides", None
            ):
                return await slow(request)
            try:
                data = await json_body(request)  # cached: FastAPI's handler reads the same
            except ValueError:  # malformed JSON or not UTF-8: FastAPI words the answer
                return await slow(request)
            context = await appending(request, request.path_params["slug"])
            keys = headers.getlist("idempotency-key")
            if len(keys) > 1 or (keys and not IDEMPOTENCY_KEY_RE.fullmatch(keys[0])):
                return await slow(request)
            body, errors = body_field.validate(data, {}, loc=("body",))
            if errors:
                return await slow(request)
            sub_response = Response()
            del sub_response.headers["content-length"]
            sub_response.status_code = None  # type: ignore[assignment]

            def endpoint() -> bytes:
                raw = record_events(
                    context,
                    body,
                    sub_response,
                    headers.get("if-match"),
                    keys[0] if keys else None,
                )
                value, errors = response_field.validate(raw, {}, loc=("response",))
                if errors:
                    raise ResponseValidationError(errors=errors, body=raw)
                content: bytes = response_field.serialize_json(
                    value,
                    include=route.response_model_include,
                    exclude=route.response_model_exclude,
                    by_alias=route.response_model_by_alias,
                    exclude_unset=route.response_model_exclude_unset,
                    exclude_defaults=route.response_model_exclude_defaults,
                    exclude_none=route.response_model_exclude_none,
                )
                return content

            content = await run_in_threadpool(endpoint)
            response = Response(
                content,
                status_code=sub_response.status_code or status_code or 200,
                media_type="application/json",
            )
            response.raw_headers.extend(sub_response.raw_headers)  # no MutableHeaders built
            return response

        return handle


async def json_body(request: Request) -> Any:
    """``await request.json()``, with the body read straight from ``receive``.

    Starlette reads it through an async generator (which the loop registers and finalises)
    in an ``aclosing`` block: ~10 us of an append's work on the event loop. The body is
    kept where Starlette keeps it, so every later read (FastAPI's handler's) gets it.
    """
    if not hasattr(request, "_body"):
        chunks = []
        while True:
            message = await request.receive()
            if message["type"] == "http.request":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            elif message["type"] == "http.disconnect":
                request._is_disconnected = True
                raise ClientDisconnect
        request._body = b"".join(chunks)
    return await request.json()


appends = APIRouter(prefix="/negotiations/{slug}/events", tags=["events"], route_class=AppendRoute)
"""The append route, included without the readers' router-wide check: ``appending`` makes it."""


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
    response.headers["ETag"] = etag_of(recorded.version)
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
    after_version: AfterVersionQuery = 0,
    limit: LedgerLimitQuery = 100,
) -> EventPage:
    page = ledger_page(ledger, slug, after_version, limit)
    neg = page.negotiation
    return EventPage(
        negotiation=neg.slug,
        events=[entry_of(e, neg, page.positions.get(e.originator_version)) for e in page.events],
        next_after_version=page.next_after_version,
    )
