"""The negotiation dance a chart draws, from the stored chart input or the fold."""

from __future__ import annotations

from datetime import date

from api.http.deps import TimeTravel, view_storage_errors
from api.http.reads.travel import rewound, stream_of_view, travel_version
from api.render.charts import Dance, UnknownTerm
from api.render.dance_fold import dance
from api.render.stored_chart import chart_input
from domain.errors import InvalidValue
from projections.views import Views


def dance_read(views: Views, slug: str, term: str | None, travel: TimeTravel, today: date) -> Dance:
    """The dance on ``term`` (default: the first defined), as the request's time travel asks."""
    try:
        at = None
        if travel.rewinds:
            # The analytics after the first N events, from the fold checkpoint below N.
            version = travel_version(views, slug, travel)
            overlay = rewound(views, slug, travel, version)
            at = None if overlay is None else (overlay, version)
        if not travel.rewinds or at is not None:
            with view_storage_errors():
                found = chart_input(views, slug, term, travel.as_of, at)
            if found is not None:
                return dance(
                    found.stream,
                    term=term,
                    as_of=travel.as_of,
                    today=today,
                    span=found.span,
                    parties=found.parties,
                )
        stream = stream_of_view(views, slug, travel)
        return dance(stream, term=term, as_of=travel.as_of, today=today)
    except UnknownTerm as e:
        raise InvalidValue(str(e), field="term") from None
