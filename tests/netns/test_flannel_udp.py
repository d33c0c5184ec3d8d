"""The udp backend on three namespace nodes: TUN flannel0 as Flannel makes it, every pod
packet carried whole in a UDP datagram to port 8285, and "network unreachable" for a
destination no node holds."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kin.flannel.backends.udp import UdpBackend
from kin.flannel.lease import Lease, LeaseAttrs
from kin.linux import ns
from kin.testing.underlay import Node, captured, in_ns, ip_json, source_seen, underlay_nodes


@pytest.fixture
def nodes(netns_factory: Callable[[], str]) -> Iterator[tuple[list[Node], dict[int, UdpBackend]]]:
    with underlay_nodes(netns_factory) as made:
        backends: dict[int, UdpBackend] = {}
        try:
            leases = {}
            for node in made:
                backends[node.number] = node.backend("udp")
                attrs = ns.run_in(ns.netns_path(node.name), backends[node.number].prepare)
                leases[node.number] = Lease(node.lease, attrs)
            for node in made:
                assert backends[node.number].configure(node.lease) == 1472
                backends[node.number].reconcile(
                    [lease for n, lease in leases.items() if n != node.number]
                )
            yield made, backends
        finally:
            for backend in backends.values():
                backend.close()


def test_flannel0_is_flannels_tun_with_a_route_for_the_whole_network(
    nodes: tuple[list[Node], dict[int, UdpBackend]],
) -> None:
    first = nodes[0][0]
    (link,) = ip_json(first.name, "-d", "link", "show", "dev", "flannel0")
    assert link["linkinfo"]["info_kind"] == "tun" and link["mtu"] == 1472
    addresses = ip_json(first.name, "-4", "addr", "show", "dev", "flannel0")[0]["addr_info"]
    assert [(a["local"], a["prefixlen"]) for a in addresses] == [("10.244.1.0", 32)]
    assert [r["dst"] for r in ip_json(first.name, "route", "show", "dev", "flannel0")] == [
        "10.244.0.0/16"
    ]


def test_pods_reach_pods_through_udp_8285_with_their_own_addresses(
    nodes: tuple[list[Node], dict[int, UdpBackend]],
) -> None:
    made = nodes[0]
    for source in made:
        for target in made:
            if source is not target:
                done = in_ns(source.pod, "ping", "-c1", "-W2", target.pod_ip)
                assert done.returncode == 0, (source.number, target.number, done.stdout)
    assert source_seen(made[0].pod, made[2].pod, made[2].pod_ip) == made[0].pod_ip
    with captured(made[0].underlay, "br0", "udp port 8285", count=2) as packets:
        assert in_ns(made[0].pod, "ping", "-c1", "-W2", made[1].pod_ip).returncode == 0
    request, reply = packets
    assert (request.src, request.dst, request.dport) == ("172.31.0.1", "172.31.0.2", 8285)
    assert request.inner is not None and (request.inner.src, request.inner.dst) == (
        "10.244.1.2",
        "10.244.2.2",
    )
    assert (reply.src, reply.dst) == ("172.31.0.2", "172.31.0.1")
    assert reply.inner is not None and reply.inner.src == "10.244.2.2"


CONNECT = (
    "import socket, sys\n"
    "try:\n"
    "    socket.create_connection((sys.argv[1], 80), timeout=3)\n"
    "except OSError as exc:\n"
    "    print(exc.strerror)\n"
)


def test_a_subnet_no_node_holds_is_network_unreachable_and_a_peer_leaving_stops_traffic(
    nodes: tuple[list[Node], dict[int, UdpBackend]],
) -> None:
    """Flannel's proxy answers ICMP "network unreachable" (not for ICMP itself, so a
    TCP connect shows it): the connect fails at once instead of timing out."""
    made, backends = nodes
    assert in_ns(made[0].pod, sys.executable, "-c", CONNECT, "10.244.9.2").stdout.strip() == (
        "Network is unreachable"
    )
    backends[1].remove(Lease(made[2].lease, LeaseAttrs(made[2].ext.public_ip, "", None)))
    assert in_ns(made[0].pod, sys.executable, "-c", CONNECT, made[2].pod_ip).stdout.strip() == (
        "Network is unreachable"
    )
    assert in_ns(made[0].pod, "ping", "-c1", "-W2", made[1].pod_ip).returncode == 0


SINK = (
    "import hashlib, socket\n"
    "s = socket.socket(); s.bind(('0.0.0.0', 7000)); s.listen(1); print('ready', flush=True)\n"
    "c, _ = s.accept(); h = hashlib.sha256()\n"
    "while data := c.recv(1 << 16): h.update(data)\n"
    "print(h.hexdigest())\n"
)
SOURCE = "import socket, sys\nsocket.create_connection((sys.argv[1], 7000)).sendall(open(sys.argv[2], 'rb').read())\n"


def test_a_big_tcp_transfer_arrives_whole_through_super_packets(
    nodes: tuple[list[Node], dict[int, UdpBackend]], tmp_path: Path
) -> None:
    """4 MB over TCP: the kernel hands flannel0 super-packets with checksums left partial;
    they cross as datagrams with their headers and the peer's kernel segments and checks
    them. Every byte must arrive (a wrong header or checksum would stall or corrupt it)."""
    made = nodes[0]
    payload = tmp_path / "payload"
    payload.write_bytes(os.urandom(4 << 20))
    argv = ["ip", "netns", "exec", made[1].pod, sys.executable, "-c", SINK]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as sink:
        try:
            assert sink.stdout is not None and sink.stdout.readline().strip() == "ready"
            sent = in_ns(
                made[0].pod, sys.executable, "-c", SOURCE, made[1].pod_ip, str(payload), timeout=30
            )
            assert sent.returncode == 0, sent.stderr
            assert (
                sink.stdout.readline().strip() == hashlib.sha256(payload.read_bytes()).hexdigest()
            )
        finally:
            sink.kill()
