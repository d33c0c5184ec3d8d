"""The udp backend: TUN ``flannel0`` and userspace encapsulation on UDP 8285.

As Flannel's (a debugging backend there, the slowest path here too, and the one whose
every packet passes through flanneld): ``flannel0`` gets ``<lease>.0/32`` and a route for
the whole pod network, MTU = the interface's − 28 (IP 20 + UDP 8); a packet the kernel
routes into it is read, its TTL decremented (checksum patched as RFC 1624 does) and sent
as the payload of a UDP datagram to the public IP of the node whose subnet holds its
destination; datagrams arriving on the node's own port are written back into the TUN the
same way. A destination no peer holds gets ICMP "network unreachable" back (from the pod
network's own address; see ``_unreachable``). All nodes must use the same port.

Unlike Flannel's proxy, it lets the kernel do the per-packet work: the TUN has virtio-net
headers and TCP segmentation offload, so a read is often a TCP super-packet, sent in one
datagram with its header for the peer's kernel to segment (see ``_tun_to_udp``). Plain
packets travel bare, in Flannel's wire format.

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
TUNSETIFF, TUNSETOFFLOAD = 0x400454CA, 0x400454D0
IFF_TUN, IFF_NO_PI, IFF_VNET_HDR = 0x0001, 0x1000, 0x4000
TUN_F_CSUM, TUN_F_TSO4, TUN_F_TSO_ECN = 0x01, 0x02, 0x08
VNET = 10  # virtio_net_hdr: flags, gso_type, hdr_len, gso_size, csum_start, csum_offset (LE)
NO_VNET = bytes(VNET)
NEEDS_CSUM = 0x01  # virtio_net_hdr flags: the checksum is left to finish
MAX_DATAGRAM = 65507  # the most a UDP datagram over IPv4 carries
MAX_PACKET = 65535 + VNET
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0  # <linux/in.h>; Python 3.11's socket lacks them


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
            self._sock.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
            for option in (socket.SO_RCVBUF, socket.SO_SNDBUF):
                self._sock.setsockopt(socket.SOL_SOCKET, option, 4 << 20)
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
        """A read is a virtio-net header and a packet, which with TSO is often a TCP
        super-packet (up to 64 KB): one read and one send for dozens of segments. What
        has nothing left for the kernel to do goes bare, Flannel's wire format; what has
        (a checksum to finish, segments to cut) goes with its header, and the peer's
        kernel does it. The underlay fragments big datagrams and reassembles them."""
        tun, sock = self._tun, self._sock
        assert tun is not None and sock is not None
        buffer = bytearray(MAX_PACKET)
        view = memoryview(buffer)
        bare_limit = self.mtu  # a bare packet or a header with one must fit the underlay
        while not self._stopping:
            try:
                size = os.readv(tun, [buffer])
            except OSError:
                return
            packet = view[VNET:size]
            if len(packet) < 20 or packet[0] >> 4 != 4:
                continue
            peer = _lookup(self._table, int.from_bytes(packet[16:20], "big"))
            try:
                if peer is None:  # quoting the packet as it came, as Flannel's proxy does
                    _unreachable(tun, bytearray(packet), self.network.network_address)
                    continue
                if not _decrement_ttl(packet):
                    continue
                if buffer[1] == 0:  # not a super-packet: bare unless a checksum is left
                    partial = buffer[0] & NEEDS_CSUM  # (DATA_VALID, also set, needs nothing)
                    if partial and size > bare_limit:
                        _finish_checksum(buffer, size)  # would not fit with its header
                        partial = 0
                    sock.sendto(view[:size] if partial else view[VNET:size], peer)
                elif size <= MAX_DATAGRAM:
                    sock.sendto(view[:size], peer)
                else:
                    for part in _split(buffer[:size]):
                        sock.sendto(part, peer)
            except OSError:
                continue

    def _udp_to_tun(self) -> None:
        """A bare packet (from Flannel, or a plain one from kin) gets an empty header; a
        header and packet is written as it came."""
        tun, sock = self._tun, self._sock
        assert tun is not None and sock is not None
        buffer = bytearray(MAX_PACKET + VNET)
        view = memoryview(buffer)
        while not self._stopping:
            try:
                size = sock.recv_into(view[VNET:])
            except OSError:
                return
            if size >= 20 and buffer[VNET] >> 4 == 4:
                buffer[:VNET] = NO_VNET
                frame, packet = view[: VNET + size], view[VNET : VNET + size]
            else:
                frame, packet = view[VNET : VNET + size], view[2 * VNET : VNET + size]
            if len(packet) >= 20 and packet[0] >> 4 == 4 and _decrement_ttl(packet):
                try:
                    os.write(tun, frame)
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
    """The TUN device with virtio-net headers and TCP segmentation offload, so that the
    kernel hands over (and takes) TCP super-packets with checksums left to finish."""
    fd = os.open("/dev/net/tun", os.O_RDWR | os.O_CLOEXEC)
    try:
        flags = IFF_TUN | IFF_NO_PI | IFF_VNET_HDR
        fcntl.ioctl(fd, TUNSETIFF, struct.pack("16sH22x", name.encode(), flags))
        fcntl.ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO_ECN)
    except OSError:
        os.close(fd)
        raise
    return fd


def _split(frame: bytearray) -> list[bytes]:
    """A TCP super-packet too big for one datagram, as two, cut at a segment boundary:
    lengths, sequence number, IP ID and the partial checksum's pseudo-header adjusted;
    FIN and PSH kept for the second part, CWR for the first."""
    header, packet = frame[:VNET], frame[VNET:]
    ip_length = (packet[0] & 0x0F) * 4
    tcp_length = (packet[ip_length + 12] >> 4) * 4
    heads, payload = ip_length + tcp_length, packet[ip_length + tcp_length :]
    mss = struct.unpack_from("<H", header, 4)[0] or 1
    segments = -(-len(payload) // mss)
    cut = (segments // 2) * mss
    sequence = struct.unpack_from("!I", packet, ip_length + 4)[0]
    identity = struct.unpack_from("!H", packet, 4)[0]
    parts = []
    for number, (data, offset) in enumerate(((payload[:cut], 0), (payload[cut:], cut))):
        part = bytearray(packet[:heads]) + data
        struct.pack_into("!H", part, 2, len(part))
        struct.pack_into("!H", part, 4, (identity + number * (cut // mss)) & 0xFFFF)
        struct.pack_into("!I", part, ip_length + 4, (sequence + offset) & 0xFFFFFFFF)
        flags = ip_length + 13
        part[flags] &= ~0x09 if number == 0 else ~0x80  # FIN, PSH last; CWR first
        part[10:12] = b"\0\0"
        part[10:12] = _checksum(part[:ip_length]).to_bytes(2, "big")
        if header[0] & NEEDS_CSUM:  # the partial checksum: the pseudo-header's sum
            pseudo = part[12:20] + struct.pack("!HH", 6, len(part) - ip_length)
            struct.pack_into("!H", part, ip_length + 16, ~_checksum(pseudo) & 0xFFFF)
        parts.append(bytes(header) + bytes(part))
    return parts


def _finish_checksum(frame: bytearray, size: int) -> None:
    """Compute the checksum the kernel left partial (the field holds the pseudo-header's
    sum; the checksum covers it and everything after ``csum_start``) for a packet too big
    to travel with its header, and clear the header so that it goes bare."""
    start, offset = struct.unpack_from("<HH", frame, 6)
    packet = memoryview(frame)[VNET:size]
    struct.pack_into("!H", packet, start + offset, _checksum(packet[start:]))
    frame[:VNET] = NO_VNET


def _decrement_ttl(packet: bytearray | memoryview) -> bool:
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
    os.write(tun, NO_VNET + bytes(ip + icmp))


def _checksum(data: bytes | bytearray | memoryview) -> int:
    if len(data) % 2:
        data = bytes(data) + b"\0"
    total = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return int(~total & 0xFFFF)
