"""Signed notes, checkpoints and cosignatures as C2SP writes them, so standard tools read ours.

- A **signed note** (c2sp.org/signed-note, Go's ``golang.org/x/mod/sumdb/note``) is UTF-8
  text ending in a newline, a blank line, then lines ``— <key name> <base64(key id || sig)>``.
  An Ed25519 signature covers the text; the key id is the first 4 bytes of
  ``SHA-256(name || "\\n" || 0x01 || public key)``. A verifier key is written
  ``<name>+<key id, 8 hex digits>+<base64(0x01 || public key)>``.
- A **checkpoint** (c2sp.org/tlog-checkpoint) is a note whose text is the log's origin line,
  its tree size in decimal, its root hash in base64, then optional extension lines.
- A **cosignature** (c2sp.org/tlog-cosignature, ``cosignature/v1``) is a witness's note
  signature whose key id uses type byte 0x04 and whose bytes are ``key id || timestamp (8
  bytes, big-endian seconds) || Ed25519 signature`` over ``cosignature/v1\\ntime <ts>\\n``
  followed by the checkpoint's text.

Everything here is pure: no clock, no I/O; Ed25519 comes from ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

ED25519 = 0x01
COSIGNATURE_V1 = 0x04
SIGNATURE_DASH = "\N{EM DASH} "
MAX_SIGNATURES = 100
"""Go's note.Open refuses a note with more signature lines than this; so do we."""
MAX_EXTENSION_LINES = 32


class NoteError(ValueError):
    """Text that is not a well-formed signed note, checkpoint or verifier key."""


def valid_key_name(name: str) -> bool:
    """A key name is non-empty, with no white space and no ``+`` (as Go's note package says)."""
    return bool(name) and "+" not in name and not any(ch.isspace() for ch in name)


def key_id(name: str, key_type: int, public_key: bytes) -> bytes:
    """The 4-byte key id: SHA-256(name || "\\n" || type byte || public key)[:4]."""
    data = name.encode("utf-8") + b"\n" + bytes([key_type]) + public_key
    return hashlib.sha256(data).digest()[:4]


def public_key(seed: bytes) -> bytes:
    """The raw 32-byte Ed25519 public key of a 32-byte seed."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    key = Ed25519PrivateKey.from_private_bytes(seed)
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def ed25519_sign(seed: bytes, message: bytes) -> bytes:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    return Ed25519PrivateKey.from_private_bytes(seed).sign(message)


def ed25519_valid(public: bytes, message: bytes, signature: bytes) -> bool:
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    try:
        Ed25519PublicKey.from_public_bytes(public).verify(signature, message)
    except (InvalidSignature, ValueError):
        return False
    return True


# ------------------------------------------------------------------ keys


@dataclass(frozen=True)
class Verifier:
    """A verifier key: who signs (name), with what kind of key, and the key."""

    name: str
    key_type: int
    public_key: bytes

    @property
    def key_id(self) -> bytes:
        return key_id(self.name, self.key_type, self.public_key)

    def vkey(self) -> str:
        """``<name>+<key id hex>+<base64(type || public key)>``."""
        material = base64.b64encode(bytes([self.key_type]) + self.public_key).decode("ascii")
        return f"{self.name}+{self.key_id.hex()}+{material}"


def signer_verifier(name: str, seed: bytes, key_type: int = ED25519) -> Verifier:
    """The verifier key of a signer (Ed25519 note signer, or a cosigner with type 0x04)."""
    if not valid_key_name(name):
        msg = f"{name!r} is not a key name: no spaces, no '+', not empty"
        raise NoteError(msg)
    return Verifier(name, key_type, public_key(seed))


def parse_vkey(text: str) -> Verifier:
    """A verifier key ``name+hex8+base64``; ``NoteError`` when malformed or its id is wrong."""
    parts = text.strip().split("+", 2)
    if len(parts) != 3:
        msg = "a verifier key is <name>+<key id>+<base64 key>"
        raise NoteError(msg)
    name, hex_id, material = parts
    if not valid_key_name(name) or len(hex_id) != 8:
        msg = "a verifier key's name has no spaces or '+', and its key id is 8 hex digits"
        raise NoteError(msg)
    try:
        given_id = bytes.fromhex(hex_id)
        raw = base64.b64decode(material, validate=True)
    except (ValueError, binascii.Error):
        msg = "a verifier key's id is hex and its key base64"
        raise NoteError(msg) from None
    if len(raw) != 33 or raw[0] not in (ED25519, COSIGNATURE_V1):
        msg = "a verifier key holds type 0x01 (Ed25519) or 0x04 (cosignature/v1) and 32 bytes"
        raise NoteError(msg)
    found = Verifier(name, raw[0], raw[1:])
    if found.key_id != given_id:
        msg = f"the verifier key's id {hex_id} is not that of its name and key"
        raise NoteError(msg)
    return found


# ------------------------------------------------------------------ notes


@dataclass(frozen=True)
class Signature:
    """One signature line: the signer's name, key id, and the bytes after the id."""

    name: str
    key_id: bytes
    data: bytes

    def line(self) -> str:
        encoded = base64.b64encode(self.key_id + self.data).decode("ascii")
        return f"{SIGNATURE_DASH}{self.name} {encoded}\n"


@dataclass(frozen=True)
class Note:
    text: str
    """The signed text, ending in a newline."""
    signatures: tuple[Signature, ...] = field(default=())

    def encode(self) -> str:
        return self.text + "\n" + "".join(s.line() for s in self.signatures)


def sign(text: str, name: str, seed: bytes) -> Signature:
    """The Ed25519 note signature of ``text`` by the key ``name`` with that seed."""
    _check_text(text)
    verifier = signer_verifier(name, seed)
    return Signature(name, verifier.key_id, ed25519_sign(seed, text.encode("utf-8")))


def _check_text(text: str) -> None:
    if not text.endswith("\n"):
        msg = "a note's text ends with a newline"
        raise NoteError(msg)
    if any(ord(ch) < 0x20 and ch != "\n" for ch in text) or "\n\n" in text:
        msg = "a note's text has no control characters and no blank line"
        raise NoteError(msg)


def parse_note(message: str | bytes) -> Note:
    """The text and signature lines of a note (nothing verified yet); ``NoteError`` if malformed."""
    if isinstance(message, bytes):
        try:
            message = message.decode("utf-8")
        except UnicodeDecodeError:
            msg = "a note is UTF-8"
            raise NoteError(msg) from None
    if any(ord(ch) < 0x20 and ch != "\n" for ch in message):
        msg = "a note has no control characters but newlines"
        raise NoteError(msg)
    split = message.rfind("\n\n")
    if split < 0:
        msg = "a note is text, a blank line, then signature lines"
        raise NoteError(msg)
    text, block = message[: split + 1], message[split + 2 :]
    if not block.endswith("\n"):
        msg = "a note ends with a signature line and a newline"
        raise NoteError(msg)
    signatures: list[Signature] = []
    for line in block[:-1].split("\n"):
        if not line.startswith(SIGNATURE_DASH):
            msg = f"a signature line starts with an em dash and a space: {line[:40]!r}"
            raise NoteError(msg)
        name, _, encoded = line[len(SIGNATURE_DASH) :].partition(" ")
        try:
            raw = base64.b64decode(encoded, validate=True)
        except (ValueError, binascii.Error):
            raw = b""
        if not valid_key_name(name) or len(raw) < 5:
            msg = f"a malformed signature line: {line[:40]!r}"
            raise NoteError(msg)
        signatures.append(Signature(name, raw[:4], raw[4:]))
        if len(signatures) > MAX_SIGNATURES:
            msg = f"a note has at most {MAX_SIGNATURES} signatures"
            raise NoteError(msg)
    return Note(text, tuple(signatures))


def signature_valid(verifier: Verifier, text: str, signature: Signature) -> bool:
    """Whether an Ed25519 (type 0x01) note signature by that key covers the text."""
    if verifier.key_type != ED25519:
        return False
    if signature.name != verifier.name or signature.key_id != verifier.key_id:
        return False
    return ed25519_valid(verifier.public_key, text.encode("utf-8"), signature.data)


def signed_by(note: Note, verifier: Verifier) -> bool:
    """Whether the note carries a valid signature by that (Ed25519) key."""
    return any(signature_valid(verifier, note.text, s) for s in note.signatures)


# ------------------------------------------------------------------ checkpoints


@dataclass(frozen=True)
class CheckpointBody:
    """The text of a C2SP checkpoint: origin, tree size, root hash, extension lines."""

    origin: str
    tree_size: int
    root: bytes
    extensions: tuple[str, ...] = ()

    def text(self) -> str:
        lines = [self.origin, str(self.tree_size), base64.b64encode(self.root).decode("ascii")]
        return "\n".join([*lines, *self.extensions]) + "\n"


def checkpoint_text(
    origin: str, tree_size: int, root: bytes, extensions: Iterable[str] = ()
) -> str:
    body = CheckpointBody(origin, tree_size, root, tuple(extensions))
    text = body.text()
    parse_checkpoint(text)  # a checkpoint we write is one we read back
    return text


def parse_checkpoint(text: str) -> CheckpointBody:
    """A checkpoint's text; ``NoteError`` unless it is origin, size, base64 root, extensions."""
    if not text.endswith("\n"):
        msg = "a checkpoint's text ends with a newline"
        raise NoteError(msg)
    lines = text[:-1].split("\n")
    if len(lines) < 3 or len(lines) > 3 + MAX_EXTENSION_LINES:
        msg = "a checkpoint is an origin line, a tree size line, a root hash line, extensions"
        raise NoteError(msg)
    origin, size_line, root_line, *extensions = lines
    if not origin or any(not line for line in extensions):
        msg = "a checkpoint has no empty lines"
        raise NoteError(msg)
    if (
        not size_line.isascii()
        or not size_line.isdigit()
        or (len(size_line) > 1 and size_line[0] == "0")
    ):
        msg = "a checkpoint's tree size is a decimal without leading zeros"
        raise NoteError(msg)
    try:
        root = base64.b64decode(root_line, validate=True)
    except (ValueError, binascii.Error):
        root = b""
    if len(root) != 32 or base64.b64encode(root).decode("ascii") != root_line:
        msg = "a checkpoint's root hash is 32 bytes in base64"
        raise NoteError(msg)
    return CheckpointBody(origin, int(size_line), root, tuple(extensions))


# ------------------------------------------------------------------ cosignatures


def cosignature_message(text: str, timestamp: int) -> bytes:
    """What a cosignature/v1 signs: the header, the time line, then the checkpoint's text."""
    return f"cosignature/v1\ntime {timestamp}\n".encode() + text.encode("utf-8")


def cosign(text: str, name: str, seed: bytes, timestamp: int) -> Signature:
    """A witness's cosignature/v1 on a checkpoint's text at ``timestamp`` (POSIX seconds)."""
    if not 0 <= timestamp < 2**63:
        msg = "a cosignature's timestamp is between 0 and 2^63 - 1"
        raise NoteError(msg)
    verifier = signer_verifier(name, seed, COSIGNATURE_V1)
    raw = ed25519_sign(seed, cosignature_message(text, timestamp))
    return Signature(name, verifier.key_id, struct.pack(">Q", timestamp) + raw)


def cosignature_time(verifier: Verifier, text: str, signature: Signature) -> int | None:
    """The timestamp of a valid cosignature/v1 by that witness key on ``text``, else None."""
    if verifier.key_type != COSIGNATURE_V1 or len(signature.data) != 8 + 64:
        return None
    if signature.name != verifier.name or signature.key_id != verifier.key_id:
        return None
    (timestamp,) = struct.unpack(">Q", signature.data[:8])
    if timestamp >= 2**63:
        return None
    message = cosignature_message(text, timestamp)
    return timestamp if ed25519_valid(verifier.public_key, message, signature.data[8:]) else None


def cosigners(note: Note, witnesses: Sequence[Verifier]) -> list[tuple[Signature, int]]:
    """The note's valid cosignatures by those witnesses, one per witness key, with their times."""
    found: dict[tuple[str, bytes], tuple[Signature, int]] = {}
    for signature in note.signatures:
        for witness in witnesses:
            if (witness.name, witness.key_id) in found:
                continue
            when = cosignature_time(witness, note.text, signature)
            if when is not None:
                found[witness.name, witness.key_id] = (signature, when)
    return list(found.values())


class SigningKeyError(ValueError):
    """The configured signing key is not an Ed25519 private key seed."""


def key_bytes(text: str) -> bytes:
    """The 32 bytes of an Ed25519 seed written as 64 hex digits or in base64."""
    cleaned = text.strip()
    raw: bytes | None = None
    if len(cleaned) == 64:
        try:
            raw = bytes.fromhex(cleaned)
        except ValueError:
            raw = None
    if raw is None:
        try:
            raw = base64.b64decode(cleaned, validate=True)
        except (binascii.Error, ValueError):
            raw = None
    if raw is None or len(raw) != 32:
        msg = "a signing key is a 32-byte Ed25519 seed as 64 hex digits or base64"
        raise SigningKeyError(msg)
    return raw
