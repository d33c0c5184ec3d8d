"""Links (``ip link``): query, create veth/bridge/vxlan, change, enslave, delete.

Why these shapes: a link given by name is addressed by ``IFLA_IFNAME`` in the
request itself (ifindex 0), so the kernel resolves it and no extra round trip is
paid; only a rename or a master given by name needs the index first. ENODEV
always surfaces as ``LinkNotFound``. Names are checked as the kernel's
``dev_valid_name`` checks them, but before any system call, so a 16-byte name
fails with a readable ``NetworkSetupError`` rather than EINVAL.
"""

from __future__ import annotations

import errno
import socket
import struct

from kin.errors import NetworkSetupError
from kin.linux.netlink.codec import (
    NLA_F_NESTED,
    Attrs,
    attr,
    attr_be16,
    attr_nested,
    attr_str,
    attr_u8,
    attr_u32,
    parse_attrs,
    parse_ip,
    parse_mac,
)
from kin.linux.netlink.records import IFF_PROMISC, IFF_UP, BridgePort, Link, VxlanInfo
from kin.linux.netlink.transport import NLM_F_CREATE, NLM_F_EXCL, NetlinkSocket

__all__ = ["IFNAMSIZ", "LinkOps", "ifinfomsg", "parse_link", "validate_ifname"]

RTM_NEWLINK = 16
RTM_DELLINK = 17
RTM_GETLINK = 18
RTM_SETLINK = 19

IFLA_ADDRESS = 1
IFLA_IFNAME = 3
IFLA_MTU = 4
IFLA_LINK = 5
IFLA_MASTER = 10
IFLA_PROTINFO = 12
IFLA_OPERSTATE = 16
IFLA_LINKINFO = 18
IFLA_NET_NS_FD = 28
IFLA_EXT_MASK = 29
IFLA_LINK_NETNSID = 37

IFLA_INFO_KIND = 1
IFLA_INFO_DATA = 2
IFLA_INFO_SLAVE_KIND = 4
IFLA_INFO_SLAVE_DATA = 5
VETH_INFO_PEER = 1

IFLA_VXLAN_ID = 1
IFLA_VXLAN_LINK = 3
IFLA_VXLAN_LOCAL = 4
IFLA_VXLAN_LEARNING = 7
IFLA_VXLAN_PORT = 15
IFLA_VXLAN_LOCAL6 = 17
IFLA_VXLAN_GBP = 23

IFLA_BRPORT_STATE = 1
IFLA_BRPORT_MODE = 4  # hairpin

RTEXT_FILTER_SKIP_STATS = 1 << 3
IFNAMSIZ = 16
OPERSTATES = ("UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP")

IFINFOMSG = struct.Struct("=BxHiII")  # family, type, index, flags, change
_QUERY_TAIL = attr_u32(IFLA_EXT_MASK, RTEXT_FILTER_SKIP_STATS)  # 64-bit counters: not wanted


def ifinfomsg(index: int = 0, flags: int = 0, change: int = 0, family: int = 0) -> bytes:
    return IFINFOMSG.pack(family, 0, index, flags, change)


def validate_ifname(name: str) -> str:
    """Return ``name`` if the kernel would accept it as an interface name, else raise."""
    size = len(name.encode())
    if size >= IFNAMSIZ:
        raise NetworkSetupError(
            f"interface name {name!r} is {size} bytes long; Linux allows at most {IFNAMSIZ - 1}"
        )
    if not name or name in (".", "..") or any(c in "/:" or c.isspace() for c in name):
        raise NetworkSetupError(
            f"invalid interface name {name!r}: it must be non-empty, not '.' or '..', "
            "and contain no '/', ':' or whitespace"
        )
    return name


def _select(link: int | str, flags: int = 0, change: int = 0) -> bytes:
    """The ``ifinfomsg`` (plus ``IFLA_IFNAME`` for a name) that addresses an existing link."""
    if isinstance(link, int):
        return ifinfomsg(link, flags, change)
    return ifinfomsg(0, flags, change) + attr_str(IFLA_IFNAME, validate_ifname(link))


def _optional_u32(kind: int, value: int | None) -> bytes:
    return b"" if value is None else attr_u32(kind, value)


def _optional_mac(mac: str | None) -> bytes:
    return b"" if mac is None else attr(IFLA_ADDRESS, parse_mac(mac))


class LinkOps:
    """Link operations of ``Netlink``; the other families build on ``link_index``."""

    _nl: NetlinkSocket

    def get_link(self, link: int | str) -> Link:
        """The link with this index or name; ``LinkNotFound`` if there is none."""
        reply = self._nl.get(RTM_GETLINK, _select(link) + _QUERY_TAIL, f"get link {link!r}")
        return parse_link(reply.body)

    def link_index(self, link: int | str) -> int:
        """``link`` itself if it is an index, else the index of the link so named."""
        return link if isinstance(link, int) else self.get_link(link).index

    def list_links(self) -> list[Link]:
        replies = self._nl.dump(RTM_GETLINK, ifinfomsg() + _QUERY_TAIL, "list links")
        return [parse_link(reply.body) for reply in replies if reply.kind == RTM_NEWLINK]

    def add_veth(
        self,
        name: str,
        peer_name: str,
        peer_netns_fd: int | None = None,
        mtu: int | None = None,
        mac: str | None = None,
    ) -> None:
        """``ip link add NAME [address MAC] [mtu MTU] type veth peer name PEER [netns FD]``.

        ``mtu`` applies to both ends; ``mac`` to ``name`` only. ``EEXIST`` if either exists.
        """
        peer = (
            ifinfomsg()
            + attr_str(IFLA_IFNAME, validate_ifname(peer_name))
            + _optional_u32(IFLA_MTU, mtu)
            + _optional_u32(IFLA_NET_NS_FD, peer_netns_fd)
        )
        data = attr_nested(IFLA_INFO_DATA, attr(VETH_INFO_PEER, peer))
        what = f"add veth {name!r} with peer {peer_name!r}"
        self._create(name, "veth", data, mtu, mac, what)

    def add_bridge(self, name: str, mtu: int | None = None, mac: str | None = None) -> None:
        """``ip link add NAME type bridge``; ``EEXIST`` if the name is taken."""
        self._create(name, "bridge", b"", mtu, mac, f"add bridge {name!r}")

    def add_vxlan(
        self,
        name: str,
        vni: int,
        local: str,
        dev_index: int,
        port: int = 8472,
        learning: bool = False,
        mtu: int | None = None,
        mac: str | None = None,
        gbp: bool = False,
    ) -> None:
        """``ip link add NAME [address MAC] type vxlan id VNI local LOCAL dev DEV dstport PORT
        [no]learning [gbp]``.

        8472 is the Linux (and flannel) default port, not IANA's 4789. flannel gives the
        MAC at creation, so that nothing (systemd-networkd's MACAddressPolicy) rewrites it.
        """
        family, packed = parse_ip(local)
        data = attr_nested(
            IFLA_INFO_DATA,
            attr_u32(IFLA_VXLAN_ID, vni),
            attr(IFLA_VXLAN_LOCAL6 if family == socket.AF_INET6 else IFLA_VXLAN_LOCAL, packed),
            attr_u32(IFLA_VXLAN_LINK, dev_index),
            attr_be16(IFLA_VXLAN_PORT, port),
            attr_u8(IFLA_VXLAN_LEARNING, int(learning)),
            attr(IFLA_VXLAN_GBP, b"") if gbp else b"",
        )
        self._create(name, "vxlan", data, mtu, mac, f"add vxlan {name!r} (vni {vni})")

    def _create(
        self, name: str, kind: str, data: bytes, mtu: int | None, mac: str | None, what: str
    ) -> None:
        body = (
            ifinfomsg()
            + attr_str(IFLA_IFNAME, validate_ifname(name))
            + _optional_u32(IFLA_MTU, mtu)
            + _optional_mac(mac)
            + attr_nested(IFLA_LINKINFO, attr_str(IFLA_INFO_KIND, kind), data)
        )
        self._nl.request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body, what)

    def set_link(
        self,
        link: int | str,
        *,
        up: bool | None = None,
        master: int | str | None = None,
        nomaster: bool = False,
        mtu: int | None = None,
        mac: str | None = None,
        netns_fd: int | None = None,
        new_name: str | None = None,
        promisc: bool | None = None,
    ) -> None:
        """Change a link in one request, as ``ip link set`` does; unset arguments stay as they are.

        The kernel moves it to ``netns_fd`` first and applies the rest there. A link
        must be down to be renamed (EBUSY otherwise).
        """
        flags, change = _flag_change({IFF_UP: up, IFF_PROMISC: promisc})
        if new_name is None:
            body = _select(link, flags, change)
        else:
            rename = attr_str(IFLA_IFNAME, validate_ifname(new_name))
            body = ifinfomsg(self.link_index(link), flags, change) + rename
        if master is not None or nomaster:
            body += attr_u32(IFLA_MASTER, 0 if master is None else self.link_index(master))
        body += _optional_u32(IFLA_MTU, mtu) + _optional_mac(mac)
        body += _optional_u32(IFLA_NET_NS_FD, netns_fd)
        described = _describe(up=up, master=master, nomaster=nomaster or None, mtu=mtu, mac=mac,
                              netns_fd=netns_fd, new_name=new_name, promisc=promisc)  # fmt: skip
        self._nl.request(RTM_NEWLINK, 0, body, f"set link {link!r} ({described})")

    def set_hairpin(self, link: int | str, on: bool) -> None:
        """``bridge link set dev LINK hairpin on|off``: the link must be a bridge port."""
        protinfo = attr_nested(IFLA_PROTINFO | NLA_F_NESTED, attr_u8(IFLA_BRPORT_MODE, int(on)))
        body = ifinfomsg(self.link_index(link), family=socket.AF_BRIDGE) + protinfo
        what = f"set hairpin {'on' if on else 'off'} on bridge port {link!r}"
        self._nl.request(RTM_SETLINK, 0, body, what)

    def delete_link(self, link: int | str) -> bool:
        """``ip link del``; False (and no error) if there is no such link."""
        what = f"delete link {link!r}"
        return self._nl.request(RTM_DELLINK, 0, _select(link), what, absent=(errno.ENODEV,))


def _flag_change(settings: dict[int, bool | None]) -> tuple[int, int]:
    """``ifinfomsg`` (flags, change mask) setting or clearing each flag not left at None."""
    flags = change = 0
    for flag, on in settings.items():
        if on is not None:
            change |= flag
            flags |= flag if on else 0
    return flags, change


def _describe(**changes: object) -> str:
    return ", ".join(f"{key}={value!r}" for key, value in changes.items() if value is not None)


def parse_link(body: bytes) -> Link:
    """An ``RTM_NEWLINK`` body (``ifinfomsg`` + attributes) -> ``Link``."""
    _family, _type, index, flags, _change = IFINFOMSG.unpack_from(body)
    attrs = parse_attrs(body, IFINFOMSG.size)
    info = attrs.nested(IFLA_LINKINFO)
    kind = info.string(IFLA_INFO_KIND)
    operstate = attrs.u8(IFLA_OPERSTATE) or 0
    return Link(
        index=index,
        name=attrs.string(IFLA_IFNAME) or "",
        kind=kind,
        mtu=attrs.u32(IFLA_MTU) or 0,
        mac=attrs.mac(IFLA_ADDRESS),
        master=attrs.u32(IFLA_MASTER),
        flags=flags,
        operstate=OPERSTATES[operstate] if operstate < len(OPERSTATES) else str(operstate),
        peer_index=attrs.u32(IFLA_LINK),
        link_netnsid=attrs.s32(IFLA_LINK_NETNSID),
        vxlan=_parse_vxlan(info.nested(IFLA_INFO_DATA)) if kind == "vxlan" else None,
        bridge_port=_parse_bridge_port(info),
    )


def _parse_vxlan(data: Attrs) -> VxlanInfo:
    return VxlanInfo(
        vni=data.u32(IFLA_VXLAN_ID) or 0,
        local=data.ip(IFLA_VXLAN_LOCAL) or data.ip(IFLA_VXLAN_LOCAL6),
        port=data.be16(IFLA_VXLAN_PORT) or 0,
        learning=bool(data.u8(IFLA_VXLAN_LEARNING)),
        dev_index=data.u32(IFLA_VXLAN_LINK),
    )


def _parse_bridge_port(info: Attrs) -> BridgePort | None:
    if info.string(IFLA_INFO_SLAVE_KIND) != "bridge":
        return None
    data = info.nested(IFLA_INFO_SLAVE_DATA)
    return BridgePort(hairpin=bool(data.u8(IFLA_BRPORT_MODE)), state=data.u8(IFLA_BRPORT_STATE))
