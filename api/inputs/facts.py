"""The input model of every fact, derived from ``domain.facts``: what a request or a file says.

One model per fact type in ``FACT_TYPES``, named ``<Fact>Create`` (``OfferMadeCreate``):
the fields every fact has, then ``type`` (the discriminator), then the fact's own fields, with
the types, defaults and constraints ``api.inputs.derive`` reads from the dataclass. Opening a
negotiation is ``NegotiationCreate``: the fact's fields plus the parties and terms recorded
with it. ``to_fact`` makes the fact; nothing here names a fact's fields by hand.
"""

from __future__ import annotations

import dataclasses
import types
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, TypeAlias, Union

from pydantic import BaseModel, Field

from api.inputs.derive import DomainInput, ValueIn, definitions_of, derived, value_model
from api.inputs.examples import EXAMPLES
from domain import facts
from domain.values import Party, Term

OPENED = facts.NegotiationOpened
COMMON = tuple(f.name for f in dataclasses.fields(facts.Fact))
"""The fields every fact has (``occurred_at``, ``sources``, ``note``)."""


def _own(fact_type: type[facts.Fact]) -> list[str]:
    return [f.name for f in dataclasses.fields(fact_type) if f.name not in COMMON]


class FactInput(DomainInput):
    """The input of one fact; ``FACT`` is its dataclass."""

    FACT: ClassVar[type[facts.Fact]]
    if TYPE_CHECKING:  # declared by each derived model, as the Literal of its fact's TYPE
        type: str

    def to_fact(self) -> facts.Fact:
        return self.FACT(**self.to_domain())


def _examples(fact_type: type[facts.Fact]) -> dict[str, Any]:
    example = EXAMPLES.get(fact_type.TYPE)
    return {} if example is None else {"json_schema_extra": {"examples": [example]}}


def event_model(fact_type: type[facts.Fact]) -> type[FactInput]:
    # The fact's own fields are converted first: when both `ended_at` and `occurred_at` are
    # bad, the error names `ended_at`, as it always has.
    definitions, converters = definitions_of(fact_type, [*COMMON, *_own(fact_type)])
    definitions = {
        **{name: definitions[name] for name in COMMON},
        "type": (Literal[fact_type.TYPE], ...),
        **{name: definitions[name] for name in _own(fact_type)},
    }
    own_first = tuple(sorted(converters, key=lambda c: c[0] in COMMON))
    model = derived(
        f"{fact_type.__name__}Create", FactInput, definitions, own_first, **_examples(fact_type)
    )
    model.FACT = fact_type
    return model


EVENT_CREATE_MODELS: tuple[type[FactInput], ...] = tuple(
    event_model(fact_type) for fact_type in facts.FACT_TYPES.values() if fact_type is not OPENED
)
"""One input model per fact that a negotiation's event may record, in ``FACT_TYPES`` order."""

CREATE_MODELS: dict[str, type[FactInput]] = {m.FACT.TYPE: m for m in EVENT_CREATE_MODELS}


class _NegotiationInput(FactInput):
    """Opening a negotiation records the fact and, with it, its first parties and terms."""

    if TYPE_CHECKING:  # declared by the derived model, after the fact's own fields
        parties: list[ValueIn]
        terms: list[ValueIn]

    def to_fact(self) -> tuple[facts.NegotiationOpened, list[Party], list[Term]]:  # type: ignore[override]
        opened = OPENED(**self.to_domain())
        return opened, [p.to_value() for p in self.parties], [t.to_value() for t in self.terms]


def _negotiation_model() -> type[_NegotiationInput]:
    definitions, converters = definitions_of(OPENED, [*_own(OPENED), *COMMON])
    extra: dict[str, Any] = {
        "parties": (types.GenericAlias(list, (value_model(Party),)), Field(default=[])),
        "terms": (types.GenericAlias(list, (value_model(Term),)), Field(default=[])),
    }
    own = {name: definitions[name] for name in _own(OPENED)}
    common = {name: definitions[name] for name in COMMON}
    model = derived(
        "NegotiationCreate",
        _NegotiationInput,
        {**own, **extra, **common},
        converters,
        doc="Opens a negotiation; its parties and terms are recorded as events of their own.",
        **_examples(OPENED),
    )
    model.FACT = OPENED
    return model


if TYPE_CHECKING:
    # Derived at run time; to a type checker, each is the base it is derived from.
    NegotiationCreate: TypeAlias = _NegotiationInput
    EventCreate: TypeAlias = FactInput
else:
    NegotiationCreate = _negotiation_model()
    EventCreate = Annotated[Union[EVENT_CREATE_MODELS], Field(discriminator="type")]  # noqa: UP007
    """One event to record; ``type`` selects its shape."""


def example_of(model: type[BaseModel]) -> dict[str, Any]:
    extra = model.model_config.get("json_schema_extra")
    assert isinstance(extra, dict)  # noqa: S101 - every request model declares its examples
    examples: list[dict[str, Any]] = extra["examples"]  # type: ignore[assignment]
    return examples[0]
