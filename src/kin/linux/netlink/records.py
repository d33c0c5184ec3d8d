"""What the kernel reports about links, addresses, routes, neighbours and FDB entries.

Why not ``dataclasses``: importing it (it pulls in ``inspect``) costs ~10 ms on
our machines, twice the whole budget of this package, and every CNI plugin call
would pay it. These are small value classes instead: keyword-only ``__init__``,
equality and ``repr`` from ``__slots__``. Addresses are strings (``"10.0.0.1"``,
``"aa:bb:cc:dd:ee:ff"``), as ``ip -j`` prints them; families are ``socket.AF_*``.
"""

from __future__ import annotations

__all__ = ["Address", "BridgePort", "FdbEntry", "Link", "Neighbour", "Route", "VxlanInfo"]

IFF_UP = 0x1
IFF_PROMISC = 0x100
NUD_PERMANENT = 0x80
RTNH_F_ONLINK = 0x4


class _Record:
    """Equality and ``repr`` over ``__slots__``, like a (non-frozen) dataclass."""

    __slots__: tuple[str, ...] = ()

    def _values(self) -> tuple[object, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        assert isinstance(other, _Record)
        return self._values() == other._values()

    def __repr__(self) -> str:
        fields = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{type(self).__name__}({fields})"


class VxlanInfo(_Record):
    """``IFLA_INFO_DATA`` of a VXLAN link; ``dev_index`` is the underlay link (0/None if unset)."""

    __slots__ = ("dev_index", "learning", "local", "port", "vni")

    def __init__(
        self, *, vni: int, local: str | None, port: int, learning: bool, dev_index: int | None
    ) -> None:
        self.vni = vni
        self.local = local
        self.port = port
        self.learning = learning
        self.dev_index = dev_index


class BridgePort(_Record):
    """A link enslaved to a bridge (``IFLA_INFO_SLAVE_DATA``); ``state`` is the STP state."""

    __slots__ = ("hairpin", "state")

    def __init__(self, *, hairpin: bool, state: int | None) -> None:
        self.hairpin = hairpin
        self.state = state


class Link(_Record):
    """A network interface as ``RTM_GETLINK`` reports it.

    ``peer_index`` is ``IFLA_LINK``: for a veth, the peer's index, in the
    namespace ``link_netnsid`` names (None: this namespace). ``kind`` is None for
    links without ``IFLA_INFO_KIND`` such as ``lo``.
    """

    __slots__ = (
        "bridge_port",
        "flags",
        "index",
        "kind",
        "link_netnsid",
        "mac",
        "master",
        "mtu",
        "name",
        "operstate",
        "peer_index",
        "vxlan",
    )

    def __init__(
        self,
        *,
        index: int,
        name: str,
        kind: str | None = None,
        mtu: int = 0,
        mac: str | None = None,
        master: int | None = None,
        flags: int = 0,
        operstate: str = "UNKNOWN",
        peer_index: int | None = None,
        link_netnsid: int | None = None,
        vxlan: VxlanInfo | None = None,
        bridge_port: BridgePort | None = None,
    ) -> None:
        self.index = index
        self.name = name
        self.kind = kind
        self.mtu = mtu
        self.mac = mac
        self.master = master
        self.flags = flags
        self.operstate = operstate
        self.peer_index = peer_index
        self.link_netnsid = link_netnsid
        self.vxlan = vxlan
        self.bridge_port = bridge_port

    @property
    def up(self) -> bool:
        """Administratively up (``IFF_UP``); ``operstate`` says whether it carries traffic."""
        return bool(self.flags & IFF_UP)

    @property
    def promisc(self) -> bool:
        return bool(self.flags & IFF_PROMISC)


class Address(_Record):
    """An address on a link: ``address``/``prefixlen`` (``cidr`` joins them)."""

    __slots__ = ("address", "broadcast", "family", "flags", "index", "label", "prefixlen", "scope")

    def __init__(
        self,
        *,
        index: int,
        family: int,
        address: str,
        prefixlen: int,
        scope: int = 0,
        flags: int = 0,
        broadcast: str | None = None,
        label: str | None = None,
    ) -> None:
        self.index = index
        self.family = family
        self.address = address
        self.prefixlen = prefixlen
        self.scope = scope
        self.flags = flags
        self.broadcast = broadcast
        self.label = label

    @property
    def cidr(self) -> str:
        return f"{self.address}/{self.prefixlen}"


class Route(_Record):
    """A route; ``dst`` is always a CIDR (``"0.0.0.0/0"`` for the IPv4 default).

    ``route_type`` is ``rtm_type`` (1 unicast, 2 local, ...); ``metric`` is ``RTA_PRIORITY``.
    """

    __slots__ = (
        "dst",
        "family",
        "flags",
        "gateway",
        "metric",
        "oif",
        "protocol",
        "route_type",
        "scope",
        "src",
        "table",
    )

    def __init__(
        self,
        *,
        family: int,
        dst: str,
        gateway: str | None = None,
        oif: int | None = None,
        table: int = 254,
        protocol: int = 0,
        scope: int = 0,
        route_type: int = 1,
        src: str | None = None,
        metric: int | None = None,
        flags: int = 0,
    ) -> None:
        self.family = family
        self.dst = dst
        self.gateway = gateway
        self.oif = oif
        self.table = table
        self.protocol = protocol
        self.scope = scope
        self.route_type = route_type
        self.src = src
        self.metric = metric
        self.flags = flags

    @property
    def onlink(self) -> bool:
        return bool(self.flags & RTNH_F_ONLINK)


class Neighbour(_Record):
    """An ARP/NDP entry: IP ``address`` -> ``lladdr`` on link ``index``; ``state`` is NUD_*."""

    __slots__ = ("address", "family", "flags", "index", "lladdr", "state")

    def __init__(
        self,
        *,
        index: int,
        family: int,
        address: str,
        lladdr: str | None,
        state: int,
        flags: int = 0,
    ) -> None:
        self.index = index
        self.family = family
        self.address = address
        self.lladdr = lladdr
        self.state = state
        self.flags = flags

    @property
    def permanent(self) -> bool:
        return bool(self.state & NUD_PERMANENT)


class FdbEntry(_Record):
    """A forwarding-database entry: ``mac`` reached through link ``index`` (VXLAN: at ``dst``)."""

    __slots__ = ("dst", "flags", "index", "mac", "master", "state", "vni")

    def __init__(
        self,
        *,
        index: int,
        mac: str,
        dst: str | None,
        state: int,
        flags: int,
        master: int | None = None,
        vni: int | None = None,
    ) -> None:
        self.index = index
        self.mac = mac
        self.dst = dst
        self.state = state
        self.flags = flags
        self.master = master
        self.vni = vni

    @property
    def permanent(self) -> bool:
        return bool(self.state & NUD_PERMANENT)
