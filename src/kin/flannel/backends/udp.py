"""The udp backend: TUN ``flannel0`` and userspace encapsulation on UDP 8285.

As Flannel's (a debugging backend there, the slowest path here too, and the one whose
every packet passes through flanneld): ``flannel0`` gets ``<lease>.0/32`` and a route for
the whole pod network, MTU = the interface's − 28 (IP 20 + UDP 8); a packet the kernel
routes into it is read, its TTL decremented (checksum patched as RFC 1624 does) and sent
whole, with no header of ours, as the payload of a UDP datagram to the public IP of the
node whose subnet holds its destination; datagrams arriving on the node's own port are
written back into the TUN the same way. A destination no peer holds gets ICMP "network
unreachable" back (from the pod network's own address; see ``_unreachable``). All nodes
must use the same port.

Peers are a dict from subnet to address, swapped whole on every change, so the two
forwarding threads read it without a lock. Flannel's udp backend publishes no backend type
(its lease attributes leave it empty): so does this one, and it treats peers with an
empty type, or "udp", as its own.
"""

from __future__ import annotations

import contextlib
import fcntl
import ipaddress
import logging
import os
import socket
import struct
import threading
from collections.abc import Sequence
from typing import Any

from kin.errors import KinError, NetworkSetupError
from kin.flannel.backends.base import ExternalInterface
from kin.flannel.lease import Lease, LeaseAttrs
from kin.linux.netlink import Netlink

__all__ = ["UdpBackend"]

log = logging.getLogger(__name__)

DEVICE = "flannel0"
OVERHEAD = 28
TUNSETIFF = 0x400454CA
IFF_TUN, IFF_NO_PI = 0x0001, 0x1000
MAX_PACKET = 65535


class UdpBackend:
    type = "udp"

    def __init__(
        self,
        nl: Netlink,
        ext: ExternalInterface,
        network: ipaddress.IPv4Network,
        options: dict[str, Any],
        mac: str | None = None,
    ) -> None:
        self.nl, self.ext, self.network = nl, ext, network
        self.port: int = options["Port"]
        self.mtu = ext.mtu - OVERHEAD
        self.lease: ipaddress.IPv4Network | None = None
        self._routes: dict[ipaddress.IPv4Network, tuple[str, int]] = {}
        self._table: Table = []
        self._tun: int | None = None
        self._sock: socket.socket | None = None
        self._threads: list[threading.Thread] = []
        self._stopping = False

    def prepare(self) -> LeaseAttrs:
        """Open the TUN device (made here, in this process's namespace) and the socket."""
        try:
            self._tun = _open_tun(DEVICE)
            self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            self._sock.bind((str(self.ext.address.ip), self.port))
        except OSError as exc:
            self.close()
            raise NetworkSetupError(
                f"udp backend: cannot open {DEVICE} or UDP port {self.port}: {exc}"
            ) from exc
        return LeaseAttrs(self.ext.public_ip, "", None)  # Flannel's: no backend type

    def configure(self, lease: ipaddress.IPv4Network) -> int:
        self.lease = lease
        try:
            self.nl.set_link(DEVICE, mtu=self.mtu)
            self.nl.replace_address(DEVICE, f"{lease.network_address}/32", broadcast=False)
            self.nl.set_link(DEVICE, up=True)
            self.nl.replace_route(str(self.network), oif=DEVICE)
        except KinError as exc:
            raise NetworkSetupError(f"failed to give {DEVICE} the lease {lease}: {exc}") from exc
        self._start()
        return self.mtu

    @property
    def routes(self) -> dict[ipaddress.IPv4Network, tuple[str, int]]:
        return self._routes

    @routes.setter
    def routes(self, routes: dict[ipaddress.IPv4Network, tuple[str, int]]) -> None:
        self._routes, self._table = routes, _table(routes)  # each swapped whole

    def add(self, peer: Lease) -> None:
        if self._ours(peer):
            routes = dict(self.routes)
            routes[peer.subnet] = (str(peer.attrs.public_ip), self.port)
            self.routes = routes

    def remove(self, peer: Lease) -> None:
        if peer.subnet in self.routes:
            routes = dict(self.routes)
            del routes[peer.subnet]
            self.routes = routes

    def reconcile(self, peers: Sequence[Lease]) -> None:
        self.routes = {
            p.subnet: (str(p.attrs.public_ip), self.port) for p in peers if self._ours(p)
        }

    def close(self) -> None:
        """Stop forwarding (tests; a daemon forwards until it exits) and remove the
        device, which wakes the thread blocked reading it."""
        self._stopping = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
            self._sock.close()
        if self._tun is not None:
            with contextlib.suppress(KinError):
                self.nl.delete_link(DEVICE)
            for thread in self._threads:
                thread.join(2)
            os.close(self._tun)
        self._tun, self._sock, self._threads = None, None, []

    def _ours(self, peer: Lease) -> bool:
        return peer.attrs.backend_type in ("", self.type) and peer.subnet != self.lease

    # -- the data path ----------------------------------------------------------------------

    def _start(self) -> None:
        if self._threads:
            return
        for target in (self._tun_to_udp, self._udp_to_tun):
            thread = threading.Thread(
                target=target, name=f"kin-flannel-{target.__name__}", daemon=True
            )
            thread.start()
            self._threads.append(thread)

    def _tun_to_udp(self) -> None:
        tun, sock = self._tun, self._sock
        assert tun is not None and sock is not None
        buffer = bytearray(MAX_PACKET)
        view = memoryview(buffer)
        while not self._stopping:
            try:
                size = os.readv(tun, [buffer])
            except OSError:
                return
            if size < 20 or buffer[0] >> 4 != 4 or not _decrement_ttl(buffer):
                continue
            peer = _lookup(self._table, int.from_bytes(buffer[16:20], "big"))
            try:
                if peer is None:
                    _unreachable(tun, buffer[:size], self.network.network_address)
                else:
                    sock.sendto(view[:size], peer)
            except OSError:
                continue

    def _udp_to_tun(self) -> None:
        tun, sock = self._tun, self._sock
        assert tun is not None and sock is not None
        buffer = bytearray(MAX_PACKET)
        view = memoryview(buffer)
        while not self._stopping:
            try:
                size = sock.recv_into(buffer)
            except OSError:
                return
            if size >= 20 and buffer[0] >> 4 == 4 and _decrement_ttl(buffer):
                try:
                    os.write(tun, view[:size])
                except OSError:
                    continue


Table = list[tuple[int, dict[int, tuple[str, int]]]]


def _table(routes: dict[ipaddress.IPv4Network, tuple[str, int]]) -> Table:
    """Routes as one dict per prefix length, longest first: a destination is found with a
    mask and a dict lookup per length (one, in practice) instead of a scan of every peer."""
    by_length: dict[int, dict[int, tuple[str, int]]] = {}
    for network, peer in routes.items():
        by_length.setdefault(network.prefixlen, {})[int(network.network_address)] = peer
    return sorted(((0xFFFFFFFF << (32 - n)) & 0xFFFFFFFF, t) for n, t in by_length.items())[::-1]


def _lookup(table: Table, destination: int) -> tuple[str, int] | None:
    for mask, peers in table:
        peer = peers.get(destination & mask)
        if peer is not None:
            return peer
    return None


def _open_tun(name: str) -> int:
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), IFF_TUN | IFF_NO_PI))
    except OSError:
        os.close(fd)
        raise
    return fd


def _decrement_ttl(packet: bytearray) -> bool:
    """TTL − 1 with the header checksum patched (RFC 1624); False when it reaches 0."""
    if packet[8] <= 1:
        return False
    packet[8] -= 1
    checksum = (packet[10] << 8 | packet[11]) + 0x0100  # the TTL is the high byte of word 4
    checksum = (checksum & 0xFFFF) + (checksum >> 16)
    packet[10], packet[11] = checksum >> 8, checksum & 0xFF
    return True


def _unreachable(tun: int, packet: bytearray, source_address: ipaddress.IPv4Address) -> None:
    """ICMP destination unreachable (net) back into the TUN; never for ICMP itself or a
    fragment after the first. Flannel sends it from flannel0's own address, which the
    kernel drops as a martian (a local source arriving on an interface), so nobody sees
    it; kin sends it from the pod network's address, which is no node's."""
    fragment_offset = (packet[6] & 0x1F) << 8 | packet[7]
    if packet[9] == 1 or fragment_offset:
        return
    header = (packet[0] & 0x0F) * 4
    quoted = bytes(packet[: header + 8])
    icmp = bytearray(struct.pack("!BBHI", 3, 0, 0, 0) + quoted)
    icmp[2:4] = _checksum(icmp).to_bytes(2, "big")
    source = source_address.packed
    ip = bytearray(
        struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(icmp), 0, 0, 8, 1, 0, source, packet[12:16])
    )
    ip[10:12] = _checksum(ip).to_bytes(2, "big")
    os.write(tun, bytes(ip + icmp))


def _checksum(data: bytes | bytearray) -> int:
    if len(data) % 2:
        data = bytes(data) + b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)
