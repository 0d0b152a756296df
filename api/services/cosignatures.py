"""Witnesses' cosignatures on the log's checkpoints, kept beside the events.

A witness (c2sp.org/tlog-witness) that checked a checkpoint of ours returns a cosignature/v1
line; ``POST /ledger/checkpoint/cosignatures`` hands it to us and we keep it with the exact
checkpoint text it covers, so it is served with that checkpoint again (every checkpoint of
one tree size is the same bytes, see ``api.services.checkpoints.TIMESTAMP_EXTENSION``). Only lines
that verify with a configured witness key are kept; the table lives in the ledger's own
store (the SQLite file, the PostgreSQL schema, or this process for ``memory://``).
"""

from __future__ import annotations

import base64
import hashlib
import threading
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from eventsourcing.persistence import IntegrityError

from api.signed_note import Signature
from api.store.side_tables import (
    PostgresTable,
    SQLiteTable,
    SQLTable,
    open_side_table,
)
from domain.ledger import Ledger
from domain.ledger.storage import translate_storage_errors

COSIGNATURES_TABLE = "parley_cosignatures"
POSTGRES_COSIGNATURES_LOCK = 0x70636F736967  # "pcosig": serialises CREATE TABLE


@dataclass(frozen=True)
class Cosigned:
    """A checkpoint's text and the witnesses' cosignature lines kept for it."""

    tree_size: int
    text: str
    signatures: tuple[Signature, ...]


def text_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _encoded(signature: Signature) -> str:
    return base64.b64encode(signature.key_id + signature.data).decode("ascii")


def _decoded(witness: str, encoded: str) -> Signature:
    raw = base64.b64decode(encoded)
    return Signature(witness, raw[:4], raw[4:])


class CosignatureStore(ABC):
    """Keeps cosignatures by the checkpoint text they cover; the first one per witness key stays."""

    def add(self, tree_size: int, text: str, cosigned: Sequence[tuple[Signature, int]]) -> int:
        """Keeps each (cosignature, its timestamp); how many were new."""
        with translate_storage_errors("write"):
            return self._add(tree_size, text, cosigned)

    def for_text(self, text: str) -> list[Signature]:
        """The cosignatures kept for exactly this checkpoint text, by witness name and key id."""
        with translate_storage_errors("read"):
            return self._for_text(text)

    def latest(self) -> Cosigned | None:
        """The largest cosigned checkpoint and its cosignatures, or None."""
        with translate_storage_errors("read"):
            return self._latest()

    @abstractmethod
    def _add(self, tree_size: int, text: str, cosigned: Sequence[tuple[Signature, int]]) -> int: ...

    @abstractmethod
    def _for_text(self, text: str) -> list[Signature]: ...

    @abstractmethod
    def _latest(self) -> Cosigned | None: ...


class MemoryCosignatureStore(CosignatureStore):
    """The cosignatures of a ``memory://`` store: they live as long as this process."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._texts: dict[str, tuple[int, str]] = {}
        self._signatures: dict[str, dict[tuple[str, bytes], Signature]] = {}

    def _add(self, tree_size: int, text: str, cosigned: Sequence[tuple[Signature, int]]) -> int:
        key = text_hash(text)
        added = 0
        with self._lock:
            self._texts.setdefault(key, (tree_size, text))
            kept = self._signatures.setdefault(key, {})
            for signature, _ in cosigned:
                if (signature.name, signature.key_id) not in kept:
                    kept[signature.name, signature.key_id] = signature
                    added += 1
        return added

    def _for_text(self, text: str) -> list[Signature]:
        with self._lock:
            kept = self._signatures.get(text_hash(text), {})
            return [kept[k] for k in sorted(kept, key=lambda k: (k[0], k[1].hex()))]

    def _latest(self) -> Cosigned | None:
        with self._lock:
            kept = [(size, text, key) for key, (size, text) in self._texts.items()]
            if not kept:
                return None
            size, text, _ = max(kept)
        return Cosigned(size, text, tuple(self._for_text(text)))


class SQLCosignatureStore(SQLTable, CosignatureStore):
    """The cosignatures in a table of the ledger's SQL store; subclasses say how to reach it."""

    table = COSIGNATURES_TABLE

    def ddl(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "text_hash TEXT NOT NULL, "
            "witness TEXT NOT NULL, "
            "key_id TEXT NOT NULL, "
            "tree_size BIGINT NOT NULL, "
            "cosigned_at BIGINT NOT NULL, "
            "signature TEXT NOT NULL, "
            "checkpoint TEXT NOT NULL, "
            "PRIMARY KEY (text_hash, witness, key_id))"
        ]

    def _add(self, tree_size: int, text: str, cosigned: Sequence[tuple[Signature, int]]) -> int:
        m = self.mark
        added = 0
        key = text_hash(text)
        for signature, when in cosigned:
            try:
                with self._transaction(commit=True) as cursor:
                    cursor.execute(
                        f"INSERT INTO {self.table} (text_hash, witness, key_id, tree_size, "  # noqa: S608
                        "cosigned_at, signature, checkpoint) "
                        f"VALUES ({m}, {m}, {m}, {m}, {m}, {m}, {m})",
                        (
                            key,
                            signature.name,
                            signature.key_id.hex(),
                            tree_size,
                            when,
                            _encoded(signature),
                            text,
                        ),
                    )
            except IntegrityError:
                continue  # that witness key's cosignature on this checkpoint is kept already
            added += 1
        return added

    def _for_text(self, text: str) -> list[Signature]:
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT witness, signature FROM {self.table} "  # noqa: S608
                f"WHERE text_hash = {self.mark} ORDER BY witness, key_id",
                (text_hash(text),),
            )
            return [_decoded(r["witness"], r["signature"]) for r in cursor.fetchall()]

    def _latest(self) -> Cosigned | None:
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT tree_size, checkpoint FROM {self.table} "  # noqa: S608
                "ORDER BY tree_size DESC LIMIT 1"
            )
            row = cursor.fetchone()
        if row is None:
            return None
        text = row["checkpoint"]
        return Cosigned(int(row["tree_size"]), text, tuple(self._for_text(text)))


class SQLiteCosignatureStore(SQLiteTable, SQLCosignatureStore):
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore


class PostgresCosignatureStore(PostgresTable, SQLCosignatureStore):
    create_lock = POSTGRES_COSIGNATURES_LOCK

    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.table = self.qualified(datastore, COSIGNATURES_TABLE)


def open_cosignatures(ledger: Ledger) -> CosignatureStore:
    """The cosignatures of the store the ledger writes to, their table created if missing."""
    store: CosignatureStore = open_side_table(
        ledger,
        "cosignature store",
        MemoryCosignatureStore,
        SQLiteCosignatureStore,
        PostgresCosignatureStore,
    )
    return store
