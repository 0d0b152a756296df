"""A negotiation's summary: the aggregate's version and ETag, the views' positions and gaps.

The summary's ``version`` and ``ETag`` are the aggregate's; its positions and headline gaps
are read from the views, cut at that same version so the two always agree.
"""

from __future__ import annotations

from datetime import date

from fastapi import Response, status

from api.http.conditional import etag_headers, etag_of, not_modified
from api.http.deps import Services, TimeTravel
from api.http.presenters.summary import full_summary, stored_headlines, stored_headlines_as_of
from api.http.reads.travel import rewound, stream_of_view, travel_version
from api.http.schemas import NegotiationSummary, summary_of
from projections.analytics import Reader


def summary_read(
    services: Services,
    slug: str,
    travel: TimeTravel,
    today: date,
    response: Response,
    if_none_match: str | None = None,
) -> Response | NegotiationSummary:
    """``GET /negotiations/{slug}``'s answer (its ETag set on ``response``), or a 304."""
    ledger, max_pairs = services.ledger, services.settings.max_pairs
    # The aggregate first, then the views: waiting for the head read after it means the
    # view holds every event up to the aggregate's version.
    neg = ledger.get(slug)
    version = neg.version
    if travel.as_of_version is not None:
        version = min(version, travel.as_of_version)
    if travel.as_of_recorded is None and not_modified(if_none_match, version):
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(version))
    views = services.fresh_views(slug)
    reader: Reader | None = views
    if travel.rewinds:
        # The state after the first N events: from the fold checkpoint below N.
        version = min(version, travel_version(views, slug, travel))
        if travel.as_of_recorded is not None and not_modified(if_none_match, version):
            return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(version))
        reader = rewound(views, slug, travel, version)
        if reader is not None and version != neg.version:
            neg = ledger.get(slug, version=version)
    if reader is not None and travel.as_of is None:
        stored = stored_headlines(reader, slug, today, max_pairs)
        if stored is not None:
            response.headers["ETag"] = etag_of(neg.version)
            summary = summary_of(neg)
            summary.positions, summary.gaps = stored
            return summary
    if reader is not None and travel.as_of is not None:
        stored = stored_headlines_as_of(reader, slug, travel.as_of, today, max_pairs)
        if stored is not None:
            response.headers["ETag"] = etag_of(neg.version)
            summary = summary_of(neg)
            summary.positions, summary.gaps = stored
            summary.as_of = travel.as_of.isoformat()
            return summary
    stream = stream_of_view(views, slug, travel).up_to_version(version)
    if travel.as_of_recorded is not None and not_modified(if_none_match, stream.version):
        return Response(
            status_code=status.HTTP_304_NOT_MODIFIED, headers=etag_headers(stream.version)
        )
    if stream.version != neg.version:
        neg = ledger.get(slug, version=stream.version)
    response.headers["ETag"] = etag_of(neg.version)
    return full_summary(neg, stream, travel.as_of, today, max_pairs)
