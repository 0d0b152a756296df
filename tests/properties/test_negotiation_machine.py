"""A hypothesis state machine that drives the Negotiation aggregate through the Ledger.

Random valid and invalid commands go through ``Ledger.record``; after every step the stored
stream is checked against the contract's rules by code that does not share the aggregate's
own bookkeeping, and a replay of the stream must give the live state.
"""

from __future__ import annotations

import os
from collections import Counter
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import event as tally
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule
from support import memory_ledger, recomputed_hash

from domain import errors, facts
from domain.canonical import GENESIS_HASH
from domain.ledger import Recorded, project_negotiation
from domain.values import Party, Quantity, Term, sort_key

SLUG = "machine"
OTHER = "elsewhere"
NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
START = date(2019, 9, 1)

settings.register_profile(
    "negotiation-machine",
    max_examples=40,
    stateful_step_count=30,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
settings.register_profile(
    "negotiation-machine-thorough",
    parent=settings.get_profile("negotiation-machine"),
    max_examples=500,
    stateful_step_count=60,
)
PROFILE = os.environ.get("PARLEY_MACHINE_PROFILE", "negotiation-machine")

T = TypeVar("T")


def mostly(common: st.SearchStrategy[T], rare: st.SearchStrategy[T]) -> st.SearchStrategy[T]:
    """``common`` nine times in ten, ``rare`` otherwise.

    one_of() would not do: hypothesis favours its first branches and boundary values, so the
    invalid inputs would crowd out the valid ones that build up interesting states.
    """
    return st.tuples(st.integers(min_value=0, max_value=9), common, rare).map(
        lambda t: t[2] if t[0] == 7 else t[1]
    )


parties = mostly(st.sampled_from(["ROK", "USA"]), st.sampled_from(["JPN", "bad id!"]))
TERMS = ["contribution", "increase", "duration", "troops"]
UNITS = ["USD", "KRW", "EUR", "percent", "years", "count", "Not A Unit"]

# Time points cluster in a few weeks so that rounds, closes and answers collide often.
days = st.integers(min_value=0, max_value=45).map(lambda n: START + timedelta(days=n))
instants = st.builds(
    lambda d, h, off: datetime(d.year, d.month, d.day, h, tzinfo=timezone(timedelta(hours=off))),
    days,
    st.integers(min_value=0, max_value=23),
    st.sampled_from([-5, 0, 9]),
)
bad_moments = st.sampled_from([date(2027, 1, 1), "2019-09-10T10:00:00", "not a date"])
moments = mostly(st.one_of(days, instants), bad_moments)
amounts = mostly(
    st.decimals(
        min_value=-(10**6), max_value=10**13, places=3, allow_nan=False, allow_infinity=False
    ),
    st.sampled_from([Decimal("5E+9"), Decimal("NaN"), Decimal("1E+40"), Decimal("-0")]),
)
# "term" stands for the unit the term is measured in, resolved when the rule runs.
unit_choices = mostly(st.just("term"), st.sampled_from(["KRW", "percent", "Not A Unit"]))
value_specs = st.dictionaries(
    mostly(st.sampled_from(TERMS[:2]), st.sampled_from(TERMS[2:])),
    st.tuples(amounts, unit_choices),
    max_size=2,
)
# Answers (withdrawals, rejections, resolutions) mostly come some days after what they answer.
delays = mostly(st.integers(min_value=0, max_value=10), st.one_of(st.just(-1), bad_moments))
texts = mostly(st.just("said something"), st.sampled_from(["", "bell\x07", "서울\n회담"]))
# ("own", i): the i-th recorded event of this negotiation, modulo their number;
# ("foreign", 0): an event of another negotiation; ("unknown"|"malformed", 0): no event at all.
targets = mostly(
    st.tuples(st.just("own"), st.integers(min_value=0, max_value=10_000)),
    st.tuples(st.sampled_from(["foreign", "unknown", "malformed"]), st.just(0)),
)
# Which kind of event a retraction aims at (None: any), so that rare targets come up.
RETRACTION_KINDS = [
    None,
    None,
    "status_changed",
    "offer_made",
    "offer_withdrawn",
    "round_held",
    "agreement_rejected",
    "issue_resolved",
    "issue_raised",
    "party_joined",
]
kinds = mostly(st.sampled_from(facts.OFFER_KINDS), st.just("ultimatum"))


class NegotiationMachine(RuleBasedStateMachine):
    """Random commands against one negotiation; the rules hold after every step."""

    def __init__(self) -> None:
        super().__init__()
        self.ledger = memory_ledger(lambda: NOW)
        self.ids: list[str] = []
        self.by_type: dict[str, list[str]] = {}
        self.facts: dict[str, facts.Fact] = {}
        self.foreign = ""
        self.keys: dict[str, tuple[str, Recorded]] = {}

    @initialize()
    def open_negotiations(self) -> None:
        recorded = self.ledger.open_negotiation(
            facts.NegotiationOpened(slug=SLUG, title="Machine talks", occurred_at=START),
            [Party("ROK", "Republic of Korea"), Party("USA", "United States")],
            [Term("contribution", "Contribution", "USD"), Term("increase", "Rise", "percent")],
        )
        self._remember(recorded)
        # Something to answer from the first step on: offers, an agreement, an issue.
        usd = {"contribution": Quantity(Decimal("5E+9"), "USD")}
        krw = {"contribution": Quantity(Decimal("1.1E+12"), "KRW")}
        first = [
            facts.OfferMade(party="USA", kind="demand", values=usd, occurred_at=START),
            facts.OfferMade(party="ROK", kind="offer", values=krw, occurred_at=START),
            facts.AgreementReached(status="tentative", values=usd, occurred_at=START),
            facts.IssueRaised(issue_id="cost", title="Cost", raised_by="ROK", occurred_at=START),
        ]
        self._remember(self.ledger.record(SLUG, first), first)
        other = self.ledger.open_negotiation(
            facts.NegotiationOpened(slug=OTHER, title="Elsewhere", occurred_at=START),
            [Party("USA", "United States")],
        )
        self.foreign = str(other.events[-1].event_id)

    # ------------------------------------------------------------- helpers

    def _remember(self, recorded: Recorded, new: list[facts.Fact] | None = None) -> None:
        for index, event in enumerate(recorded.events):
            self.ids.append(str(event.event_id))
            self.by_type.setdefault(event.type, []).append(str(event.event_id))
            if new is not None:
                self.facts[str(event.event_id)] = new[index]

    def _values(self, spec: dict[str, tuple[Decimal, str]]) -> dict[str, Quantity]:
        terms = self.ledger.get(SLUG).terms
        return {
            term: Quantity(
                amount, (terms[term].unit if term in terms else "USD") if unit == "term" else unit
            )
            for term, (amount, unit) in spec.items()
        }

    def _after(self, event_id: str, delay: Any) -> Any:
        """A moment ``delay`` days after the event's own (or ``delay`` itself if malformed)."""
        if not isinstance(delay, int):
            return delay
        answered = self.facts.get(event_id)
        at = answered.occurred_at if answered is not None else START
        if isinstance(at, str):
            return START + timedelta(days=delay)
        return at + timedelta(days=delay)

    def _party_of(self, event_id: str, own: bool, party: str) -> str:
        answered = self.facts.get(event_id)
        return getattr(answered, "party", party) if own else party

    def _target(self, pick: tuple[str, int], kind: str | None = None) -> str:
        where, index = pick
        if where == "foreign":
            return self.foreign
        if where == "unknown":
            return str(UUID(int=10**9))
        if where == "malformed":
            return "event-1"
        pool = self.by_type.get(kind, []) if kind is not None else self.ids
        pool = pool or self.ids
        return pool[index % len(pool)]

    def attempt(self, new: list[facts.Fact]) -> Recorded | None:
        """Records ``new``; a refusal must be a ParleyError that changes nothing."""
        before = self.ledger.get(SLUG)
        try:
            recorded = self.ledger.record(SLUG, new)
        except errors.ParleyError as e:
            self._assert_unchanged(before)
            tally(f"{new[0].TYPE}: {type(e).__name__}")
            return None
        assert not recorded.replayed
        assert [e.version for e in recorded.events] == list(
            range(before.version + 1, before.version + 1 + len(new))
        )
        assert [e.type for e in recorded.events] == [f.TYPE for f in new]
        self._remember(recorded, new)
        tally(f"{new[0].TYPE}: recorded")
        return recorded

    def _assert_unchanged(self, before: Any) -> None:
        after = self.ledger.get(SLUG)
        assert after.version == before.version
        assert vars(after) == vars(before)

    # --------------------------------------------------------------- rules

    @rule(party=st.sampled_from(["ROK", "USA", "JPN", "UAW", "bad id!"]), when=moments)
    def join_party(self, party: str, when: Any) -> None:
        self.attempt(
            [facts.PartyJoined(party=Party(party, party + " delegation"), occurred_at=when)]
        )

    @rule(term=st.sampled_from(TERMS), unit=st.sampled_from(UNITS), when=moments)
    def define_term(self, term: str, unit: str, when: Any) -> None:
        self.attempt([facts.TermDefined(term=Term(term, term.title(), unit), occurred_at=when)])

    @rule(
        party=parties,
        kind=kinds,
        spec=value_specs,
        when=moments,
    )
    def make_offer(self, party: str, kind: Any, spec: dict[str, Any], when: Any) -> None:
        values = self._values(spec)
        self.attempt([facts.OfferMade(party=party, kind=kind, values=values, occurred_at=when)])

    @rule(number=st.integers(min_value=0, max_value=6), when=moments)
    def hold_round(self, number: int, when: Any) -> None:
        self.attempt([facts.RoundHeld(number=number, occurred_at=when)])

    @rule(status=st.sampled_from([*facts.NEGOTIATION_STATUSES, "paused"]), when=moments)
    def change_status(self, status: Any, when: Any) -> None:
        self.attempt([facts.StatusChanged(status=status, reason="because", occurred_at=when)])

    @rule(
        closing=st.sampled_from(sorted(facts.CLOSING_STATUSES)),
        day=st.integers(min_value=0, max_value=45),
        gap=st.integers(min_value=0, max_value=10),
        reopening=st.sampled_from(["open", "suspended"]),
    )
    def close_then_reopen(self, closing: str, day: int, gap: int, reopening: str) -> None:
        closed_on = START + timedelta(days=day)
        self.attempt(
            [
                facts.StatusChanged(status=closing, occurred_at=closed_on),  # type: ignore[arg-type]
                facts.StatusChanged(
                    status=reopening,  # type: ignore[arg-type]
                    occurred_at=closed_on + timedelta(days=gap),
                ),
            ]
        )

    @rule(own=st.booleans(), party=parties, pick=targets, delay=delays)
    def withdraw_offer(self, own: bool, party: str, pick: tuple[str, int], delay: Any) -> None:
        offer = self._target(pick, "offer_made")
        withdrawn = facts.OfferWithdrawn(
            party=self._party_of(offer, own, party),
            offer_event_id=offer,
            occurred_at=self._after(offer, delay),
        )
        self.attempt([withdrawn])

    @rule(party=parties, pick=targets, delay=delays)
    def reject_offer(self, party: str, pick: tuple[str, int], delay: Any) -> None:
        offer = self._target(pick, "offer_made")
        rejected = facts.OfferRejected(
            party=party, offer_event_id=offer, occurred_at=self._after(offer, delay)
        )
        self.attempt([rejected])

    @rule(
        kind=st.sampled_from(RETRACTION_KINDS),
        pick=targets,
        delay=delays,
    )
    def retract_an_event(self, kind: str | None, pick: tuple[str, int], delay: Any) -> None:
        event_id = self._target(pick, kind)
        when = self._after(event_id, delay)
        self.attempt(
            [facts.EventRetracted(retracted_event_id=event_id, reason="wrong", occurred_at=when)]
        )

    @rule(
        status=st.sampled_from([*facts.AGREEMENT_STATUSES, "agreed"]),
        spec=value_specs,
        when=moments,
    )
    def reach_agreement(self, status: Any, spec: dict[str, Any], when: Any) -> None:
        values = self._values(spec)
        self.attempt([facts.AgreementReached(status=status, values=values, occurred_at=when)])

    @rule(party=parties, pick=targets, delay=delays)
    def reject_agreement(self, party: str, pick: tuple[str, int], delay: Any) -> None:
        agreement = self._target(pick, "agreement_reached")
        when = self._after(agreement, delay)
        self.attempt(
            [
                facts.AgreementRejected(
                    party=party, agreement_event_id=agreement, reason="no", occurred_at=when
                )
            ]
        )

    @rule(
        base=mostly(st.sampled_from(["USD", "KRW"]), st.sampled_from(["EUR", "XYZ"])),
        quote=mostly(st.sampled_from(["KRW", "EUR"]), st.sampled_from(["USD", "usd"])),
        rate=mostly(st.decimals(min_value=Decimal("0.0001"), max_value=10**5, places=4), amounts),
        when=moments,
    )
    def record_exchange_rate(self, base: str, quote: str, rate: Decimal, when: Any) -> None:
        self.attempt(
            [facts.ExchangeRateRecorded(base=base, quote=quote, rate=rate, occurred_at=when)]
        )

    @rule(
        issue=st.sampled_from(["cost", "troops"]),
        party=parties,
        details=st.sampled_from([None, {"share": Decimal("0.5")}, {"share": 0.5}]),
        when=moments,
    )
    def raise_issue(self, issue: str, party: str, details: Any, when: Any) -> None:
        raised = facts.IssueRaised(
            issue_id=issue, title=issue, raised_by=party, details=details, occurred_at=when
        )
        self.attempt([raised])

    @rule(issue=st.sampled_from(["cost", "troops"]), delay=delays)
    def resolve_issue(self, issue: str, delay: Any) -> None:
        raised = [
            i for i in self.by_type.get("issue_raised", []) if self.facts[i].issue_id == issue
        ]
        when = self._after(raised[-1], delay) if raised else self._after("", delay)
        self.attempt([facts.IssueResolved(issue_id=issue, resolution="settled", occurred_at=when)])

    @rule(party=parties, summary=texts, when=moments)
    def make_statement(self, party: str, summary: str, when: Any) -> None:
        said = facts.StatementMade(party=party, speaker="envoy", summary=summary, occurred_at=when)
        self.attempt([said])

    @rule(
        spec=value_specs,
        party=parties,
        summary=texts,
        when=moments,
        number=st.integers(min_value=0, max_value=6),
    )
    def record_a_batch(
        self, spec: dict[str, Any], party: str, summary: str, when: Any, number: int
    ) -> None:
        values = self._values(spec)
        self.attempt(
            [
                facts.OfferMade(party="USA", kind="offer", values=values, occurred_at=when),
                facts.StatementMade(
                    party=party, speaker="envoy", summary=summary, occurred_at=when
                ),
                facts.RoundHeld(number=number, occurred_at=when),
            ]
        )

    @rule(
        key=st.sampled_from(["k1", "k2"]),
        amount=st.sampled_from(["1", "2"]),
        when=moments,
    )
    def offer_with_idempotency_key(self, key: str, amount: str, when: Any) -> None:
        offer = facts.OfferMade(
            party="USA",
            kind="offer",
            values={"contribution": Quantity(Decimal(amount), "USD")},
            occurred_at=when,
        )
        fingerprint = f"{amount}@{when}"
        prior = self.keys.get(key)
        before = self.ledger.get(SLUG)
        try:
            recorded = self.ledger.record(
                SLUG, [offer], idempotency_key=key, fingerprint=fingerprint
            )
        except errors.IdempotencyKeyReused:
            assert prior is not None
            assert prior[0] != fingerprint
            self._assert_unchanged(before)
            return
        except errors.ParleyError:
            assert prior is None, "a repeat must be answered, whatever the rules say now"
            self._assert_unchanged(before)
            return
        if prior is None:
            assert not recorded.replayed
            self.keys[key] = (fingerprint, recorded)
            self._remember(recorded, [offer])
            return
        assert prior[0] == fingerprint
        assert recorded.replayed
        self._assert_unchanged(before)
        first = [(e.event_id, e.type, e.version, e.hash) for e in prior[1].events]
        assert [(e.event_id, e.type, e.version, e.hash) for e in recorded.events] == first

    @precondition(lambda self: len(self.ids) > 0)
    @rule(stale=st.integers(min_value=1, max_value=3))
    def record_with_a_stale_version(self, stale: int) -> None:
        before = self.ledger.get(SLUG)
        said = facts.StatementMade(party="ROK", speaker="e", summary="s", occurred_at=START)
        with pytest.raises(errors.StaleVersion) as caught:
            self.ledger.record(SLUG, [said], expected_version=before.version - stale)
        assert (caught.value.expected, caught.value.actual) == (
            before.version - stale,
            before.version,
        )
        self._assert_unchanged(before)

    # ---------------------------------------------------------- invariants

    @invariant()
    def version_is_the_number_of_stored_events(self) -> None:
        assert self.ledger.get(SLUG).version == len(self.ledger.stream(SLUG))

    @invariant()
    def replay_gives_the_live_state(self) -> None:
        replayed = project_negotiation(None, self.ledger.stream(SLUG))
        assert vars(replayed) == vars(self.ledger.get(SLUG))

    @invariant()
    def the_hash_chain_is_intact(self) -> None:
        prev = GENESIS_HASH
        for event in self.ledger.stream(SLUG):
            assert event.prev_hash == prev
            assert event.hash == _recomputed_hash(event)
            prev = event.hash

    @invariant()
    def the_stored_stream_obeys_the_rules(self) -> None:
        events = self.ledger.stream(SLUG)
        by_id = {str(e.event_id): e for e in events}
        retractions = Counter(e.retracted_event_id for e in events if e.TYPE == "event_retracted")
        # at most once, only events of this stream, never an opening or a retraction
        assert all(n == 1 for n in retractions.values())
        for target in retractions:
            assert target in by_id
            assert by_id[target].TYPE not in ("negotiation_opened", "event_retracted")
        live = [e for e in events if str(e.event_id) not in retractions]

        rounds = sorted((e.number, sort_key(e.occurred_at)) for e in live if e.TYPE == "round_held")
        numbers = [n for n, _ in rounds]
        assert len(numbers) == len(set(numbers)), "live round numbers are unique"
        keys = [k for _, k in rounds]
        assert keys == sorted(keys), "round numbers increase with occurred_at"

        changes = sorted(
            (sort_key(e.occurred_at), e.originator_version, e.status)
            for e in live
            if e.TYPE == "status_changed"
        )
        for e in live:
            if e.TYPE in facts.ALLOWED_AFTER_CLOSE or e.TYPE == "negotiation_opened":
                continue
            key = sort_key(e.occurred_at)
            in_effect = [status for at, _, status in changes if at < key]
            assert not in_effect or in_effect[-1] not in facts.CLOSING_STATUSES, (
                f"live {e.TYPE} at {e.occurred_at} lies inside a closed period"
            )

        for e in live:
            if e.TYPE == "offer_withdrawn":
                assert by_id[e.offer_event_id].party == e.party
            if e.TYPE == "offer_rejected":
                assert by_id[e.offer_event_id].party != e.party
            if e.TYPE == "agreement_rejected":
                assert by_id[e.agreement_event_id].TYPE == "agreement_reached"
        live_rejections = Counter(
            e.agreement_event_id for e in live if e.TYPE == "agreement_rejected"
        )
        assert all(n == 1 for n in live_rejections.values())

    def teardown(self) -> None:
        self.ledger.close()


def _recomputed_hash(event: Any) -> str:
    return recomputed_hash(event, SLUG)


TestNegotiationMachine = NegotiationMachine.TestCase
TestNegotiationMachine.settings = settings(settings.get_profile(PROFILE))
