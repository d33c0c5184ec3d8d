"""The host-gw backend: no device, no encapsulation, one route per peer.

``ip route replace 10.244.2.0/24 via <peer public IP> dev <external interface>``: the
peer node is the gateway to its pods, so every node must be on one link (Flannel's
requirement; on kin, the shared ``kin-net`` bridge). A peer that is not on the external
interface's subnet is an error that says so, where Flannel would log the kernel's
"network is unreachable". Pods get the interface's full MTU.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Sequence
from typing import Any

from kin.errors import KinError, NetworkSetupError
from kin.flannel.backends.base import ExternalInterface, add_each
from kin.flannel.backends.direct import on_link, remove_stale_routes
from kin.flannel.lease import Lease, LeaseAttrs
from kin.linux.netlink import Netlink

__all__ = ["HostGwBackend"]

log = logging.getLogger(__name__)


class HostGwBackend:
    type = "host-gw"

    def __init__(
        self,
        nl: Netlink,
        ext: ExternalInterface,
        network: ipaddress.IPv4Network,
        options: dict[str, Any],
        mac: str | None = None,
    ) -> None:
        if ext.public_ip != ext.address.ip:
            raise NetworkSetupError(
                f"host-gw: the public IP {ext.public_ip} differs from {ext.name}'s address "
                f"{ext.address.ip}, meaning that probably you're on a NAT, which host-gw "
                "does not support"
            )
        self.nl, self.ext, self.network = nl, ext, network
        self.lease: ipaddress.IPv4Network | None = None

    def prepare(self) -> LeaseAttrs:
        return LeaseAttrs(self.ext.public_ip, self.type, None)

    def configure(self, lease: ipaddress.IPv4Network) -> int:
        self.lease = lease
        return self.ext.mtu

    def add(self, peer: Lease) -> None:
        gateway = self._gateway(peer)
        if gateway is None:
            return
        try:
            self.nl.replace_route(str(peer.subnet), gateway=gateway, oif=self.ext.index)
        except KinError as exc:
            raise NetworkSetupError(f"failed to add a route to peer {peer}: {exc}") from exc

    def remove(self, peer: Lease) -> None:
        if peer.attrs.backend_type != self.type:
            return
        gateway = str(peer.attrs.public_ip)
        try:
            self.nl.delete_route(str(peer.subnet), gateway=gateway, oif=self.ext.index)
        except KinError as exc:
            raise NetworkSetupError(f"failed to remove the route to peer {peer}: {exc}") from exc

    def reconcile(self, peers: Sequence[Lease]) -> None:
        wanted = {
            str(p.subnet): str(p.attrs.public_ip)
            for p in peers
            if p.attrs.backend_type == self.type
        }
        try:
            remove_stale_routes(self.nl, self.ext, self.network, self.lease, wanted)
        except KinError as exc:
            raise NetworkSetupError(
                f"failed to reconcile host-gw routes on {self.ext.name}: {exc}"
            ) from exc
        add_each(self.add, peers)

    def _gateway(self, peer: Lease) -> str | None:
        if peer.attrs.backend_type != self.type:
            log.warning("ignoring lease %s: backend %s, not host-gw", peer, peer.attrs.backend_type)
            return None
        if not on_link(self.ext, peer.attrs.public_ip):
            raise NetworkSetupError(
                f"host-gw: peer {peer} is not directly reachable: {peer.attrs.public_ip} is "
                f"not on {self.ext.name}'s subnet {self.ext.address.network} (host-gw needs "
                "every node on one link; vxlan does not)"
            )
        return str(peer.attrs.public_ip)
