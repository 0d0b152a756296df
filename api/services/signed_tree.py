"""An export checked against a signed checkpoint: the file's first events make the signed root."""

from __future__ import annotations

from dataclasses import dataclass

from api import signed_note
from api.services.restore import ImportRefused, ParsedExport
from domain import merkle


@dataclass(frozen=True)
class SignedTree:
    """A tree size and root that the log's key signed (a C2SP checkpoint note)."""

    origin: str
    tree_size: int
    root: bytes
    signer: str


def signed_tree(note_bytes: bytes, vkey: str) -> SignedTree:
    """The tree a checkpoint note commits to, once its signature by ``vkey`` verifies.

    ``NoteError`` when the note or key is malformed, the key is not an Ed25519 note key, the
    note is not signed by it, or its origin is not the key's name.
    """
    verifier = signed_note.parse_vkey(vkey)
    if verifier.key_type != signed_note.ED25519:
        msg = f"{verifier.name}: a log's key has type 0x01 (Ed25519)"
        raise signed_note.NoteError(msg)
    note = signed_note.parse_note(note_bytes)
    body = signed_note.parse_checkpoint(note.text)
    if not signed_note.signed_by(note, verifier):
        msg = f"the checkpoint is not signed by {verifier.vkey()}"
        raise signed_note.NoteError(msg)
    if body.origin != verifier.name:
        msg = f"the checkpoint's origin {body.origin!r} is not the key's name {verifier.name!r}"
        raise signed_note.NoteError(msg)
    return SignedTree(
        body.origin, body.tree_size, body.root, f"{verifier.name}+{verifier.key_id.hex()}"
    )


def check_signed_tree(parsed: ParsedExport, signed: SignedTree) -> str:
    """Refuses a file whose first ``tree_size`` events do not make the signed tree's root.

    The leaves are the events' hashes in the file's (log) order, as in ``domain.merkle``; the
    hashes were checked against each line already, so a forged event, even with every hash
    after it recomputed, yields another root. Events after the checkpoint's size are not
    covered by its signature; the answer says how many.
    """
    leaves = [merkle.event_leaf(event.hash) for event in parsed.events[: signed.tree_size]]
    if len(leaves) < signed.tree_size:
        raise ImportRefused(
            1,
            f"the file holds {len(parsed.events)} events, the checkpoint signed by "
            f"{signed.signer} covers {signed.tree_size}: the file is not the ledger it signed",
        )
    store = merkle.DictNodeStore(merkle.append(merkle.DictNodeStore(), 0, leaves))
    root = merkle.tree_root(store, signed.tree_size)
    if root != signed.root:
        line = parsed.lines[signed.tree_size - 1] if signed.tree_size else 1
        raise ImportRefused(
            line,
            f"the Merkle tree of the file's first {signed.tree_size} events has root "
            f"{root.hex()}, the checkpoint signed by {signed.signer} says "
            f"{signed.root.hex()}: the file is not the ledger it signed",
        )
    beyond = len(parsed.events) - signed.tree_size
    return (
        f"the file's tree of {signed.tree_size} events has the root signed by {signed.signer}"
        + (f"; {beyond} later events are not covered by that checkpoint" if beyond else "")
    )
