"""A negotiation's analytics, read from the events view: positions, gaps and the timeline.

Each read first waits, bounded, for the views to reach the ledger's head (read-your-writes,
see ``api.deps.fresh_views``), then folds the negotiation's rows with the pure projections.
Time travel: ``as_of_version`` and ``as_of_recorded`` cut the stream (what the ledger held
then), ``as_of`` cuts the world (what had occurred by then, as now known).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query

from api.deps import (
    LedgerDep,
    RunnerDep,
    SettingsDep,
    SlugPath,
    TimeTravel,
    TimeTravelDep,
    TodayDep,
    fresh_views,
    unspaced_offset,
    view_storage_errors,
)
from api.schemas import (
    GapHeadlinePublic,
    GapsPublic,
    PositionsPublic,
    Problem,
    TermGapHeadlinesPublic,
    TermPositionsPublic,
    TimelinePublic,
)
from domain.errors import InvalidValue, NegotiationNotFound
from domain.facts import FACT_TYPES
from domain.values import OccurredAt, parse_occurred_at
from projections.gaps import gaps_of, ordered_pair, pair_count
from projections.positions import Book, build_book, format_at, positions, positions_of
from projections.records import Stream
from projections.rows import stream_from_rows
from projections.timeline import timeline
from projections.views import Views

router = APIRouter(prefix="/negotiations/{slug}", tags=["analytics"])

RESPONSES: dict[int | str, dict[str, Any]] = {
    404: {"model": Problem, "description": "No negotiation has that slug (at that moment)"},
    422: {"model": Problem, "description": "A parameter is invalid"},
    503: {
        "model": Problem,
        "description": "The read views lag behind the ledger (view-lagging, with Retry-After), "
        "or the store is unavailable",
    },
}

HEADLINE_FIELDS = tuple(GapHeadlinePublic.model_fields)


def stream_of_view(views: Views, slug: str, travel: TimeTravel) -> Stream:
    """The negotiation's stream as the view holds it, cut as the request's time travel asks."""
    with view_storage_errors():
        # The first N versions are the first N rows: no need to read the rest.
        rows = views.events_of(slug, limit=travel.as_of_version)
    if not rows:
        raise NegotiationNotFound(f"no negotiation {slug!r}")
    stream = stream_from_rows(rows)
    if travel.as_of_recorded is not None:
        stream = stream.recorded_by_time(travel.as_of_recorded)
        if not stream.records:
            moment = travel.as_of_recorded.isoformat()
            raise NegotiationNotFound(f"no negotiation {slug!r} was on record at {moment}")
    return stream


def headline_terms(book: Book, max_pairs: int) -> list[str]:
    """The terms whose headline gaps a summary carries: in order, while their pairs fit.

    A summary never computes more than ``max_pairs`` entries; ``/gaps?term=`` has the rest.
    """
    chosen: list[str] = []
    total = 0
    for term in book.terms:
        total += pair_count(book, [term.id])
        if total > max_pairs:
            break
        chosen.append(term.id)
    return chosen


def headlines_of(
    stream: Stream, as_of: OccurredAt | None, today: date, max_pairs: int = 2016
) -> tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]]:
    """The summary's current positions and headline gaps (nothing that moves with the clock)."""
    book = build_book(stream, as_of)
    terms = [TermPositionsPublic.model_validate(t) for t in positions_of(book)]
    headlines = [
        TermGapHeadlinesPublic(
            term=term["term"],
            unit=term["unit"],
            pairs=[
                GapHeadlinePublic.model_validate({k: pair[k] for k in HEADLINE_FIELDS})
                for pair in term["pairs"]
            ],
        )
        for term in gaps_of(book, today, headline_terms(book, max_pairs))
    ]
    return terms, headlines


@router.get(
    "/positions",
    summary="Each party's standing value per term",
    description="Per term, per party: the latest live offer (or live agreement) carrying the "
    "term, converted to the term's unit at the latest recorded rate.",
    responses=RESPONSES,
)
def read_positions(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
) -> PositionsPublic:
    views = fresh_views(ledger, runner, settings)
    stream = stream_of_view(views, slug, travel)
    return PositionsPublic.model_validate(positions(stream, as_of=travel.as_of))


@router.get(
    "/gaps",
    summary="The gap metrics per term and pair of parties",
    description="Gap, midpoint, relative gap, ratio, initial gap, closed share, concessions, "
    "moves, days and rounds since the last move, the history and a forecast (GAP-METRICS).",
    responses=RESPONSES,
)
def read_gaps(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
    today: TodayDep,
    term: Annotated[
        list[str] | None,
        Query(description="Only these terms (repeatable).", max_length=64),
    ] = None,
    pair: Annotated[
        str | None,
        Query(
            description="Only this pair of parties, as `P,Q` (either order).",
            max_length=80,
            pattern=r"^[^,]+,[^,]+$",
        ),
    ] = None,
) -> GapsPublic:
    views = fresh_views(ledger, runner, settings)
    stream = stream_of_view(views, slug, travel)
    book = build_book(stream, travel.as_of)
    chosen = check_gap_filters(book, term, pair, settings.max_pairs)
    document = {
        "negotiation": book.slug,
        "as_of": format_at(book.as_of),
        "terms": gaps_of(book, today, term, chosen),
    }
    return GapsPublic.model_validate(document)


def check_gap_filters(
    book: Book, terms: list[str] | None, pair: str | None, max_pairs: int
) -> tuple[str, str] | None:
    """The pair asked for, in the gaps' order; 422 for unknown names or too wide a read."""
    known = {t.id for t in book.terms}
    unknown = sorted(set(terms or ()) - known)
    if unknown:
        raise InvalidValue(
            f"no term {', '.join(unknown)} in this negotiation; its terms are "
            f"{', '.join(sorted(known)) or 'none'}",
            field="term",
        )
    chosen = None
    if pair is not None:
        p, q = (part.strip() for part in pair.split(",", 1))
        chosen = ordered_pair(book, (p, q))
        if chosen is None:
            raise InvalidValue(
                f"pair {pair!r} is not two distinct parties of this negotiation", field="pair"
            )
    count = pair_count(book, terms, one_pair=chosen is not None)
    if count > max_pairs:
        raise InvalidValue(
            f"these gaps are {count} (term, pair) entries, more than the {max_pairs} one read "
            "computes (max_pairs): ask for fewer with term= or pair=P,Q",
            field="pair",
            limit=max_pairs,
        )
    return chosen


@router.get(
    "/timeline",
    summary="The negotiation's events in the order they happened",
    description="Events by occurred_at (a date at 00:00 UTC), ties in recording order. "
    "Retracted events stay, flagged with the event that retracted them.",
    responses=RESPONSES,
)
def read_timeline(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
    types: Annotated[
        list[str] | None,
        Query(alias="type", description="Only events of these types (repeatable)."),
    ] = None,
    party: Annotated[
        str | None, Query(max_length=32, description="Only events that name this party.")
    ] = None,
    from_: Annotated[
        str | None,
        Query(
            alias="from",
            max_length=64,
            description="Occurred on or after (a date from its 00:00 UTC).",
        ),
    ] = None,
    to: Annotated[
        str | None,
        Query(max_length=64, description="Occurred on or before (a date: its whole day)."),
    ] = None,
) -> TimelinePublic:
    unknown = sorted(set(types or ()) - set(FACT_TYPES))
    if unknown:
        raise InvalidValue(
            f"unknown event type(s) {', '.join(unknown)}; the types are "
            f"{', '.join(sorted(FACT_TYPES))}",
            field="type",
        )
    low = None if from_ is None else parse_occurred_at(unspaced_offset(from_), "from")
    high = None if to is None else parse_occurred_at(unspaced_offset(to), "to")
    views = fresh_views(ledger, runner, settings)
    stream = stream_of_view(views, slug, travel)
    return TimelinePublic.model_validate(
        timeline(stream, types=types, party=party, from_=low, to=high, as_of=travel.as_of)
    )
