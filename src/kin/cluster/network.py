"""The kin network: kind's docker network, as a bridge inside its own network namespace.

All clusters attach their nodes to one bridge (``kin0``) in the namespace
``kin-net``, so nodes of different clusters reach each other as kind's do. Its
IPv4 subnet is the first /16 from 172.18.0.0/16 upwards that overlaps no route
of the host (the host's routes are only read). The bridge holds the gateway
address ``.1``; nodes get ``.2``, ``.3``, ... The namespace is made with the
first cluster and removed when none runs (the last is deleted or stopped), under the host
lock; its subnet is read back from the bridge, and stopped clusters' plans say which one
it must have when it is made again.

The network belongs to one ``KIN_HOME``: the default home's is ``kin-net``,
another home (tests use throwaway ones) gets ``kin-net-<hash of the path>``, so
deleting the last cluster of one home never pulls the network from under another.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import socket
from collections.abc import Iterable

from kin.cluster.plan import NetworkPlan
from kin.cluster.state import DEFAULT_HOME, kin_home
from kin.errors import NetworkSetupError
from kin.linux import ns
from kin.linux.netlink import Netlink

__all__ = [
    "CANDIDATE_SUBNETS",
    "delete_network",
    "ensure_network",
    "first_free_subnet",
    "host_ipv4_routes",
    "network_netns",
    "read_network",
]

BRIDGE = "kin0"
CANDIDATE_SUBNETS = tuple(f"172.{n}.0.0/16" for n in range(18, 32))


def network_netns() -> str:
    """The kin network's namespace name for the current ``KIN_HOME``."""
    home = os.path.realpath(kin_home())
    if home == DEFAULT_HOME:
        return "kin-net"
    return "kin-net-" + hashlib.sha1(home.encode()).hexdigest()[:8]


def first_free_subnet(
    candidates: Iterable[str], routes: Iterable[ipaddress.IPv4Network]
) -> str | None:
    """The first candidate that overlaps none of ``routes`` (default routes ignored)."""
    specific = [r for r in routes if r.prefixlen > 0]
    for candidate in candidates:
        net = ipaddress.IPv4Network(candidate)
        if not any(net.overlaps(route) for route in specific):
            return candidate
    return None


def host_ipv4_routes() -> list[ipaddress.IPv4Network]:
    """Destinations of every IPv4 route in every table of the host's namespace (read only)."""
    with Netlink() as nl:
        return [
            ipaddress.IPv4Network(route.dst, strict=False)
            for route in nl.list_routes(socket.AF_INET, table=None)
        ]


def read_network() -> NetworkPlan | None:
    """The kin network as it exists, or None if it does not."""
    netns = network_netns()
    if not ns.netns_exists(netns):
        return None

    def gateway() -> list[str]:
        with Netlink() as nl:
            return [a.cidr for a in nl.list_addresses(BRIDGE, family=socket.AF_INET)]

    cidrs = ns.run_in(ns.netns_path(netns), gateway)
    if not cidrs:
        raise NetworkSetupError(f"bridge {BRIDGE!r} in namespace {netns!r} has no IPv4 address")
    iface = ipaddress.IPv4Interface(cidrs[0])
    return NetworkPlan(subnet=str(iface.network), gateway=str(iface.ip), netns=netns, bridge=BRIDGE)


def ensure_network(subnet: str = "") -> NetworkPlan:
    """The kin network, created if it does not exist yet. Call under the host lock.
    ``subnet``: the one it must have (stopped clusters' nodes keep their addresses);
    otherwise the first free candidate."""
    existing = read_network()
    if existing is not None:
        if subnet and existing.subnet != subnet:
            raise NetworkSetupError(
                f"the kin network has subnet {existing.subnet}, but this cluster's nodes are "
                f"on {subnet}: delete the clusters on {existing.subnet} first"
            )
        return existing
    subnet = subnet or first_free_subnet(CANDIDATE_SUBNETS, host_ipv4_routes()) or ""
    if not subnet:
        raise NetworkSetupError(
            f"no free subnet for the kin network: every one of {CANDIDATE_SUBNETS[0]} .. "
            f"{CANDIDATE_SUBNETS[-1]} overlaps a route of this host"
        )
    network = ipaddress.IPv4Network(subnet)
    netns = network_netns()
    plan = NetworkPlan(subnet, str(network.network_address + 1), netns=netns, bridge=BRIDGE)
    path = ns.create_netns(netns)
    try:
        ns.run_in(path, lambda: _make_bridge(plan))
    except BaseException:
        ns.delete_netns(netns)
        raise
    return plan


def _make_bridge(plan: NetworkPlan) -> None:
    with Netlink() as nl:
        nl.set_link("lo", up=True)
        nl.add_bridge(plan.bridge)
        nl.add_address(plan.bridge, f"{plan.gateway}/{plan.prefixlen}")
        nl.set_link(plan.bridge, up=True)


def delete_network() -> bool:
    """Remove the kin network; absent is success. Call under the host lock, with no
    running clusters."""
    return ns.delete_netns(network_netns())
