"""Request and response bodies of the HTTP API, named by role: one module per resource.

The request bodies are the fact input models of ``api.inputs`` (derived from
``domain.facts``, shared with the file formats); the response bodies (``*Public``, pages,
``Problem``) are HTTP's own. Re-exported here so a route imports its shapes from one place.
"""

from api.http.schemas.analytics import (
    ConcessionPublic,
    DecimalText,
    GapHeadlinePublic,
    GapPointPublic,
    GapsPublic,
    OptionalDecimalText,
    PairGapPublic,
    PositionPublic,
    PositionsPublic,
    QuantityPublic,
    TermGapHeadlinesPublic,
    TermGapsPublic,
    TermPositionsPublic,
    TimelineEntryPublic,
    TimelinePublic,
)
from api.http.schemas.audit import AuditEntryPublic, AuditPage, SourcePublic
from api.http.schemas.events import (
    EventPage,
    EventPublic,
    RecordedEventPublic,
    RecordedPublic,
    entry_of,
    fingerprint,
    recorded_of,
)
from api.http.schemas.feed import FeedEntry, FeedPage
from api.http.schemas.health import HealthPublic, ViewHealth
from api.http.schemas.keys import KeyCreate, KeyCreated, KeyPublic, public_of
from api.http.schemas.ledger import (
    BadEventPublic,
    CheckpointPublic,
    ConsistencyProofPublic,
    CosignaturesPublic,
    InclusionProofPublic,
    VerifierKeyPublic,
    VerifyPublic,
)
from api.http.schemas.negotiations import (
    NegotiationListItem,
    NegotiationPage,
    NegotiationSummary,
    summary_of,
)
from api.http.schemas.problems import Problem, ProblemField
from api.http.schemas.publics import AS_OF_DESCRIPTION, PartyPublic, TermPublic
from api.inputs import EVENT_CREATE_MODELS, EventCreate, NegotiationCreate, example_of
from domain.facts import fact_of

__all__ = [
    "AS_OF_DESCRIPTION",
    "EVENT_CREATE_MODELS",
    "AuditEntryPublic",
    "AuditPage",
    "BadEventPublic",
    "CheckpointPublic",
    "ConcessionPublic",
    "ConsistencyProofPublic",
    "CosignaturesPublic",
    "DecimalText",
    "EventCreate",
    "EventPage",
    "EventPublic",
    "FeedEntry",
    "FeedPage",
    "GapHeadlinePublic",
    "GapPointPublic",
    "GapsPublic",
    "HealthPublic",
    "InclusionProofPublic",
    "KeyCreate",
    "KeyCreated",
    "KeyPublic",
    "NegotiationCreate",
    "NegotiationListItem",
    "NegotiationPage",
    "NegotiationSummary",
    "OptionalDecimalText",
    "PairGapPublic",
    "PartyPublic",
    "PositionPublic",
    "PositionsPublic",
    "Problem",
    "ProblemField",
    "QuantityPublic",
    "RecordedEventPublic",
    "RecordedPublic",
    "SourcePublic",
    "TermGapHeadlinesPublic",
    "TermGapsPublic",
    "TermPositionsPublic",
    "TermPublic",
    "TimelineEntryPublic",
    "TimelinePublic",
    "VerifierKeyPublic",
    "VerifyPublic",
    "ViewHealth",
    "entry_of",
    "example_of",
    "fact_of",
    "fingerprint",
    "public_of",
    "recorded_of",
    "summary_of",
]
