"""What recording adds to a fact: the id of its negotiation's stream and the event's metadata."""

from __future__ import annotations

import dataclasses
import functools
from datetime import datetime
from typing import Any
from uuid import NAMESPACE_URL, UUID, uuid5

from domain import facts
from domain.canonical import LEDGER_FORMAT

NAMESPACE = uuid5(NAMESPACE_URL, "https://parley.invalid/negotiations")


@functools.lru_cache(maxsize=4096)
def negotiation_id(slug: str) -> UUID:
    """The aggregate id of a negotiation: a UUID derived from its slug.

    Cached: an append asks for it several times (its lock, its load, its stream), and
    uuid5 hashes each time.
    """
    return uuid5(NAMESPACE, slug)


@dataclasses.dataclass(frozen=True)
class EventMeta:
    """What the ledger adds to a fact when it records it.

    Its fields are those of ``Negotiation.Event`` (``recorded_at`` is its ``timestamp``).
    """

    event_id: UUID
    recorded_at: datetime
    recorded_by: str
    prev_hash: str
    hash: str
    idempotency: list[Any] | None = None
    """``[scoped key, request fingerprint, first version]`` on the last event of a request
    (``domain.negotiation.idempotency``)."""
    ledger_format: int = LEDGER_FORMAT
    """How the event's hash was computed (docs/ledger-format.md)."""


def event_kwargs(fact: facts.Fact, meta: EventMeta) -> dict[str, Any]:
    """The keyword arguments of the event that records ``fact`` with ``meta``.

    The fact's fields and the metadata's, under the names ``Negotiation.Event`` gives them:
    the same, but for ``recorded_at``, which is the library's ``timestamp``.
    """
    kwargs = {name: getattr(fact, name) for name in facts.field_names(type(fact))}
    kwargs.update({name: getattr(meta, name) for name in facts.field_names(EventMeta)})
    kwargs["timestamp"] = kwargs.pop("recorded_at")
    return kwargs
