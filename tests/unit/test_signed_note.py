"""The signed-note, checkpoint and cosignature formats against vectors from their own specs.

The note vectors are the examples in Go's ``golang.org/x/mod/sumdb/note`` documentation
(example_test.go): the PeterNeumann key, and EnochRoot's key made from an all-zero seed.
Ed25519 is deterministic, so the same seed signs the same text to the same bytes.
"""

from __future__ import annotations

import base64

import pytest

from api.errors import TileNotFound
from api.services import tiles
from api.signed_note import (
    COSIGNATURE_V1,
    ED25519,
    Note,
    NoteError,
    checkpoint_text,
    cosign,
    cosignature_time,
    cosigners,
    parse_checkpoint,
    parse_note,
    parse_vkey,
    sign,
    signed_by,
    signer_verifier,
)

TEXT = (
    "If you think cryptography is the answer to your problem,\n"
    "then you don't know what your problem is.\n"
)
# PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz
PETER_SEED = base64.b64decode("AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz")[1:]
PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW"
PETER_LINE = (
    "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvq"
    "fqdngotpRZb6KE6RyyBwJnAM=\n"
)
ENOCH_LINE = (
    "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnW"
    "Lox33WWd1RvMc+QQ=\n"
)


def test_the_go_documentation_key_signs_its_example_to_the_same_bytes() -> None:
    signature = sign(TEXT, "PeterNeumann", PETER_SEED)

    assert Note(TEXT, (signature,)).encode() == TEXT + "\n" + PETER_LINE
    assert signer_verifier("PeterNeumann", PETER_SEED).vkey() == PETER_VKEY


def test_a_second_signer_appends_its_line_as_go_does() -> None:
    peter = sign(TEXT, "PeterNeumann", PETER_SEED)
    enoch = sign(TEXT, "EnochRoot", bytes(32))  # note.GenerateKey read an all-zero seed

    assert Note(TEXT, (peter, enoch)).encode() == TEXT + "\n" + PETER_LINE + ENOCH_LINE


def test_the_documented_note_opens_with_the_documented_verifier_key() -> None:
    note = parse_note(TEXT + "\n" + PETER_LINE)
    verifier = parse_vkey(PETER_VKEY)

    assert note.text == TEXT
    assert verifier.key_type == ED25519
    assert verifier.key_id.hex() == "c74f20a3"
    assert signed_by(note, verifier)
    assert not signed_by(parse_note(TEXT.replace("answer", "Answer") + "\n" + PETER_LINE), verifier)


@pytest.mark.parametrize(
    "vkey",
    [
        "PeterNeumann+c74f20a4+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # wrong key id
        "PeterNeumann+c74f20a3+Ahpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # type 0x02
        "Peter Neumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW",  # a space
        "PeterNeumann+c74f20a3",
    ],
)
def test_a_malformed_verifier_key_is_refused(vkey: str) -> None:
    with pytest.raises(NoteError):
        parse_vkey(vkey)


@pytest.mark.parametrize(
    "message",
    [
        TEXT + PETER_LINE,  # no blank line
        TEXT + "\n" + PETER_LINE.rstrip("\n"),  # no final newline
        TEXT + "\n" + PETER_LINE.replace("— ", "- "),  # not an em dash
        TEXT.replace("\n", "\r\n", 1) + "\n" + PETER_LINE,  # a control character
        TEXT + "\n" + "— PeterNeumann AAAA\n",  # under 5 bytes
    ],
)
def test_a_malformed_note_is_refused(message: str) -> None:
    with pytest.raises(NoteError):
        parse_note(message)


def test_a_checkpoint_reads_back_as_written() -> None:
    root = bytes(range(32))
    text = checkpoint_text("example.com/log", 20852163, root, ["timestamp 2026-12-05"])

    assert text == (
        "example.com/log\n20852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\ntimestamp 2026-12-05\n"
    )
    assert parse_checkpoint(text).tree_size == 20852163
    assert parse_checkpoint(text).root == root


@pytest.mark.parametrize(
    "text",
    [
        "example.com/log\n020852163\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n-1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\n",
        "example.com/log\n1\nAAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHg==\n",  # 31 bytes
        "example.com/log\n1\n",
    ],
)
def test_a_malformed_checkpoint_is_refused(text: str) -> None:
    with pytest.raises(NoteError):
        parse_checkpoint(text)


def test_the_c2sp_cosignature_example_carries_its_documented_time() -> None:
    # c2sp.org/tlog-cosignature's example line, cosigned at "time 1679315147".
    line = (
        "— witness.example.com/w1 jWbPPwAAAABkGFDLEZMHwSRaJNiIDoe9DYn/zXcrtPHeolMI5OWXEhZCB9dl"
        "rDJsX3b2oyin1nPZqhf5nNo0xUe+mbIUBkBIfZ+qnA==\n"
    )
    text = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n"

    (signature,) = parse_note(text + "\n" + line).signatures

    assert signature.name == "witness.example.com/w1"
    assert int.from_bytes(signature.data[:8], "big") == 1679315147
    assert len(signature.data) == 8 + 64


def test_a_cosignature_verifies_with_the_witness_key_and_covers_the_whole_body() -> None:
    text = checkpoint_text("example.com/log", 5, bytes(32), ["timestamp x"])
    witness = signer_verifier("witness.example/w1", bytes(range(32)), COSIGNATURE_V1)
    made = cosign(text, "witness.example/w1", bytes(range(32)), 1679315147)

    assert made.key_id == witness.key_id
    assert parse_vkey(witness.vkey()) == witness
    assert cosignature_time(witness, text, made) == 1679315147
    assert cosignature_time(witness, text.replace("timestamp x", "timestamp y"), made) is None
    # A plain note signature by the same seed is no cosignature, and the reverse.
    plain = sign(text, "witness.example/w1", bytes(range(32)))
    assert cosignature_time(witness, text, plain) is None
    assert not signed_by(Note(text, (made,)), witness)
    assert cosigners(Note(text, (plain, made, made)), [witness]) == [(made, 1679315147)]


def test_tile_paths_have_one_spelling() -> None:
    tile = tiles.parse_tile_path("1/x001/x234/067.p/5")

    assert (tile.level, tile.index, tile.width) == (1, 1234067, 5)
    assert tiles.encode_tile_index(1234067) == "x001/x234/067"
    assert tiles.parse_tile_path("entries/000").level is None
    for bad in ("01/000", "0/x000/005", "0/5", "0/000.p/256", "0/000.p/0", "64/000", "0/000/"):
        with pytest.raises(TileNotFound):
            tiles.parse_tile_path(bad)
