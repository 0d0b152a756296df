"""The health answer: the store, the log's head and each view's lag."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class ViewHealth(BaseModel):
    position: int = Field(description="The last log position the view has applied.")
    lag: int = Field(description="How many log positions it is behind the head.")


class HealthPublic(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ok",
                    "store": "sqlite",
                    "head_position": 29,
                    "projections": "in-process",
                    "views": {
                        "parley_view_events": {"position": 29, "lag": 0},
                        "parley_view_negotiations": {"position": 29, "lag": 0},
                    },
                    "error": None,
                    "subscribed": None,
                    "clock_behind_seconds": None,
                }
            ]
        }
    )

    status: Literal["ok", "degraded"] = Field(
        description="`degraded` when the in-process projection runner has stopped on an error, "
        "or cannot subscribe to the log (PostgreSQL)."
    )
    store: str
    head_position: int
    projections: Literal["in-process", "external"] = Field(
        description="Who keeps the views: this server, or a `parley project` process."
    )
    views: dict[str, ViewHealth]
    error: str | None = Field(default=None, description="Why the runner stopped, if it did.")
    subscribed: bool | None = Field(
        default=None,
        description="On PostgreSQL with in-process projections, whether the runner is "
        "subscribed to the log (LISTEN); `false` (and status `degraded`) while it cannot "
        "re-subscribe after losing the store: the views then follow by polling.",
    )
    clock_behind_seconds: float | None = Field(
        default=None,
        description="How far this server's clock was behind the last stored `recorded_at` "
        "at its last append (null while it is not). Recorded times strictly increase: "
        "while the clock is behind, each event is stamped 1 µs after the last one.",
    )
