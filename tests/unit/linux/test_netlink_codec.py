"""The netlink wire format and request loop, without a kernel.

Kernel answers come from bytes captured on this platform (Linux 6.18) with
kin.linux.netlink itself in a throwaway namespace, replayed through a fake
socket that renumbers them to the request's sequence number.
"""

from __future__ import annotations

import base64
import errno
import socket
import struct
import subprocess
import sys
import zlib
from collections.abc import Callable
from types import ModuleType
from typing import cast

import pytest

import kin.linux.netlink as netlink
from kin.errors import LinkNotFound, NetlinkError, NetworkSetupError
from kin.linux.netlink import Address, BridgePort, Link, Netlink, VxlanInfo
from kin.linux.netlink.addr import broadcast_of, parse_address, parse_cidr
from kin.linux.netlink.codec import (
    NLA_F_NESTED,
    NLMSG_HDR,
    Attrs,
    attr,
    attr_be16,
    attr_nested,
    attr_s32,
    attr_str,
    attr_u8,
    attr_u32,
    format_mac,
    message,
    parse_attrs,
    parse_ip,
    parse_mac,
    parse_messages,
)
from kin.linux.netlink.link import IFINFOMSG, parse_link, validate_ifname
from kin.linux.netlink.route import RTMSG
from kin.linux.netlink.transport import (
    NLM_F_ACK_TLVS,
    NLM_F_DUMP_INTR,
    parse_done,
    parse_error,
)

NLMSG_ERROR, NLMSG_DONE = 2, 3
RTM_NEWLINK, RTM_NEWROUTE = 16, 24

# RTM_GETLINK dump of a namespace holding lo, veth v0/v1 (v0 a hairpin port of
# bridge br0) and vxlan vx0 (vni 7, local 10.0.0.1, dev v1): zlib + base64.
LINK_DUMP = zlib.decompress(
    base64.b64decode(
        "eNrtmL9PU1EUx899fa8tbbHl928K8kOhRIsSB1REKXFx0M1RoY2YEDBEGwYTOzJgdHAkhpnZP8A4MTgwODg4ORji"
        "4GSiWz333u97vL6W8qNFg+lN6Pe89+477/Secz7cvjsmUYwMChNRooU/yPQJ/gySHgHy0eKyPK6nXR+RpWZLbVDX"
        "LZohPZ8dsRWkS+p8kC5Du6C90OvQOO47T/m81BHcPwm9AZ2GXqXf+QDrNcy/BT99yo9F/fA3gPMXoUmlfkpBZxH3"
        "OaUhdRfBNhz7I7XR/zLSnMWTHhFK8Jrq9avjVV5aXn4i7feik9b5/JprnUlltPCPXOodosy1UiPGqZW1WspPUoS4"
        "JrS3Zo5Y1tLX24JSb/U9P/EdpnGHN848j82onivt3GQd5e4Jko+7b8heKv5+D77vH6v04Y1beGKmMuuT+3Gl7HU1"
        "TPtZ+nneec0l6sMCAQbpzIHrbdJUzqSbuXQRS4RaTSO2x5LseHmWEFjyxSLFkhRYont+f5YYVWKJAZYQWCI8LBEH"
        "sOTby+j8zoxmST6vs1tjyfFZEqNG5omgbObpgs6BpXqt2ow56jgOYxZeFDNG1nk5xqger5AxokTcp5Ux21YxY3xe"
        "xiSrwxgBxogTYEyQCWFWyBoDCamxpjqsWRSFrAlzhuZWHqcfZYjuCovnCeTC4CzKHPlQWyb2oBZy5IcGoN1Ovet5"
        "ddAuaC80hHkRxFZPOR1bOMI9Ytt+ipLIyThiiKcBx43w0wQ/zdAezIvjuA86AB2E9hfUmMW1rjWBeFpc69bqsttc"
        "Pd2BOh4iGW6QhlHPI9BRsjlunFKOb07VOF4px3dLcNx0cVz21txK8lC/O4+6V6z2786K+B2u8bta/N5gfod5XW1m"
        "rwuDr8dccxtcdqPLbnJs2e+6ngzaRh3uBHSdJZ9pbul8MuNze4z3M8m0r7CL2SEXsyPwX486OAONoh6ameEf4OOC"
        "0rjr/UWQxjG/FXXXBm13uKvV5mun+uaqD2JSu7Hv6EEfJaBjyk+E+yTtrEecXmdsu4825m27nz4lbfusw7UI1/5E"
        "hDz/S4agwyfyTuBvcP7NWo3zlXJ+ogTnLQ/ns6vJQ+3Xt/4x5w96vzi9D+f9r2Yz70ZrnK8W53eZ3XJds6uLD5f4"
        "+DOfl/0bcO3JZb3wblrs7cm7PXvzHoeTdp4L9+zhgr24VcTtDtwXpDEhtQ51EKX+dnl9v714i8NxrXadhhzG/tLv"
        "BPOnkZmp58XM3Kox80jMlJXiK2Am0R9ss00T"
    )
)
# RTM_GETADDR dump of br0 (index 4) holding 10.244.1.1/24, then NLMSG_DONE.
ADDRESS_DUMP = bytes.fromhex(
    "54000000140022000d0000002b1500000218800004000000080001000af40101080002000af4010108000400"
    "0af401ff0800030062723000080008008000000014000600ffffffffffffffffe2470100e247010014000000"
    "030022000d0000002b15000000000000"
)
# NLMSG_ERROR (ERANGE, capped, with extended ack) answering ``add_vxlan`` with vni 2**25.
VNI_ERROR = bytes.fromhex(
    "58000000020000030e0000002b150000deffffff64000000100005060e000000000000002900010056584c41"
    "4e204944206d757374206265206c6f776572207468616e20313637373732313600000000080002003c000000"
)


class FakeKernel:
    """Stands in for the NETLINK_ROUTE socket: records requests, answers via ``respond``."""

    def __init__(self, respond: Callable[[int, int], list[bytes]]) -> None:
        self.respond = respond  # (message type, seq) -> datagrams
        self.sent: list[bytes] = []
        self.queue: list[bytes] = []
        self.closes = 0

    def send(self, data: bytes) -> int:
        self.sent.append(data)
        (request,) = parse_messages(data)
        self.queue.extend(self.respond(request.kind, request.seq))
        return len(data)

    def recv_into(self, buffer: bytearray, nbytes: int = 0, flags: int = 0) -> int:
        datagram = self.queue.pop(0)
        buffer[: len(datagram)] = datagram
        return len(datagram)

    def close(self) -> None:
        self.closes += 1


def fake_netlink(respond: Callable[[int, int], list[bytes]]) -> tuple[Netlink, FakeKernel]:
    kernel = FakeKernel(respond)
    return Netlink(cast(socket.socket, kernel)), kernel


def ack(seq: int, code: int = 0) -> bytes:
    """An NLMSG_ERROR (capped, no extended ack) answering ``seq`` with errno ``code``."""
    echoed = NLMSG_HDR.pack(NLMSG_HDR.size, 0, 0, seq, 0)
    return message(NLMSG_ERROR, 0x100, seq, struct.pack("=i", -code) + echoed)


def acking(kind: int, seq: int) -> list[bytes]:
    return [ack(seq)]


def renumber(datagram: bytes, seq: int) -> bytes:
    """``datagram`` with every message's sequence number set to ``seq``."""
    out = bytearray(datagram)
    offset = 0
    while offset < len(out):
        length = struct.unpack_from("=I", out, offset)[0]
        struct.pack_into("=I", out, offset + 8, seq)
        offset += (length + 3) & ~3
    return bytes(out)


def sent_attrs(data: bytes, header_size: int) -> Attrs:
    (request,) = parse_messages(data)
    return parse_attrs(request.body, header_size)


# --- attributes and messages ---------------------------------------------------------------


@pytest.mark.parametrize("size", range(6))
def test_attr_is_padded_to_four_bytes(size: int) -> None:
    encoded = attr(7, b"x" * size)
    assert len(encoded) == (4 + size + 3) // 4 * 4
    assert struct.unpack_from("=HH", encoded) == (4 + size, 7)
    assert encoded[4 + size :] == b"\0" * (len(encoded) - 4 - size)


def test_typed_attributes_round_trip() -> None:
    data = (
        attr_u8(1, 200)
        + attr_u32(2, 0xDEADBEEF)
        + attr_s32(3, -5)
        + attr_be16(4, 8472)
        + attr_str(5, "eth0")
    )
    attrs = parse_attrs(data)
    assert attrs.u8(1) == 200
    assert attrs.u32(2) == 0xDEADBEEF
    assert attrs.s32(3) == -5
    assert attrs.be16(4) == 8472 and attrs[4] == b"\x21\x18"
    assert attrs.string(5) == "eth0" and attrs[5] == b"eth0\0"
    assert attrs.u32(99) is None and attrs.string(99) is None and attrs.nested(99) == {}


def test_nested_attributes_round_trip_with_the_flag_masked() -> None:
    inner = attr_nested(2, attr_u32(1, 7), attr_str(3, "a"))
    data = attr_nested(18 | NLA_F_NESTED, attr_str(1, "vxlan"), inner) + attr_u32(4, 1500)
    attrs = parse_attrs(data)
    assert sorted(attrs) == [4, 18]
    linkinfo = attrs.nested(18)
    assert linkinfo.string(1) == "vxlan"
    assert linkinfo.nested(2).u32(1) == 7 and linkinfo.nested(2).string(3) == "a"


def test_messages_round_trip_back_to_back() -> None:
    data = message(16, 0x2, 41, b"\1\2\3\4\5") + message(3, 0x2, 41, struct.pack("=i", 0))
    first, second = parse_messages(data)
    assert (first.kind, first.flags, first.seq, first.body) == (16, 0x2, 41, b"\1\2\3\4\5")
    assert (second.kind, second.body) == (3, b"\0\0\0\0")


@pytest.mark.parametrize(
    "parse",
    [
        lambda: list(parse_messages(NLMSG_HDR.pack(40, 16, 0, 1, 0) + b"\0" * 8)),
        lambda: list(parse_messages(NLMSG_HDR.pack(8, 16, 0, 1, 0))),
        lambda: parse_attrs(struct.pack("=HH", 12, 1) + b"\0\0\0\0"),
        lambda: parse_attrs(struct.pack("=HH", 2, 1)),
    ],
    ids=["message-overruns", "message-too-short", "attr-overruns", "attr-too-short"],
)
def test_malformed_data_raises_netlink_error(parse: Callable[[], object]) -> None:
    with pytest.raises(NetlinkError, match="malformed") as caught:
        parse()
    assert caught.value.errno == errno.EBADMSG


# --- addresses, names -----------------------------------------------------------------------


def test_ip_and_mac_codecs() -> None:
    assert parse_ip("10.0.0.1") == (socket.AF_INET, b"\n\0\0\1")
    assert parse_ip("fd00::1")[0] == socket.AF_INET6
    assert parse_mac("02:00:0A:ff:00:01") == b"\x02\x00\x0a\xff\x00\x01"
    assert format_mac(b"\x02\x00\x0a\xff\x00\x01") == "02:00:0a:ff:00:01"


@pytest.mark.parametrize("text", ["10.0.0", "10.0.0.256", "fd00:::1", "", "eth0"])
def test_bad_ip_is_a_network_setup_error(text: str) -> None:
    with pytest.raises(NetworkSetupError, match="invalid IP address"):
        parse_ip(text)


@pytest.mark.parametrize("text", ["02:00:00:00:00", "02-00-00-00-00-01", "0g:00:00:00:00:01"])
def test_bad_mac_is_a_network_setup_error(text: str) -> None:
    with pytest.raises(NetworkSetupError, match="invalid MAC address"):
        parse_mac(text)


@pytest.mark.parametrize("name", ["eth0", "a", "x" * 15, "flannel.1", "veth-é12345678"])
def test_valid_interface_names(name: str) -> None:
    assert validate_ifname(name) == name


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("x" * 16, "is 16 bytes long; Linux allows at most 15"),
        ("é" * 8, "is 16 bytes long"),
        ("", "non-empty"),
        (".", "non-empty"),
        ("a/b", "'/'"),
        ("a:b", "':'"),
        ("a b", "whitespace"),
    ],
)
def test_invalid_interface_names(name: str, problem: str) -> None:
    with pytest.raises(NetworkSetupError, match=problem):
        validate_ifname(name)


@pytest.mark.parametrize(
    ("cidr", "parsed", "broadcast"),
    [
        ("10.244.1.1/24", (socket.AF_INET, "0af40101", 24), "0af401ff"),
        ("10.244.1.1/16", (socket.AF_INET, "0af40101", 16), "0af4ffff"),
        ("10.0.0.0/31", (socket.AF_INET, "0a000000", 31), None),
        ("10.0.0.7", (socket.AF_INET, "0a000007", 32), None),
        ("fd00::1/64", (socket.AF_INET6, "fd00" + "0" * 27 + "1", 64), None),
    ],
)
def test_cidr_and_broadcast(cidr: str, parsed: tuple[int, str, int], broadcast: str | None) -> None:
    family, packed, prefixlen = parse_cidr(cidr)
    assert (family, packed.hex(), prefixlen) == parsed
    computed = broadcast_of(packed, prefixlen)
    assert (computed.hex() if computed else None) == broadcast


@pytest.mark.parametrize("cidr", ["10.0.0.1/33", "10.0.0.1/x", "fd00::/129", "10.0.0.1/"])
def test_bad_prefix_length(cidr: str) -> None:
    with pytest.raises(NetworkSetupError, match="invalid prefix length"):
        parse_cidr(cidr)


# --- kernel answers -------------------------------------------------------------------------


def test_parse_error_variants() -> None:
    (ack_message,) = parse_messages(ack(5))
    assert parse_error(ack_message.body, ack_message.flags) == (0, None)
    uncapped = struct.pack("=i", -errno.EEXIST) + NLMSG_HDR.pack(20, 16, 5, 5, 0) + b"\0" * 4
    assert parse_error(uncapped, 0) == (errno.EEXIST, None)
    (captured,) = parse_messages(VNI_ERROR)
    assert captured.flags & NLM_F_ACK_TLVS
    assert parse_error(captured.body, captured.flags) == (
        errno.ERANGE,
        "VXLAN ID must be lower than 16777216",
    )
    done = struct.pack("=i", -errno.EINVAL) + attr_str(1, "bad filter")
    assert parse_done(done, NLM_F_ACK_TLVS) == (errno.EINVAL, "bad filter")
    assert parse_done(b"", 0) == (0, None)


def test_captured_link_dump_parses() -> None:
    replies = list(parse_messages(LINK_DUMP))
    assert replies[-1].kind == NLMSG_DONE
    links = {link.name: link for link in (parse_link(r.body) for r in replies[:-1])}
    assert list(links) == ["lo", "v1", "v0", "br0", "vx0"]
    lo, v1, v0, br0, vx0 = links.values()
    assert (lo.kind, lo.mtu, lo.up, lo.operstate) == (None, 65536, False, "DOWN")
    assert (v0.kind, v0.peer_index, v1.peer_index) == ("veth", v1.index, v0.index)
    assert v0.mac == "02:00:00:00:00:01" and v0.master == br0.index
    assert v0.bridge_port == BridgePort(hairpin=True, state=0)
    assert br0.kind == "bridge" and br0.bridge_port is None and br0.mac == "02:00:00:00:00:0b"
    assert vx0.vxlan == VxlanInfo(
        vni=7, local="10.0.0.1", port=8472, learning=False, dev_index=v1.index
    )
    assert vx0.mtu == 1450 and vx0.link_netnsid is None


def test_list_links_replays_a_dump() -> None:
    nl, kernel = fake_netlink(lambda kind, seq: [renumber(LINK_DUMP, seq)])
    links = nl.list_links()
    assert [link.name for link in links] == ["lo", "v1", "v0", "br0", "vx0"]
    (request,) = parse_messages(kernel.sent[0])
    assert request.flags == 0x301  # NLM_F_REQUEST | NLM_F_DUMP


def test_list_addresses_asks_the_kernel_to_filter_by_link() -> None:
    nl, kernel = fake_netlink(lambda kind, seq: [renumber(ADDRESS_DUMP, seq)])
    assert nl.list_addresses(4) == [
        Address(
            index=4,
            family=socket.AF_INET,
            address="10.244.1.1",
            prefixlen=24,
            scope=0,
            flags=0x80,
            broadcast="10.244.1.255",
            label="br0",
        )
    ]
    (request,) = parse_messages(kernel.sent[0])
    assert struct.unpack_from("=BBBBi", request.body)[4] == 4
    assert nl.list_addresses(5) == []  # filtered here too, whatever the kernel sent
    assert parse_address(next(parse_messages(ADDRESS_DUMP)).body).cidr == "10.244.1.1/24"


def test_extended_ack_is_part_of_the_error() -> None:
    nl, _ = fake_netlink(lambda kind, seq: [renumber(VNI_ERROR, seq)])
    with pytest.raises(NetlinkError) as caught:
        nl.add_vxlan("vx1", 1 << 25, "10.0.0.1", 1)
    assert str(caught.value) == (
        "failed to add vxlan 'vx1' (vni 33554432): Numerical result out of range "
        "(VXLAN ID must be lower than 16777216)"
    )
    assert caught.value.errno == errno.ERANGE and type(caught.value) is NetlinkError


def test_enodev_is_link_not_found_and_eexist_keeps_its_errno() -> None:
    nl, _ = fake_netlink(lambda kind, seq: [ack(seq, errno.ENODEV)])
    with pytest.raises(LinkNotFound, match=r"failed to get link 'eth9': No such device"):
        nl.get_link("eth9")
    assert nl.delete_link("eth9") is False
    nl, _ = fake_netlink(lambda kind, seq: [ack(seq, errno.EEXIST)])
    with pytest.raises(NetlinkError, match="failed to add bridge 'cni0': File exists") as caught:
        nl.add_bridge("cni0")
    assert caught.value.errno == errno.EEXIST


def test_answers_to_other_requests_are_skipped() -> None:
    nl, _ = fake_netlink(lambda kind, seq: [ack(seq - 1, errno.EPERM) + ack(seq)])
    nl.set_link("eth0", up=True)


def test_an_interrupted_dump_is_repeated() -> None:
    def respond(kind: int, seq: int) -> list[bytes]:
        flags = 0x2 | (NLM_F_DUMP_INTR if seq == 1 else 0)
        body = RTMSG.pack(socket.AF_INET, 8, 0, 0, 254, 3, 0, 1, 0) + attr(1, b"\x0a\0\0\0")
        return [message(RTM_NEWROUTE, flags, seq, body) + message(NLMSG_DONE, flags, seq, b"")]

    nl, kernel = fake_netlink(respond)
    (route,) = nl.list_routes()
    assert route.dst == "10.0.0.0/8" and len(kernel.sent) == 2


def test_a_bad_name_fails_before_any_request() -> None:
    nl, kernel = fake_netlink(acking)
    with pytest.raises(NetworkSetupError, match="'abcdefghijklmnop' is 16 bytes long"):
        nl.add_veth("abcdefghijklmnop", "peer0")
    with pytest.raises(NetworkSetupError, match="is 16 bytes long"):
        nl.add_veth("eth0", "p" * 16)
    with pytest.raises(NetworkSetupError, match="is 16 bytes long"):
        nl.set_link("eth0", new_name="n" * 16)
    assert kernel.sent == []


# --- what requests look like ----------------------------------------------------------------


def test_add_vxlan_request() -> None:
    nl, kernel = fake_netlink(acking)
    nl.add_vxlan("flannel.1", 1, "172.18.0.2", 3, mtu=1450)
    (request,) = parse_messages(kernel.sent[0])
    assert request.flags == 0x605  # REQUEST | ACK | CREATE | EXCL
    attrs = parse_attrs(request.body, IFINFOMSG.size)
    info = attrs.nested(18)
    data = info.nested(2)
    assert attrs.string(3) == "flannel.1" and attrs.u32(4) == 1450 and info.string(1) == "vxlan"
    assert (data.u32(1), data[4], data.u32(3), data[15], data.u8(7)) == (
        1,
        b"\xac\x12\x00\x02",
        3,
        b"\x21\x18",
        0,
    )


def test_set_link_request() -> None:
    nl, kernel = fake_netlink(acking)
    nl.set_link(7, up=True, promisc=False, master=4, mtu=1400, mac="02:00:00:00:00:01")
    (request,) = parse_messages(kernel.sent[0])
    _family, _type, index, flags, change = IFINFOMSG.unpack_from(request.body)
    assert (index, flags, change) == (7, 0x1, 0x101)
    attrs = parse_attrs(request.body, IFINFOMSG.size)
    assert (attrs.u32(10), attrs.u32(4), attrs.mac(1)) == (4, 1400, "02:00:00:00:00:01")
    nl.set_link("eth0", nomaster=True)
    attrs = sent_attrs(kernel.sent[1], IFINFOMSG.size)
    assert attrs.string(3) == "eth0" and attrs.u32(10) == 0


def test_set_hairpin_request_uses_nested_protinfo() -> None:
    nl, kernel = fake_netlink(acking)
    nl.set_hairpin(3, True)
    (request,) = parse_messages(kernel.sent[0])
    assert request.kind == 19 and IFINFOMSG.unpack_from(request.body)[:3] == (7, 0, 3)
    raw_type = struct.unpack_from("=H", request.body, IFINFOMSG.size + 2)[0]
    assert raw_type == 12 | NLA_F_NESTED
    assert parse_attrs(request.body, IFINFOMSG.size).nested(12).u8(4) == 1


@pytest.mark.parametrize(
    ("call", "header", "attrs"),
    [
        (  # no gateway: scope link, like ip route add
            lambda nl: nl.add_route("10.1.0.0/16", oif=5),
            (2, 16, 254, 3, 253, 1, 0),
            {15: 254, 1: "0a010000", 4: 5},
        ),
        (  # default via a gateway, a table above 255: RTA_TABLE only
            lambda nl: nl.add_route("default", gateway="10.0.0.1", table=1000, metric=9),
            (2, 0, 0, 3, 0, 1, 0),
            {15: 1000, 5: "0a000001", 6: 9},
        ),
        (
            lambda nl: nl.add_route("10.2.0.0/24", gateway="172.18.0.3", oif=2, onlink=True),
            (2, 24, 254, 3, 0, 1, 4),
            {15: 254, 1: "0a020000", 5: "ac120003", 4: 2},
        ),
        (  # delete: wildcards for scope, protocol and type
            lambda nl: nl.delete_route("fd00::/64"),
            (10, 64, 254, 0, 255, 0, 0),
            {15: 254, 1: "fd00" + "0" * 28},
        ),
    ],
)
def test_route_requests(
    call: Callable[[Netlink], object],
    header: tuple[int, ...],
    attrs: dict[int, int | str],
) -> None:
    nl, kernel = fake_netlink(acking)
    call(nl)
    (request,) = parse_messages(kernel.sent[0])
    family, dst_len, _src, _tos, table, protocol, scope, kind, flags = RTMSG.unpack_from(
        request.body
    )
    assert (family, dst_len, table, protocol, scope, kind, flags) == header
    sent = parse_attrs(request.body, RTMSG.size)
    decoded = {k: sent.u32(k) if isinstance(v, int) else sent[k].hex() for k, v in attrs.items()}
    assert decoded == attrs and set(sent) == set(attrs)


def test_fdb_append_request() -> None:
    nl, kernel = fake_netlink(acking)
    nl.append_fdb(6, "00:00:00:00:00:00", "192.168.1.1")
    (request,) = parse_messages(kernel.sent[0])
    assert request.flags & 0xF00 == 0xC00  # NLM_F_CREATE | NLM_F_APPEND
    family, index, state, flags, _type = struct.unpack_from("=BxxxiHBB", request.body)
    assert (family, index, state, flags) == (socket.AF_BRIDGE, 6, 0x80, 0x02)
    sent = parse_attrs(request.body, 12)
    assert (sent[2], sent[1]) == (b"\0" * 6, b"\xc0\xa8\x01\x01")


# --- lifetime and surface -------------------------------------------------------------------


def test_close_is_idempotent_and_use_after_close_fails() -> None:
    nl, kernel = fake_netlink(acking)
    with nl:
        pass
    nl.close()
    assert nl.closed and kernel.closes == 1
    with pytest.raises(NetlinkError, match="socket is closed") as caught:
        nl.add_bridge("br0")
    assert caught.value.errno == errno.EBADF


def test_public_names_are_exactly_all() -> None:
    public = {
        name
        for name, value in vars(netlink).items()
        if not name.startswith("_") and not isinstance(value, ModuleType)
    }
    assert public == set(netlink.__all__)
    assert netlink.__all__ == sorted(netlink.__all__)


def test_import_stays_light() -> None:
    """No module costing milliseconds (dataclasses ~10 ms, typing ~7 ms here) is pulled in."""
    heavy = ["asyncio", "ctypes", "dataclasses", "inspect", "ipaddress", "pyroute2", "typing"]
    code = f"import sys, kin.linux.netlink; print([m for m in {heavy!r} if m in sys.modules])"
    output = subprocess.run(
        [sys.executable, "-I", "-c", code], check=True, capture_output=True, text=True
    )
    assert output.stdout.strip() == "[]"


def test_records_compare_by_value() -> None:
    link = Link(index=1, name="lo")
    assert link == Link(index=1, name="lo") and link != Link(index=2, name="lo")
    assert repr(link).startswith("Link(bridge_port=None, flags=0, index=1")
    assert RTM_NEWLINK == 16
