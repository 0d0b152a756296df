"""``parley keys create|list|revoke``: the API keys, kept hashed in the ledger's store."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Annotated

import typer

from api.cli.common import current_settings, fail, opened_ledger, out
from api.store.keys import ApiKey, KeyNameTaken, KeyNotFound, KeyStore, Role, open_keys
from api.store.store import StoreURLError, parse_database_url
from domain import errors

keys_app = typer.Typer(
    name="keys",
    help="API keys: create (shown once), list, revoke. Without any key the server runs open "
    "on loopback only.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Adds ``parley keys`` to the `parley` app."""
    app.add_typer(keys_app)


def _when(key: ApiKey) -> str:
    return key.created_at.isoformat(timespec="seconds")


@keys_app.command()
def create(
    name: Annotated[
        str, typer.Option(help="Who the key is; events it records carry it as recorded_by")
    ],
    role: Annotated[Role, typer.Option(help="reader (GET), recorder (append), admin (everything)")],
) -> None:
    """Make a key and print it once, alone on the last line: only its hash is kept."""
    with _key_store() as store:
        try:
            key, secret = store.create(name, role)
        except KeyNameTaken as e:
            raise fail(e.detail) from None
        except errors.InvalidValue as e:
            raise fail(e.detail, code=2) from None
    out.print(
        f"created the {key.role.value} key {key.name!r}; it is shown once, below: keep it now",
        highlight=False,
    )
    # print, not rich: the key must come out verbatim, unwrapped, for scripts to take.
    print(secret)


@keys_app.command("list")
def list_keys() -> None:
    """Every key ever made, revoked ones too (never the keys themselves)."""
    with _key_store() as store:
        found = store.all_keys()
    if not found:
        out.print(
            "no keys: the server runs open (loopback only); "
            "`parley keys create --role admin --name NAME` makes the first",
            highlight=False,
        )
        return
    width = max(len(k.name) for k in found)
    for key in found:
        state = (
            "active"
            if key.revoked_at is None
            else f"revoked {key.revoked_at.isoformat(timespec='seconds')}"
        )
        out.print(
            f"{key.name:<{width}}  {key.role.value:<8}  created {_when(key)}  {state}",
            highlight=False,
        )


@keys_app.command()
def revoke(name: Annotated[str, typer.Argument(help="The key's name")]) -> None:
    """Revoke a key: requests with it are refused from now on."""
    with _key_store() as store:
        try:
            key = store.revoke(name)
        except KeyNotFound as e:
            raise fail(e.detail) from None
    assert key.revoked_at is not None  # noqa: S101 - revoke() stamps it
    out.print(
        f"revoked the {key.role.value} key {key.name!r} "
        f"(at {key.revoked_at.isoformat(timespec='seconds')})",
        highlight=False,
    )


@contextlib.contextmanager
def _key_store() -> Iterator[KeyStore]:
    settings = current_settings()
    try:
        kind = parse_database_url(settings.database_url).kind
    except StoreURLError as e:
        raise fail(f"PARLEY_DATABASE_URL: {e}", code=2) from None
    if kind == "memory":
        raise fail(
            "memory:// keeps keys inside one process, so a key made here would vanish with "
            "it: set PARLEY_DATABASE_URL to a SQLite file or PostgreSQL",
            code=2,
        )
    with opened_ledger(settings) as ledger:
        try:
            yield open_keys(ledger)
        except errors.StorageUnavailable as e:
            raise fail(e.detail) from None
