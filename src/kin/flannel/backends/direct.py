"""Routes to a peer's subnet via the peer's own address: host-gw's, and vxlan's with
DirectRouting. Both backends add them, and both must find and remove the stale ones
without touching any other route of the node."""

from __future__ import annotations

import ipaddress
import socket

from kin.flannel.backends.base import ExternalInterface
from kin.linux.netlink import Netlink

__all__ = ["is_peer_subnet", "on_link", "remove_stale_routes"]


def on_link(ext: ExternalInterface, address: ipaddress.IPv4Address) -> bool:
    """Whether ``address`` is on the external interface's own subnet (one hop away)."""
    return address in ext.address.network


def is_peer_subnet(
    dst: str, network: ipaddress.IPv4Network, lease: ipaddress.IPv4Network | None
) -> bool:
    """A route destination that is some peer's subnet: inside the pod network, smaller
    than it, and not this node's own lease."""
    subnet = ipaddress.ip_network(dst)
    return (
        isinstance(subnet, ipaddress.IPv4Network)
        and subnet.subnet_of(network)
        and subnet != network
        and (lease is None or not subnet.overlaps(lease))
    )


def remove_stale_routes(
    nl: Netlink,
    ext: ExternalInterface,
    network: ipaddress.IPv4Network,
    lease: ipaddress.IPv4Network | None,
    wanted: dict[str, str],
) -> None:
    """Delete every route on the external interface to a peer subnet whose gateway is
    not the one ``wanted`` (subnet -> peer address) names."""
    for route in nl.list_routes(socket.AF_INET):
        if route.oif != ext.index or not route.gateway:
            continue
        if is_peer_subnet(route.dst, network, lease) and wanted.get(route.dst) != route.gateway:
            nl.delete_route(route.dst, gateway=route.gateway, oif=ext.index)
