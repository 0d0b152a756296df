"""The side tables (API keys, cosignatures) word storage failures through the ledger's one table."""

from __future__ import annotations

import pytest
from eventsourcing.persistence import IntegrityError, OperationalError

from api.services.cosignatures import MemoryCosignatureStore
from api.store.keys import MemoryKeyStore, Role
from domain import errors


class DownKeys(MemoryKeyStore):
    def _insert(self, key, digest):  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    def _list(self):  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")


class DownCosignatures(MemoryCosignatureStore):
    def _latest(self):  # type: ignore[no-untyped-def]
        raise OperationalError("connection refused")

    def _add(self, tree_size, text, cosigned):  # type: ignore[no-untyped-def]
        raise IntegrityError("a clash is the caller's to read")


def test_a_key_write_the_store_refuses_is_worded_as_a_ledger_write() -> None:
    with pytest.raises(
        errors.StorageUnavailable, match=r"^the store did not accept the write: connection refused$"
    ):
        DownKeys().create("newsroom-bot", Role.READER)


def test_a_key_read_the_store_cannot_answer_is_unavailable() -> None:
    with pytest.raises(errors.StorageUnavailable, match=r"^the store is unavailable: connection"):
        DownKeys().all_keys()


def test_cosignature_reads_and_clashes_go_through_the_same_table() -> None:
    store = DownCosignatures()
    with pytest.raises(errors.StorageUnavailable, match=r"^the store is unavailable: connection"):
        store.latest()
    with pytest.raises(IntegrityError):
        store.add(1, "text", [])
