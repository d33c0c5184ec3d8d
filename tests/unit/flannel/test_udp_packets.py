"""The udp backend's packet surgery, checked against checksums computed from scratch: a
TCP super-packet cut in two at a segment boundary, a partial checksum finished, a TTL
decremented."""

from __future__ import annotations

import ipaddress
import struct

from kin.flannel.backends.udp import (
    NEEDS_CSUM,
    VNET,
    _checksum,
    _decrement_ttl,
    _finish_checksum,
    _split,
)

SOURCE, DESTINATION = ipaddress.IPv4Address("10.244.1.2"), ipaddress.IPv4Address("10.244.2.2")
ACK, PSH, FIN, CWR = 0x10, 0x08, 0x01, 0x80


def pseudo(tcp_length: int) -> bytes:
    return SOURCE.packed + DESTINATION.packed + struct.pack("!HH", 6, tcp_length)


def packet(payload: bytes, flags: int, partial: bool) -> bytearray:
    tcp = (
        bytearray(struct.pack("!HHIIBBHHH", 40000, 5201, 1000, 7, 5 << 4, flags, 512, 0, 0))
        + payload
    )
    if partial:  # what the kernel leaves: the pseudo-header's sum, not complemented
        struct.pack_into("!H", tcp, 16, ~_checksum(pseudo(len(tcp))) & 0xFFFF)
    else:
        struct.pack_into("!H", tcp, 16, _checksum(pseudo(len(tcp)) + tcp))
    ip = bytearray(struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 100, 0x4000, 64, 6, 0,
                               SOURCE.packed, DESTINATION.packed))  # fmt: skip
    ip[10:12] = _checksum(ip).to_bytes(2, "big")
    return ip + tcp


def vnet(flags: int, gso_type: int, gso_size: int) -> bytes:
    return struct.pack("<BBHHHH", flags, gso_type, 40, gso_size, 20, 16)


def valid_tcp(part: bytes) -> bool:
    tcp = part[20:]
    return _checksum(pseudo(len(tcp)) + tcp) == 0 and _checksum(part[:20]) == 0


def test_a_super_packet_is_cut_at_a_segment_boundary_with_headers_made_right() -> None:
    payload = bytes(range(256)) * 13 + b"x" * 172  # 3,500 bytes: 4 segments of 1,000
    frame = bytearray(vnet(NEEDS_CSUM, 1, 1000)) + packet(
        payload, ACK | PSH | FIN | CWR, partial=True
    )
    first, second = _split(frame)
    assert first[:VNET] == second[:VNET] == frame[:VNET]
    a, b = first[VNET:], second[VNET:]
    assert (len(a[40:]), len(b[40:])) == (2000, 1500) and a[40:] + b[40:] == payload
    assert struct.unpack_from("!H", a, 2)[0] == len(a) and struct.unpack_from("!H", b, 2)[0] == len(
        b
    )
    assert struct.unpack_from("!I", b, 24)[0] == 1000 + 2000  # sequence number
    assert struct.unpack_from("!H", b, 4)[0] == 100 + 2  # IP ID: two segments later
    assert (a[33] & (FIN | PSH), a[33] & CWR, b[33] & (FIN | PSH), b[33] & CWR) == (
        0,
        CWR,
        FIN | PSH,
        0,
    )
    for part in (bytearray(first), bytearray(second)):  # finish each as the kernel would
        _finish_checksum(part, len(part))
        assert valid_tcp(bytes(part[VNET:]))


def test_a_finished_checksum_is_the_checksum_and_the_header_is_cleared() -> None:
    frame = bytearray(vnet(NEEDS_CSUM, 0, 0)) + packet(b"payload" * 200, ACK, partial=True)
    _finish_checksum(frame, len(frame))
    assert frame[:VNET] == bytes(VNET) and valid_tcp(bytes(frame[VNET:]))


def test_ttl_goes_down_with_the_checksum_kept_right_and_a_last_hop_is_dropped() -> None:
    ip = packet(b"", ACK, partial=False)
    assert _decrement_ttl(ip) and ip[8] == 63 and _checksum(ip[:20]) == 0
    ip[8] = 1
    assert not _decrement_ttl(ip)
