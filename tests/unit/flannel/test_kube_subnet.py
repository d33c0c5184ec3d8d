"""The Kubernetes subnet manager against kin's real API server: a lease is the Node's
podCIDR, flanneld's backend is published as Flannel's annotations through nodes/status,
and peers come and go with the Nodes that carry them."""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, TypeVar

import pytest

from kin.errors import ConfigError
from kin.flannel.lease import Lease, LeaseAttrs
from kin.flannel.subnet.kube import KubeSubnetManager
from kin.kube.client import Client
from kin.kube.kubeconfig import Connection
from kin.testing.apiserver import InProcessServer
from kin.testing.names import random_name

T = TypeVar("T")
NETWORK = ipaddress.IPv4Network("10.244.0.0/16")
P = "flannel.alpha.coreos.com/"
VXLAN = LeaseAttrs(
    ipaddress.IPv4Address("172.18.0.2"), "vxlan", {"VNI": 1, "VtepMAC": "0a:58:0a:f4:01:00"}
)


@pytest.fixture(scope="module")
def server() -> Iterator[InProcessServer]:
    with InProcessServer("memory://") as running:
        yield running


def run(server: InProcessServer, scenario: Callable[[Client], Awaitable[T]]) -> T:
    async def main() -> T:
        async with Client(Connection(server.url, None, server.token), "kin-flanneld") as api:
            return await asyncio.wait_for(scenario(api), 20)

    return asyncio.run(main())


def node(name: str, cidr: str = "", **annotations: str) -> dict[str, Any]:
    body: dict[str, Any] = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}}
    if annotations:
        body["metadata"]["annotations"] = {
            P + k.replace("_", "-"): v for k, v in annotations.items()
        }
    if cidr:
        body["spec"] = {"podCIDR": cidr, "podCIDRs": [cidr]}
    return body


def peer_annotations(ip: str, mac: str) -> dict[str, str]:
    return {"backend_type": "vxlan", "backend_data": f'{{"VNI":1,"VtepMAC":"{mac}"}}',
            "kube_subnet_manager": "true", "public_ip": ip}  # fmt: skip


def test_acquire_publishes_flannels_annotations_once_and_complete_sets_the_condition(
    server: InProcessServer,
) -> None:
    me = random_name("kin-n")

    async def scenario(api: Client) -> tuple[Lease, dict[str, Any], str, str]:
        await api.create("/api/v1/nodes", node(me, "10.244.1.0/24"))
        manager = KubeSubnetManager(api, me, NETWORK)
        lease = await manager.acquire(VXLAN)
        first = (await manager.own_node())["metadata"]["resourceVersion"]
        await manager.acquire(VXLAN)  # nothing changed: no write
        second = (await manager.own_node())["metadata"]["resourceVersion"]
        await manager.complete()
        return lease, await manager.own_node(), first, second

    lease, stored, first, second = run(server, scenario)
    assert lease == Lease(ipaddress.IPv4Network("10.244.1.0/24"), VXLAN)
    assert {k: v for k, v in stored["metadata"]["annotations"].items() if k.startswith(P)} == {
        P + "backend-data": '{"VNI":1,"VtepMAC":"0a:58:0a:f4:01:00"}',
        P + "backend-type": "vxlan",
        P + "kube-subnet-manager": "true",
        P + "public-ip": "172.18.0.2",
    }
    assert first == second
    (condition,) = [c for c in stored["status"]["conditions"] if c["type"] == "NetworkUnavailable"]
    assert (condition["status"], condition["reason"]) == ("False", "FlannelIsUp")
    assert condition["message"] == "Flannel is running on this node"


def test_host_gw_publishes_null_backend_data_and_overwrite_wins(server: InProcessServer) -> None:
    me = random_name("kin-n")

    async def scenario(api: Client) -> tuple[Lease, dict[str, str]]:
        body = node(me, "10.244.7.0/24", public_ip_overwrite="203.0.113.9")
        await api.create("/api/v1/nodes", body)
        manager = KubeSubnetManager(api, me, NETWORK)
        lease = await manager.acquire(
            LeaseAttrs(ipaddress.IPv4Address("172.18.0.7"), "host-gw", None)
        )
        return lease, (await manager.own_node())["metadata"]["annotations"]

    lease, annotations = run(server, scenario)
    assert (
        annotations[P + "backend-data"] == "null" and annotations[P + "backend-type"] == "host-gw"
    )
    assert annotations[P + "public-ip"] == "203.0.113.9" == str(lease.attrs.public_ip)


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("", "pod cidr not assigned"),
        ("10.9.1.0/24", "is not inside the flannel network 10.244.0.0/16"),
    ],
)
def test_a_node_without_a_usable_pod_cidr_is_a_clear_error(
    server: InProcessServer, cidr: str, message: str
) -> None:
    me = random_name("kin-n")

    async def scenario(api: Client) -> None:
        await api.create("/api/v1/nodes", node(me, cidr))
        with pytest.raises(ConfigError, match=message):
            await KubeSubnetManager(api, me, NETWORK).acquire(VXLAN)

    run(server, scenario)


def test_peers_are_flannel_nodes_with_a_pod_cidr_and_follow_the_nodes(
    server: InProcessServer,
) -> None:
    me, peer, bare, late = (random_name(p) for p in ("kin-me", "kin-p", "kin-b", "kin-l"))

    async def scenario(
        api: Client,
    ) -> tuple[list[Lease], list[tuple[str, Lease | None]], str | None]:
        await api.create(
            "/api/v1/nodes",
            node(me, "10.244.11.0/24", **peer_annotations("172.18.0.11", "0a:00:00:00:00:11")),
        )
        await api.create(
            "/api/v1/nodes",
            node(peer, "10.244.12.0/24", **peer_annotations("172.18.0.12", "0a:00:00:00:00:12")),
        )
        await api.create("/api/v1/nodes", node(bare, "10.244.13.0/24"))  # flannel not on it yet
        manager = KubeSubnetManager(api, me, NETWORK)
        found, version = await manager.peers()
        ours = {f"10.244.{n}.0/24" for n in (11, 12, 13, 14)}  # other tests' nodes share the server
        mine = [lease for lease in found.values() if str(lease.subnet) in ours]
        assert [name for name, lease in found.items() if lease in mine] == [peer]
        await api.create(
            "/api/v1/nodes",
            node(late, "10.244.14.0/24", **peer_annotations("172.18.0.14", "0a:00:00:00:00:14")),
        )
        await api.delete(f"/api/v1/nodes/{peer}")
        events: list[tuple[str, Lease | None]] = []
        async for name, lease in manager.watch(version):
            if name not in (late, peer):
                continue
            events.append((name, lease))
            if name == peer:
                break
        return mine, events, manager.previous_mac(await manager.own_node())

    mine, events, mac = run(server, scenario)
    assert [str(lease.subnet) for lease in mine] == ["10.244.12.0/24"]  # not me, not the bare node
    assert mine[0].attrs == LeaseAttrs(ipaddress.IPv4Address("172.18.0.12"), "vxlan",
                                       {"VNI": 1, "VtepMAC": "0a:00:00:00:00:12"})  # fmt: skip
    assert [(name, lease and str(lease.subnet)) for name, lease in events] == [
        (late, "10.244.14.0/24"), (peer, None)
    ]  # fmt: skip
    assert mac == "0a:00:00:00:00:11"  # what a restarted flanneld gives flannel.1 again
