"""The tamper-evident ledger on a SQLite file: inclusion proofs in a 1,000,000-leaf tree, and
what the canonical hashing costs an append.

Run on its own with ``python bench/bench_audit.py [--quick]``; ``bench/run.py`` runs it with
the others (its ``run(quick)``) and prints the table. Nothing is asserted.

- **Inclusion proof**: the Merkle view's tables are filled with 1,000,000 synthetic leaves
  (``--quick``: 100,000) through the view's own ``apply`` in large batches (no real events are
  needed: a leaf is a hash), cached in the temp directory. Then, for random events, the time of
  ``api.services.ledger_proofs.inclusion`` (look the leaf up, read the tree size, fetch the O(log n)
  nodes in one query, build the audit path), and of the node fetch and path alone. Goal:
  under 5 ms, i.e. O(log n) reads. A sample of proofs is checked with ``domain.verify``.
- **Hashing overhead on append**: single-event appends to one negotiation on a SQLite file,
  with the canonical document and its SHA-256 as recorded, and with both patched out of
  ``domain.ledger.commands`` (a constant hash), in alternating passes; the ratio of appends/s
  (goal >= 0.9).
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import QUICK_REPEATS, REPEATS, Measurement, Ratio, Report, Series  # noqa: E402

import domain.ledger.commands as ledger_module  # noqa: E402
from api.services.checkpoints import tree_root_of  # noqa: E402
from api.services.ledger_proofs import inclusion  # noqa: E402
from api.store.store import open_ledger, parse_database_url  # noqa: E402
from domain import facts, merkle, verify  # noqa: E402
from projections.views import MERKLE_VIEW, EventRow, Views, open_views  # noqa: E402

PROOF_GOAL_MS = 5.0
HASHING_GOAL = 0.9
BUILD_BATCH = 20_000
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


# ------------------------------------------------------------------ a big tree


def synthetic_row(i: int) -> EventRow:
    """The i-th synthetic event: only what a leaf keeps is meaningful."""
    digest = hashlib.sha256(i.to_bytes(8, "big")).hexdigest()
    return EventRow(
        position=i + 1,
        negotiation=f"bench-{i // 1000:05d}",
        version=i % 1000 + 1,
        event_id=f"{digest[:8]}-{digest[8:12]}-{digest[12:16]}-{digest[16:20]}-{digest[20:32]}",
        type="statement_made",
        occurred_at="2020-01-01",
        sort_key="",
        recorded_at=EPOCH,
        recorded_by="bench",
        party=None,
        payload={},
        hash=digest,
        prev_hash="",
    )


@contextlib.contextmanager
def views_of(path: Path) -> Iterator[Views]:
    with harness.sqlite_ledger(path) as ledger:
        yield open_views(ledger.recorder)


def build_tree(leaves: int) -> Path:
    """A SQLite file whose Merkle view holds ``leaves`` leaves (cached; a partial build is not)."""

    def fill(partial: Path) -> None:
        started = time.perf_counter()
        with views_of(partial) as views:
            for start in range(0, leaves, BUILD_BATCH):
                rows = [synthetic_row(i) for i in range(start, min(leaves, start + BUILD_BATCH))]
                views.apply(rows, {MERKLE_VIEW: start}, start + len(rows))
                done = start + len(rows)
                if done % (leaves // 10) == 0:
                    rate = done / (time.perf_counter() - started)
                    print(f"  built {done:,}/{leaves:,} leaves ({rate:,.0f} leaves/s)")
            assert views.tree_size() == leaves

    return harness.cached(f"audit-{leaves}.db", fill)


def proof_latency(path: Path, leaves: int, count: int) -> dict[str, Any]:
    """Milliseconds per inclusion proof of random events, end to end and nodes-and-path only."""
    rng = random.Random(20200407)
    chosen = [rng.randrange(leaves) for _ in range(count)]
    with path.open("rb") as f:  # read once, so the timed proofs do not pay for the disk
        while f.read(1 << 20):
            pass
    with views_of(path) as views:
        ids = [synthetic_row(i).event_id for i in chosen]
        for event_id in ids[:20]:  # warm the page cache like a server that has been running
            inclusion(views, event_id)
        whole: list[float] = []
        for event_id in ids:
            started = time.perf_counter()
            inclusion(views, event_id, leaves)
            whole.append(1000 * (time.perf_counter() - started))
        path_only: list[float] = []
        reads: list[int] = []
        for index in chosen:
            started = time.perf_counter()
            addresses = merkle.inclusion_nodes(index, leaves)
            merkle.inclusion_proof(views.node_store(addresses), index, leaves)
            path_only.append(1000 * (time.perf_counter() - started))
            reads.append(len(addresses))
        root = tree_root_of(views, leaves)
        checked = 0
        for index, event_id in zip(chosen[:50], ids[:50], strict=True):
            proof = inclusion(views, event_id, leaves)
            assert verify.verify_inclusion(
                index,
                leaves,
                verify.event_leaf_hash(proof.event_hash),
                [bytes.fromhex(p) for p in proof.audit_path],
                root,
            )
            checked += 1
    whole.sort()
    return {
        "p50": statistics.median(whole),
        "p99": whole[int(0.99 * (len(whole) - 1))],
        "path_p50": statistics.median(path_only),
        "nodes": statistics.median(reads),
        "checked": checked,
        "samples": tuple(whole[:: max(1, len(whole) // 5)]),
    }


# ------------------------------------------------------------------ hashing on append

PARTIES, TERMS = harness.PARTIES, (harness.KRW_TERM,)


def statement(i: int) -> facts.StatementMade:
    day = harness.OPENED_ON + timedelta(days=i % 500)
    return facts.StatementMade(
        party=PARTIES[i % 2].id, speaker="spokesperson", summary=f"statement {i}", occurred_at=day
    )


@contextlib.contextmanager
def hashing_patched_out() -> Iterator[None]:
    """Appends without the canonical document and its SHA-256 (a constant hash instead)."""
    saved = ledger_module.canonical_document, ledger_module.built_hash
    ledger_module.canonical_document = lambda **_: {}  # type: ignore[assignment]
    ledger_module.built_hash = lambda _document: "0" * 64  # type: ignore[assignment]
    try:
        yield
    finally:
        ledger_module.canonical_document, ledger_module.built_hash = saved


def hashing_overhead(appends: int, repeats: int) -> tuple[Series, Series]:
    with tempfile.TemporaryDirectory() as folder:
        ledger = open_ledger(
            parse_database_url(f"sqlite:///{folder}/append.db"), create_tables=True
        )
        try:
            with_hashing, without = Series(appends), Series(appends)
            counter = 0

            def appending(slug: str) -> None:
                nonlocal counter
                for _ in range(appends):
                    ledger.record(slug, [statement(counter)], recorded_by="bench")
                    counter += 1

            for run in range(repeats + 1):
                # Each pass appends to a fresh negotiation, so every pass pays the same.
                hashed, plain = f"hashed-{run}", f"plain-{run}"
                for slug in (hashed, plain):
                    opened = facts.NegotiationOpened(
                        slug=slug, title=slug, occurred_at="2019-09-24"
                    )
                    ledger.open_negotiation(opened, list(PARTIES), list(TERMS), recorded_by="bench")
                if run == 0:  # warm-up: caches, prepared statements
                    appending(hashed)
                    continue
                # ABBA order: neither side always runs on the fuller file or the warmer cache.
                for side in ("hashed", "plain") if run % 2 else ("plain", "hashed"):
                    if side == "hashed":
                        with_hashing.add(lambda slug=hashed: appending(slug))
                    else:
                        with hashing_patched_out():
                            without.add(lambda slug=plain: appending(slug))
        finally:
            ledger.close()
    return with_hashing, without


# ------------------------------------------------------------------ report


def run(quick: bool = False) -> Report:
    leaves = 100_000 if quick else 1_000_000
    report = Report(title="Audit: Merkle proofs and hashing on append (SQLite file)")
    started = time.perf_counter()
    path = build_tree(leaves)
    built = time.perf_counter() - started
    latency = proof_latency(path, leaves, 200 if quick else 1000)
    report.measurements += [
        Measurement(
            f"inclusion proof, {leaves:,}-leaf tree, p50", latency["p50"], "ms", latency["samples"]
        ),
        Measurement(f"inclusion proof, {leaves:,}-leaf tree, p99", latency["p99"], "ms"),
        Measurement("  of which node fetch + path, p50", latency["path_p50"], "ms"),
        Measurement("  nodes read per proof (one query)", latency["nodes"], "nodes"),
    ]
    report.ratios.append(
        Ratio(
            f"{PROOF_GOAL_MS:.0f} ms / inclusion proof p50",
            PROOF_GOAL_MS / max(latency["p50"], 1e-6),
            1.0,
            f"{leaves:,} leaves; leaf lookup + tree size + nodes in one query + path; "
            f"{latency['checked']} proofs checked with domain.verify",
        )
    )
    appends, repeats = (200, QUICK_REPEATS) if quick else (1000, REPEATS)
    with_hashing, without = hashing_overhead(appends, repeats)
    report.measurements += [
        Measurement.rate_of("appends with canonical hashing", with_hashing, "appends/s"),
        Measurement.rate_of("appends with hashing patched out", without, "appends/s"),
    ]
    report.ratios.append(
        Ratio.of_rates(
            "appends/s with hashing / without",
            with_hashing,
            without,
            HASHING_GOAL,
            f"{appends} single-event appends per pass, {repeats} passes each, alternating",
        )
    )
    if built > 1:
        report.notes.append(f"built the {leaves:,}-leaf tree in {built:.0f} s")
    report.notes.append(f"tree cached in {path}")
    return report


if __name__ == "__main__":
    harness.main(__doc__, run, "100,000 leaves, fewer appends")
