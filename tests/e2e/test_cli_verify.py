"""``parley verify [--checkpoint FILE]`` and ``parley checkpoint --out FILE`` on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest
from ledger_tamper import corrupt, delete_row, edit_state, rehash, replace_bytes
from support import opened
from typer.testing import CliRunner, Result

from api.cli import app
from api.services.demo import DEMO_SLUG, load_demo
from domain.facts import StatementMade
from domain.negotiation import Negotiation
from projections.runner import ProjectionRunner
from projections.views import MERKLE_VIEW

DEMO_EVENTS = 29
SEED_HEX = "9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60"

pytestmark = pytest.mark.parametrize("store_url", ["sqlite", "postgres"], indirect=True)


@dataclass(frozen=True)
class Target:
    """An event to tamper with: where it is, what it is, and an amount it holds."""

    position: int
    event_id: str
    version: int
    amount: str


@pytest.fixture
def demo(store_url: str, monkeypatch: pytest.MonkeyPatch) -> Target:
    """The demo on the store, projected, as PARLEY_DATABASE_URL; its first offer."""
    monkeypatch.setenv("PARLEY_DATABASE_URL", store_url)
    monkeypatch.delenv("PARLEY_SIGNING_KEY", raising=False)
    with opened(store_url) as ledger:
        load_demo(ledger)
        ProjectionRunner(ledger).catch_up()
        first = next(e for e in ledger.stream(DEMO_SLUG) if isinstance(e, Negotiation.OfferMade))
        version = first.originator_version
        amount = next(iter(first.values.values())).amount
        return Target(
            ledger.positions(DEMO_SLUG, version, version)[version],
            str(first.event_id),
            version,
            format(amount, "f"),
        )


def parley(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def saved_checkpoint(tmp_path: Path) -> Path:
    """The file ``parley checkpoint --out`` writes for the ledger as it stands."""
    saved = tmp_path / "checkpoint.json"
    made = parley("checkpoint", "--out", str(saved))
    assert made.exit_code == 0, made.output
    return saved


def test_verify_of_an_untouched_ledger_exits_0(demo: Target) -> None:
    result = parley("verify")

    assert result.exit_code == 0, result.output
    assert f"{DEMO_EVENTS} events re-hashed" in result.stdout
    assert f"Merkle tree of {DEMO_EVENTS} leaves" in result.stdout


def test_verify_exits_1_naming_an_event_whose_amount_was_edited(
    store_url: str, demo: Target
) -> None:
    edited = demo.amount[:-1] + ("1" if demo.amount[-1] != "1" else "2")
    edit_state(store_url, demo.position, replace_bytes(demo.amount.encode(), edited.encode()))

    result = parley("verify")

    assert result.exit_code == 1, result.output
    assert f"event {demo.event_id}" in result.stderr
    assert f"negotiation {DEMO_SLUG}, version {demo.version}" in result.stderr
    assert "does not match its stored content" in result.stderr


def test_verify_exits_1_naming_an_event_whose_bytes_no_longer_decode(
    store_url: str, demo: Target
) -> None:
    edit_state(store_url, demo.position, corrupt)

    result = parley("verify")

    assert result.exit_code == 1, result.output
    assert f"event {demo.event_id}" in result.stderr
    assert "no longer decode" in result.stderr
    assert "Traceback" not in result.output


def test_verify_exits_1_naming_an_event_deleted_from_the_store(
    store_url: str, demo: Target
) -> None:
    delete_row(store_url, demo.position)

    result = parley("verify")

    assert result.exit_code == 1, result.output
    assert f"event {demo.event_id}" in result.stderr
    assert "no longer has it" in result.stderr


def test_a_saved_checkpoint_is_extended_by_the_ledger_as_it_grows(
    store_url: str, demo: Target, tmp_path: Path
) -> None:
    saved = saved_checkpoint(tmp_path)
    with opened(store_url) as ledger:
        made = StatementMade(
            party="ROK", speaker="spokesperson", summary="later", occurred_at="2021-04-08"
        )
        ledger.record(DEMO_SLUG, [made])
        ProjectionRunner(ledger).catch_up()

    result = parley("verify", "--checkpoint", str(saved))

    assert result.exit_code == 0, result.output
    assert json.loads(saved.read_text())["tree_size"] == DEMO_EVENTS
    assert f"tree of {DEMO_EVENTS + 1} leaves extends the checkpoint's {DEMO_EVENTS}" in (
        result.stdout
    )
    assert "unsigned" in result.stdout


def test_a_history_rewritten_consistently_passes_verify_but_not_the_checkpoint(
    store_url: str, demo: Target, tmp_path: Path
) -> None:
    saved = saved_checkpoint(tmp_path)
    # A careful intruder rewrites the last event (nothing chains to it), recomputes its
    # hash and rebuilds the Merkle view: the ledger is consistent with itself again.
    edit_state(
        store_url, DEMO_EVENTS, replace_bytes(b'"recorded_by":"demo"', b'"recorded_by":"eve"')
    )
    rehash(store_url, DEMO_EVENTS, DEMO_SLUG)
    with opened(store_url) as ledger:
        ProjectionRunner(ledger).rebuild(MERKLE_VIEW)
    assert parley("verify").exit_code == 0

    result = parley("verify", "--checkpoint", str(saved))

    assert result.exit_code == 1, result.output
    assert "does not extend the checkpoint's tree" in result.stderr
    assert "rewritten" in result.stderr


def test_verify_against_a_checkpoint_exits_1_when_a_row_before_it_was_edited(
    store_url: str, demo: Target, tmp_path: Path
) -> None:
    saved = saved_checkpoint(tmp_path)
    edited = demo.amount.replace(demo.amount[0], "9" if demo.amount[0] != "9" else "8", 1)
    edit_state(store_url, demo.position, replace_bytes(demo.amount.encode(), edited.encode()))

    result = parley("verify", "--checkpoint", str(saved))

    assert result.exit_code == 1, result.output
    assert f"event {demo.event_id}" in result.stderr


def test_a_signed_checkpoint_is_checked_and_a_forged_one_refused(
    demo: Target, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PARLEY_SIGNING_KEY", SEED_HEX)
    saved = saved_checkpoint(tmp_path)
    good = parley("verify", "--checkpoint", str(saved))
    checkpoint = json.loads(saved.read_text())
    checkpoint["timestamp"] = checkpoint["timestamp"].replace("20", "19", 1)
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(checkpoint))

    bad = parley("verify", "--checkpoint", str(forged))

    assert good.exit_code == 0, good.output
    assert "signature verified" in good.stdout
    assert bad.exit_code == 1, bad.output
    assert "signature does not verify" in bad.stderr


def test_a_file_that_is_not_a_checkpoint_exits_2(demo: Target, tmp_path: Path) -> None:
    saved = tmp_path / "checkpoint.json"
    saved.write_text(json.dumps({"tree_size": 3}))

    result = parley("verify", "--checkpoint", str(saved))

    assert result.exit_code == 2, result.output
    assert "not a checkpoint" in result.stderr
