"""kin.kube against kin's real API server (in-process, plain HTTP with a token): requests,
kube's errors as APIErrors, watches, and kubeconfig files good and bad."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from kin.errors import APIError, ConfigError
from kin.kube import kubeconfig
from kin.kube.client import STRATEGIC_PATCH, Client
from kin.testing.apiserver import InProcessServer

T = TypeVar("T")
NODE = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "kin-n1", "labels": {"a": "b"}}}


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running


def kubeconfig_file(tmp_path: Path, server: str, **user: str) -> Path:
    document = {
        "apiVersion": "v1", "kind": "Config", "current-context": "c",
        "clusters": [{"name": "k", "cluster": {"server": server}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }  # fmt: skip
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(document))
    return path


def run(server: InProcessServer, tmp_path: Path, scenario: Callable[[Client], Awaitable[T]]) -> T:
    connection = kubeconfig.load(kubeconfig_file(tmp_path, server.url, token=server.token))

    async def main() -> T:
        async with Client(connection, "kin-test") as api:
            return await asyncio.wait_for(scenario(api), 20)

    return asyncio.run(main())


def test_create_get_patch_and_kubes_errors(server: InProcessServer, tmp_path: Path) -> None:
    async def scenario(api: Client) -> None:
        created = await api.create("/api/v1/nodes", NODE)
        assert created["metadata"]["uid"]
        patch = {"metadata": {"annotations": {"flannel.alpha.coreos.com/public-ip": "172.18.0.3"}}}
        patched = await api.patch("/api/v1/nodes/kin-n1", patch, STRATEGIC_PATCH)
        assert (
            patched["metadata"]["annotations"]["flannel.alpha.coreos.com/public-ip"] == "172.18.0.3"
        )
        with pytest.raises(APIError) as conflict:
            await api.create("/api/v1/nodes", NODE)
        assert (conflict.value.code, conflict.value.reason) == (409, "AlreadyExists")
        stale = {**created, "spec": {"unschedulable": True}}
        with pytest.raises(APIError) as outdated:
            await api.update("/api/v1/nodes/kin-n1", stale)
        assert outdated.value.code == 409 and "modified" in outdated.value.message
        with pytest.raises(APIError) as missing:
            await api.get("/api/v1/nodes/kin-nope")
        assert (missing.value.code, missing.value.reason) == (404, "NotFound")
        listed = await api.get("/api/v1/nodes", labelSelector="a=b")
        assert [n["metadata"]["name"] for n in listed["items"]] == ["kin-n1"]
        await api.delete("/api/v1/nodes/kin-n1")

    run(server, tmp_path, scenario)


def test_a_watch_yields_events_after_the_version_it_starts_from(
    server: InProcessServer, tmp_path: Path
) -> None:
    async def scenario(api: Client) -> list[tuple[str, str]]:
        start = (await api.get("/api/v1/nodes"))["metadata"]["resourceVersion"]
        await api.create("/api/v1/nodes", {**NODE, "metadata": {"name": "kin-w1"}})
        await api.patch("/api/v1/nodes/kin-w1", {"spec": {"podCIDR": "10.244.1.0/24"}})
        await api.delete("/api/v1/nodes/kin-w1")
        seen: list[tuple[str, str]] = []
        async for kind, obj in api.watch("/api/v1/nodes", start):
            seen.append((kind, str(obj.get("spec", {}).get("podCIDR", ""))))
            if kind == "DELETED":
                return seen
        return seen

    events = run(server, tmp_path, scenario)
    assert events == [("ADDED", ""), ("MODIFIED", "10.244.1.0/24"), ("DELETED", "10.244.1.0/24")]


def test_no_token_is_401_and_no_server_is_503(server: InProcessServer, tmp_path: Path) -> None:
    async def scenario(connection: kubeconfig.Connection) -> APIError:
        async with Client(connection) as api:
            with pytest.raises(APIError) as caught:
                await api.get("/api/v1/nodes")
            return caught.value

    anonymous = kubeconfig.load(kubeconfig_file(tmp_path, server.url))
    assert asyncio.run(scenario(anonymous)).code == 401
    nowhere = kubeconfig.load(kubeconfig_file(tmp_path, "http://127.0.0.1:9", token="t"))
    error = asyncio.run(scenario(nowhere))
    assert error.code == 503 and "http://127.0.0.1:9" in error.message


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.update({"current-context": ""}), "no context given and no current-context"),
        (lambda d: d.update({"current-context": "x"}), "no entry 'x' in contexts"),
        (
            lambda d: d["clusters"][0]["cluster"].update({"server": "ftp://x"}),
            "has no https server",
        ),
        (
            lambda d: d["clusters"][0]["cluster"].update(
                {"server": "https://x", "certificate-authority": "ca.crt"}
            ),
            "cannot read certificate-authority",
        ),
        (
            lambda d: d["clusters"][0]["cluster"].update(
                {"server": "https://x", "certificate-authority-data": "%%%"}
            ),
            "certificate-authority-data is not base64",
        ),
    ],
)
def test_bad_kubeconfigs_name_the_file_and_entry(
    tmp_path: Path, mutate: Callable[[dict[str, Any]], None], message: str
) -> None:
    path = kubeconfig_file(tmp_path, "http://127.0.0.1:1", token="t")
    document = yaml.safe_load(path.read_text())
    mutate(document)
    path.write_text(yaml.safe_dump(document))
    with pytest.raises(ConfigError) as caught:
        kubeconfig.load(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_a_client_certificate_pair_that_does_not_match_is_refused(tmp_path: Path) -> None:
    from kin.apiserver import pki

    ca, other = pki.new_ca("kin-test-ca"), pki.new_ca("kin-other-ca")  # other: a foreign key
    pair = pki.issue(ca, "admin", ("system:masters",))
    path = kubeconfig_file(tmp_path, "https://127.0.0.1:1",
                           **{"client-certificate-data": base64.b64encode(pair.cert_pem()).decode(),
                              "client-key-data": base64.b64encode(other.key_pem()).decode()})  # fmt: skip
    with pytest.raises(ConfigError, match="client certificate and key do not load"):
        kubeconfig.load(path)
