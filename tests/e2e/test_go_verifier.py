"""Go's own transparency-log code checks a live server: notes, tiles, entries and proofs.

``goverify/main.go`` uses only ``golang.org/x/mod/sumdb/note`` and ``.../tlog`` from Debian's
``golang-golang-x-mod-dev`` (and Go's standard library), built offline here in GOPATH mode.
Without Go these tests are skipped, loudly; ``PARLEY_TEST_GO=required`` (CI) turns a missing
Go into a failure instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from live_server import serve
from support import skip_or_fail

from api.http.app import create_app
from api.services.demo import DEMO_SLUG
from api.settings import Settings
from api.signed_note import COSIGNATURE_V1, Note, cosign, parse_note, sign, signer_verifier

GOPATH = Path("/usr/share/gocode")
NOTE_SOURCE = GOPATH / "src/golang.org/x/mod/sumdb/note/note.go"
SOURCE = Path(__file__).with_name("goverify")
SEED = bytes.fromhex("9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60")
WITNESS_SEED = bytes(range(32))
ORIGIN = "parley.test/log"
WITNESS = "witness.test/w1"
DEMO_EVENTS = 29
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def goverify(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not NOTE_SOURCE.exists():
        skip_or_fail(
            "NO GO: the Go verifier's tests did not run. Install Debian's golang-go and "
            "golang-golang-x-mod-dev (`make go`).",
            "PARLEY_TEST_GO",
        )
    out = tmp_path_factory.mktemp("goverify")
    env = {
        **os.environ,
        "GO111MODULE": "off",  # GOPATH mode: Debian lays the sources out under GOPATH/src
        "GOPATH": str(GOPATH),
        "GOCACHE": str(out / "cache"),
        "GOPROXY": "off",
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
        "HOME": str(out),
    }
    built = subprocess.run(
        [go, "build", "-o", str(out / "goverify"), "main.go"],
        cwd=SOURCE,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    return out / "goverify"


@dataclass(frozen=True)
class Server:
    url: str
    vkey: str
    witness_vkey: str


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The demo on a SQLite file, signed and witnessed, served on a socket bound beforehand."""
    witness = signer_verifier(WITNESS, WITNESS_SEED, COSIGNATURE_V1).vkey()
    settings = Settings(
        database_url=f"sqlite:///{tmp_path_factory.mktemp('store')}/parley.db",
        demo=True,
        signing_key=SEED.hex(),
        log_origin=ORIGIN,
        witness_keys=witness,
    )
    with serve(create_app(settings)) as url:
        vkey = httpx.get(f"{url}/ledger/verifier-key", timeout=30).json()["verifier_key"]
        yield Server(url, vkey, witness)


def run(goverify: Path, server: Server, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(goverify), "-url", server.url, "-key", server.vkey, *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def event_ids(server: Server) -> list[str]:
    answer = httpx.get(f"{server.url}/negotiations/{DEMO_SLUG}/events?limit=1000", timeout=30)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    entries = body["events"] if isinstance(body, dict) else body
    return [e["event_id"] for e in entries]


def test_go_opens_the_note_and_checks_tiles_entries_and_every_proof(
    goverify: Path, server: Server
) -> None:
    ids = event_ids(server)
    assert len(ids) == DEMO_EVENTS

    result = run(goverify, server, *[arg for i in ids for arg in ("-event", i)])

    assert result.returncode == 0, result.stderr
    assert f"origin={ORIGIN} size={DEMO_EVENTS} " in result.stdout
    assert f"entries={DEMO_EVENTS} inclusion={DEMO_EVENTS} consistency=28" in result.stdout


def test_go_refuses_a_note_signed_by_another_key(goverify: Path, server: Server) -> None:
    other = signer_verifier(ORIGIN, bytes(32)).vkey()

    result = subprocess.run(
        [str(goverify), "-url", server.url, "-key", other],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 1
    assert "checkpoint:" in result.stderr


def test_go_checks_full_tiles_and_that_the_tree_extends_an_older_note(
    goverify: Path, server: Server, tmp_path: Path
) -> None:
    old = httpx.get(f"{server.url}/checkpoint", timeout=30).text
    (tmp_path / "old.note").write_text(old, encoding="utf-8")
    root_line = old.split("\n")[2]
    # The signature no longer covers the text; then a fork: another root, signed by the key.
    tampered = old.replace(root_line, "A" * 43 + "=")
    (tmp_path / "tampered.note").write_text(tampered, encoding="utf-8")
    forked_text = parse_note(tampered).text
    forked = Note(forked_text, (sign(forked_text, ORIGIN, SEED),)).encode()
    (tmp_path / "forked.note").write_text(forked, encoding="utf-8")
    statements = [
        {
            "type": "statement_made",
            "party": "ROK",
            "speaker": "spokesperson",
            "summary": f"statement {n}",
            "occurred_at": "2021-04-08",
        }
        for n in range(300)
    ]
    posted = httpx.post(
        f"{server.url}/negotiations/{DEMO_SLUG}/events", json=statements, timeout=120
    )
    assert posted.status_code == 201, posted.text
    some = [e["event_id"] for e in posted.json()["events"][250:260]]

    extends = run(goverify, server, "-old", str(tmp_path / "old.note"), "-event", some[0])
    refused_tampered = run(goverify, server, "-old", str(tmp_path / "tampered.note"))
    refused_fork = run(goverify, server, "-old", str(tmp_path / "forked.note"))

    assert extends.returncode == 0, extends.stderr
    size = DEMO_EVENTS + 300
    assert f"size={size} " in extends.stdout
    assert f"entries={size} inclusion=1 consistency={size - 1}" in extends.stdout
    # A full level-0 tile, a partial one, and a partial level-1 tile over the full one.
    fetched = next(w for w in extends.stdout.split() if w.startswith("tiles="))
    assert int(fetched.removeprefix("tiles=")) >= 3
    full = httpx.get(f"{server.url}/tile/0/000", timeout=30)
    partial = httpx.get(f"{server.url}/tile/0/001.p/{size - 256}", timeout=30)
    assert full.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert len(full.content) == 256 * 32
    assert "immutable" not in partial.headers["cache-control"]
    assert len(partial.content) == (size - 256) * 32
    assert refused_tampered.returncode == 1
    assert "old checkpoint: invalid signature" in refused_tampered.stderr
    assert refused_fork.returncode == 1
    assert "old checkpoint: " in refused_fork.stderr


def test_go_requires_the_witness_cosignatures_it_is_told_to(goverify: Path, server: Server) -> None:
    note = httpx.get(f"{server.url}/checkpoint", timeout=30).text
    text = parse_note(note).text
    witnessed = ("-sweep=false", "-witness", server.witness_vkey, "-min-cosignatures")
    before = run(goverify, server, *witnessed, "1")
    cosigned = note + cosign(text, WITNESS, WITNESS_SEED, 1_767_225_600).line()

    answer = httpx.post(
        f"{server.url}/ledger/checkpoint/cosignatures",
        content=cosigned.encode("utf-8"),
        headers={"Content-Type": "text/plain"},
        timeout=30,
    )

    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "tree_size": int(text.split("\n")[1]),
        "accepted": [WITNESS],
        "stored": 1,
    }
    assert before.returncode == 1
    assert "0 witness cosignatures, 1 required" in before.stderr
    one = run(goverify, server, *witnessed, "1")
    assert one.returncode == 0, one.stderr
    assert "cosignatures=1 " in one.stdout
    two = run(goverify, server, *witnessed, "2")
    assert two.returncode == 1
