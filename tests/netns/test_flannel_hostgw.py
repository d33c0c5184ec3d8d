"""The host-gw backend on three namespace nodes: one route per peer via the peer's own
address, plain pod packets on the underlay, and clear errors where host-gw cannot work."""

from __future__ import annotations

import dataclasses
import ipaddress
from collections.abc import Callable, Iterator

import pytest

from kin.errors import NetworkSetupError
from kin.flannel.lease import Lease, LeaseAttrs
from kin.testing.underlay import Node, captured, in_ns, ip_json, source_seen, underlay_nodes


@pytest.fixture
def nodes(netns_factory: Callable[[], str]) -> Iterator[list[Node]]:
    with underlay_nodes(netns_factory) as made:
        yield made


def bring_up(nodes: list[Node]) -> dict[int, Lease]:
    backends = {node.number: node.backend("host-gw") for node in nodes}
    leases = {
        n: Lease(node.lease, backends[n].prepare()) for n, node in zip(backends, nodes, strict=True)
    }
    for node in nodes:
        assert backends[node.number].configure(node.lease) == 1500
        backends[node.number].reconcile([lease for n, lease in leases.items() if n != node.number])
    return leases


def peer_routes(node: Node) -> list[tuple[str, str]]:
    routes = ip_json(node.name, "route", "show", "dev", "eth0")
    return sorted((r["dst"], r["gateway"]) for r in routes if "gateway" in r)


def test_one_route_per_peer_via_its_address_and_pods_reach_pods(nodes: list[Node]) -> None:
    leases = bring_up(nodes)
    assert leases[1].attrs == LeaseAttrs(ipaddress.IPv4Address("172.31.0.1"), "host-gw", None)
    assert peer_routes(nodes[0]) == [
        ("10.244.2.0/24", "172.31.0.2"),
        ("10.244.3.0/24", "172.31.0.3"),
    ]
    assert not [
        link for link in ip_json(nodes[0].name, "link", "show") if "flannel" in link["ifname"]
    ]
    for source in nodes:
        for target in nodes:
            if source is not target:
                done = in_ns(source.pod, "ping", "-c1", "-W2", target.pod_ip)
                assert done.returncode == 0, (source.number, target.number, done.stdout)
    assert source_seen(nodes[2].pod, nodes[0].pod, nodes[0].pod_ip) == nodes[2].pod_ip  # no NAT


def test_reconcile_and_remove_touch_only_peer_routes(nodes: list[Node]) -> None:
    leases = bring_up(nodes)
    first = nodes[0]
    first.nl.replace_route("10.244.9.0/24", gateway="172.31.0.9", oif="eth0")  # left by a gone node
    first.nl.delete_route("10.244.3.0/24", gateway="172.31.0.3", oif="eth0")  # lost
    first.nl.add_route("192.168.77.0/24", gateway="172.31.0.2", oif="eth0")  # not flannel's
    backend = first.backend("host-gw")
    backend.configure(first.lease)
    backend.reconcile([leases[2], leases[3]])
    assert ("192.168.77.0/24", "172.31.0.2") in peer_routes(first)
    assert [r for r in peer_routes(first) if r[0].startswith("10.244.")] == [
        ("10.244.2.0/24", "172.31.0.2"), ("10.244.3.0/24", "172.31.0.3")
    ]  # fmt: skip
    backend.remove(leases[2])
    backend.remove(leases[2])  # already gone: fine
    assert [r for r in peer_routes(first) if r[0].startswith("10.244.")] == [
        ("10.244.3.0/24", "172.31.0.3")
    ]


def test_a_peer_off_the_link_is_a_clear_error(nodes: list[Node]) -> None:
    backend = nodes[0].backend("host-gw")
    backend.configure(nodes[0].lease)
    far = Lease(ipaddress.IPv4Network("10.244.8.0/24"),
                LeaseAttrs(ipaddress.IPv4Address("172.30.5.8"), "host-gw", None))  # fmt: skip
    with pytest.raises(
        NetworkSetupError, match=r"is not directly reachable: 172\.30\.5\.8 is not on eth0's subnet"
    ):
        backend.add(far)


def test_a_public_ip_other_than_the_interfaces_is_refused(nodes: list[Node]) -> None:
    node = nodes[0]
    node.ext = dataclasses.replace(node.ext, public_ip=ipaddress.IPv4Address("203.0.113.7"))
    with pytest.raises(NetworkSetupError, match="probably you're on a NAT"):
        node.backend("host-gw")


def test_the_underlay_carries_bare_pod_packets(nodes: list[Node]) -> None:
    bring_up(nodes)
    with captured(nodes[0].underlay, "br0", "icmp", count=2) as packets:
        assert in_ns(nodes[0].pod, "ping", "-c1", "-W2", nodes[2].pod_ip).returncode == 0
    assert [(p.src, p.dst, p.protocol) for p in packets] == [
        ("10.244.1.2", "10.244.3.2", 1), ("10.244.3.2", "10.244.1.2", 1)
    ]  # fmt: skip
