"""Placeholder CLI commands, filled in by the audit work."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    """Adds this module's commands to the `parley` app."""
