"""The real app on a real store, driven through Starlette's TestClient."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from typing import Any

import pytest
from apitools import sma_negotiation
from starlette.exceptions import StarletteDeprecationWarning

from api.http.app import create_app
from api.settings import Settings

# Starlette 1.10 prefers httpx2 and warns once, at import, when it falls back to httpx
# (pinned in pyproject); the warning is about the test tool, not about Parley.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", StarletteDeprecationWarning)
    from fastapi.testclient import TestClient

ClientFactory = Callable[..., TestClient]
LOCAL = "http://localhost"
"""An open server answers only requests addressed to loopback (DNS rebinding): so do tests."""


@pytest.fixture
def client_factory() -> Iterator[ClientFactory]:
    """Starts apps (each with its lifespan) and stops them at the end of the test."""
    with ExitStack() as stack:

        def make(
            database_url: str, *, raise_server_exceptions: bool = True, **settings: Any
        ) -> TestClient:
            app = create_app(Settings(database_url=database_url, **settings))
            client = TestClient(
                app, raise_server_exceptions=raise_server_exceptions, base_url=LOCAL
            )
            return stack.enter_context(client)

        yield make


@pytest.fixture
def client(client_factory: ClientFactory) -> TestClient:
    """The app on the in-memory store: for what does not depend on storage."""
    return client_factory("memory://")


@pytest.fixture
def store_client(client_factory: ClientFactory, store_url: str) -> TestClient:
    """The app on each of the stores."""
    return client_factory(store_url)


@pytest.fixture
def sma(client: TestClient) -> TestClient:
    """A client whose store holds the SMA negotiation, opened at version 5."""
    response = client.post("/negotiations", json=sma_negotiation())
    assert response.status_code == 201, response.text
    return client
