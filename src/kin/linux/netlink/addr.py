"""Addresses (``ip addr``): add, replace, delete and list, IPv4 and IPv6 alike.

Why the broadcast default: the reference CNI plugins add addresses through
vishvananda/netlink, which fills in the IPv4 broadcast address the way
``ip addr add ... brd +`` does (host bits set, not for /31 and /32); kin's
plugins should leave the same kernel state, so ``broadcast=True`` does that.
Addresses are written as CIDR strings (``"10.244.1.1/24"``), as ``ip`` takes them.
"""

from __future__ import annotations

import errno
import struct

from kin.errors import LinkNotFound, NetworkSetupError
from kin.linux.netlink.codec import attr, parse_attrs, parse_ip
from kin.linux.netlink.link import LinkOps
from kin.linux.netlink.records import Address
from kin.linux.netlink.transport import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE

__all__ = ["AddressOps", "broadcast_of", "parse_address", "parse_cidr"]

RTM_NEWADDR = 20
RTM_DELADDR = 21
RTM_GETADDR = 22

IFA_ADDRESS = 1
IFA_LOCAL = 2
IFA_LABEL = 3
IFA_BROADCAST = 4
IFA_FLAGS = 8

IFADDRMSG = struct.Struct("=BBBBi")  # family, prefixlen, flags, scope, index


def parse_cidr(cidr: str) -> tuple[int, bytes, int]:
    """``"10.0.0.1/24"`` -> (family, packed address, prefix length); no ``/`` means a host."""
    address, slash, length = cidr.partition("/")
    family, packed = parse_ip(address)
    bits = len(packed) * 8
    if not slash:
        return family, packed, bits
    if not length.isdigit() or int(length) > bits:
        raise NetworkSetupError(f"invalid prefix length in {cidr!r}: expected 0..{bits}")
    return family, packed, int(length)


def broadcast_of(packed: bytes, prefixlen: int) -> bytes | None:
    """The IPv4 broadcast address ``ip addr add ... brd +`` computes; None if there is none."""
    if len(packed) != 4 or prefixlen >= 31:
        return None
    host_bits = (1 << (32 - prefixlen)) - 1
    return (int.from_bytes(packed, "big") | host_bits).to_bytes(4, "big")


class AddressOps(LinkOps):
    """Address operations of ``Netlink``."""

    def add_address(self, link: int | str, cidr: str, *, broadcast: bool | str = True) -> None:
        """``ip addr add CIDR [brd +|BRD] dev LINK``; EEXIST if already there.

        ``broadcast``: True computes it (IPv4 below /31), a string sets it, False omits it.
        """
        self._change_address("add", NLM_F_CREATE | NLM_F_EXCL, link, cidr, broadcast)

    def replace_address(self, link: int | str, cidr: str, *, broadcast: bool | str = True) -> None:
        """``ip addr replace``: add, or update the flags of, an address already there."""
        self._change_address("replace", NLM_F_CREATE | NLM_F_REPLACE, link, cidr, broadcast)

    def delete_address(self, link: int | str, cidr: str) -> bool:
        """``ip addr del CIDR dev LINK``; False if the address (or the link) is not there."""
        try:
            index = self.link_index(link)
        except LinkNotFound:
            return False
        body = _address_body(index, cidr, broadcast=False)
        what = f"delete address {cidr} from {link!r}"
        absent = (errno.EADDRNOTAVAIL, errno.ENODEV)
        return self._nl.request(RTM_DELADDR, 0, body, what, absent=absent)

    def list_addresses(self, link: int | str | None = None, family: int = 0) -> list[Address]:
        """Addresses of ``link`` (all links if None), of one family or (0) all."""
        index = 0 if link is None else self.link_index(link)
        request = IFADDRMSG.pack(family, 0, 0, 0, index)  # the kernel filters on these
        replies = self._nl.dump(RTM_GETADDR, request, "list addresses")
        found = [parse_address(reply.body) for reply in replies if reply.kind == RTM_NEWADDR]
        return [a for a in found if index in (0, a.index) and family in (0, a.family)]

    def _change_address(
        self, verb: str, flags: int, link: int | str, cidr: str, broadcast: bool | str
    ) -> None:
        body = _address_body(self.link_index(link), cidr, broadcast)
        self._nl.request(RTM_NEWADDR, flags, body, f"{verb} address {cidr} on {link!r}")


def _address_body(index: int, cidr: str, broadcast: bool | str) -> bytes:
    family, packed, prefixlen = parse_cidr(cidr)
    body = IFADDRMSG.pack(family, prefixlen, 0, 0, index)
    body += attr(IFA_LOCAL, packed) + attr(IFA_ADDRESS, packed)
    brd = parse_ip(broadcast)[1] if isinstance(broadcast, str) else None
    if broadcast is True:
        brd = broadcast_of(packed, prefixlen)
    return body if brd is None else body + attr(IFA_BROADCAST, brd)


def parse_address(body: bytes) -> Address:
    """An ``RTM_NEWADDR`` body (``ifaddrmsg`` + attributes) -> ``Address``."""
    family, prefixlen, flags, scope, index = IFADDRMSG.unpack_from(body)
    attrs = parse_attrs(body, IFADDRMSG.size)
    return Address(
        index=index,
        family=family,
        address=attrs.ip(IFA_LOCAL) or attrs.ip(IFA_ADDRESS) or "",
        prefixlen=prefixlen,
        scope=scope,
        flags=attrs.u32(IFA_FLAGS) or flags,
        broadcast=attrs.ip(IFA_BROADCAST),
        label=attrs.string(IFA_LABEL),
    )
