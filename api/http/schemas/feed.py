"""The global feed: ledger entries of every negotiation, in log order."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.http.schemas.events import EventPublic


class FeedEntry(EventPublic):
    """A ledger entry as in its negotiation's ledger, plus the negotiation's slug."""

    negotiation: str
    position: int  # every entry of the feed has its place in the log


class FeedPage(BaseModel):
    events: list[FeedEntry]
    next_after: int | None = Field(
        description="Pass as `after` for the next page; null when this page reached the end "
        "of the log (follow on from the last entry's position)."
    )
