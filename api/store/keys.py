"""API keys: who may read, record and administer, kept hashed beside the events.

A key is ``parley_`` followed by 32 random bytes in URL-safe base64. The store keeps its
SHA-256, never the key: a key is shown once, when it is made. The table lives in the
ledger's own store (the SQLite file, the PostgreSQL schema, or this process for
``memory://``), so a backup of the events carries who may write them.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import threading
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from eventsourcing.persistence import IntegrityError

from api.errors import KeyNameTaken as KeyNameTaken  # raised here; imported from here too
from api.errors import KeyNotFound as KeyNotFound
from api.store.side_tables import (
    PostgresTable,
    SQLiteTable,
    SQLTable,
    open_side_table,
)
from domain.errors import InvalidValue
from domain.ledger import Ledger, utc_now
from domain.ledger.storage import translate_storage_errors

KEY_PREFIX = "parley_"
KEY_BYTES = 32
KEYS_TABLE = "parley_api_keys"
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")
# Serialises CREATE TABLE across processes on PostgreSQL (as api.store.store does for its tables).
POSTGRES_KEYS_LOCK = 0x7061726C6B79  # "parlky"


class Role(StrEnum):
    """What a key may do; each role may do everything the ones before it may."""

    READER = "reader"  # GET
    RECORDER = "recorder"  # append events
    ADMIN = "admin"  # open negotiations, retract, manage keys

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def allows(self, needed: Role) -> bool:
        return self.rank >= needed.rank


@dataclass(frozen=True)
class ApiKey:
    """A key's record, without the key itself."""

    name: str
    role: Role
    created_at: datetime
    revoked_at: datetime | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def new_secret() -> str:
    return KEY_PREFIX + secrets.token_urlsafe(KEY_BYTES)


def hash_key(key: str) -> str:
    """SHA-256 of the key, hex.

    A plain fast hash is enough here, unlike for passwords: the keys are 256 random bits
    made by this module, so no dictionary or brute force gets anywhere near one, and
    a slow hash would only slow down every request.
    """
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


RESERVED_NAMES = frozenset({"anonymous", "cli"})
"""What the ledger's ``recorded_by`` says for open-mode and command-line writes: no key may be
called so (in any case), or the audit could not tell a key's writes from those."""


def check_name(name: str) -> str:
    if not NAME_RE.fullmatch(name):
        raise InvalidValue(
            f"{name!r} is not a key name: 1-64 letters, digits, '.', '_', '@' or '-', "
            "starting with a letter or digit",
            field="name",
        )
    if name.lower() in RESERVED_NAMES:
        raise InvalidValue(
            f"{name!r} is reserved: the ledger records open-mode writes as 'anonymous' and "
            "command-line ones as 'cli'",
            field="name",
        )
    return name


def check_role(role: str) -> Role:
    try:
        return Role(role)
    except ValueError:
        roles = ", ".join(r.value for r in Role)
        raise InvalidValue(f"{role!r} is not a role; the roles are {roles}", field="role") from None


class KeyStore(ABC):
    """The keys of one store: create, list, revoke, and recognise a presented key."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        self._clock = clock

    def create(self, name: str, role: Role | str) -> tuple[ApiKey, str]:
        """A new key: its record, and the key itself, which nothing can show again."""
        key = ApiKey(check_name(name), check_role(role), self._clock().astimezone(UTC))
        secret = new_secret()
        with translate_storage_errors("write"):
            if not self._insert(key, hash_key(secret)):
                raise KeyNameTaken(
                    f"a key named {name!r} exists or existed; the ledger's recorded_by "
                    "names it, so choose another name",
                    field="name",
                )
        return key, secret

    def revoke(self, name: str) -> ApiKey:
        """Revokes the key from now on; revoking a revoked key changes nothing."""
        if not NAME_RE.fullmatch(name):  # no key has it; and NUL must not reach the store
            raise KeyNotFound(f"no key is named {name!r}", field="name")
        with translate_storage_errors("write"):
            found = self._revoke(name, self._clock().astimezone(UTC))
        if found is None:
            raise KeyNotFound(f"no key is named {name!r}", field="name")
        return found

    def all_keys(self) -> list[ApiKey]:
        """Every key ever made, revoked ones too, in the order they were made."""
        with translate_storage_errors("read"):
            return self._list()

    def authenticate(self, secret: str) -> ApiKey | None:
        """The active key the client presented, or None."""
        if not secret.startswith(KEY_PREFIX) or len(secret) > 2 * KEY_BYTES + len(KEY_PREFIX):
            return None
        digest = hash_key(secret)
        with translate_storage_errors("read"):
            found = self._by_hash(digest)
        if found is None:
            return None
        key, stored = found
        # The lookup already matched; comparing again in constant time keeps a timing
        # side channel out of any store whose index compares byte by byte.
        if not hmac.compare_digest(stored, digest) or not key.active:
            return None
        return key

    def any_active(self) -> bool:
        with translate_storage_errors("read"):
            return self._any_active()

    @abstractmethod
    def _insert(self, key: ApiKey, digest: str) -> bool:
        """Stores the key; False when its name is taken."""

    @abstractmethod
    def _revoke(self, name: str, when: datetime) -> ApiKey | None: ...

    @abstractmethod
    def _list(self) -> list[ApiKey]: ...

    @abstractmethod
    def _by_hash(self, digest: str) -> tuple[ApiKey, str] | None: ...

    @abstractmethod
    def _any_active(self) -> bool: ...


class MemoryKeyStore(KeyStore):
    """The keys of a ``memory://`` store: they live as long as this process."""

    def __init__(self, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(clock)
        self._lock = threading.Lock()
        self._keys: dict[str, tuple[ApiKey, str]] = {}

    def _insert(self, key: ApiKey, digest: str) -> bool:
        with self._lock:
            if key.name in self._keys:
                return False
            self._keys[key.name] = (key, digest)
            return True

    def _revoke(self, name: str, when: datetime) -> ApiKey | None:
        with self._lock:
            if name not in self._keys:
                return None
            key, digest = self._keys[name]
            if key.active:
                key = replace(key, revoked_at=when)
                self._keys[name] = (key, digest)
            return key

    def _list(self) -> list[ApiKey]:
        with self._lock:
            return [key for key, _ in self._keys.values()]

    def _by_hash(self, digest: str) -> tuple[ApiKey, str] | None:
        with self._lock:
            for key, stored in self._keys.values():
                if hmac.compare_digest(stored, digest):
                    return key, stored
        return None

    def _any_active(self) -> bool:
        with self._lock:
            return any(key.active for key, _ in self._keys.values())


def _moment(value: Any) -> datetime | None:
    """A stored moment (text in SQLite, timestamptz in PostgreSQL) as an aware UTC datetime."""
    if value is None:
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
    return moment.astimezone(UTC)


class SQLKeyStore(SQLTable, KeyStore):
    """The keys in a table of the ledger's SQL store; subclasses say how to reach it."""

    table = KEYS_TABLE
    moment_type = "TEXT"

    def ddl(self) -> list[str]:
        return [
            f"CREATE TABLE IF NOT EXISTS {self.table} ("
            "name TEXT PRIMARY KEY, "
            "role TEXT NOT NULL, "
            "key_hash TEXT NOT NULL UNIQUE, "
            f"created_at {self.moment_type} NOT NULL, "
            f"revoked_at {self.moment_type})"
        ]

    def _stored(self, when: datetime) -> Any:
        return when.isoformat()

    def _key_of(self, row: Any) -> ApiKey:
        created = _moment(row["created_at"])
        assert created is not None  # noqa: S101 - NOT NULL in the table
        return ApiKey(
            name=row["name"],
            role=Role(row["role"]),
            created_at=created,
            revoked_at=_moment(row["revoked_at"]),
        )

    def _insert(self, key: ApiKey, digest: str) -> bool:
        m = self.mark
        try:
            with self._transaction(commit=True) as cursor:
                cursor.execute(
                    f"INSERT INTO {self.table} (name, role, key_hash, created_at) "  # noqa: S608
                    f"VALUES ({m}, {m}, {m}, {m})",
                    (key.name, key.role.value, digest, self._stored(key.created_at)),
                )
        except IntegrityError:
            return False
        return True

    def _revoke(self, name: str, when: datetime) -> ApiKey | None:
        m = self.mark
        with self._transaction(commit=True) as cursor:
            cursor.execute(
                f"UPDATE {self.table} SET revoked_at = {m} "  # noqa: S608
                f"WHERE name = {m} AND revoked_at IS NULL",
                (self._stored(when), name),
            )
            cursor.execute(f"SELECT * FROM {self.table} WHERE name = {m}", (name,))  # noqa: S608
            row = cursor.fetchone()
        return None if row is None else self._key_of(row)

    def _list(self) -> list[ApiKey]:
        with self._transaction(commit=False) as cursor:
            cursor.execute(f"SELECT * FROM {self.table} ORDER BY created_at, name")  # noqa: S608
            return [self._key_of(row) for row in cursor.fetchall()]

    def _by_hash(self, digest: str) -> tuple[ApiKey, str] | None:
        with self._transaction(commit=False) as cursor:
            cursor.execute(
                f"SELECT * FROM {self.table} WHERE key_hash = {self.mark}",  # noqa: S608
                (digest,),
            )
            row = cursor.fetchone()
        return None if row is None else (self._key_of(row), row["key_hash"])

    def _any_active(self) -> bool:
        with self._transaction(commit=False) as cursor:
            cursor.execute(f"SELECT 1 FROM {self.table} WHERE revoked_at IS NULL LIMIT 1")  # noqa: S608
            return cursor.fetchone() is not None


class SQLiteKeyStore(SQLiteTable, SQLKeyStore):
    def __init__(self, datastore: Any, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(clock)
        self.datastore = datastore


class PostgresKeyStore(PostgresTable, SQLKeyStore):
    moment_type = "TIMESTAMPTZ"
    create_lock = POSTGRES_KEYS_LOCK

    def __init__(self, datastore: Any, clock: Callable[[], datetime] = utc_now) -> None:
        super().__init__(clock)
        self.datastore = datastore
        self.table = self.qualified(datastore, KEYS_TABLE)

    def _stored(self, when: datetime) -> Any:
        return when


def open_keys(ledger: Ledger, clock: Callable[[], datetime] = utc_now) -> KeyStore:
    """The keys of the store the ledger writes to, their table created if missing."""
    store: KeyStore = open_side_table(
        ledger,
        "key store",
        lambda: MemoryKeyStore(clock),
        lambda datastore: SQLiteKeyStore(datastore, clock),
        lambda datastore: PostgresKeyStore(datastore, clock),
    )
    return store
