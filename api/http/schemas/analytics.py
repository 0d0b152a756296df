"""Response bodies of the analytics: positions, gaps and the timeline, decimals as strings."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, WithJsonSchema

from api.http.schemas.publics import AS_OF_DESCRIPTION
from api.inputs import EXAMPLE_EVENT_ID, EXAMPLE_OFFER_ID, KOREA_HERALD

DecimalText = Annotated[
    str,
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^-?\d+(\.\d+)?$",
            "description": "A decimal as a JSON string, every digit kept.",
            "examples": ["1040000000000"],
        }
    ),
]


OptionalDecimalText = Annotated[
    str | None,
    WithJsonSchema(
        {
            "anyOf": [{"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}, {"type": "null"}],
            "description": "A decimal as a JSON string; null when it is not defined.",
            "examples": ["4077650000000"],
        }
    ),
]


EXAMPLE_ROK_POSITION: dict[str, Any] = {
    "party": "ROK",
    "value": {"amount": "1040000000000", "unit": "KRW"},
    "original": {"amount": "1040000000000", "unit": "KRW"},
    "event_id": EXAMPLE_OFFER_ID,
    "at": "2019-09-24",
    "via": "offer",
}


EXAMPLE_USA_POSITION: dict[str, Any] = {
    "party": "USA",
    "value": {"amount": "6117650000000.00", "unit": "KRW"},
    "original": {"amount": "5000000000", "unit": "USD"},
    "event_id": EXAMPLE_EVENT_ID,
    "at": "2019-11-19",
    "via": "offer",
}


class QuantityPublic(BaseModel):
    amount: DecimalText
    unit: str


class PositionPublic(BaseModel):
    """A party's standing value on a term: its latest live offer, or a live agreement."""

    party: str
    value: QuantityPublic = Field(description="In the term's unit when a rate converts it.")
    original: QuantityPublic = Field(description="As the offer or agreement stated it.")
    event_id: str
    at: str = Field(description="The occurred_at of the event that set this position.")
    via: Literal["offer", "agreement"]


class PerTerm(BaseModel):
    """The rows of one term, in its unit: what positions, gaps and headlines group by."""

    term: str
    unit: str


class AsOfAnswer(BaseModel):
    """An answer about one negotiation, now or as of a moment."""

    negotiation: str
    as_of: str | None = Field(default=None, description=AS_OF_DESCRIPTION)


def per_term_example(rows: str, example: list[dict[str, Any]]) -> dict[str, Any]:
    """The documented example of a per-term answer: the SMA talks' one term, as of 2019-12-01."""
    return {
        "negotiation": "us-rok-sma-2020",
        "as_of": "2019-12-01",
        "terms": [{"term": "annual_contribution", "unit": "KRW", rows: example}],
    }


class TermPositionsPublic(PerTerm):
    positions: list[PositionPublic]


class PositionsPublic(AsOfAnswer):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                per_term_example("positions", [EXAMPLE_USA_POSITION, EXAMPLE_ROK_POSITION])
            ]
        }
    )

    terms: list[TermPositionsPublic]


class ConcessionPublic(BaseModel):
    amount: DecimalText = Field(description="Movement toward where the other party stood.")
    share: OptionalDecimalText = Field(description="The amount as a share of the initial gap.")
    moves: int
    last_move_at: str | None


class GapPointPublic(BaseModel):
    at: str
    positions: dict[str, DecimalText]
    gap: DecimalText


class GapMetrics(BaseModel):
    """A pair's gap on a term: what the headline and the full metrics both begin with."""

    parties: list[str]
    positions: dict[str, OptionalDecimalText]
    gap: OptionalDecimalText
    midpoint: OptionalDecimalText
    relative_gap: OptionalDecimalText
    ratio: OptionalDecimalText
    initial_gap: OptionalDecimalText
    initial_at: str | None
    closed_share: OptionalDecimalText


REASON_DESCRIPTION = "Why the metrics are null, when they are."


class GapHeadlinePublic(GapMetrics):
    """A pair's gap on a term now (or as of the request): the summary's headline."""

    reason: str | None = Field(description=REASON_DESCRIPTION)


class PairGapPublic(GapMetrics):
    """Every metric of GAP-METRICS for one pair of parties on one term, in the contract's order."""

    concessions: dict[str, ConcessionPublic] | None
    days_since_last_move: int | None
    rounds_since_last_move: int | None
    history: list[GapPointPublic]
    forecast: str | None = Field(description="When a line through the last three gaps hits 0.")
    reason: str | None = Field(description=REASON_DESCRIPTION)


class TermGapsPublic(PerTerm):
    pairs: list[PairGapPublic]


EXAMPLE_PAIR_GAP: dict[str, Any] = {
    "parties": ["USA", "ROK"],
    "positions": {
        "USA": "6117650000000.00",
        "ROK": "1040000000000",
    },
    "gap": "5077650000000.00",
    "midpoint": "3578825000000.00",
    "relative_gap": "1.418803657625058503838550362",
    "ratio": "5.882355769230769230769230769",
    "initial_gap": "5077650000000.00",
    "initial_at": "2019-11-19",
    "closed_share": "0",
    "concessions": {
        "USA": {
            "amount": "0.00",
            "share": "0",
            "moves": 0,
            "last_move_at": None,
        },
        "ROK": {
            "amount": "0",
            "share": "0",
            "moves": 0,
            "last_move_at": None,
        },
    },
    "days_since_last_move": 12,
    "rounds_since_last_move": 0,
    "history": [
        {
            "at": "2019-11-19",
            "positions": {
                "USA": "6117650000000.00",
                "ROK": "1040000000000",
            },
            "gap": "5077650000000.00",
        }
    ],
    "forecast": None,
    "reason": None,
}


class GapsPublic(AsOfAnswer):
    model_config = ConfigDict(
        json_schema_extra={"examples": [per_term_example("pairs", [EXAMPLE_PAIR_GAP])]}
    )

    terms: list[TermGapsPublic]


class TermGapHeadlinesPublic(PerTerm):
    pairs: list[GapHeadlinePublic]


class TimelineEntryPublic(BaseModel):
    event_id: str
    type: str
    occurred_at: str
    version: int
    recorded_at: str
    recorded_by: str
    payload: dict[str, Any] = Field(description="The event's own fields, decimals as strings.")
    retracted: bool
    retracted_by: str | None


class TimelinePublic(AsOfAnswer):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "as_of": None,
                    "events": [
                        {
                            "event_id": EXAMPLE_EVENT_ID,
                            "type": "statement_made",
                            "occurred_at": "2020-04-07",
                            "version": 29,
                            "recorded_at": "2026-01-01T12:00:00.000000+00:00",
                            "recorded_by": "demo",
                            "payload": {
                                "sources": [KOREA_HERALD],
                                "note": None,
                                "party": "ROK",
                                "speaker": "Choi Hyun-soo, Defense Ministry spokesperson",
                                "summary": "The two ministers agreed to reach a deal at a "
                                "mutually acceptable and fair level.",
                            },
                            "retracted": False,
                            "retracted_by": None,
                        }
                    ],
                    "next_cursor": None,
                }
            ]
        }
    )

    events: list[TimelineEntryPublic] = Field(
        description="In occurred_at order, ties in recording order; retracted ones flagged."
    )
    next_cursor: str | None = Field(
        default=None, description="Pass as `cursor` for the next page; null at the end."
    )
