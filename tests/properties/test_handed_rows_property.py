"""The row of an event handed over after its save is the row of that event read back from the store.

The runner projects the events a save hands it (``projections.handoff``) without reading
them back; the store would give it the event as the mapper decodes its stored JSON. For
random events of every type and value (``test_stored_rows``'s strategy), both rows are equal,
column for column. Values with a ``_type_`` key are left out: the domain refuses them
(``domain.negotiation.checks``), so no save ever hands one over.
"""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from test_stored_rows import (  # noqa: F401 - ledger: the memory store fixture, shared
    ledger,
    mapper_row,
    stored_events,
)

from domain.ledger import Ledger
from domain.negotiation import Negotiation
from projections.views.events import event_params, event_row


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(event=stored_events(), position=st.integers(1, 10**12))
def test_the_row_of_a_handed_event_is_the_row_of_the_stored_event(
    ledger: Ledger,  # noqa: F811
    event: Negotiation.Event,
    position: int,
) -> None:
    assume("_type_" not in repr(event))
    stored = ledger.mapper.to_stored_event(event)

    handed = event_row(position, "slug", event)
    from_store = mapper_row(ledger, position, stored)

    assert handed == from_store
    assert event_params(handed) == event_params(from_store)
