"""Fold checkpoints: a negotiation's analytics at every K-th version, for ``as_of_version`` reads.

A read at ``as_of_version=N`` (or ``as_of_recorded=T``, a prefix of N events) asks what the
analytics said after the first N events. Instead of folding those N events again, the
analytics view keeps, every ``K`` versions of a negotiation, a checkpoint of its *derived*
keys at that version (``ck/<version>``): ``meta``, ``order``, ``positions``, ``headline`` and
every ``tip/``, ``pt/``, ``gap/`` and ``hist/`` row (see ``projections.analytics``; not the
``st/`` step rows: see ``DERIVED_PREFIXES``). The other keys need no copy: ``line/<term>/<party>/<version>``
rows are appended, never rewritten, so the lines at version v are the live rows up to v;
``ref/<event id>`` rows never change once written, and an event only refers to earlier ones.

A read takes the checkpoint v = the largest <= N, lays an ``Overlay`` over it (the
checkpoint's keys, the live line rows up to v, the live refs; writes kept in memory), runs
the same ``apply_batch`` over the events v+1..N (fewer than K, read by version range) and
answers with the readers the plain reads use (``stored_positions``, ``stored_gap_entries``…),
which read the overlay as they read the view. So the folds stay the one definition of the
numbers, and a read costs one checkpoint row plus at most K events, whatever N.

The runner writes them (``apply_checkpointed``) in the batch's transaction, splitting a
batch at each multiple of K, so ``parley rebuild`` writes the same ones. A negotiation kept
without them from its first version (``ckk`` absent: an older layout) is read by the fold.

Storage: O(n / K) checkpoints for a negotiation of n events, each the size of its derived
keys then: O(parties x terms + pairs x terms) rows plus one ``hist/`` item per point of each
pair's history, O(v) for a checkpoint at version v, zlib-compressed; so O(n^2 / K) bytes in
all, K = 256 by default (``PARLEY_CHECKPOINT_EVERY``). Measured: the bench's 10,000-event,
two-party negotiation (``bench/bench_reads.py``) keeps 39 checkpoints, 216 KB in all, the last
8.8 KB; they cost its analytics rebuild about 7% more CPU.
"""

from __future__ import annotations

import base64
import bisect
import json
import os
import zlib
from collections.abc import Mapping, Sequence
from typing import Any, Protocol

from projections.analytics import Space, apply_batch

PREFIX = "ck/"
MARK = "ckk"
"""Present (holding K) when the negotiation's checkpoints were kept from its first version."""
DEFAULT_EVERY = 256
SINGLE_KEYS = ("meta", "order", "positions", "headline")
DERIVED_PREFIXES = ("tip/", "pt/", "gap/", "hist/")
"""Not the ``st/`` step rows (``projections.series``): about four fifths of the derived bytes,
read only by ``as_of`` reads and never by the fold's own output. So an ``Overlay`` holds only
the steps its replay wrote, and a read with both ``as_of`` and a version folds the events."""
LIVE_PREFIXES = ("line/", "ref/")
"""Rows read from the live view under a checkpoint (line rows only up to its version)."""


def checkpoint_every() -> int:
    """K: versions between two checkpoints (``PARLEY_CHECKPOINT_EVERY``, default 256)."""
    return max(1, int(os.environ.get("PARLEY_CHECKPOINT_EVERY", DEFAULT_EVERY)))


def checkpoint_key(version: int) -> str:
    return f"{PREFIX}{version:010d}"


def prefix_end(prefix: str) -> str:
    """The least key above every key that starts with ``prefix`` (keys are ASCII)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def encode(rows: Mapping[str, str]) -> str:
    text = json.dumps(dict(sorted(rows.items())), separators=(",", ":"), ensure_ascii=False)
    return base64.b64encode(zlib.compress(text.encode(), 6)).decode("ascii")


def decode(body: str) -> dict[str, str]:
    found: dict[str, str] = json.loads(zlib.decompress(base64.b64decode(body)))
    return found


def derived_rows(space: Space) -> dict[str, str]:
    """The keys a checkpoint keeps, as the space holds them now."""
    rows = space.get(SINGLE_KEYS)
    for prefix in DERIVED_PREFIXES:
        rows.update(space.scan(prefix))
    return rows


# ------------------------------------------------------------------ writing


def apply_checkpointed(space: Space, rows: Sequence[Any], every: int | None = None) -> None:
    """``apply_batch`` of one negotiation's rows (by version), with a checkpoint at each
    version that is a multiple of K: the batch is folded in parts split there."""
    if not rows:
        return
    k = checkpoint_every() if every is None else every
    if rows[0].version == 1:
        space.put({MARK: str(k)})
    start = 0
    for i, row in enumerate(rows):
        if row.version % k == 0:
            apply_batch(space, rows[start : i + 1])
            start = i + 1
            space.put({checkpoint_key(row.version): encode(derived_rows(space))})
    if start < len(rows):
        apply_batch(space, rows[start:])


# ------------------------------------------------------------------ reading


class Reader(Protocol):
    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]: ...

    def analytics_range(
        self, slug: str, low: str, high: str, *, last: bool = False
    ) -> list[tuple[str, str]]: ...

    def events_of(
        self, slug: str, after_version: int = 0, limit: int | None = None
    ) -> list[Any]: ...


class Overlay:
    """A negotiation's analytics at a checkpoint, as a ``Space`` (and a ``Reader`` of the
    stored-state reads): the checkpoint's keys and what is written since in memory, the live
    line rows up to the checkpoint's version and the live refs under them. Nothing it is
    given is ever written to the view."""

    def __init__(self, reader: Reader, slug: str, base: dict[str, str], version: int) -> None:
        self.reader, self.slug, self.version = reader, slug, version
        self.data = base
        self.gone: set[str] = set()
        self._keys: list[str] | None = None

    # ------------------------------------------------------------ the live rows

    def _live_row(self, key: str) -> bool:
        if key in self.data or key in self.gone:
            return False
        if key.startswith("line/"):
            parts = key.split("/")
            return len(parts) == 4 and int(parts[3]) <= self.version
        return key.startswith("ref/")

    def _live_range(self, low: str, high: str) -> list[tuple[str, str]]:
        found: list[tuple[str, str]] = []
        for prefix in LIVE_PREFIXES:
            lo, hi = max(low, prefix), min(high, prefix_end(prefix))
            if lo <= hi:
                rows = self.reader.analytics_range(self.slug, lo, hi)
                found.extend((k, v) for k, v in rows if self._live_row(k))
        return found

    # ------------------------------------------------------------ Space

    def get(self, keys: Sequence[str]) -> dict[str, str]:
        found = {k: self.data[k] for k in keys if k in self.data}
        live = [k for k in keys if k.startswith(LIVE_PREFIXES) and self._live_row(k)]
        if live:
            found.update(
                (k, v) for k, v in self.reader.analytics_get(self.slug, live).items() if k in live
            )
        return found

    def range(self, low: str, high: str, *, last: bool = False) -> list[tuple[str, str]]:
        if self._keys is None:
            self._keys = sorted(self.data)
        keys = self._keys[
            bisect.bisect_left(self._keys, low) : bisect.bisect_right(self._keys, high)
        ]
        merged = dict(self._live_range(low, high))
        merged.update((k, self.data[k]) for k in keys)
        items = sorted(merged.items())
        return items[-1:] if last else items

    def scan(self, prefix: str) -> list[tuple[str, str]]:
        return [(k, v) for k, v in self.range(prefix, prefix_end(prefix)) if k.startswith(prefix)]

    def put(self, items: Mapping[str, str]) -> None:
        if any(k not in self.data for k in items):
            self._keys = None
        self.data.update(items)
        self.gone.difference_update(items)

    def delete(self, keys: Sequence[str]) -> None:
        for key in keys:
            if self.data.pop(key, None) is not None:
                self._keys = None
            self.gone.add(key)

    # ------------------------------------------------------------ Reader (any slug: this one)

    def analytics_get(self, slug: str, keys: Sequence[str]) -> dict[str, str]:
        return self.get(keys)

    def analytics_scan(self, slug: str, prefix: str) -> list[tuple[str, str]]:
        return self.scan(prefix)

    def analytics_range(
        self, slug: str, low: str, high: str, *, last: bool = False
    ) -> list[tuple[str, str]]:
        return self.range(low, high, last=last)


def analytics_at(reader: Reader, slug: str, version: int) -> Overlay | None:
    """The negotiation's analytics after its first ``version`` events (all of them if it has
    fewer), from the checkpoint below and at most K events; None when it keeps no checkpoints
    (an older layout, or nothing stored: the caller folds the events)."""
    if version < 1 or MARK not in reader.analytics_get(slug, [MARK]):
        return None
    found = reader.analytics_range(slug, PREFIX, checkpoint_key(version), last=True)
    at, base = 0, {}
    if found:
        at, base = int(found[0][0][len(PREFIX) :]), decode(found[0][1])
    overlay = Overlay(reader, slug, base, at)
    rows = reader.events_of(slug, after_version=at, limit=version - at)
    if rows:
        apply_batch(overlay, rows)
    return overlay
