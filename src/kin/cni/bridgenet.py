"""The kernel steps of the ``bridge`` plugin, each named for what it ensures.

The plugin process runs in the node's network namespace; pod-side steps run on
a throwaway thread inside the pod's namespace (``ns.run_in``). Steps follow the
reference plugin (containernetworking/plugins ``bridge.go``, ``pkg/ip``): the
bridge is created once and never deleted, the veth is created inside the pod
with its host end moved to the node in the same request, the gateway address
goes on the bridge, and masquerading is one nftables rule per pod address.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import time

from kin.cni import spec
from kin.errors import CNIError, LinkNotFound, NetlinkError
from kin.linux import ns, sysctl
from kin.linux.netlink import Netlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from kin.linux.netlink import Link

__all__ = [
    "delete_container_link",
    "enslave_host_veth",
    "ensure_bridge",
    "ensure_gateway_address",
    "setup_veth",
    "start_deleting_container_link",
    "wait_oper_up",
]

VETH_ATTEMPTS = 10
OPER_UP_WAITS = (0.0, 0.05, 0.5, 1.0, 1.0)


def ensure_bridge(nl: Netlink, name: str, mtu: int, promisc: bool) -> Link:
    """The bridge ``name``, created if missing; an existing non-bridge is an error."""
    try:
        nl.add_bridge(name, mtu=mtu or None)
    except NetlinkError as exc:
        if exc.errno != errno.EEXIST:
            raise CNIError(spec.ERR_INTERNAL, f'could not add "{name}": {exc}') from exc
    link = nl.get_link(name)
    if link.kind != "bridge":
        raise CNIError(spec.ERR_INTERNAL, f'"{name}" already exists but is not a bridge')
    if promisc and not link.promisc:
        nl.set_link(name, promisc=True)
    _quiet_sysctl(f"net/ipv6/conf/{name}/accept_ra", "0")
    if not link.up:
        nl.set_link(name, up=True)
    return nl.get_link(name)


def setup_veth(netns: str, ifname: str, mtu: int, mac: str | None) -> tuple[str, str]:
    """A veth: ``ifname`` in the pod, ``veth<hex>`` in the node. Returns (host name, pod MAC)."""
    node_fd = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        return ns.run_in(netns, lambda: _make_veth(ifname, node_fd, mtu, mac))
    finally:
        os.close(node_fd)


def _make_veth(ifname: str, node_fd: int, mtu: int, mac: str | None) -> tuple[str, str]:
    with Netlink() as nl:
        if _exists(nl, ifname):
            raise CNIError(
                spec.ERR_INTERNAL, f"container veth name provided ({ifname}) already exists"
            )
        host = _add_veth_pair(nl, ifname, node_fd, mtu, mac)
        nl.set_link(ifname, up=True)
        return host, nl.get_link(ifname).mac or ""


def _add_veth_pair(nl: Netlink, ifname: str, node_fd: int, mtu: int, mac: str | None) -> str:
    for _ in range(VETH_ATTEMPTS):
        host = "veth" + os.urandom(4).hex()
        try:
            nl.add_veth(ifname, host, peer_netns_fd=node_fd, mtu=mtu or None, mac=mac)
            return host
        except NetlinkError as exc:
            if exc.errno != errno.EEXIST or _exists(nl, ifname):
                raise CNIError(spec.ERR_INTERNAL, f"failed to make veth pair: {exc}") from exc
    raise CNIError(spec.ERR_INTERNAL, "failed to make veth pair: no free host-side name")


def _exists(nl: Netlink, name: str) -> bool:
    try:
        nl.get_link(name)
    except LinkNotFound:
        return False
    return True


def enslave_host_veth(nl: Netlink, host: str, bridge: str, hairpin: bool) -> Link:
    """The node end: no router advertisements, on the bridge, hairpin as configured, up."""
    _quiet_sysctl(f"net/ipv6/conf/{host}/accept_ra", "0")
    nl.set_link(host, master=bridge, up=True)
    nl.set_hairpin(host, hairpin)
    return nl.get_link(host)


def configure_container(
    netns: str, ifname: str, ips: list[dict[str, Any]], routes: list[dict[str, Any]]
) -> None:
    """Addresses, then routes, on the pod's interface (as the reference ``ipam.ConfigureIface``)."""

    def configure() -> None:
        sysctl.write(f"net/ipv4/conf/{ifname}/arp_notify", "1")
        with Netlink() as nl:
            for ip in ips:
                nl.add_address(ifname, ip["address"])
            nl.set_link(ifname, up=True)
            for route in routes:
                _add_route(nl, ifname, route, ips)

    ns.run_in(netns, configure)


def _add_route(nl: Netlink, ifname: str, route: dict[str, Any], ips: list[dict[str, Any]]) -> None:
    dst = route["dst"]
    family = ipaddress.ip_network(dst, strict=False).version
    gateway = route.get("gw") or _first_gateway(ips, family)
    try:
        nl.add_route(dst, gateway=gateway, oif=ifname, metric=route.get("priority"))
    except NetlinkError as exc:
        if exc.errno != errno.EEXIST:
            raise CNIError(
                spec.ERR_INTERNAL, f"failed to add route '{dst} via {gateway} dev {ifname}': {exc}"
            ) from exc


def _first_gateway(ips: list[dict[str, Any]], family: int) -> str | None:
    for ip in ips:
        gw = ip.get("gateway")
        if gw and ipaddress.ip_address(gw).version == family:
            return str(gw)
    return None


def ensure_gateway_address(nl: Netlink, bridge: str, cidr: str, force: bool) -> None:
    """``cidr`` on the bridge; a different IPv4 address there is an error unless ``force``."""
    want = ipaddress.ip_interface(cidr)
    for addr in nl.list_addresses(bridge):
        have = ipaddress.ip_interface(addr.cidr)
        if have == want:
            return
        if have.version != want.version or have.is_link_local:
            continue
        if have.version == 4 or have.network.overlaps(want.network):
            if not force:
                raise CNIError(
                    spec.ERR_INTERNAL,
                    f'failed to set bridge addr: "{bridge}" already has an IP address '
                    f"different from {cidr}",
                )
            nl.delete_address(bridge, addr.cidr)
    try:
        nl.add_address(bridge, cidr)
    except NetlinkError as exc:
        # A concurrent ADD for another pod on the same bridge got there first.
        if exc.errno != errno.EEXIST:
            raise
        return  # and that ADD pins the MAC
    # Pin the MAC: otherwise the bridge's follows its lowest-numbered port's.
    mac = nl.get_link(bridge).mac
    if mac:
        nl.set_link(bridge, mac=mac)


def enable_forwarding(version: int) -> None:
    if version == 4:
        sysctl.write("net.ipv4.ip_forward", "1")
    else:
        sysctl.write("net/ipv6/conf/all/forwarding", "1")


def wait_oper_up(nl: Netlink, name: str) -> Link:
    """The reference waits for the host veth to be oper-UP: 0, 50, 500, 1000, 1000 ms."""
    for delay in OPER_UP_WAITS:
        time.sleep(delay)
        link = nl.get_link(name)
        if link.operstate == "UP":
            return link
    raise CNIError(spec.ERR_INTERNAL, f"bridge port in error state: {link.operstate}")


def delete_container_link(netns: str, ifname: str) -> None:
    """Delete the pod's interface (and so its veth pair). A missing one is fine."""
    start_deleting_container_link(netns, ifname)()


def start_deleting_container_link(netns: str, ifname: str) -> Callable[[], None]:
    """Start deleting the pod's interface; call the result to wait. The kernel takes ~20 ms
    to unregister a veth, time a DEL can spend releasing the pod's address meanwhile."""

    def delete() -> None:
        with Netlink() as nl:
            nl.delete_link(ifname)

    if not netns or not os.path.exists(netns):
        return lambda: None
    return ns.start_in(netns, delete)


def _quiet_sysctl(key: str, value: str) -> None:
    """Best effort: IPv6 may be disabled, and then these files do not exist."""
    try:  # noqa: SIM105 -- contextlib costs an import on every pod start
        sysctl.write(key, value)
    except OSError:
        pass
