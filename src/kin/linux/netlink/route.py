"""Routes (``ip route``): add, replace, delete and list, IPv4 and IPv6 alike.

Why the defaults look like this: they are iproute2's, so a route added here is
the route ``ip route add`` would have made and ``ip route`` shows it the same
way: protocol ``boot``, type unicast, scope ``link`` for an IPv4 route without
a gateway and ``universe`` otherwise. A delete matches on what is given and
leaves the rest as wildcards (scope ``nowhere``, protocol and type unspecified),
again as ``ip route del`` does. Tables above 255 travel in ``RTA_TABLE``.
"""

from __future__ import annotations

import errno
import socket
import struct

from kin.linux.netlink.addr import parse_cidr
from kin.linux.netlink.codec import attr, attr_u32, parse_attrs, parse_ip
from kin.linux.netlink.link import LinkOps
from kin.linux.netlink.records import RTNH_F_ONLINK, Route
from kin.linux.netlink.transport import NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE

__all__ = [
    "RTPROT_BOOT",
    "RTPROT_STATIC",
    "RT_SCOPE_HOST",
    "RT_SCOPE_LINK",
    "RT_SCOPE_UNIVERSE",
    "RT_TABLE_MAIN",
    "RouteOps",
    "parse_route",
]

RTM_NEWROUTE = 24
RTM_DELROUTE = 25
RTM_GETROUTE = 26

RTA_DST = 1
RTA_OIF = 4
RTA_GATEWAY = 5
RTA_PRIORITY = 6
RTA_PREFSRC = 7
RTA_TABLE = 15

RT_TABLE_UNSPEC = 0
RT_TABLE_MAIN = 254
RTPROT_BOOT = 3
RTPROT_STATIC = 4
RT_SCOPE_UNIVERSE = 0
RT_SCOPE_LINK = 253
RT_SCOPE_HOST = 254
RT_SCOPE_NOWHERE = 255
RTN_UNICAST = 1

# family, dst_len, src_len, tos, table, protocol, scope, type, flags
RTMSG = struct.Struct("=BBBBBBBBI")


class RouteOps(LinkOps):
    """Route operations of ``Netlink``. ``dst`` is a CIDR, a bare address, or ``"default"``."""

    def add_route(
        self,
        dst: str,
        *,
        gateway: str | None = None,
        oif: int | str | None = None,
        onlink: bool = False,
        scope: int | None = None,
        table: int = RT_TABLE_MAIN,
        protocol: int = RTPROT_BOOT,
        src: str | None = None,
        metric: int | None = None,
    ) -> None:
        """``ip route add DST [via GW] [dev OIF] [onlink] [scope] [table] [proto] [src] [metric]``.

        EEXIST if the same route (dst, table, metric) is there already.
        """
        fields = _RouteFields(dst, gateway, oif, onlink, scope, table, protocol, src, metric)
        self._route_change("add", NLM_F_CREATE | NLM_F_EXCL, fields)

    def replace_route(
        self,
        dst: str,
        *,
        gateway: str | None = None,
        oif: int | str | None = None,
        onlink: bool = False,
        scope: int | None = None,
        table: int = RT_TABLE_MAIN,
        protocol: int = RTPROT_BOOT,
        src: str | None = None,
        metric: int | None = None,
    ) -> None:
        """``ip route replace``: as ``add_route``, but an existing route is overwritten."""
        fields = _RouteFields(dst, gateway, oif, onlink, scope, table, protocol, src, metric)
        self._route_change("replace", NLM_F_CREATE | NLM_F_REPLACE, fields)

    def delete_route(
        self,
        dst: str,
        *,
        gateway: str | None = None,
        oif: int | str | None = None,
        table: int = RT_TABLE_MAIN,
        metric: int | None = None,
    ) -> bool:
        """``ip route del``: the first route matching what is given; False if none matches."""
        fields = _RouteFields(dst, gateway, oif, False, RT_SCOPE_NOWHERE, table, 0, None, metric)
        body = self._route_body(fields, deleting=True)
        absent = (errno.ESRCH, errno.ENODEV)
        return self._nl.request(RTM_DELROUTE, 0, body, f"delete route {fields}", absent=absent)

    def list_routes(
        self, family: int = socket.AF_INET, *, table: int | None = RT_TABLE_MAIN
    ) -> list[Route]:
        """Routes of one family (0: IPv4 and IPv6) in ``table`` (None: every table)."""
        replies = self._nl.dump(RTM_GETROUTE, RTMSG.pack(family, *[0] * 8), "list routes")
        routes = [parse_route(reply.body) for reply in replies if reply.kind == RTM_NEWROUTE]
        return [
            route
            for route in routes
            if route.family in (socket.AF_INET, socket.AF_INET6)
            and family in (0, route.family)
            and table in (None, route.table)
        ]

    def _route_change(self, verb: str, flags: int, fields: _RouteFields) -> None:
        body = self._route_body(fields, deleting=False)
        self._nl.request(RTM_NEWROUTE, flags, body, f"{verb} route {fields}")

    def _route_body(self, fields: _RouteFields, deleting: bool) -> bytes:
        family, packed, dst_len = _destination(fields.dst, fields.gateway)
        scope = fields.scope
        if scope is None:
            no_gateway = fields.gateway is None and family == socket.AF_INET
            scope = RT_SCOPE_LINK if no_gateway else RT_SCOPE_UNIVERSE
        header = RTMSG.pack(
            family,
            dst_len,
            0,
            0,
            fields.table if fields.table < 256 else RT_TABLE_UNSPEC,
            fields.protocol,
            scope,
            0 if deleting else RTN_UNICAST,
            RTNH_F_ONLINK if fields.onlink else 0,
        )
        oif = None if fields.oif is None else self.link_index(fields.oif)
        return header + _route_attrs(fields, packed if dst_len else None, oif)


class _RouteFields:
    """What the caller asked for, kept together for encoding and for error messages."""

    __slots__ = ("dst", "gateway", "metric", "oif", "onlink", "protocol", "scope", "src", "table")

    def __init__(
        self,
        dst: str,
        gateway: str | None,
        oif: int | str | None,
        onlink: bool,
        scope: int | None,
        table: int,
        protocol: int,
        src: str | None,
        metric: int | None,
    ) -> None:
        self.dst, self.gateway, self.oif, self.onlink = dst, gateway, oif, onlink
        self.scope, self.table, self.protocol = scope, table, protocol
        self.src, self.metric = src, metric

    def __str__(self) -> str:
        """As ``ip route`` would print it: ``10.0.0.0/8 via 1.2.3.4 dev 'eth0' table 100``."""
        words = [self.dst]
        for label, value in (("via", self.gateway), ("dev", self.oif), ("src", self.src)):
            if value is not None:
                words.append(f"{label} {value!r}" if label == "dev" else f"{label} {value}")
        if self.table != RT_TABLE_MAIN:
            words.append(f"table {self.table}")
        if self.metric is not None:
            words.append(f"metric {self.metric}")
        return " ".join(words)


def _destination(dst: str, gateway: str | None) -> tuple[int, bytes, int]:
    """(family, packed, prefix length) of ``dst``; ``"default"`` takes the gateway's family."""
    if dst != "default":
        return parse_cidr(dst)
    family = parse_ip(gateway)[0] if gateway is not None else socket.AF_INET
    return family, b"", 0


def _route_attrs(fields: _RouteFields, dst: bytes | None, oif: int | None) -> bytes:
    parts = [attr_u32(RTA_TABLE, fields.table)]
    if dst is not None:
        parts.append(attr(RTA_DST, dst))
    if fields.gateway is not None:
        parts.append(attr(RTA_GATEWAY, parse_ip(fields.gateway)[1]))
    if oif is not None:
        parts.append(attr_u32(RTA_OIF, oif))
    if fields.src is not None:
        parts.append(attr(RTA_PREFSRC, parse_ip(fields.src)[1]))
    if fields.metric is not None:
        parts.append(attr_u32(RTA_PRIORITY, fields.metric))
    return b"".join(parts)


def parse_route(body: bytes) -> Route:
    """An ``RTM_NEWROUTE`` body (``rtmsg`` + attributes) -> ``Route``."""
    family, dst_len, _src, _tos, table, protocol, scope, route_type, flags = RTMSG.unpack_from(body)
    attrs = parse_attrs(body, RTMSG.size)
    dst = attrs.ip(RTA_DST) or ("::" if family == socket.AF_INET6 else "0.0.0.0")
    return Route(
        family=family,
        dst=f"{dst}/{dst_len}",
        gateway=attrs.ip(RTA_GATEWAY),
        oif=attrs.u32(RTA_OIF),
        table=attrs.u32(RTA_TABLE) or table,
        protocol=protocol,
        scope=scope,
        route_type=route_type,
        src=attrs.ip(RTA_PREFSRC),
        metric=attrs.u32(RTA_PRIORITY),
        flags=flags,
    )
