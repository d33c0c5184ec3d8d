"""The vxlan backend on real kernels: three namespace nodes on a namespace underlay, a pod
behind each node's cni0, and flannel.1 programmed as Flannel programs it.

Everything lives in namespaces the test makes (the underlay's bridge too); the host is
not touched. The kernel state is compared with the fact sheet's golden form (device
attributes, one permanent neighbour, one FDB entry and one onlink route per peer), and
traffic proves it: pods reach pods on every other node, with their own source address.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from kin.flannel.lease import Lease
from kin.testing.underlay import Node, captured, in_ns, ip_json, source_seen, underlay_nodes


@pytest.fixture
def nodes(netns_factory: Callable[[], str]) -> Iterator[list[Node]]:
    with underlay_nodes(netns_factory) as made:
        yield made


def bring_up(nodes: list[Node]) -> dict[int, Lease]:
    """Each node's backend prepared and given its lease; every node told of the others."""
    backends = {node.number: node.backend() for node in nodes}
    leases = {node.number: Lease(node.lease, backends[node.number].prepare()) for node in nodes}
    for node in nodes:
        assert backends[node.number].configure(node.lease) == 1450
        backends[node.number].reconcile([lease for n, lease in leases.items() if n != node.number])
    return leases


def mac_of(lease: Lease) -> str:
    assert lease.attrs.backend_data is not None
    return str(lease.attrs.backend_data["VtepMAC"])


def test_flannel_1_is_flannels_device_with_one_trio_per_peer(nodes: list[Node]) -> None:
    leases = bring_up(nodes)
    first = nodes[0]
    (link,) = ip_json(first.name, "-d", "link", "show", "dev", "flannel.1")
    info = link["linkinfo"]["info_data"]
    assert link["mtu"] == 1450 and link["address"] == mac_of(leases[1])
    assert (info["id"], info["local"], info["port"], info["learning"]) == (
        1,
        "172.31.0.1",
        8472,
        False,
    )
    assert info["link"] == "eth0"
    addresses = ip_json(first.name, "-4", "addr", "show", "dev", "flannel.1")[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in addresses] == [("10.244.1.0", 32)]
    neighbours = ip_json(first.name, "neigh", "show", "dev", "flannel.1")
    assert sorted((n["dst"], n["lladdr"], n["state"]) for n in neighbours) == [
        ("10.244.2.0", mac_of(leases[2]), ["PERMANENT"]),
        ("10.244.3.0", mac_of(leases[3]), ["PERMANENT"]),
    ]
    fdb = ip_json(first.name, "fdb", "show", "dev", "flannel.1", tool="bridge")
    assert sorted((e["mac"], e["dst"], e["state"], e["flags"]) for e in fdb) == sorted([
        (mac_of(leases[2]), "172.31.0.2", "permanent", ["self"]),
        (mac_of(leases[3]), "172.31.0.3", "permanent", ["self"]),
    ])  # fmt: skip
    routes = ip_json(first.name, "route", "show", "dev", "flannel.1")
    assert sorted((r["dst"], r["gateway"], r["flags"]) for r in routes) == [
        ("10.244.2.0/24", "10.244.2.0", ["onlink"]),
        ("10.244.3.0/24", "10.244.3.0", ["onlink"]),
    ]


def test_pods_reach_pods_on_every_node_with_their_own_address(nodes: list[Node]) -> None:
    bring_up(nodes)
    for source in nodes:
        for target in nodes:
            if source is not target:
                done = in_ns(source.pod, "ping", "-c1", "-W2", target.pod_ip)
                assert done.returncode == 0, (
                    source.number,
                    target.number,
                    done.stdout,
                    done.stderr,
                )
    assert source_seen(nodes[0].pod, nodes[2].pod, nodes[2].pod_ip) == nodes[0].pod_ip  # no NAT


def test_a_peer_that_leaves_takes_its_entries_with_it(nodes: list[Node]) -> None:
    leases = bring_up(nodes)
    first = nodes[0]
    first.backend().remove(leases[3])
    assert [n["dst"] for n in ip_json(first.name, "neigh", "show", "dev", "flannel.1")] == [
        "10.244.2.0"
    ]
    assert [
        e["dst"] for e in ip_json(first.name, "fdb", "show", "dev", "flannel.1", tool="bridge")
    ] == ["172.31.0.2"]
    assert [r["dst"] for r in ip_json(first.name, "route", "show", "dev", "flannel.1")] == [
        "10.244.2.0/24"
    ]
    first.backend().remove(leases[3])  # already gone: fine
    assert in_ns(first.pod, "ping", "-c1", "-W1", nodes[2].pod_ip).returncode != 0
    assert in_ns(first.pod, "ping", "-c1", "-W2", nodes[1].pod_ip).returncode == 0


def test_reconcile_removes_what_no_lease_needs_and_restores_what_one_does(
    nodes: list[Node],
) -> None:
    leases = bring_up(nodes)
    first = nodes[0]
    nl = first.nl
    nl.replace_neighbour("flannel.1", "10.244.9.0", "02:00:00:00:00:09")  # a node gone while down
    nl.replace_fdb("flannel.1", "02:00:00:00:00:09", "172.31.0.9")
    nl.replace_route("10.244.9.0/24", gateway="10.244.9.0", oif="flannel.1", onlink=True)
    nl.delete_route("10.244.2.0/24", oif="flannel.1")  # and one lost
    first_backend = first.backend()
    first_backend.prepare()
    first_backend.configure(first.lease)
    first_backend.reconcile([leases[2], leases[3]])
    assert sorted(n["dst"] for n in ip_json(first.name, "neigh", "show", "dev", "flannel.1")) == [
        "10.244.2.0", "10.244.3.0"
    ]  # fmt: skip
    fdb = ip_json(first.name, "fdb", "show", "dev", "flannel.1", tool="bridge")
    assert sorted(str(e["dst"]) for e in fdb) == ["172.31.0.2", "172.31.0.3"]
    routes = ip_json(first.name, "route", "show", "dev", "flannel.1")
    assert sorted(str(r["dst"]) for r in routes) == ["10.244.2.0/24", "10.244.3.0/24"]
    assert in_ns(first.pod, "ping", "-c1", "-W2", nodes[1].pod_ip).returncode == 0


def test_a_restart_keeps_the_device_and_its_mac_a_new_port_recreates_it(nodes: list[Node]) -> None:
    leases = bring_up(nodes)
    first = nodes[0]
    index = first.nl.link_index("flannel.1")
    again = first.backend().prepare()
    assert again == leases[1].attrs and first.nl.link_index("flannel.1") == index
    moved = first.backend("vxlan", Port=4789).prepare()
    assert first.nl.link_index("flannel.1") != index
    assert moved.backend_data is not None and moved.backend_data["VtepMAC"] != mac_of(leases[1])
    (link,) = ip_json(first.name, "-d", "link", "show", "dev", "flannel.1")
    assert link["linkinfo"]["info_data"]["port"] == 4789


def test_direct_routing_sends_same_link_peers_a_plain_route(nodes: list[Node]) -> None:
    backends = {n.number: n.backend("vxlan", DirectRouting=True) for n in nodes}
    leases = {n.number: Lease(n.lease, backends[n.number].prepare()) for n in nodes}
    for node in nodes:
        backends[node.number].configure(node.lease)
        backends[node.number].reconcile([lease for k, lease in leases.items() if k != node.number])
    first = nodes[0]
    assert ip_json(first.name, "route", "show", "dev", "flannel.1") == []
    routes = ip_json(first.name, "route", "show", "dev", "eth0")
    assert sorted((r["dst"], r.get("gateway")) for r in routes if r["dst"] != "172.31.0.0/24") == [
        ("10.244.2.0/24", "172.31.0.2"), ("10.244.3.0/24", "172.31.0.3")
    ]  # fmt: skip
    assert in_ns(first.pod, "ping", "-c1", "-W2", nodes[2].pod_ip).returncode == 0


def test_the_underlay_carries_udp_8472_with_vni_1_and_the_pods_inside(nodes: list[Node]) -> None:
    bring_up(nodes)
    with captured(nodes[0].underlay, "br0", "udp port 8472", count=2) as packets:
        done = in_ns(nodes[0].pod, "ping", "-c1", "-W2", nodes[1].pod_ip)
        assert done.returncode == 0, done.stdout
    request, reply = packets
    assert (request.src, request.dst, request.dport, request.vni) == (
        "172.31.0.1",
        "172.31.0.2",
        8472,
        1,
    )
    assert request.inner is not None and (request.inner.src, request.inner.dst) == (
        "10.244.1.2",
        "10.244.2.2",
    )
    assert (reply.src, reply.dst, reply.vni) == ("172.31.0.2", "172.31.0.1", 1)
    assert reply.inner is not None and (reply.inner.src, reply.inner.dst) == (
        "10.244.2.2",
        "10.244.1.2",
    )
