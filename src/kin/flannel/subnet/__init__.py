"""Subnet managers: where leases come from, behind one narrow interface.

``kube`` (``--kube-subnet-mgr``): a lease is a Node's podCIDR, published back as the
Node's annotations. ``etcd`` (Flannel's default mode, and how flannel runs without
Kubernetes): leases are keys under ``<prefix>/subnets/`` with a TTL, allocated here.
The daemon sees only ``SubnetManager``.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Protocol

from kin.errors import ConfigError, KinError
from kin.flannel.lease import Lease, LeaseAttrs

__all__ = ["LeaseLost", "NotYet", "Previous", "SubnetManager"]


class NotYet(ConfigError):
    """What flanneld waits for, asking again every second: a podCIDR the controller
    manager has not assigned, a network configuration nobody has put in etcd yet."""


class LeaseLost(KinError):
    """This node's own lease is gone (revoked, expired, deleted): as Flannel does, the
    daemon stops rather than keep routing for a subnet that may be someone else's."""


@dataclass(frozen=True)
class Previous:
    """What an earlier run left for this one: the VtepMAC to give flannel.1 again, and a
    public IP chosen for this node by someone else (kube's ``node-public-ip``)."""

    vtep_mac: str | None = None
    public_ip: ipaddress.IPv4Address | None = None


class SubnetManager(Protocol):
    async def previous(self) -> Previous: ...

    async def acquire(self, attrs: LeaseAttrs) -> Lease:
        """This node's lease, with ``attrs`` published for its peers."""
        ...

    async def complete(self) -> None:
        """The node is ready: say so (kube: the node condition; etcd: keep renewing)."""
        ...

    async def peers(self) -> tuple[dict[str, Lease], str]:
        """Every other lease by name, and the version to watch from."""
        ...

    def watch(self, version: str) -> AsyncIterator[tuple[str, Lease | None]]:
        """(name, lease or None when gone) per change after ``version``; an error means:
        list again."""
        ...
