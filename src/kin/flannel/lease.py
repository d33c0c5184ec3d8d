"""A lease: one node's pod subnet, and what its peers need to reach it.

Flannel's ``subnet.Lease`` with its ``LeaseAttrs``: the node's public IP (the underlay
address packets to its pods are sent to), the backend type, and the backend's data
(vxlan: the VNI and the MAC of the node's ``flannel.1``). The subnet managers hand these
out and watch them; the backends turn each one into kernel state.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Lease", "LeaseAttrs"]


@dataclass(frozen=True)
class LeaseAttrs:
    public_ip: ipaddress.IPv4Address
    backend_type: str
    backend_data: dict[str, Any] | None = field(default=None, hash=False, compare=True)


@dataclass(frozen=True)
class Lease:
    subnet: ipaddress.IPv4Network
    attrs: LeaseAttrs

    def __str__(self) -> str:
        return f"{self.subnet} at {self.attrs.public_ip} ({self.attrs.backend_type})"
