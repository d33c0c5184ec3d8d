"""CHECK for the ``bridge`` plugin: does the kernel still match the cached ADD result?

Loaded only for CHECK. Follows the reference's checks: the bridge (exists, is a
bridge, same MAC, promiscuous as configured), the pod interface (exists, is a
veth, same MAC, in the expected namespace), a node-side veth whose peer it is
and whose master is the bridge, and the pod's addresses and routes.
"""

from __future__ import annotations

import ipaddress

from kin.cni import skel, spec
from kin.errors import CNIError, LinkNotFound
from kin.linux import ns
from kin.linux.netlink import Netlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["check"]


def _fail(message: str) -> CNIError:
    return CNIError(spec.ERR_INTERNAL, message)


def check(args: skel.CmdArgs, bridge: str, promisc: bool) -> None:
    prev = args.prev_result
    if prev is None:
        raise _fail("Required prevResult missing")
    interfaces = prev.get("interfaces") or []
    by_name = {i.get("name"): i for i in interfaces}
    pod = by_name.get(args.ifname)
    if pod is None:
        raise _fail(f"no interface {args.ifname} in prevResult")
    if pod.get("sandbox") != args.netns:
        sandbox = pod.get("sandbox")
        raise _fail(f"Sandbox in prevResult {sandbox} doesn't match configured netns: {args.netns}")
    with Netlink() as nl:
        _check_bridge(nl, bridge, by_name.get(bridge), promisc)
        peer_index = ns.run_in(args.netns, lambda: _check_pod(args.ifname, pod, prev))
        _check_host_veth(nl, bridge, peer_index)


def _check_bridge(nl: Netlink, name: str, expected: dict[str, Any] | None, promisc: bool) -> None:
    try:
        link = nl.get_link(name)
    except LinkNotFound as exc:
        raise _fail(f'failed to lookup "{name}": {exc}') from exc
    if link.kind != "bridge":
        raise _fail(f"Error: Bridge interface {name} is not a bridge")
    if expected and expected.get("mac") and expected["mac"] != link.mac:
        raise _fail(f"bridge {name} MAC {link.mac} does not match prevResult {expected['mac']}")
    if link.promisc != promisc:
        raise _fail(f"bridge {name} promiscuous mode is not {promisc}")


def _check_pod(ifname: str, expected: dict[str, Any], prev: dict[str, Any]) -> int:
    """Checked inside the pod's namespace; returns the index of the veth's node-side peer."""
    with Netlink() as nl:
        try:
            link = nl.get_link(ifname)
        except LinkNotFound as exc:
            raise _fail(f"Container interface {ifname} not found: {exc}") from exc
        if link.kind != "veth":
            raise _fail(f"Error: Container interface {ifname} is not a veth")
        if expected.get("mac") and expected["mac"] != link.mac:
            raise _fail(
                f"Interface {ifname} MAC {link.mac} doesn't match prevResult {expected['mac']}"
            )
        have = {a.cidr for a in nl.list_addresses(ifname)}
        for ip in prev.get("ips") or []:
            if ip["address"] not in have:
                raise _fail(f"Failed to match addr {ip['address']} on interface {ifname}")
        _check_routes(nl, prev.get("routes") or [])
        return int(link.peer_index or 0)


def _check_routes(nl: Netlink, routes: list[dict[str, Any]]) -> None:
    present = {ipaddress.ip_network(r.dst, strict=False) for r in nl.list_routes(0, table=None)}
    for route in routes:
        if ipaddress.ip_network(route["dst"], strict=False) not in present:
            raise _fail(f"Failed to match route {route['dst']}")


def _check_host_veth(nl: Netlink, bridge: str, peer_index: int) -> None:
    bridge_index = nl.get_link(bridge).index
    for link in nl.list_links():
        if link.index == peer_index and link.kind == "veth" and link.master == bridge_index:
            return
    raise _fail(f"no host veth on {bridge} is the peer of the container interface")
