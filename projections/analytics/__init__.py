"""Materialised analytics per negotiation: the pure folds' output, kept up to date per batch.

The state of one negotiation lives in a small key-value space (``Space``), which a view
backend keeps in a table (``projections.views.analytics``) written in the same transaction
as its tracking row. Keys:

- ``meta``: the *shaping* records (opening, parties, terms, agreements and their
  rejections, rates, rounds, retractions): few, and every line needs them.
- ``line/<term>/<party>/<version>``: the records of one party's position line on a term, a
  row each (appended, never rewritten): its offers carrying the term and the withdrawals of
  those offers.
- ``tip/<term>/<party>``: where the line stands at its end (``line_tip``): its last trigger
  moment, the position before it, the current one and its last two changes.
- ``pt/<term>/<p>/<q>``: a pair's history in brief (``pair_tip``): how many points, the
  first and the last few.
- ``ref/<event id>``: the lines an offer or a withdrawal sits in (what a withdrawal or a
  retraction of it changes).
- ``positions``: ``{term: {party: entry}}``, the ``/positions`` entries.
- ``gap/<term>/<p>/<q>`` and ``hist/<term>/<p>/<q>``: a pair's ``/gaps`` entry (with what
  the read needs to work out the two clock-dependent counts) and its history, as JSON text.

A batch recomputes only the lines its events touch (an offer: its party's lines on its
terms; a withdrawal: the offer's; an agreement: its terms' lines) and the pairs on those
terms that involve those parties, by building a ``Book`` of the meta records and the
loaded lines and asking the pure folds (``positions``, ``gaps``) for them. Events that
reshape the negotiation (a party joins, a term or a rate is recorded, a shaping record is
retracted) recompute every line. So the stored state is the folds' output by construction;
``tests/properties`` check it against folding from scratch.

The common case costs O(1) per event instead of O(line) (``_extend``): a batch of offers
from joined parties, in their terms' units, each at or after every moment already on its
terms. Such an offer only appends to the end of its lines and their pairs' histories, so
the tips say everything the new entries need (the same numbers the folds give: the
property tests mix both paths). Anything else takes the fold.

One module per job: ``keys`` (the keys, the JSON they hold, the ``Space``), ``fold`` (a
batch folded into the lines and pairs it touches), ``extend`` (the O(1) path), ``batch``
(which of the two a batch takes) and ``stored`` (the reads).
"""

from __future__ import annotations

from projections.analytics.batch import apply_batch
from projections.analytics.fold import empty_pair_rows, headline_text
from projections.analytics.keys import (
    ANALYTIC_TYPES,
    FORMAT,
    HEADLINE_FIELDS,
    LINE_TYPES,
    REFERENCE_DAY,
    RESHAPING_TYPES,
    TAIL,
    Buffered,
    Space,
    line_key,
    line_record,
    line_row_key,
    line_tip,
    pair_key,
    pair_tip,
    record_json,
    record_of,
    tip_key,
)
from projections.analytics.stored import (
    Order,
    Reader,
    clock_counts,
    gaps_text,
    stored_gap_entries,
    stored_order,
    stored_positions,
)

__all__ = [
    "ANALYTIC_TYPES",
    "FORMAT",
    "HEADLINE_FIELDS",
    "LINE_TYPES",
    "REFERENCE_DAY",
    "RESHAPING_TYPES",
    "TAIL",
    "Buffered",
    "Order",
    "Reader",
    "Space",
    "apply_batch",
    "clock_counts",
    "empty_pair_rows",
    "gaps_text",
    "headline_text",
    "line_key",
    "line_record",
    "line_row_key",
    "line_tip",
    "pair_key",
    "pair_tip",
    "record_json",
    "record_of",
    "stored_gap_entries",
    "stored_order",
    "stored_positions",
    "tip_key",
]
