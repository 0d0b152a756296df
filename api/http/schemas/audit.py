"""The audit trail's page: who recorded each event, when, and its corrections."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from api.inputs import EXAMPLE_AGREEMENT_ID, EXAMPLE_EVENT_ID, KOREA_HERALD


class SourcePublic(BaseModel):
    title: str
    url: str | None
    publisher: str | None
    published_on: str | None


class AuditEntryPublic(BaseModel):
    """One event as the audit trail shows it: who recorded it, when, and its corrections."""

    event_id: str
    type: str
    version: int
    position: int | None = Field(description="Its place in the ledger's global log.")
    occurred_at: str
    recorded_at: str
    recorded_by: str
    hash: str
    prev_hash: str
    retracts: str | None = Field(description="For a retraction: the event it retracts.")
    retracted_by: str | None = Field(description="The retraction that retracted this event.")
    retraction_reason: str | None = Field(
        description="Why: for a retracted event, its retraction's reason; for a retraction, "
        "its own."
    )
    sources: list[SourcePublic]


class AuditPage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "negotiation": "us-rok-sma-2020",
                    "version": 29,
                    "head_hash": "901b78230de18045c22f0d203852aa592e698236e68dc27aeac04f60cdc23e61",
                    "events": [
                        {
                            "event_id": EXAMPLE_EVENT_ID,
                            "type": "statement_made",
                            "version": 18,
                            "position": 18,
                            "occurred_at": "2020-04-06",
                            "recorded_at": "2026-01-01T12:00:00.000000+00:00",
                            "recorded_by": "demo",
                            "hash": "5b0c5e4f3d2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c",
                            "prev_hash": "1f0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5b0c5e4f3d2a1b0c9d8e7f6a5b4c3d2e",
                            "retracts": None,
                            "retracted_by": EXAMPLE_AGREEMENT_ID,
                            "retraction_reason": "Wrong date: the spokesperson spoke on April 7.",
                            "sources": [KOREA_HERALD],
                        }
                    ],
                    "next_after_version": None,
                }
            ]
        }
    )

    negotiation: str
    version: int = Field(description="The negotiation's version the page was read at.")
    head_hash: str = Field(description="The hash of the negotiation's latest event.")
    events: list[AuditEntryPublic] = Field(description="In recorded order (by version).")
    next_after_version: int | None = Field(
        description="Pass as `after_version` for the next page; null at the end."
    )
