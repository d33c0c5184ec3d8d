"""Who may ask: a bearer token, or nothing for health and version."""

from __future__ import annotations

import pytest

from kin.testing.apiserver import InProcessServer


@pytest.mark.parametrize("token", ["", "wrong-token"])
def test_without_valid_credentials_resources_are_401(server: InProcessServer, token: str) -> None:
    client = server.client(token=token)
    try:
        for path in (
            "/api/v1/pods",
            "/api/v1/namespaces/default/pods",
            "/apis/apps/v1/deployments",
            "/api",
            "/apis",
        ):
            refused = client.get(path)
            assert refused.status == 401, (path, refused)
            status = refused.json()
            assert status["kind"] == "Status" and status["reason"] == "Unauthorized"
            assert status["code"] == 401
        body = {"metadata": {"name": "sneaky"}}
        assert client.post("/api/v1/namespaces", body).status == 401
    finally:
        client.close()
    admin = server.client()
    try:
        assert admin.get("/api/v1/namespaces/sneaky").status == 404
    finally:
        admin.close()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/livez", "/version"])
def test_health_and_version_answer_anyone(server: InProcessServer, path: str) -> None:
    client = server.client(token="")
    try:
        answer = client.get(path, accept="*/*")
        assert answer.status == 200, answer
        if path == "/version":
            assert answer.json()["major"] == "1"
        else:
            assert answer.body == b"ok"
    finally:
        client.close()


def test_a_valid_token_is_let_in(server: InProcessServer) -> None:
    client = server.client()
    try:
        assert client.get("/api/v1/namespaces/default").status == 200
    finally:
        client.close()
