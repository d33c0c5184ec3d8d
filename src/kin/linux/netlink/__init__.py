"""A small, stdlib-only rtnetlink client: links, addresses, routes, neighbours, FDB.

Why not pyroute2: importing it costs ~200 ms, which every CNI plugin call (one
process per pod) and every ``kin`` command would pay; this package imports in a
few milliseconds. It covers what kin needs and nothing more. Use it as::

    from kin.linux import ns
    from kin.linux.netlink import Netlink

    with ns.run_in(ns.netns_path("node1"), Netlink) as nl:
        nl.add_veth("eth0", "veth1234", peer_netns_fd=host_fd, mtu=1450)

Errors are ``kin.errors`` classes: ``NetlinkError`` (with ``errno``),
``LinkNotFound`` for ENODEV, ``NetworkSetupError`` for bad input.
"""

from kin.linux.netlink.client import Netlink
from kin.linux.netlink.records import (
    Address,
    BridgePort,
    FdbEntry,
    Link,
    Neighbour,
    Route,
    VxlanInfo,
)

__all__ = [
    "Address",
    "BridgePort",
    "FdbEntry",
    "Link",
    "Neighbour",
    "Netlink",
    "Route",
    "VxlanInfo",
]
