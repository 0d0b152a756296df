"""C2SP tiles and signed checkpoints read from the Merkle view, against an inclusion proof.

Run on its own with ``python bench/bench_tiles.py [--quick]``; ``bench/run.py`` runs it with
the others (its ``run(quick)``) and prints the table. Nothing is asserted.

On the SQLite tree of ``bench_audit`` (1,000,000 synthetic leaves; ``--quick``: 100,000,
built once and cached), in the same run: an inclusion proof of a random event (the baseline:
O(log n) nodes in one query), a random full level-0 tile (256 stored nodes), a random full
level-1 tile, a random entry bundle (256 leaves), and the signed checkpoint note (root from
O(log n) nodes, Ed25519 signature). Ratios are operations per second against the proof's.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
if str(BENCH_DIR) not in sys.path:  # run as a script from anywhere: the modules sit beside it
    sys.path.insert(0, str(BENCH_DIR))

import harness  # noqa: E402
from bench_audit import build_tree, synthetic_row, views_of  # noqa: E402
from harness import QUICK_REPEATS, REPEATS, Measurement, Ratio, Report, Series  # noqa: E402

from api import signed_note  # noqa: E402
from api.services import checkpoints, ledger_proofs  # noqa: E402
from api.services.tiles import TileRef, tile_data  # noqa: E402
from projections.views import Views  # noqa: E402

SEED = bytes(range(32))
ORIGIN = "bench.example/parley"


def operations(views: Views, leaves: int, count: int) -> dict[str, Callable[[], None]]:
    rng = random.Random(20261205)
    events = [synthetic_row(rng.randrange(leaves)).event_id for _ in range(count)]
    level0 = [rng.randrange(leaves // 256) for _ in range(count)]
    level1 = [rng.randrange(max(1, leaves // 65536)) for _ in range(count)]

    def proofs() -> None:
        for event_id in events:
            ledger_proofs.inclusion(views, event_id, leaves)

    def tiles(level: int, indexes: list[int]) -> Callable[[], None]:
        def fetch() -> None:
            for index in indexes:
                tile = TileRef(level, index, 256)
                assert len(tile_data(views, tile, leaves)) == 256 * 32

        return fetch

    def bundles() -> None:
        for index in level0:
            tile_data(views, TileRef(None, index, 256), leaves)

    def notes() -> None:
        for _ in range(count):
            text = checkpoints.checkpoint_body(views, ORIGIN, leaves)
            signed_note.Note(text, (signed_note.sign(text, ORIGIN, SEED),)).encode()

    return {
        "inclusion proof": proofs,
        "full level-0 tile (256 nodes)": tiles(0, level0),
        "full level-1 tile (256 nodes)": tiles(1, level1),
        "entry bundle (256 leaves)": bundles,
        "signed checkpoint note": notes,
    }


def run(quick: bool = False) -> Report:
    leaves = 100_000 if quick else 1_000_000
    count, repeats = (100, QUICK_REPEATS) if quick else (300, REPEATS)
    report = Report(title=f"C2SP tiles and notes from the Merkle view ({leaves:,} leaves, SQLite)")
    path = build_tree(leaves)
    with views_of(path) as views:
        measured = operations(views, leaves, count)
        for fetch in measured.values():  # warm the page cache like a running server
            fetch()
        series = {name: Series(count) for name in measured}
        for _ in range(repeats):
            for name, fetch in measured.items():
                series[name].add(fetch)
    for name, s in series.items():
        report.measurements.append(Measurement.latency_of(name, s))
    baseline = series["inclusion proof"]
    for name, s in series.items():
        if s is not baseline:
            report.ratios.append(
                Ratio.of_rates(f"{name} / inclusion proof (per second)", s, baseline, None)
            )
    report.notes.append(f"{count} operations per pass, {repeats} passes, tree cached in {path}")
    return report


if __name__ == "__main__":
    harness.main(__doc__, run, "100,000 leaves, fewer operations")
