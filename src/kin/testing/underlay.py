"""Namespace nodes on a namespace underlay, for flannel's backend tests.

Three (or more) "nodes", each a network namespace with ``eth0`` on a bridge in an
"underlay" namespace (172.31.0.N/24), a ``cni0`` bridge with 10.244.N.1/24 and one
"pod" namespace behind it (10.244.N.2). Nothing is made in the host's namespace.
"""

from __future__ import annotations

import contextlib
import ipaddress
import json
import secrets
import socket
import struct
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kin.flannel.backends import REGISTRY, ExternalInterface
from kin.flannel.netconf import parse
from kin.linux import ns, sysctl
from kin.linux.netlink import Netlink

__all__ = [
    "NETWORK",
    "Node",
    "Packet",
    "attach",
    "captured",
    "forwarded",
    "in_ns",
    "ip_json",
    "source_seen",
    "underlay_nodes",
]

NETWORK = ipaddress.IPv4Network("10.244.0.0/16")


@dataclass
class Node:
    name: str  # the node's network namespace
    pod: str  # its pod's network namespace
    number: int
    nl: Netlink
    ext: ExternalInterface
    underlay: str  # the underlay's namespace: its bridge br0 sees every node's packets

    @property
    def lease(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.244.{self.number}.0/24")

    @property
    def pod_ip(self) -> str:
        return f"10.244.{self.number}.2"

    def backend(self, kind: str = "vxlan", **options: object) -> Any:
        """A backend of ``kind`` for this node, with net-conf.json's defaults."""
        defaults = parse(json.dumps({"Network": str(NETWORK), "Backend": {"Type": kind}}))
        return REGISTRY[kind](self.nl, self.ext, NETWORK, {**defaults.backend.options, **options})


def ip_json(netns: str, *args: str, tool: str = "ip") -> list[Any]:
    out = subprocess.run(
        [tool, "-j", "-n", netns, *args], check=True, capture_output=True, text=True
    )
    return list(json.loads(out.stdout or "[]"))


def in_ns(
    netns: str, *argv: str, timeout: float = 10, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True,
                          timeout=timeout, input=stdin)  # fmt: skip


@contextmanager
def underlay_nodes(make_netns: Callable[[], str], count: int = 3) -> Iterator[list[Node]]:
    """``count`` nodes; ``make_netns`` makes (and later removes) each namespace."""
    made: list[Node] = []
    underlay_ns = make_netns()
    with ns.run_in(ns.netns_path(underlay_ns), Netlink) as underlay:
        underlay.add_bridge("br0")
        underlay.set_link("br0", up=True)
        try:
            made.extend(_node(underlay, underlay_ns, make_netns, n) for n in range(1, count + 1))
            yield made
        finally:
            for node in made:
                node.nl.close()


def _node(underlay: Netlink, underlay_ns: str, make_netns: Callable[[], str], number: int) -> Node:
    node, pod = make_netns(), make_netns()
    nl = ns.run_in(ns.netns_path(node), Netlink)
    underlay.add_veth(f"u{number}", f"n{number}")
    underlay.set_link(f"u{number}", master="br0", up=True)
    _move(underlay, f"n{number}", node, "eth0")
    nl.add_address("eth0", f"172.31.0.{number}/24")
    for link in ("eth0", "lo"):
        nl.set_link(link, up=True)
    nl.add_bridge("cni0")
    nl.add_address("cni0", f"10.244.{number}.1/24")
    nl.set_link("cni0", up=True)
    nl.add_veth(f"veth{number}", "eth0p")
    _move(nl, "eth0p", pod, "eth0")
    nl.set_link(f"veth{number}", master="cni0", up=True)
    ns.run_in(ns.netns_path(node), lambda: sysctl.write("net.ipv4.ip_forward", "1"))
    with ns.run_in(ns.netns_path(pod), Netlink) as pod_nl:
        pod_nl.add_address("eth0", f"10.244.{number}.2/24")
        for link in ("eth0", "lo"):
            pod_nl.set_link(link, up=True)
        pod_nl.add_route("default", gateway=f"10.244.{number}.1")
    address = ipaddress.IPv4Interface(f"172.31.0.{number}/24")
    ext = ExternalInterface("eth0", nl.link_index("eth0"), address, 1500, address.ip)
    return Node(node, pod, number, nl, ext, underlay_ns)


def _move(nl: Netlink, link: str, netns: str, name: str) -> None:
    with open(ns.netns_path(netns)) as target:
        nl.set_link(link, netns_fd=target.fileno(), new_name=name)


@dataclass(frozen=True)
class Packet:
    """One IPv4 packet seen on the underlay; ``inner`` is what a VXLAN packet carries."""

    src: str
    dst: str
    protocol: int  # 1 ICMP, 17 UDP
    dport: int | None
    vni: int | None = None
    inner: Packet | None = None


@contextmanager
def captured(netns: str, interface: str, bpf: str, count: int) -> Iterator[list[Packet]]:
    """Run tcpdump on ``interface`` in ``netns`` while the block runs; afterwards the list
    holds the first ``count`` packets matching ``bpf``, decoded."""
    with tempfile.TemporaryDirectory(prefix="kin-capture-") as directory:
        pcap = Path(directory, "capture.pcap")
        tcpdump_argv = ["tcpdump", "-i", interface, "-n", "-U", "-c", str(count), "-w", str(pcap)]
        argv = ["ip", "netns", "exec", netns, *tcpdump_argv, bpf]
        found: list[Packet] = []
        with subprocess.Popen(argv, stderr=subprocess.PIPE, text=True) as tcpdump:
            try:
                assert tcpdump.stderr is not None
                tcpdump.stderr.readline()  # "listening on ...": the capture is running
                yield found
                tcpdump.wait(timeout=5)
            finally:
                if tcpdump.poll() is None:
                    tcpdump.kill()
        found.extend(_packets(pcap.read_bytes()))


def _packets(data: bytes) -> Iterator[Packet]:
    """Ethernet frames of a little-endian pcap file, decoded down to VXLAN's inner IP."""
    offset = 24
    while offset + 16 <= len(data):
        (length,) = struct.unpack_from("<I", data, offset + 8)
        frame = data[offset + 16 : offset + 16 + length]
        offset += 16 + length
        if len(frame) >= 34 and frame[12:14] == b"\x08\x00":
            yield _ip(frame[14:])


def _ip(packet: bytes) -> Packet:
    header = (packet[0] & 0x0F) * 4
    protocol = packet[9]
    src, dst = (str(ipaddress.IPv4Address(packet[i : i + 4])) for i in (12, 16))
    if protocol != 17:
        return Packet(src, dst, protocol, None)
    (dport,) = struct.unpack_from("!H", packet, header + 2)
    payload = packet[header + 8 :]
    if len(payload) >= 8 + 14 + 20 and payload[0] & 0x08:  # a VXLAN header with a VNI
        vni = int.from_bytes(payload[4:7], "big")
        inner = payload[8 + 14 :] if payload[8 + 12 : 8 + 14] == b"\x08\x00" else b""
        if inner:
            return Packet(src, dst, protocol, dport, vni, _ip(inner))
    elif len(payload) >= 20 and payload[0] >> 4 == 4:  # flannel's udp: a bare IP packet
        return Packet(src, dst, protocol, dport, None, _ip(payload))
    return Packet(src, dst, protocol, dport)


_RECEIVE = (
    "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5);"
    "s.bind(('0.0.0.0', 9999)); print('ready', flush=True); print(s.recvfrom(64)[1][0])"
)
_SEND = (
    "import socket, sys;"
    "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'x', (sys.argv[1], 9999))"
)


def source_seen(sender: str, receiver: str, address: str) -> str:
    """The source address a UDP datagram from namespace ``sender`` to ``address`` (in
    namespace ``receiver``) arrives with: NAT on the way shows here."""
    argv = ["ip", "netns", "exec", receiver, sys.executable, "-c", _RECEIVE]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, text=True) as listener:
        try:
            assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
            sent = in_ns(sender, sys.executable, "-c", _SEND, address)
            assert sent.returncode == 0, sent.stderr
            return listener.stdout.readline().strip()
        finally:
            listener.kill()


def attach(underlay: str, make_netns: Callable[[], str], cidr: str) -> str:
    """A new namespace on the underlay's bridge with ``cidr`` on its eth0: a host outside
    the cluster, for traffic that leaves it."""
    outside = make_netns()
    with ns.run_in(ns.netns_path(underlay), Netlink) as nl:
        port = f"o{secrets.token_hex(3)}"
        nl.add_veth(port, "eth0o")
        nl.set_link(port, master="br0", up=True)
        _move(nl, "eth0o", outside, "eth0")
    with ns.run_in(ns.netns_path(outside), Netlink) as nl:
        nl.add_address("eth0", cidr)
        for link in ("eth0", "lo"):
            nl.set_link(link, up=True)
    return outside


@contextmanager
def forwarded(netns: str, target: tuple[str, int]) -> Iterator[int]:
    """A TCP port on ``netns``'s loopback that leads to ``target`` in the host's namespace
    (an API server on the host's loopback, for a daemon running inside a node); yields
    the port. The listening socket is made inside ``netns``; each connection to the target
    from this process's own namespace. Nothing is added to either namespace's links."""

    def listen() -> socket.socket:
        server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        server.bind(("127.0.0.1", 0))
        server.listen(16)
        return server

    with ns.run_in(ns.netns_path(netns), listen) as server:
        stop = threading.Event()
        thread = threading.Thread(target=_accept, args=(server, target, stop), daemon=True)
        thread.start()
        try:
            yield int(server.getsockname()[1])
        finally:
            stop.set()
            server.shutdown(socket.SHUT_RDWR)
            thread.join(5)


def _accept(server: socket.socket, target: tuple[str, int], stop: threading.Event) -> None:
    while not stop.is_set():
        try:
            inside, _ = server.accept()
        except OSError:
            return
        threading.Thread(target=_relay, args=(inside, target), daemon=True).start()


def _relay(inside: socket.socket, target: tuple[str, int]) -> None:
    with inside, socket.create_connection(target) as outside:
        back = threading.Thread(target=_pump, args=(outside, inside), daemon=True)
        back.start()
        _pump(inside, outside)
        back.join()


def _pump(source: socket.socket, sink: socket.socket) -> None:
    try:
        while data := source.recv(65536):
            sink.sendall(data)
    except OSError:
        pass
    finally:
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
