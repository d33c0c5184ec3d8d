"""Neighbour (ARP/NDP) and bridge/VXLAN forwarding-database entries.

Why both here: the kernel keeps them in one message family (``RTM_*NEIGH`` with
an ``ndmsg``); FDB entries are the ``AF_BRIDGE`` ones. flannel's VXLAN backend
needs exactly these: a permanent neighbour per remote VTEP
(``ip neigh replace IP lladdr MAC dev flannel.1 nud permanent``) and an FDB
entry sending that MAC to the remote host
(``bridge fdb append MAC dev flannel.1 dst HOST self permanent``; ``NTF_SELF``
makes the VXLAN device, not a bridge above it, own the entry).
"""

from __future__ import annotations

import errno
import socket
import struct

from kin.errors import LinkNotFound
from kin.linux.netlink.codec import attr, parse_attrs, parse_ip, parse_mac
from kin.linux.netlink.link import LinkOps
from kin.linux.netlink.records import NUD_PERMANENT, FdbEntry, Neighbour
from kin.linux.netlink.transport import NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE

__all__ = ["NeighbourOps", "parse_fdb_entry", "parse_neighbour"]

RTM_NEWNEIGH = 28
RTM_DELNEIGH = 29
RTM_GETNEIGH = 30

NDA_DST = 1
NDA_LLADDR = 2
NDA_VNI = 7
NDA_MASTER = 9

NTF_SELF = 0x02

NDMSG = struct.Struct("=BxxxiHBB")  # family, ifindex, state, flags, type


class NeighbourOps(LinkOps):
    """Neighbour and FDB operations of ``Netlink``."""

    def add_neighbour(self, link: int | str, address: str, lladdr: str) -> None:
        """``ip neigh add ADDRESS lladdr LLADDR dev LINK nud permanent``; EEXIST if present."""
        self._neighbour("add", NLM_F_CREATE | NLM_F_EXCL, link, address, lladdr)

    def replace_neighbour(self, link: int | str, address: str, lladdr: str) -> None:
        """``ip neigh replace ADDRESS lladdr LLADDR dev LINK nud permanent``."""
        self._neighbour("replace", NLM_F_CREATE | NLM_F_REPLACE, link, address, lladdr)

    def delete_neighbour(self, link: int | str, address: str) -> bool:
        """``ip neigh del ADDRESS dev LINK``; False if there is no such entry (or link)."""
        family, packed = parse_ip(address)
        what = f"delete neighbour {address} on {link!r}"
        return self._delete_entry(link, family, attr(NDA_DST, packed), 0, what)

    def list_neighbours(self, link: int | str | None = None, family: int = 0) -> list[Neighbour]:
        """ARP and NDP entries (not FDB entries) of ``link`` (None: all links)."""
        index = None if link is None else self.link_index(link)
        replies = self._nl.dump(RTM_GETNEIGH, NDMSG.pack(family, 0, 0, 0, 0), "list neighbours")
        found = [parse_neighbour(reply.body) for reply in replies if reply.kind == RTM_NEWNEIGH]
        return [
            entry
            for entry in found
            if entry.family in (socket.AF_INET, socket.AF_INET6)
            and family in (0, entry.family)
            and index in (None, entry.index)
        ]

    def append_fdb(self, link: int | str, mac: str, dst: str) -> None:
        """``bridge fdb append MAC dev LINK dst DST self permanent`` (another dst for MAC)."""
        self._fdb("append", NLM_F_CREATE | NLM_F_APPEND, link, mac, dst)

    def replace_fdb(self, link: int | str, mac: str, dst: str) -> None:
        """``bridge fdb replace MAC dev LINK dst DST self permanent`` (flannel's choice)."""
        self._fdb("replace", NLM_F_CREATE | NLM_F_REPLACE, link, mac, dst)

    def delete_fdb(self, link: int | str, mac: str, dst: str | None = None) -> bool:
        """``bridge fdb del MAC dev LINK [dst DST] self``; False if there is no such entry."""
        attrs = attr(NDA_LLADDR, parse_mac(mac))
        if dst is not None:
            attrs += attr(NDA_DST, parse_ip(dst)[1])
        what = f"delete fdb entry {mac}{'' if dst is None else f' dst {dst}'} on {link!r}"
        return self._delete_entry(link, socket.AF_BRIDGE, attrs, NTF_SELF, what)

    def list_fdb(self, link: int | str | None = None) -> list[FdbEntry]:
        """FDB entries of ``link`` (None: all), as ``bridge fdb show`` lists them."""
        index = None if link is None else self.link_index(link)
        request = NDMSG.pack(socket.AF_BRIDGE, 0, 0, 0, 0)
        replies = self._nl.dump(RTM_GETNEIGH, request, "list fdb entries")
        found = [parse_fdb_entry(reply.body) for reply in replies if reply.kind == RTM_NEWNEIGH]
        return [entry for entry in found if index in (None, entry.index)]

    def _neighbour(self, verb: str, flags: int, link: int | str, address: str, lladdr: str) -> None:
        family, packed = parse_ip(address)
        body = NDMSG.pack(family, self.link_index(link), NUD_PERMANENT, 0, 0)
        body += attr(NDA_DST, packed) + attr(NDA_LLADDR, parse_mac(lladdr))
        what = f"{verb} neighbour {address} lladdr {lladdr} on {link!r}"
        self._nl.request(RTM_NEWNEIGH, flags, body, what)

    def _fdb(self, verb: str, flags: int, link: int | str, mac: str, dst: str) -> None:
        body = NDMSG.pack(socket.AF_BRIDGE, self.link_index(link), NUD_PERMANENT, NTF_SELF, 0)
        body += attr(NDA_LLADDR, parse_mac(mac)) + attr(NDA_DST, parse_ip(dst)[1])
        what = f"{verb} fdb entry {mac} dst {dst} on {link!r}"
        self._nl.request(RTM_NEWNEIGH, flags, body, what)

    def _delete_entry(
        self, link: int | str, family: int, attrs: bytes, flags: int, what: str
    ) -> bool:
        try:
            index = self.link_index(link)
        except LinkNotFound:
            return False
        body = NDMSG.pack(family, index, 0, flags, 0) + attrs
        absent = (errno.ENOENT, errno.ENODEV)
        return self._nl.request(RTM_DELNEIGH, 0, body, what, absent=absent)


def parse_neighbour(body: bytes) -> Neighbour:
    """An ``RTM_NEWNEIGH`` body (``ndmsg`` + attributes) -> ``Neighbour``."""
    family, index, state, flags, _type = NDMSG.unpack_from(body)
    attrs = parse_attrs(body, NDMSG.size)
    return Neighbour(
        index=index,
        family=family,
        address=attrs.ip(NDA_DST) or "",
        lladdr=attrs.mac(NDA_LLADDR),
        state=state,
        flags=flags,
    )


def parse_fdb_entry(body: bytes) -> FdbEntry:
    """An ``AF_BRIDGE`` ``RTM_NEWNEIGH`` body -> ``FdbEntry``."""
    _family, index, state, flags, _type = NDMSG.unpack_from(body)
    attrs = parse_attrs(body, NDMSG.size)
    return FdbEntry(
        index=index,
        mac=attrs.mac(NDA_LLADDR) or "",
        dst=attrs.ip(NDA_DST),
        state=state,
        flags=flags,
        master=attrs.u32(NDA_MASTER),
        vni=attrs.u32(NDA_VNI),
    )
