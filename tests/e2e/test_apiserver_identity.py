"""Who the API server thinks is asking, through the real kubectl over HTTPS: the admin
certificate, a node's certificate, an unknown token (401), a certificate of another CA."""

from __future__ import annotations

import asyncio
import contextlib
import os
import ssl
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from kin.kube import client as kube_client
from kin.kube import kubeconfig
from kin.testing.apiserver import NODE, Client, ServerProcess


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with (
        tempfile.TemporaryDirectory(prefix="kin-apiserver-identity-") as directory,
        ServerProcess(f"sqlite:///{directory}/store.db", directory) as running,
    ):
        yield running


def kubectl(server: ServerProcess, kubeconfig: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KUBECONFIG": kubeconfig, "KUBECACHEDIR": str(server.dir / "cache")}
    return subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=30)


def test_admin_certificate_is_a_system_master(server: ServerProcess) -> None:
    done = kubectl(server, server.kubeconfig, "auth", "whoami", "-o", "yaml")
    assert done.returncode == 0, done.stderr
    info = yaml.safe_load(done.stdout)["status"]["userInfo"]
    assert info == {
        "username": "kubernetes-admin",
        "groups": ["system:masters", "system:authenticated"],
    }


def test_node_certificate_is_the_node(server: ServerProcess, tmp_path: Path) -> None:
    path = str(tmp_path / "node.kubeconfig")
    server.write_kubeconfig(path, f"node-{NODE}")
    done = kubectl(server, path, "auth", "whoami", "-o", "yaml")
    assert done.returncode == 0, done.stderr
    info = yaml.safe_load(done.stdout)["status"]["userInfo"]
    assert info["username"] == f"system:node:{NODE}"
    assert info["groups"] == ["system:nodes", "system:authenticated"]


def test_an_unknown_token_is_unauthorized(server: ServerProcess, tmp_path: Path) -> None:
    config = yaml.safe_load(Path(server.kubeconfig).read_text())
    config["users"][0]["user"] = {"token": "not-a-known-token"}
    path = tmp_path / "anonymous.kubeconfig"
    path.write_text(yaml.safe_dump(config))
    done = kubectl(server, str(path), "get", "pods")
    assert done.returncode == 1
    # "(Unauthorized)" once discovery is cached; kubectl's own wording while discovering
    assert "error: You must be logged in to the server" in done.stderr


def test_a_certificate_from_another_ca_is_refused(server: ServerProcess) -> None:
    with tempfile.TemporaryDirectory(prefix="kin-apiserver-other-ca-") as other:
        stranger = ServerProcess("memory://", other)  # only its PKI: never started
        context = ssl.create_default_context(cafile=str(server.dir / "ca.crt"))
        context.load_cert_chain(str(stranger.dir / "admin.crt"), str(stranger.dir / "admin.key"))
    # Python's TLS refuses the handshake (kube-apiserver would finish it and answer 401)
    with pytest.raises((ssl.SSLError, ConnectionResetError)):
        Client(server.url, context=context).get("/api/v1/namespaces")
    with contextlib.closing(server.client()) as admin:
        assert admin.get("/api/v1/namespaces/default").status == 200


def test_kin_kube_client_presents_the_kubeconfigs_certificate(
    server: ServerProcess, tmp_path: Path
) -> None:
    """kin's own daemons (flanneld first) reach the API through kin.kube: over HTTPS, with
    the cluster CA verified and the node's client certificate presented."""
    path = str(tmp_path / "node.kubeconfig")
    server.write_kubeconfig(path, f"node-{NODE}")
    review = {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}

    async def whoami() -> dict[str, object]:
        async with kube_client.Client(kubeconfig.load(path), "kin-test") as api:
            answer = await api.create("/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
            return dict(answer["status"]["userInfo"])

    assert asyncio.run(whoami())["username"] == f"system:node:{NODE}"
