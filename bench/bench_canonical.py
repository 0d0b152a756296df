"""Hashing an event: ledger format 2 (RFC 8785 bytes) against format 1 (Python's sorted JSON).

Run on its own with ``python bench/bench_canonical.py [--quick]``; ``bench/run.py`` runs it with
the others (its ``run(quick)``) and prints the table. Nothing is asserted.

Two canonical documents are hashed many times each way: the doc's worked example (an offer
with a source) and an ``issue_raised`` with nested ``details`` (the format-1 fixture's last
event, its integers beyond 2^53 taken out so that format 2 can hold it). The ratio is
(format-2 hashes/s) / (format-1 hashes/s): format 2 walks the document in Python, format 1
is the json module's C encoder, so it is below 1; the issue sets no goal for it. What it costs
an append is the difference of the two per-event times, printed as a note.
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from harness import QUICK_REPEATS, REPEATS, Measurement, Ratio, Report, Series  # noqa: E402

from domain.verify import jcs_bytes, legacy_bytes  # noqa: E402

ROOT = BENCH_DIR.parent
FULL_COUNT, QUICK_COUNT = 20_000, 5_000


def documents() -> dict[str, dict[str, Any]]:
    doc = (ROOT / "docs" / "ledger-format.md").read_text(encoding="utf-8")
    example = next(
        line
        for line in doc.splitlines()
        if line.startswith('{"event_id"') and "ledger_format" in line
    )
    fixture = (ROOT / "tests" / "fixtures" / "ledger-format-1.jsonl").read_bytes().split(b"\n")
    issue = json.loads(next(line for line in reversed(fixture) if line))
    for key in ("hash", "position"):
        issue.pop(key)
    details = issue["payload"]["details"]
    details.pop("beyond_2_53")
    details.pop("negative")
    return {"offer": json.loads(example), "issue with details": issue}


def run(quick: bool = False) -> Report:
    count = QUICK_COUNT if quick else FULL_COUNT
    passes = QUICK_REPEATS if quick else REPEATS
    report = Report(title="Event hashes: ledger format 2 (RFC 8785) against format 1")
    for name, document in documents().items():
        series: dict[int, Series] = {1: Series(count), 2: Series(count)}
        encoders = {1: legacy_bytes, 2: jcs_bytes}
        for _ in range(passes):
            for fmt, encode in encoders.items():

                def hash_all(encode: Any = encode, document: Any = document) -> None:
                    for _ in range(count):
                        hashlib.sha256(encode(document)).digest()

                series[fmt].add(hash_all)
        for fmt in (1, 2):
            report.measurements.append(
                Measurement.rate_of(f"{name}: format {fmt}", series[fmt], "hashes/s")
            )
        report.ratios.append(
            Ratio.of_rates(
                f"{name}: format 2 / format 1",
                series[2],
                series[1],
                None,
                "hashes per second, RFC 8785 in Python over the json module's C encoder",
            )
        )
        extra_us = 1e6 * (1 / series[2].rate() - 1 / series[1].rate())
        report.notes.append(f"{name}: format 2 costs {extra_us:.1f} µs more per event hashed")
    report.notes.append(f"{count:,} hashes per pass, {passes} passes")
    return report


if __name__ == "__main__":
    harness.main(__doc__, run, "fewer hashes per pass")
