"""Time travel over the views: the stream cut as a read asks, and the analytics at version N."""

from __future__ import annotations

from api.http.deps import TimeTravel, view_storage_errors
from domain.errors import NegotiationNotFound
from projections.checkpoints import Overlay, analytics_at
from projections.records import Stream
from projections.rows import stream_from_rows
from projections.views import Views


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
