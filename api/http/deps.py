"""Dependencies of the routes, as ``Annotated`` aliases, and the read views' waiting rule."""

from __future__ import annotations

import re
import weakref
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import Depends, Header, Path, Query, Request

from api.errors import ViewLaggingError as ViewLaggingError  # raised here; imported from here too
from api.http.freshness import Lookup, last_position_lookup
from api.settings import Settings
from domain.errors import InvalidValue, NegotiationNotFound
from domain.ledger import Ledger
from domain.values import SLUG_RE, OccurredAt, parse_occurred_at, quoted
from projections.runner import ProjectionRunner
from projections.storage import view_storage_errors as view_storage_errors  # routes' import
from projections.views import Views

# The request-scoped dependencies below do no I/O: declared async, FastAPI calls them in
# the event loop instead of sending each to a worker thread (a thread hop per dependency
# per request was a good part of an append's CPU).


async def get_ledger(request: Request) -> Ledger:
    ledger: Ledger = request.app.state.ledger
    return ledger


async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


async def get_runner(request: Request) -> ProjectionRunner:
    runner: ProjectionRunner = request.app.state.runner
    return runner


async def get_today() -> date:
    """The reference date of ``days_since_last_move`` when a request gives no ``as_of``."""
    return datetime.now(UTC).date()


@dataclass(frozen=True)
class Services:
    """The ledger, the runner and the settings as one dependency: a route resolves one
    instead of three (FastAPI's per-dependency work is a visible part of an append's CPU).

    A read asks it for the views with ``fresh_views`` where the handler needs them, not
    before the handler runs: a summary reads the aggregate first and may answer 304
    without waiting, a list checks its cursor first.
    """

    ledger: Ledger
    runner: ProjectionRunner
    settings: Settings

    def fresh_views(self, slug: str | None = None) -> Views:
        """The views once they hold every event recorded before this call (read-your-writes).

        Waits, bounded by ``read_wait_seconds``, for the views to reach the ledger's head, or
        with a ``slug``, that negotiation's own last event: writers of other negotiations do
        not hold its readers up. Not there in time: ``ViewLaggingError`` (503 view-lagging).
        """
        ledger, runner, settings = self.ledger, self.runner, self.settings
        with view_storage_errors():
            target = None if slug is None else _last_position(ledger, runner.views)(slug)
        if target is None:
            target = ledger.head_position()
        with view_storage_errors():
            if not runner.wait_for(target, timeout=settings.read_wait_seconds):
                reached = min(runner.positions(refresh=True).values())
                raise ViewLaggingError(target, reached, settings.read_wait_seconds)
        return runner.views


async def get_services(request: Request) -> Services:
    state = request.app.state
    services: Services | None = getattr(state, "services", None)
    if services is None or services.ledger is not state.ledger:
        services = Services(state.ledger, state.runner, state.settings)
        state.services = services
    return services


LedgerDep = Annotated[Ledger, Depends(get_ledger)]
ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
RunnerDep = Annotated[ProjectionRunner, Depends(get_runner)]
TodayDep = Annotated[date, Depends(get_today)]

MAX_VERSION = 2**63 - 1  # a version is a signed 64-bit integer in every store

IdempotencyKeyHeader = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
        description="A repeat with the same key and body returns the first response.",
    ),
]


# ------------------------------------------------------------------ slugs


async def known_slug(
    slug: Annotated[str, Path(description="The negotiation's slug", examples=["us-rok-sma-2020"])],
) -> str:
    """The path's slug; one no negotiation can have is not found, before any store sees it.

    A store may refuse such text outright (PostgreSQL: NUL), which must not become a 500.
    """
    if not SLUG_RE.fullmatch(slug):
        raise NegotiationNotFound(f"no negotiation {quoted(slug)}")
    return slug


SlugPath = Annotated[str, Depends(known_slug)]


# ------------------------------------------------------------------ read views


_LOOKUPS: weakref.WeakKeyDictionary[Ledger, Lookup] = weakref.WeakKeyDictionary()


def _last_position(ledger: Ledger, views: Views) -> Lookup:
    found = _LOOKUPS.get(ledger)
    if found is None:
        found = _LOOKUPS[ledger] = last_position_lookup(ledger, views)
    return found


# ------------------------------------------------------------------ time travel

# A ``+`` in a query string reads as a space: ``as_of=2020-04-06T20:30:00+09:00`` unencoded.
_SPACED_OFFSET = re.compile(r" (\d{2}(:?\d{2})?)$")


def unspaced_offset(text: str) -> str:
    """Puts back the ``+`` of a UTC offset that an unencoded query string turned into a space."""
    return _SPACED_OFFSET.sub(r"+\1", text.strip())


def parse_as_of(value: str | None) -> OccurredAt | None:
    """``as_of``: a date (its whole day) or a datetime with its offset."""
    return None if value is None else parse_occurred_at(unspaced_offset(value), "as_of")


def parse_as_of_recorded(value: str | None) -> datetime | None:
    """``as_of_recorded``: a moment on the ledger's clock, a datetime with its offset."""
    if value is None:
        return None
    text = unspaced_offset(value)
    try:
        moment = datetime.fromisoformat(text) if len(text) > 10 else None
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() is None:
        raise InvalidValue(
            f"{quoted(value)} is not an ISO 8601 datetime with its UTC offset "
            "(e.g. 2020-04-07T09:00:00+00:00)",
            field="as_of_recorded",
        )
    try:
        return moment.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:59:59-23:59 lies past the calendar in UTC
        raise InvalidValue(
            f"{quoted(value)} is out of range in UTC", field="as_of_recorded"
        ) from None


@dataclass(frozen=True)
class TimeTravel:
    """Which state a read shows: after the first N events, as recorded then, as of a moment."""

    as_of_version: int | None = None
    as_of_recorded: datetime | None = None
    as_of: OccurredAt | None = None

    @property
    def rewinds(self) -> bool:
        """Whether the read looks at an earlier state of the ledger (not only of the world)."""
        return self.as_of_version is not None or self.as_of_recorded is not None


def time_travel(
    as_of_version: Annotated[
        int | None,
        # Bounded: every store keeps versions as signed 64-bit integers.
        Query(ge=1, le=MAX_VERSION, description="The state after the stream's first N events."),
    ] = None,
    as_of_recorded: Annotated[
        str | None,
        Query(
            max_length=64,
            description="What the ledger said at that moment (a datetime with its offset), "
            "including facts retracted later.",
            examples=["2026-01-01T12:00:00+00:00"],
        ),
    ] = None,
    as_of: Annotated[
        str | None,
        Query(
            max_length=64,
            description="What had happened in the world by then, by occurred_at, as now "
            "known: a date (the whole day) or a datetime with its offset.",
            examples=["2020-04-07"],
        ),
    ] = None,
) -> TimeTravel:
    return TimeTravel(
        as_of_version=as_of_version,
        as_of_recorded=parse_as_of_recorded(as_of_recorded),
        as_of=parse_as_of(as_of),
    )


TimeTravelDep = Annotated[TimeTravel, Depends(time_travel)]


ChartTermQuery = Annotated[
    str | None,
    Query(
        max_length=64,
        description="The term to chart (default: the first defined).",
        examples=["annual_contribution"],
    ),
]
