"""What the views hold, to compare runners with each other and with a rebuild from zero."""

from __future__ import annotations

from domain.ledger import Ledger
from projections.runner import ProjectionRunner
from projections.views import VIEWS


def contents(runner: ProjectionRunner) -> dict[str, object]:
    """Every view's rows, by view."""
    return {view: runner.views.dump(view) for view in VIEWS}


def rebuilt(ledger: Ledger) -> dict[str, object]:
    """What the views hold after a rebuild from zero (the reference for comparisons)."""
    runner = ProjectionRunner(ledger)
    runner.rebuild()
    return contents(runner)
