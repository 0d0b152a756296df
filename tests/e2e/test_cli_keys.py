"""``parley keys`` end to end, and ``parley serve`` refusing to run open beyond loopback."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
from starlette.exceptions import StarletteDeprecationWarning
from typer.testing import CliRunner

from api.cli import app
from api.cli.serve import open_mode_refusal
from api.http.app import create_app
from api.settings import Settings
from api.store.store import parse_database_url

with warnings.catch_warnings():  # Starlette warns about the test tool at import
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

runner = CliRunner()


@pytest.fixture
def db_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path}/keys.db"
    monkeypatch.setenv("PARLEY_DATABASE_URL", url)
    return url


def make_key(name: str, role: str) -> str:
    result = runner.invoke(app, ["keys", "create", "--role", role, "--name", name])
    assert result.exit_code == 0, result.output
    return result.stdout.rstrip("\n").splitlines()[-1]


def test_create_prints_the_key_alone_on_the_last_line(db_url: str) -> None:
    result = runner.invoke(app, ["keys", "create", "--role", "recorder", "--name", "wire"])

    assert result.exit_code == 0, result.output
    *before, last = result.stdout.rstrip("\n").splitlines()
    assert last.startswith("parley_")
    assert last.strip() == last
    assert " " not in last
    assert any("shown once" in line for line in before)


def test_a_key_made_by_the_cli_opens_the_server_to_its_holder_only(db_url: str) -> None:
    secret = make_key("wire", "reader")

    with TestClient(
        create_app(Settings(database_url=db_url)), base_url="http://localhost"
    ) as client:
        refused = client.get("/negotiations")
        allowed = client.get("/negotiations", headers={"Authorization": f"Bearer {secret}"})

    assert refused.status_code == 401
    assert allowed.status_code == 200, allowed.text


def test_list_shows_names_roles_and_states_but_never_a_key(db_url: str) -> None:
    first = make_key("wire", "recorder")
    second = make_key("boss", "admin")
    assert runner.invoke(app, ["keys", "revoke", "wire"]).exit_code == 0

    result = runner.invoke(app, ["keys", "list"])

    assert result.exit_code == 0, result.output
    lines = [line.split() for line in result.stdout.splitlines() if not line.startswith("store:")]
    assert [(cols[0], cols[1], cols[4]) for cols in lines] == [
        ("wire", "recorder", "revoked"),
        ("boss", "admin", "active"),
    ]
    assert first not in result.stdout
    assert second not in result.stdout


def test_list_without_keys_says_the_server_runs_open(db_url: str) -> None:
    result = runner.invoke(app, ["keys", "list"])
    assert result.exit_code == 0, result.output
    assert "runs open" in result.stdout


def test_a_revoked_key_is_refused_by_the_server(db_url: str) -> None:
    secret = make_key("wire", "reader")
    make_key("boss", "admin")

    result = runner.invoke(app, ["keys", "revoke", "wire"])

    assert result.exit_code == 0, result.output
    assert "revoked the reader key 'wire'" in result.stdout
    with TestClient(
        create_app(Settings(database_url=db_url)), base_url="http://localhost"
    ) as client:
        response = client.get("/negotiations", headers={"Authorization": f"Bearer {secret}"})
    assert response.status_code == 401


def test_a_taken_name_fails_and_prints_no_key(db_url: str) -> None:
    make_key("wire", "reader")

    result = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "wire"])

    assert result.exit_code == 1
    assert "parley_" not in result.stdout
    assert "exists or existed" in result.output


@pytest.mark.parametrize(
    ("args", "code", "says"),
    [
        (["keys", "create", "--role", "root", "--name", "x"], 2, "root"),
        (["keys", "create", "--role", "reader", "--name", "two words"], 2, "not a key name"),
        (["keys", "revoke", "nobody"], 1, "no key is named 'nobody'"),
    ],
)
def test_mistakes_fail_with_a_reason(db_url: str, args: list[str], code: int, says: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == code, result.output
    assert says in result.output


def test_keys_refuse_a_memory_store_which_would_forget_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_DATABASE_URL", "memory://")
    result = runner.invoke(app, ["keys", "create", "--role", "admin", "--name", "boss"])
    assert result.exit_code == 2
    assert "memory://" in result.output
    assert "parley_" not in result.stdout


# ------------------------------------------------------------------- serve


def test_serve_refuses_a_public_interface_while_no_key_exists(db_url: str) -> None:
    result = runner.invoke(app, ["serve", "--host", "0.0.0.0"])  # noqa: S104 - refused first

    assert result.exit_code == 2
    assert "no API key exists" in result.output
    assert "parley keys create" in result.output


def test_a_public_interface_is_allowed_once_an_active_key_exists(db_url: str) -> None:
    public = Settings(database_url=db_url, host="0.0.0.0")  # noqa: S104 - nothing is bound
    config = parse_database_url(db_url)
    assert open_mode_refusal(public, config) is not None
    make_key("boss", "admin")
    assert open_mode_refusal(public, config) is None
    assert runner.invoke(app, ["keys", "revoke", "boss"]).exit_code == 0
    assert open_mode_refusal(public, config) is not None


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "localhost"])
def test_loopback_may_run_open(db_url: str, host: str) -> None:
    assert (
        open_mode_refusal(Settings(database_url=db_url, host=host), parse_database_url(db_url))
        is None
    )


def test_a_memory_store_never_runs_beyond_loopback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_DATABASE_URL", "memory://")
    result = runner.invoke(app, ["serve", "--host", "192.0.2.7"])
    assert result.exit_code == 2
    assert "memory://" in result.output
