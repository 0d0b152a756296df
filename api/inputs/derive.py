"""Pydantic input models derived from domain dataclasses, and their way back to domain values.

A field's input type follows from its type in the dataclass: ``Decimal`` is an ``Amount``
string, ``int`` a strict integer, a ``date`` an ISO date, a time point (``date | datetime``)
the text the domain parses, a tuple a JSON array, a value dataclass (``Party``…) a nested
model of its own (``PartyIn``), free-form ``dict[str, Any]`` the float-free ``Details``.
Defaults are the dataclass's (a tuple's ``()`` is the array ``[]``); constraints and
documentation come from the field's ``INPUT`` metadata. ``to_domain`` turns a parsed model
back into the keyword arguments of its dataclass.
"""

from __future__ import annotations

import dataclasses
import functools
import types
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Literal, TypeVar, get_args, get_origin, get_type_hints

from pydantic import Field, StrictInt, create_model

from api.inputs.scalars import Amount, Details, IsoDate, OccurredAtText, Strict
from domain.facts import INPUT, is_time_point, without_none
from domain.values import Party, Quantity, Term, parse_occurred_at

Convert = Callable[[Any], Any]

VALUE_FIELD_DOCS: dict[tuple[type[Any], str], dict[str, Any]] = {
    (Party, "id"): {"examples": ["ROK"]},
    (Party, "name"): {"examples": ["Republic of Korea"]},
    (Party, "actor_code"): {
        "description": "PLOVER/CAMEO actor code: ISO 3166 alpha-3 country and a sector "
        "(GOV, MIL, BUS, LAB…), used by the PLOVER export",
        "examples": ["KOR GOV"],
    },
    (Term, "id"): {"examples": ["annual_contribution"]},
    (Term, "name"): {"examples": ["Annual contribution to USFK upkeep"]},
    (Term, "unit"): {"examples": ["KRW"]},
    (Quantity, "unit"): {"examples": ["KRW"]},
}
"""How the API documents the fields of the value objects (``domain.values`` has no metadata)."""


class DomainInput(Strict):
    """An input model derived from a domain dataclass; ``to_domain`` makes its arguments."""

    CONVERTERS: ClassVar[tuple[tuple[str, Convert | None], ...]] = ()
    """Each field the dataclass takes, with how its parsed input becomes the domain value
    (None: as parsed)."""

    def to_domain(self) -> dict[str, Any]:
        """The dataclass's keyword arguments, in ``CONVERTERS`` order (time points parsed)."""
        kwargs: dict[str, Any] = {}
        for name, convert in self.CONVERTERS:
            value = getattr(self, name)
            kwargs[name] = value if convert is None or value is None else convert(value)
        return kwargs


Derived = TypeVar("Derived", bound=DomainInput)


class ValueIn(DomainInput):
    """The input of a value object (``Party``, ``Source``…)."""

    VALUE: ClassVar[type[Any]]

    def to_value(self) -> Any:
        return self.VALUE(**self.to_domain())


def input_type(hint: Any) -> Any:
    """The pydantic type a client's JSON for a field of this domain type is parsed as."""
    if is_time_point(hint):
        return OccurredAtText | None if type(None) in get_args(hint) else OccurredAtText
    inner, optional = without_none(hint)
    if optional:
        return input_type(inner) | None
    origin = get_origin(hint)
    if hint is str or origin is Literal:
        return hint
    if hint is int:
        return StrictInt
    if hint is Decimal:
        return Amount
    if hint is date:
        return IsoDate
    if origin is tuple:
        return types.GenericAlias(list, (input_type(get_args(hint)[0]),))
    if origin is dict:
        key, item = get_args(hint)
        return Details if item is Any else types.GenericAlias(dict, (key, input_type(item)))
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return value_model(hint)
    msg = f"no input type for a field of type {hint!r}: add it to api.inputs.derive"
    raise TypeError(msg)


def converter(hint: Any, name: str) -> Convert | None:
    """How a parsed input of this domain type becomes the domain value (None: as parsed)."""
    if is_time_point(hint):
        return functools.partial(parse_occurred_at, field=name)
    inner, _ = without_none(hint)
    origin = get_origin(inner)
    if origin is tuple:
        item = converter(get_args(inner)[0], name)
        return tuple if item is None else lambda values: tuple(item(v) for v in values)
    if origin is dict:
        convert = converter(get_args(inner)[1], name)
        if convert is None:
            return None
        return lambda values: {k: convert(v) for k, v in values.items()}
    if dataclasses.is_dataclass(inner) and isinstance(inner, type):
        return ValueIn.to_value
    return None


def field_definition(
    owner: type[Any], field: dataclasses.Field[Any], hint: Any, docs: Mapping[str, Any]
) -> tuple[Any, Any]:
    """``(type, FieldInfo)`` for ``create_model``: the input type, default and keywords."""
    keywords = {**field.metadata.get(INPUT, {}), **docs}
    if field.default is not dataclasses.MISSING:
        default = field.default
        keywords["default"] = list(default) if isinstance(default, tuple) else default
    elif field.default_factory is not dataclasses.MISSING:
        msg = f"{owner.__name__}.{field.name}: a default factory has no JSON default"
        raise TypeError(msg)
    return input_type(hint), Field(**keywords)


def definitions_of(
    owner: type[Any], names: Iterable[str]
) -> tuple[dict[str, Any], tuple[tuple[str, Convert | None], ...]]:
    """The ``create_model`` field definitions of some of a dataclass's fields, in that order,
    and their converters."""
    hints = get_type_hints(owner)
    by_name = {f.name: f for f in dataclasses.fields(owner)}
    definitions: dict[str, Any] = {}
    converters: list[tuple[str, Convert | None]] = []
    for name in names:
        docs = VALUE_FIELD_DOCS.get((owner, name), {})
        definitions[name] = field_definition(owner, by_name[name], hints[name], docs)
        converters.append((name, converter(hints[name], name)))
    return definitions, tuple(converters)


@functools.cache
def value_model(value_type: type[Any]) -> type[ValueIn]:
    """``PartyIn`` for ``Party``: the input model of a value object, made once."""
    names = [f.name for f in dataclasses.fields(value_type)]
    definitions, converters = definitions_of(value_type, names)
    model = derived(f"{value_type.__name__}In", ValueIn, definitions, converters)
    model.VALUE = value_type
    return model


def derived(
    name: str,
    base: type[Derived],
    definitions: dict[str, Any],
    converters: tuple[tuple[str, Convert | None], ...],
    doc: str | None = None,
    **config: Any,
) -> type[Derived]:
    """A model of ``base`` with these fields and converters; ``config``: model config keys;
    ``doc``: its description in the JSON Schema."""
    model: type[Derived] = create_model(
        name,
        __base__=base,
        __module__=__name__,
        __doc__=doc,
        __cls_kwargs__=config,
        **definitions,
    )
    model.CONVERTERS = converters
    return model
