"""The one small interface every backend implements, and the interface it sits on.

A backend's life, as Flannel's ``RegisterNetwork`` and ``Run``: ``prepare`` makes the
local device (before the lease: vxlan's MAC goes into the lease), ``configure`` gives it
the lease and says the MTU pods get, then ``add`` and ``remove`` follow the peers'
leases, and ``reconcile`` makes the kernel hold exactly what a set of leases needs (at
start-up and on every resync, which is how kin removes entries a dead flanneld left
behind; Flannel does not).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from kin.errors import KinError, NetworkSetupError
from kin.flannel.lease import Lease, LeaseAttrs

__all__ = ["Backend", "ExternalInterface", "add_each"]


@dataclass(frozen=True)
class ExternalInterface:
    """The underlay link flannel sends through (``--iface``, or the default route's)."""

    name: str
    index: int
    address: ipaddress.IPv4Interface  # its IPv4 address, with the prefix of its subnet
    mtu: int
    public_ip: ipaddress.IPv4Address  # --public-ip, or the interface's address


class Backend(Protocol):
    type: str

    def prepare(self) -> LeaseAttrs:
        """Make the local device if the backend has one; what this node's lease carries."""
        ...

    def configure(self, lease: ipaddress.IPv4Network) -> int:
        """Give the device this node's lease; the MTU for subnet.env."""
        ...

    def add(self, peer: Lease) -> None:
        """Reach ``peer``'s subnet (a new or changed lease)."""
        ...

    def remove(self, peer: Lease) -> None:
        """Forget ``peer``'s subnet; what is already gone is fine."""
        ...

    def reconcile(self, peers: Sequence[Lease]) -> None:
        """Make the kernel hold what ``peers`` need and nothing else of this backend's."""
        ...


def add_each(add: Callable[[Lease], None], peers: Sequence[Lease]) -> None:
    """``add`` every peer, going on past one that fails (so one bad lease cannot keep
    the others unreachable); then one error naming every failure."""
    failures = []
    for peer in peers:
        try:
            add(peer)
        except KinError as exc:
            failures.append(str(exc))
    if failures:
        raise NetworkSetupError("; ".join(failures))
