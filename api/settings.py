"""The service's settings, from ``PARLEY_*`` environment variables."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    database_url: str = "sqlite:///./parley.db"
    host: str = "127.0.0.1"
    port: int = 8000
    cache_size: int = 1000
    create_tables: bool = True
    demo: bool = False
    """Load the demo negotiation at start-up when the store is empty."""
    max_batch: int = 500
    """The most events one ``POST /negotiations/{slug}/events`` may carry."""
    project_in_process: bool = True
    """Keep the read views up to date in a background thread of the server (else run
    ``parley project`` as a process of its own, e.g. beside several API workers)."""
    read_wait_seconds: float = Field(default=5.0, ge=0)
    """How long a read of positions, gaps, timeline or the list waits for the views to reach
    the ledger's head before answering 503."""
