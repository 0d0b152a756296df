"""A negotiation: its aggregate, the rules it decides by, and the values its state is made of.

- ``aggregate``: the ``Negotiation`` aggregate and its events (one per fact type, derived);
- ``rules``: one ``decide_<fact type>`` per fact, over the state so far;
- ``folds``: how a recorded fact changes the state, and what retracting it undoes;
- ``references``: checks that the parties, terms and events a fact names exist in the state;
- ``recording``: what recording adds to a fact (the stream's id, the event's metadata);
- ``checks``: checks of a fact's own fields (free JSON, sources, ``occurred_at``);
- ``state``: the state's attributes and typed values, and the plain shape snapshots store;
- ``idempotency``: the Idempotency-Keys a stream has answered (and why the aggregate keeps them).

The status rule is ``domain.status``, shared with the projections. Stored event topics name
this package (``domain.negotiation:Negotiation.OfferMade``), as they did when it was one
module: see ``aggregate``.
"""

from domain.negotiation.aggregate import Negotiation
from domain.negotiation.checks import (
    CLOCK_SKEW,
    FUTURE_TOLERANCE,
    MAX_DETAILS_DEPTH,
    MAX_LIST_LENGTH,
)
from domain.negotiation.idempotency import IDEMPOTENCY_RETENTION
from domain.negotiation.recording import NAMESPACE, EventMeta, negotiation_id
from domain.negotiation.state import Entry, Issue, Ref, Round

__all__ = [
    "CLOCK_SKEW",
    "FUTURE_TOLERANCE",
    "IDEMPOTENCY_RETENTION",
    "MAX_DETAILS_DEPTH",
    "MAX_LIST_LENGTH",
    "NAMESPACE",
    "Entry",
    "EventMeta",
    "Issue",
    "Negotiation",
    "Ref",
    "Round",
    "negotiation_id",
]
