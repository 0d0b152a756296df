"""A negotiation's analytics, read from the events view: positions, gaps and the timeline.

Each read first waits, bounded, for the views to reach the ledger's head (read-your-writes,
see ``api.http.deps.fresh_views``), then reads the stored analytics (``projections.analytics``).
Time travel: ``as_of_version`` and ``as_of_recorded`` cut the stream (what the ledger held
then: the analytics at the fold checkpoint below N plus at most K events,
``projections.checkpoints``; the timeline's rows cut at N), ``as_of`` cuts the world (what
had occurred by then, as now known: the stored series, ``projections.asof``). A negotiation
kept in an older layout, and a read with both, fold the events.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Query, Response

from api.http.deps import (
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
from api.http.schemas import (
    GapHeadlinePublic,
    GapsPublic,
    PositionsPublic,
    Problem,
    TermGapHeadlinesPublic,
    TermPositionsPublic,
    TimelinePublic,
)
from domain.canonical import format_recorded_at
from domain.errors import InvalidValue, NegotiationNotFound
from domain.facts import FACT_TYPES
from domain.values import OccurredAt, end_of_key, parse_occurred_at, sort_key
from projections.analytics import (
    Order,
    Reader,
    gaps_text,
    stored_gap_entries,
    stored_order,
    stored_positions,
)
from projections.asof import gaps_as_of, positions_as_of, summary_book
from projections.checkpoints import Overlay, analytics_at
from projections.gaps import gaps_of
from projections.positions import Book, build_book, format_at, positions, positions_of
from projections.records import END_OF_TIME, Stream
from projections.rows import stream_from_rows
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


def travel_version(views: Views, slug: str, travel: TimeTravel) -> int:
    """N, the prefix a rewinding read shows: ``as_of_version``, cut to what was on record at
    ``as_of_recorded`` (one indexed query); 404 when nothing of it was on record then."""
    version = travel.as_of_version
    if travel.as_of_recorded is not None:
        with view_storage_errors():
            recorded = views.recorded_prefix(slug, travel.as_of_recorded)
            if recorded == 0:
                if views.negotiation_row(slug) is None:
                    raise NegotiationNotFound(f"no negotiation {slug!r}")
                moment = travel.as_of_recorded.isoformat()
                raise NegotiationNotFound(f"no negotiation {slug!r} was on record at {moment}")
        version = recorded if version is None else min(version, recorded)
    if version is None:
        msg = "the read does not rewind"
        raise ValueError(msg)
    return version


def rewound(
    views: Views, slug: str, travel: TimeTravel, version: int | None = None
) -> Overlay | None:
    """The analytics after the travel's first N events (``version``: N, if known), from the
    fold checkpoint below N and at most K events (``projections.checkpoints``); None: none
    kept, the fold answers."""
    if version is None:
        version = travel_version(views, slug, travel)
    if travel.as_of is not None:
        return None  # checkpoints keep no step rows (see projections.checkpoints): the fold
    with view_storage_errors():
        return analytics_at(views, slug, version)


def headline_terms(book: Book | Order, max_pairs: int) -> list[str]:
    """The terms whose headline gaps a summary carries: in order, while their pairs fit.

    A summary never computes more than ``max_pairs`` entries; ``/gaps?term=`` has the rest.
    """
    n = len(book.parties)
    ids = [t.id for t in book.terms] if isinstance(book, Book) else [t["id"] for t in book.terms]
    per_term = n * (n - 1) // 2
    chosen: list[str] = []
    total = 0
    for term_id in ids:
        total += per_term
        if total > max_pairs:
            break
        chosen.append(term_id)
    return chosen


def stored_headlines(
    views: Reader, slug: str, today: date, max_pairs: int
) -> tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]] | None:
    """The summary's positions and headline gaps from the analytics view (or an ``Overlay``
    of it at a version)."""
    with view_storage_errors():
        document = stored_positions(views, slug)
        order = stored_order(views, slug)
        if document is None or order is None:
            return None
        entries = stored_gap_entries(
            views, slug, order, today, headline_terms(order, max_pairs), history=False
        )
    terms = [TermPositionsPublic.model_validate(t) for t in document["terms"]]
    headlines = [
        TermGapHeadlinesPublic(
            term=term["id"],
            unit=term["unit"],
            pairs=[GapHeadlinePublic.model_validate_json(text) for text in texts],
        )
        for term, texts in entries
    ]
    return terms, headlines


def stored_headlines_as_of(
    views: Reader, slug: str, as_of: OccurredAt, today: date, max_pairs: int
) -> tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]] | None:
    """The summary's positions and headline gaps at ``as_of``, from the stored series."""
    with view_storage_errors():
        order = stored_order(views, slug)
        if order is None or not order.current:
            return None
        book = summary_book(views, slug, order, as_of, headline_terms(order, max_pairs))
    return book_headlines(book, today, max_pairs)


def headlines_of(
    stream: Stream, as_of: OccurredAt | None, today: date, max_pairs: int = 2016
) -> tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]]:
    """The summary's current positions and headline gaps (nothing that moves with the clock)."""
    return book_headlines(build_book(stream, as_of), today, max_pairs)


def book_headlines(
    book: Book, today: date, max_pairs: int
) -> tuple[list[TermPositionsPublic], list[TermGapHeadlinesPublic]]:
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


def json_response(document: Any) -> Response:
    """A stored document as it is: the schema in the route's ``response_model`` describes it."""
    return Response(json.dumps(document, separators=(",", ":")), media_type="application/json")


@router.get(
    "/positions",
    summary="Each party's standing value per term",
    description="Per term, per party: the latest live offer (or live agreement) carrying the "
    "term, converted to the term's unit at the latest recorded rate.",
    responses=RESPONSES,
    response_model=PositionsPublic,
)
def read_positions(
    slug: SlugPath,
    ledger: LedgerDep,
    runner: RunnerDep,
    settings: SettingsDep,
    travel: TimeTravelDep,
) -> Response | PositionsPublic:
    views = fresh_views(ledger, runner, settings, slug)
    reader: Reader | None = rewound(views, slug, travel) if travel.rewinds else views
    if reader is not None and travel.as_of is None:
        with view_storage_errors():
            document = stored_positions(reader, slug)
        if document is not None:
            return json_response(document)
        if not travel.rewinds:
            raise NegotiationNotFound(f"no negotiation {slug!r}")
    if reader is not None and travel.as_of is not None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is not None and order.current:
                return json_response(positions_as_of(reader, slug, order, travel.as_of))
    stream = stream_of_view(views, slug, travel)
    return PositionsPublic.model_validate(positions(stream, as_of=travel.as_of))


@router.get(
    "/gaps",
    summary="The gap metrics per term and pair of parties",
    description="Gap, midpoint, relative gap, ratio, initial gap, closed share, concessions, "
    "moves, days and rounds since the last move, the history and a forecast (GAP-METRICS).",
    responses=RESPONSES,
    response_model=GapsPublic,
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
) -> Response | GapsPublic:
    views = fresh_views(ledger, runner, settings, slug)
    reader: Reader | None = rewound(views, slug, travel) if travel.rewinds else views
    if reader is not None and travel.as_of is None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is None and not travel.rewinds:
                raise NegotiationNotFound(f"no negotiation {slug!r}")
            if order is not None:
                chosen = check_gap_filters(order, term, pair, settings.max_pairs)
                ids = [t["id"] for t in order.terms] if term is None else term
                entries = stored_gap_entries(reader, slug, order, today, ids, chosen)
                return Response(gaps_text(order, entries), media_type="application/json")
    if reader is not None and travel.as_of is not None:
        with view_storage_errors():
            order = stored_order(reader, slug)
            if order is not None and order.current:
                chosen = check_gap_filters(order, term, pair, settings.max_pairs)
                document = gaps_as_of(reader, slug, order, travel.as_of, today, term, chosen)
                return GapsPublic.model_validate(document)
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
    book: Book | Order, terms: list[str] | None, pair: str | None, max_pairs: int
) -> tuple[str, str] | None:
    """The pair asked for, in the gaps' order; 422 for unknown names or too wide a read."""
    parties = list(book.parties)
    known = {t.id for t in book.terms} if isinstance(book, Book) else {t["id"] for t in book.terms}
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
        chosen = None
        if p != q and p in parties and q in parties:
            chosen = (p, q) if parties.index(p) < parties.index(q) else (q, p)
        if chosen is None:
            raise InvalidValue(
                f"pair {pair!r} is not two distinct parties of this negotiation", field="pair"
            )
    n = len(parties)
    per_term = 1 if chosen is not None else n * (n - 1) // 2
    count = per_term * len(known if terms is None else known & set(terms))
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
    "Retracted events stay, flagged with the event that retracted them. Paged: `limit` "
    "events (200 unless asked), the next page from `cursor`.",
    responses=RESPONSES,
    response_model=TimelinePublic,
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
    limit: Annotated[int, Query(ge=1, le=1000, description="Events per page.")] = 200,
    cursor: Annotated[
        str | None, Query(max_length=200, description="`next_cursor` of the page before.")
    ] = None,
) -> Response | TimelinePublic:
    unknown = sorted(set(types or ()) - set(FACT_TYPES))
    if unknown:
        raise InvalidValue(
            f"unknown event type(s) {', '.join(unknown)}; the types are "
            f"{', '.join(sorted(FACT_TYPES))}",
            field="type",
        )
    low = None if from_ is None else parse_occurred_at(unspaced_offset(from_), "from")
    high = None if to is None else parse_occurred_at(unspaced_offset(to), "to")
    after = None if cursor is None else decode_timeline_cursor(cursor)
    views = fresh_views(ledger, runner, settings, slug)
    # A rewinding read: the first N events' rows, each retracted only by then (no fold).
    version = travel_version(views, slug, travel) if travel.rewinds else None
    low_key = "" if low is None else sort_key(low)
    high_key = END_OF_TIME if high is None else end_of_key(high)
    if travel.as_of is not None:
        high_key = min(high_key, end_of_key(travel.as_of))
    with view_storage_errors():
        texts, last = timeline_page(
            views, slug, after, limit, low_key, high_key, types or (), party, version
        )
        if not texts and views.negotiation_row(slug) is None:
            raise NegotiationNotFound(f"no negotiation {slug!r}")
    as_of = _dumps(None if travel.as_of is None else travel.as_of.isoformat())
    next_cursor = _dumps(None if last is None else encode_timeline_cursor(*last))
    return Response(
        f'{{"negotiation":{_dumps(slug)},"as_of":{as_of},"events":[{",".join(texts)}],'
        f'"next_cursor":{next_cursor}}}',
        media_type="application/json",
    )


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_timeline_cursor(key: str, version: int) -> str:
    return base64.urlsafe_b64encode(f"{key}|{version}".encode()).decode().rstrip("=")


def decode_timeline_cursor(cursor: str) -> tuple[str, int]:
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        key, version = text.rsplit("|", 1)
        return key, int(version)
    except (ValueError, UnicodeDecodeError) as e:
        raise InvalidValue("cursor is not one this service handed out", field="cursor") from e


def payload_parties(payload: dict[str, Any]) -> set[str]:
    """``Record.parties`` of an event, from its stored payload."""
    found: set[str] = set()
    party = payload.get("party")
    if isinstance(party, dict):
        party = party.get("id")
    if isinstance(party, str):
        found.add(party)
    for name in ("raised_by", "initiated_by"):
        value = payload.get(name)
        if isinstance(value, str):
            found.add(value)
    for name in ("participants", "readouts", "delegations"):
        for item in payload.get(name) or ():
            if isinstance(item, dict) and isinstance(item.get("party"), str):
                found.add(item["party"])
    return found


def timeline_page(
    views: Views,
    slug: str,
    after: tuple[str, int] | None,
    limit: int,
    low: str,
    high: str,
    types: Sequence[str],
    party: str | None,
    version: int | None = None,
) -> tuple[list[str], tuple[str, int] | None]:
    """A page of timeline entries as JSON text (payloads as stored), and its cursor if full
    (``version``: of the first N events, as they stood then)."""
    texts: list[str] = []
    last: tuple[str, int] | None = after
    while len(texts) < limit:
        rows = views.timeline_rows(slug, last, limit, low, high, types, version)
        for row, payload in rows:
            last = (row.sort_key, row.version)
            if party is not None and party not in payload_parties(json.loads(payload)):
                continue
            texts.append(
                '{"event_id":'
                + _dumps(row.event_id)
                + ',"type":'
                + _dumps(row.type)
                + ',"occurred_at":'
                + _dumps(row.occurred_at)
                + ',"version":'
                + str(row.version)
                + ',"recorded_at":'
                + _dumps(format_recorded_at(row.recorded_at))
                + ',"recorded_by":'
                + _dumps(row.recorded_by)
                + ',"payload":'
                + payload
                + ',"retracted":'
                + ("false" if row.retracted_by is None else "true")
                + ',"retracted_by":'
                + _dumps(row.retracted_by)
                + "}"
            )
            if len(texts) == limit:
                return texts, last
        if len(rows) < limit:
            break
    return texts, None
