"""Format-2 hashes are RFC 8785: a second, independent encoder (PyPI's ``rfc8785``) agrees.

Random facts the ledger accepts (free text with tabs, U+2028, astral characters and emoji,
free-form ``details`` with keys whose code-point and UTF-16 orders differ) are recorded; each
stored event's canonical document is then encoded by ``rfc8785`` and must give the same bytes
as ours, and its SHA-256 the stored hash.
"""

from __future__ import annotations

import hashlib
import math
from datetime import UTC, date, datetime
from typing import Any

import rfc8785
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from support import memory_ledger

from domain import errors, facts
from domain.canonical import built_bytes, canonical_bytes, stored_document
from domain.ledger import Ledger
from domain.values import Participant, Party, Quantity, Source, Term
from domain.verify import MAX_SAFE_INTEGER, jcs_bytes, jcs_number

SLUG = "jcs"
# U+007F is a control character the ledger refuses in text; the doc vectors cover its escaping.
TRICKY = [
    "\t",
    "\n",
    "\u2028",
    "\u2029",
    "😀",
    "𝄞",
    "\ue000",
    "\uffff",
    "é",
    '"',
    "\\",
    "/",
]

tricky_text = st.lists(
    st.sampled_from(TRICKY) | st.characters(exclude_categories=("Cs", "Cc")),
    min_size=1,
    max_size=12,
).map("".join)
# Required text may not be blank (all white space, as "\u2028" alone is): it starts with a letter.
labels = tricky_text.map(lambda text: "x" + text)
safe_integers = st.integers(-MAX_SAFE_INTEGER, MAX_SAFE_INTEGER)
json_values = st.recursive(
    st.none() | st.booleans() | safe_integers | tricky_text,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(tricky_text.filter(lambda k: k != "_type_"), inner, max_size=4)
    ),
    max_leaves=12,
)
details = st.dictionaries(tricky_text.filter(lambda k: k != "_type_"), json_values, max_size=5)


@st.composite
def accepted_facts(draw: st.DrawFn) -> list[facts.Fact]:
    made: list[facts.Fact] = []
    for index in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["issue", "statement", "party", "offer", "call"]))
        note = draw(st.none() | labels)
        cited = tuple(
            Source(title=title, publisher=publisher)
            for title, publisher in draw(
                st.lists(st.tuples(labels, st.none() | labels), max_size=2)
            )
        )
        if kind == "offer":
            amount = draw(
                st.decimals(
                    min_value=0, max_value=10**15, allow_nan=False, allow_infinity=False, places=2
                )
            )
            made.append(
                facts.OfferMade(
                    party="ROK",
                    kind="offer",
                    values={"contribution": Quantity(amount, "USD")},
                    occurred_at=datetime(2020, 1, 4, 9, 30, tzinfo=UTC),
                    sources=cited,
                    note=note,
                )
            )
        elif kind == "call":
            names = draw(st.lists(labels, min_size=1, max_size=3))
            made.append(
                facts.CallHeld(
                    channel="video",
                    participants=tuple(
                        Participant("USA" if i % 2 else "ROK", name, draw(st.none() | labels))
                        for i, name in enumerate(names)
                    ),
                    topics=tuple(draw(st.lists(labels, max_size=3))),
                    duration_minutes=draw(st.none() | st.integers(0, 100_000)),
                    occurred_at=date(2020, 1, 5),
                    sources=cited,
                    note=note,
                )
            )
        elif kind == "issue":
            made.append(
                facts.IssueRaised(
                    issue_id=f"issue-{index}",
                    title=draw(labels),
                    raised_by="ROK",
                    details=draw(details),
                    occurred_at=date(2020, 1, 1),
                    note=note,
                )
            )
        elif kind == "statement":
            made.append(
                facts.StatementMade(
                    party="USA",
                    speaker=draw(labels),
                    summary=draw(labels),
                    occurred_at=date(2020, 1, 2),
                    note=note,
                )
            )
        else:
            code = draw(st.sampled_from([None, "KOR GOV", "USA BUS", "USA LAB"]))
            made.append(
                facts.PartyJoined(
                    party=Party(f"P{index}", draw(labels), code),
                    occurred_at=date(2020, 1, 3),
                    note=note,
                )
            )
    return made


def fresh_ledger() -> Ledger:
    ledger = memory_ledger(lambda: datetime(2026, 1, 1, tzinfo=UTC))
    ledger.open_negotiation(
        facts.NegotiationOpened(slug=SLUG, title="JCS", occurred_at=date(2019, 9, 1)),
        [Party("ROK", "Republic of Korea", "KOR GOV"), Party("USA", "United States")],
        [Term("contribution", "Annual contribution", "USD")],
    )
    return ledger


EMOJI_AND_PRIVATE_USE_KEYS = [
    facts.IssueRaised(
        issue_id="orders",
        title="keys whose code-point and UTF-16 orders differ",
        raised_by="ROK",
        details={"\U0001f600": 1, "\ue000": [2, {"\U0001d11e": "\t\u2028", "\uffff": None}]},
        occurred_at=date(2020, 1, 1),
    )
]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(accepted_facts())
@example(EMOJI_AND_PRIVATE_USE_KEYS)
def test_every_accepted_event_hashes_as_rfc8785_encodes_it(new_facts: list[facts.Fact]) -> None:
    ledger = fresh_ledger()
    try:
        accepted = 0
        for fact in new_facts:
            try:
                ledger.record(SLUG, [fact])
                accepted += 1
            except errors.InvalidValue:
                continue
        assume(accepted)
        for event in ledger.stream(SLUG):
            document = stored_document(event, SLUG)
            independent = rfc8785.dumps(document)
            assert canonical_bytes(document) == independent
            assert built_bytes(document) == independent  # how the ledger hashed it
            assert event.hash == hashlib.sha256(independent).hexdigest()
    finally:
        ledger.close()


def json_values(floats: bool) -> st.SearchStrategy[Any]:
    """Any JSON value (floats among the numbers or not), nested a little."""
    text = st.text(alphabet=st.characters(exclude_categories=("Cs",)))
    numbers = (
        safe_integers | st.floats(allow_nan=False, allow_infinity=False)
        if floats
        else safe_integers
    )
    return st.recursive(
        st.none() | st.booleans() | numbers | text,
        lambda inner: st.lists(inner, max_size=5) | st.dictionaries(text, inner, max_size=5),
        max_leaves=25,
    )


any_json = json_values(floats=True)


@settings(max_examples=300, deadline=None)
@given(any_json)
def test_the_encoder_agrees_with_rfc8785_on_any_json(value: Any) -> None:
    assert jcs_bytes(value) == rfc8785.dumps(value)


# What canonical_document builds: any JSON but floats, in a format-2 document.
float_free_json = json_values(floats=False)


@settings(max_examples=300, deadline=None)
@given(float_free_json)
def test_the_fast_encoding_of_built_documents_is_rfc8785(value: Any) -> None:
    document = {"ledger_format": 2, "payload": value}
    assert built_bytes(document) == rfc8785.dumps(document)


@settings(max_examples=2000, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False))
def test_numbers_are_written_as_ecmascript_writes_doubles(number: float) -> None:
    assert jcs_number(number) == rfc8785.dumps(number).decode()


def test_integers_beyond_2_53_and_non_finite_numbers_are_refused() -> None:
    for bad in (MAX_SAFE_INTEGER + 1, -MAX_SAFE_INTEGER - 1, math.inf, math.nan):
        try:
            jcs_bytes([bad])
        except ValueError:
            continue
        raise AssertionError(f"{bad!r} was encoded")
    assert (
        jcs_bytes([MAX_SAFE_INTEGER, -MAX_SAFE_INTEGER]) == b"[9007199254740991,-9007199254740991]"
    )
