"""The Kubernetes subnet manager (``--kube-subnet-mgr``): a lease is a Node's podCIDR.

As Flannel's: no allocation (the controller manager's node IPAM assigns ``spec.podCIDR``);
flanneld publishes its backend on its own Node as annotations
(``flannel.alpha.coreos.com/backend-type``, ``backend-data``, ``public-ip``,
``kube-subnet-manager: "true"``) with a strategic-merge patch of ``nodes/<name>/status``
(the manifest's RBAC grants exactly that), skipped when they already match; then sets
the ``NetworkUnavailable`` condition to False (``FlannelIsUp``). A peer is any other Node
carrying ``kube-subnet-manager: "true"`` and a podCIDR; its lease changes only when its
backend type, backend data or public IP do. ``node-public-ip`` on the own Node chooses
the address at start-up; ``public-ip-overwrite`` replaces the published one (NAT).
"""

from __future__ import annotations

import ipaddress
import json
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

from kin.errors import ConfigError
from kin.flannel.lease import Lease, LeaseAttrs
from kin.flannel.subnet import NotYet, Previous
from kin.kube.client import STRATEGIC_PATCH, Client

__all__ = ["KubeSubnetManager", "lease_of"]

DEFAULT_PREFIX = "flannel.alpha.coreos.com"


class KubeSubnetManager:
    def __init__(
        self,
        api: Client,
        node: str,
        network: ipaddress.IPv4Network,
        prefix: str = DEFAULT_PREFIX,
        set_network_unavailable: bool = True,
    ) -> None:
        self.api, self.node, self.network = api, node, network
        self.prefix = prefix if prefix.endswith("/") else prefix + "/"
        self.set_network_unavailable = set_network_unavailable
        self.lease: Lease | None = None

    @property
    def path(self) -> str:
        return f"/api/v1/nodes/{self.node}"

    async def own_node(self) -> dict[str, Any]:
        return await self.api.get(self.path)

    async def previous(self) -> Previous:
        node = await self.own_node()
        return Previous(self.previous_mac(node), self.public_ip_override(node))

    def previous_mac(self, node: dict[str, Any]) -> str | None:
        """The VtepMAC this node published before (a restart keeps flannel.1's MAC)."""
        data = _backend_data(_annotations(node).get(self.prefix + "backend-data"))
        mac = data.get("VtepMAC") if isinstance(data, dict) else None
        return mac if isinstance(mac, str) else None

    def public_ip_override(self, node: dict[str, Any]) -> ipaddress.IPv4Address | None:
        """``node-public-ip``: the address to tunnel from, chosen by whoever set it."""
        text = _annotations(node).get(self.prefix + "node-public-ip")
        return (
            _address(text, f"annotation {self.prefix}node-public-ip of node {self.node}")
            if text
            else None
        )

    async def acquire(self, attrs: LeaseAttrs) -> Lease:
        """This node's lease: its podCIDR, with ``attrs`` published on the Node."""
        node = await self.own_node()
        subnet = _pod_cidr(node)
        if subnet is None:
            raise NotYet(f'node "{self.node}" pod cidr not assigned')
        if not subnet.subnet_of(self.network):
            raise ConfigError(
                f'node "{self.node}" pod cidr {subnet} is not inside the flannel network '
                f"{self.network}"
            )
        overwrite = _annotations(node).get(self.prefix + "public-ip-overwrite")
        if overwrite:
            attrs = LeaseAttrs(
                _address(overwrite, "public-ip-overwrite"), attrs.backend_type, attrs.backend_data
            )
        wanted = self._annotations_for(attrs)
        current = _annotations(node)
        if any(current.get(key) != value for key, value in wanted.items()):
            await self.api.patch(
                f"{self.path}/status", {"metadata": {"annotations": wanted}}, STRATEGIC_PATCH
            )
        self.lease = Lease(subnet, attrs)
        return self.lease

    async def complete(self) -> None:
        """``NetworkUnavailable=False``: the node's network is up (unless turned off)."""
        if not self.set_network_unavailable:
            return
        now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        condition = {"type": "NetworkUnavailable", "status": "False", "reason": "FlannelIsUp",
                     "message": "Flannel is running on this node", "lastTransitionTime": now,
                     "lastHeartbeatTime": now}  # fmt: skip
        await self.api.patch(
            f"{self.path}/status", {"status": {"conditions": [condition]}}, STRATEGIC_PATCH
        )

    async def peers(self) -> tuple[dict[str, Lease], str]:
        """Every other node's lease by node name, and the resourceVersion to watch from."""
        listed = await self.api.get("/api/v1/nodes")
        leases = {
            str(node.get("metadata", {}).get("name", "")): lease
            for node in listed.get("items", [])
            if (lease := self.peer_lease(node)) is not None
        }
        return leases, str(listed.get("metadata", {}).get("resourceVersion", ""))

    async def watch(self, resource_version: str) -> AsyncIterator[tuple[str, Lease | None]]:
        """(node name, its lease or None) for each node event after ``resource_version``;
        None means the node is not (or no longer) a peer. APIError 410: list again."""
        # the server ends the watch after 5 to 10 minutes (as client-go asks), so a
        # connection that died without a word is noticed and the peers listed again
        timeout = str(random.randint(300, 600))
        async for kind, node in self.api.watch(
            "/api/v1/nodes", resource_version, timeoutSeconds=timeout
        ):
            if kind in ("ADDED", "MODIFIED", "DELETED"):
                name = str(node.get("metadata", {}).get("name", ""))
                yield name, None if kind == "DELETED" else self.peer_lease(node)

    def peer_lease(self, node: dict[str, Any]) -> Lease | None:
        if node.get("metadata", {}).get("name") == self.node:
            return None
        return lease_of(node, self.prefix, self.network)

    def _annotations_for(self, attrs: LeaseAttrs) -> dict[str, str]:
        data = json.dumps(attrs.backend_data, separators=(",", ":"))  # Go: null for host-gw
        return {
            self.prefix + "backend-data": data,
            self.prefix + "backend-type": attrs.backend_type,
            self.prefix + "kube-subnet-manager": "true",
            self.prefix + "public-ip": str(attrs.public_ip),
        }


def lease_of(node: dict[str, Any], prefix: str, network: ipaddress.IPv4Network) -> Lease | None:
    """The lease a Node carries, or None: not managed by flannel, no podCIDR, outside the
    network, or annotations that do not parse (a peer half set up is not a peer yet)."""
    annotations = _annotations(node)
    if annotations.get(prefix + "kube-subnet-manager") != "true":
        return None
    subnet = _pod_cidr(node)
    if subnet is None or not subnet.subnet_of(network):
        return None
    try:
        public_ip = ipaddress.IPv4Address(annotations.get(prefix + "public-ip", ""))
    except ValueError:
        return None
    data = _backend_data(annotations.get(prefix + "backend-data"))
    backend_type = annotations.get(prefix + "backend-type", "")
    return Lease(
        subnet, LeaseAttrs(public_ip, backend_type, data if isinstance(data, dict) else None)
    )


def _annotations(node: dict[str, Any]) -> dict[str, str]:
    found = node.get("metadata", {}).get("annotations") or {}
    return {str(k): str(v) for k, v in found.items()}


def _pod_cidr(node: dict[str, Any]) -> ipaddress.IPv4Network | None:
    spec = node.get("spec") or {}
    for text in [*(spec.get("podCIDRs") or []), spec.get("podCIDR") or ""]:
        try:
            network = ipaddress.ip_network(str(text))
        except ValueError:
            continue
        if isinstance(network, ipaddress.IPv4Network):
            return network
    return None


def _backend_data(text: str | None) -> Any:
    if not text:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _address(text: str, what: str) -> ipaddress.IPv4Address:
    try:
        return ipaddress.IPv4Address(text)
    except ValueError:
        raise ConfigError(f"{what}: {text!r} is not an IPv4 address") from None
