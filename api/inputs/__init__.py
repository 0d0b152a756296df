"""What clients give the ledger: the input models of facts, shared by HTTP and the file formats.

Derived from ``domain.facts`` (``api.inputs.facts``, ``api.inputs.derive``), on the scalar
input types of ``api.inputs.scalars``; no web framework here, so the use cases of
``api.services`` (import, demo, PLOVER) parse files with the same models the routes use.
"""

from api.inputs.derive import ValueIn, value_model
from api.inputs.examples import (
    EXAMPLE_AGREEMENT_ID,
    EXAMPLE_EVENT_ID,
    EXAMPLE_OFFER_ID,
    KOREA_HERALD,
)
from api.inputs.facts import (
    CREATE_MODELS,
    EVENT_CREATE_MODELS,
    EventCreate,
    FactInput,
    NegotiationCreate,
    example_of,
)
from api.inputs.scalars import (
    AMOUNT_PATTERN,
    FLOAT_REFUSED,
    UNSAFE_INTEGER,
    Amount,
    Details,
    IsoDate,
    OccurredAtText,
    Strict,
)
from domain.facts import fact_of

__all__ = [
    "AMOUNT_PATTERN",
    "CREATE_MODELS",
    "EVENT_CREATE_MODELS",
    "EXAMPLE_AGREEMENT_ID",
    "EXAMPLE_EVENT_ID",
    "EXAMPLE_OFFER_ID",
    "FLOAT_REFUSED",
    "KOREA_HERALD",
    "UNSAFE_INTEGER",
    "Amount",
    "Details",
    "EventCreate",
    "FactInput",
    "IsoDate",
    "NegotiationCreate",
    "OccurredAtText",
    "Strict",
    "ValueIn",
    "example_of",
    "fact_of",
    "value_model",
]
