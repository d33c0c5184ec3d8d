"""An API server per test module, over real HTTP, on memory storage; a namespace per test.

The server is ``kin.testing.apiserver.InProcessServer``: the real aiohttp application,
registry and storage on a thread of their own, reached through a plain-HTTP client with
a bearer token. Tests never reach into the server except where a test needs something
no client can do (compacting storage). Each test works in a fresh namespace with a
random name, so tests in one module do not see each other's objects.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Iterator
from typing import Any, TypeVar

import pytest

from kin.testing.apiserver import Client, InProcessServer
from kin.testing.names import random_name
from kin.testing.waiting import eventually

T = TypeVar("T")
WAIT = 10.0


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running


@pytest.fixture
def api(server: InProcessServer) -> Iterator[Client]:
    client = server.client()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def ns(api: Client) -> str:
    """A fresh namespace; left for the module's server to discard."""
    name = random_name("t")
    created = api.post("/api/v1/namespaces", {"metadata": {"name": name}})
    assert created.status == 201, created
    return name


@pytest.fixture
def on_server(server: InProcessServer) -> Callable[[Coroutine[Any, Any, T]], T]:
    """Run a coroutine on the server's event loop (for what no client can do)."""

    def run(coro: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(coro, server.loop).result(WAIT)

    return run


@pytest.fixture(name="eventually")
def eventually_fixture() -> Callable[..., Any]:
    return eventually
