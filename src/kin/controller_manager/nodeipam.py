"""Node IPAM: each Node gets a ``spec.podCIDR`` (/24 by default) out of the cluster CIDR.

The allocation lives in the Node objects themselves, so it is stable across restarts of
the controller: the CIDRs Nodes carry are taken, a Node without one gets the lowest free
block. Nodes waiting together are served control-plane first, then by name, so a kind
config gives the control plane ``10.244.0.0/24`` and the first worker ``10.244.1.0/24``
as on kind. A podCIDR is never changed once set (Kubernetes does not allow it either).
"""

from __future__ import annotations

import ipaddress
import logging
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.errors import APIError, KinError
from kin.kube import events
from kin.kube.client import Client

__all__ = ["NodeIpamController", "next_free"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
NODES = "/api/v1/nodes"
CONTROL_PLANE = "node-role.kubernetes.io/control-plane"


class NodeIpamController(Controller):
    name = "nodeipam"
    workers = 1  # one allocator: two workers could hand out one block twice

    def __init__(
        self, api: Client, informers: Informers, cluster_cidr: str, mask_size: int = 24
    ) -> None:
        super().__init__(api, informers)
        self.network = ipaddress.ip_network(cluster_cidr)
        if mask_size < self.network.prefixlen:
            raise KinError(f"--node-cidr-mask-size {mask_size} is larger than the cluster "
                           f"CIDR {cluster_cidr}")  # fmt: skip
        self.mask_size = mask_size
        self.nodes = self.watch(NODES)
        self.nodes.add_handler(self._changed)

    def _changed(self, kind: str, node: Obj) -> None:
        if kind != "DELETED" and not _pod_cidrs(node):
            self.enqueue("*")

    async def resync_all(self) -> None:
        self.enqueue("*")

    async def sync(self, key: str) -> None:
        """Every Node still waiting, in ``_order``: whichever event woke the queue, the
        blocks go out in the same order."""
        waiting = [n for n in self.nodes.objects.values() if not _pod_cidrs(n)]
        for node in sorted(waiting, key=_order):
            await self._allocate(node)

    async def _allocate(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        taken = {cidr for n in self.nodes.objects.values() for cidr in _pod_cidrs(n)}
        block = next_free(self.network, self.mask_size, taken)
        if block is None:
            message = f"Node {name} status is now: CIDRNotAvailable"
            await events.record(self.api, {"kind": "Node", **node}, "CIDRNotAvailable", message,
                                "Normal", "cidrAllocator")  # fmt: skip
            raise KinError(f"no free /{self.mask_size} left in {self.network} for node {name}")
        body = {
            "spec": {"podCIDR": block, "podCIDRs": [block]},
            "metadata": {"resourceVersion": node["metadata"].get("resourceVersion")},
        }
        try:
            updated = await self.api.patch(f"{NODES}/{name}", body)
        except APIError as exc:
            if exc.code == 404:
                return
            raise
        self.nodes.remember(updated)
        log.info("node %s: podCIDR %s", name, block)


def _pod_cidrs(node: Obj) -> list[str]:
    spec = node.get("spec") or {}
    return [c for c in [spec.get("podCIDR"), *(spec.get("podCIDRs") or [])] if c]


def next_free(network: Any, mask_size: int, taken: set[str]) -> str | None:
    """The lowest block of ``network`` with prefix ``mask_size`` that overlaps no taken CIDR."""
    used = []
    for text in taken:
        try:
            used.append(ipaddress.ip_network(text, strict=False))
        except ValueError:
            continue
    for block in network.subnets(new_prefix=mask_size):
        if not any(block.overlaps(other) for other in used):
            return str(block)
    return None


def _order(node: Obj) -> tuple[int, str]:
    labels = node["metadata"].get("labels") or {}
    return (0 if CONTROL_PLANE in labels else 1, str(node["metadata"]["name"]))
