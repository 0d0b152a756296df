"""Response bodies of the negotiations: a negotiation's summary and the list of them."""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.http.schemas.analytics import TermGapHeadlinesPublic, TermPositionsPublic
from api.http.schemas.publics import AS_OF_DESCRIPTION, PartyPublic, TermPublic
from domain.canonical import format_recorded_at
from domain.negotiation import Negotiation


class NegotiationHead(BaseModel):
    """What a negotiation's summary and its line in the list both begin with."""

    slug: str
    title: str
    subject: str | None
    status: str
    version: int
    parties: list[PartyPublic]
    terms: list[TermPublic]
    counts: dict[str, int] = Field(description="How many events of each type are on record.")


class NegotiationSummary(NegotiationHead):
    head_hash: str = Field(description="The hash of the negotiation's latest event.")
    created_at: str
    updated_at: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)
    positions: list[TermPositionsPublic] = Field(
        default=[], description="Current positions, as `/positions` gives them."
    )
    gaps: list[TermGapHeadlinesPublic] = Field(
        default=[], description="Headline gaps per term and pair; `/gaps` has every metric."
    )


class NegotiationListItem(NegotiationHead):
    """One negotiation as the index view keeps it."""

    last_occurred_at: str = Field(description="The latest occurred_at of a live event.")
    updated_at: str = Field(description="When the ledger recorded its latest event.")
    gaps: list[TermGapHeadlinesPublic] = Field(
        default_factory=list,
        description="Per term, the headline gap of its first pair (the first two parties to "
        "join), as the summary shows it: what a list of negotiations shows, in one request.",
    )


class NegotiationPage(BaseModel):
    items: list[NegotiationListItem]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


def summary_of(neg: Negotiation) -> NegotiationSummary:
    return NegotiationSummary(
        slug=neg.slug,
        title=neg.title,
        subject=neg.subject,
        status=neg.status,
        version=neg.version,
        parties=[
            PartyPublic(id=k, name=v, actor_code=neg.actor_codes.get(k))
            for k, v in neg.parties.items()
        ],
        terms=[TermPublic(id=k, name=t.name, unit=t.unit) for k, t in neg.terms.items()],
        counts=dict(sorted(neg.counts.items())),
        head_hash=neg.head_hash,
        created_at=format_recorded_at(neg.created_on),
        updated_at=format_recorded_at(neg.modified_on),
    )
