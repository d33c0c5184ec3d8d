"""The synchronous client the CLI uses, against kin's real API server (in-process, plain
HTTP with a token): one connection reused, kube's errors as APIErrors, an unreachable
server as a 503."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from kin.errors import APIError
from kin.kube.kubeconfig import Connection
from kin.kube.restclient import RestClient
from kin.testing.apiserver import InProcessServer

pytestmark = pytest.mark.unit
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kin-r1"}}


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running


def client(server: InProcessServer, token: str = "") -> RestClient:
    return RestClient(Connection(server.url, None, token or server.token))


def test_requests_on_one_connection_and_kubes_errors(server: InProcessServer) -> None:
    with client(server) as api:
        created = api.create("/api/v1/nodes", NODE)
        connection = api._http
        assert api.get("/api/v1/nodes/kin-r1")["metadata"]["uid"] == created["metadata"]["uid"]
        updated = api.update(
            "/api/v1/nodes/kin-r1", {**created, "spec": {"podCIDR": "10.9.0.0/24"}}
        )
        assert updated["spec"]["podCIDR"] == "10.9.0.0/24"
        assert api._http is connection  # kept alive
        with pytest.raises(APIError) as conflict:
            api.create("/api/v1/nodes", NODE)
        assert (conflict.value.code, conflict.value.reason) == (409, "AlreadyExists")
        with pytest.raises(APIError) as missing:
            api.get("/api/v1/nodes/kin-none")
        assert missing.value.code == 404 and "not found" in missing.value.message
        assert api.request("GET", "/readyz") == {"message": "ok"}


def test_a_bad_token_is_a_401(server: InProcessServer) -> None:
    with client(server, token="wrong") as api, pytest.raises(APIError) as denied:
        api.get("/api/v1/nodes")
    assert denied.value.code == 401


def test_an_unreachable_server_is_a_503() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    with (
        RestClient(Connection(f"http://127.0.0.1:{port}", None, "t")) as api,
        pytest.raises(APIError) as refused,
    ):
        api.get("/readyz")
    assert refused.value.code == 503 and f"127.0.0.1:{port}" in refused.value.message
