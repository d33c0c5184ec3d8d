"""Namespace nodes on a namespace underlay, for flannel's backend tests.

Three (or more) "nodes", each a network namespace with ``eth0`` on a bridge in an
"underlay" namespace (172.31.0.N/24), a ``cni0`` bridge with 10.244.N.1/24 and one
"pod" namespace behind it (10.244.N.2). Nothing is made in the host's namespace.
"""

from __future__ import annotations

import ipaddress
import json
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kin.flannel.backends import REGISTRY, ExternalInterface
from kin.flannel.netconf import parse
from kin.linux import ns, sysctl
from kin.linux.netlink import Netlink

__all__ = ["NETWORK", "Node", "in_ns", "ip_json", "underlay_nodes"]

NETWORK = ipaddress.IPv4Network("10.244.0.0/16")


@dataclass
class Node:
    name: str  # the node's network namespace
    pod: str  # its pod's network namespace
    number: int
    nl: Netlink
    ext: ExternalInterface

    @property
    def lease(self) -> ipaddress.IPv4Network:
        return ipaddress.IPv4Network(f"10.244.{self.number}.0/24")

    @property
    def pod_ip(self) -> str:
        return f"10.244.{self.number}.2"

    def backend(self, kind: str = "vxlan", **options: object) -> Any:
        """A backend of ``kind`` for this node, with net-conf.json's defaults."""
        defaults = parse(json.dumps({"Network": str(NETWORK), "Backend": {"Type": kind}}))
        return REGISTRY[kind](self.nl, self.ext, NETWORK, {**defaults.backend.options, **options})


def ip_json(netns: str, *args: str, tool: str = "ip") -> list[Any]:
    out = subprocess.run(
        [tool, "-j", "-n", netns, *args], check=True, capture_output=True, text=True
    )
    return list(json.loads(out.stdout or "[]"))


def in_ns(netns: str, *argv: str, timeout: float = 10) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", "netns", "exec", netns, *argv], capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@contextmanager
def underlay_nodes(make_netns: Callable[[], str], count: int = 3) -> Iterator[list[Node]]:
    """``count`` nodes; ``make_netns`` makes (and later removes) each namespace."""
    made: list[Node] = []
    with ns.run_in(ns.netns_path(make_netns()), Netlink) as underlay:
        underlay.add_bridge("br0")
        underlay.set_link("br0", up=True)
        try:
            made.extend(_node(underlay, make_netns, n) for n in range(1, count + 1))
            yield made
        finally:
            for node in made:
                node.nl.close()


def _node(underlay: Netlink, make_netns: Callable[[], str], number: int) -> Node:
    node, pod = make_netns(), make_netns()
    nl = ns.run_in(ns.netns_path(node), Netlink)
    underlay.add_veth(f"u{number}", f"n{number}")
    underlay.set_link(f"u{number}", master="br0", up=True)
    _move(underlay, f"n{number}", node, "eth0")
    nl.add_address("eth0", f"172.31.0.{number}/24")
    for link in ("eth0", "lo"):
        nl.set_link(link, up=True)
    nl.add_bridge("cni0")
    nl.add_address("cni0", f"10.244.{number}.1/24")
    nl.set_link("cni0", up=True)
    nl.add_veth(f"veth{number}", "eth0p")
    _move(nl, "eth0p", pod, "eth0")
    nl.set_link(f"veth{number}", master="cni0", up=True)
    ns.run_in(ns.netns_path(node), lambda: sysctl.write("net.ipv4.ip_forward", "1"))
    with ns.run_in(ns.netns_path(pod), Netlink) as pod_nl:
        pod_nl.add_address("eth0", f"10.244.{number}.2/24")
        for link in ("eth0", "lo"):
            pod_nl.set_link(link, up=True)
        pod_nl.add_route("default", gateway=f"10.244.{number}.1")
    address = ipaddress.IPv4Interface(f"172.31.0.{number}/24")
    ext = ExternalInterface("eth0", nl.link_index("eth0"), address, 1500, address.ip)
    return Node(node, pod, number, nl, ext)


def _move(nl: Netlink, link: str, netns: str, name: str) -> None:
    with open(ns.netns_path(netns)) as target:
        nl.set_link(link, netns_fd=target.fileno(), new_name=name)
