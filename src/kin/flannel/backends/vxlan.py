"""The vxlan backend: ``flannel.<VNI>``, and three kernel entries per peer.

As Flannel's third-generation vxlan backend (no L2/L3 miss callbacks): one device, given
the lease's network address as a /32 (no connected route for the pod network appears on
it), and for each peer, in this order because the route must come last or the kernel
would ARP for its gateway:

    ip neigh replace 10.244.2.0 lladdr <peer VtepMAC> dev flannel.1 nud permanent
    bridge fdb replace <peer VtepMAC> dev flannel.1 dst <peer public IP> self permanent
    ip route replace 10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink

With ``DirectRouting`` a peer on the same link as this node gets a plain route via its
public IP instead (host-gw's route); Flannel asks ``ip route get``, kin asks whether the
peer's address is inside the external interface's own subnet, which is the same answer on
a flat underlay. A device found at start-up is kept when it matches (a restarted flanneld
must not disturb traffic), recreated otherwise; its MAC is kept too, so peers' entries
stay right.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import socket
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from kin.errors import KinError, NetworkSetupError
from kin.flannel.backends.base import ExternalInterface, add_each
from kin.flannel.backends.direct import is_peer_subnet, on_link, remove_stale_routes
from kin.flannel.lease import Lease, LeaseAttrs
from kin.linux.netlink import Netlink
from kin.linux.netlink.records import Link

__all__ = ["VxlanBackend", "random_mac"]

log = logging.getLogger(__name__)

KERNEL_PORT = 8472  # Linux's VXLAN port, and flannel's (IANA's 4789 must be asked for)
OVERHEAD = 50  # outer Ethernet 14 + IP 20 + UDP 8 + VXLAN 8


def random_mac() -> str:
    """Random, locally administered, unicast: as Flannel's ``mac.NewHardwareAddr``."""
    octets = bytearray(os.urandom(6))
    octets[0] = (octets[0] & 0xFE) | 0x02
    return ":".join(f"{b:02x}" for b in octets)


@dataclass(frozen=True)
class _Peer:
    """What one peer's lease needs on this node."""

    subnet: str  # 10.244.2.0/24
    gateway: str  # 10.244.2.0: the peer's flannel.1 address
    mac: str  # the peer's flannel.1 MAC
    public_ip: str  # where its VXLAN packets go
    direct: bool  # a plain route via public_ip instead of the three entries


class VxlanBackend:
    type = "vxlan"

    def __init__(
        self,
        nl: Netlink,
        ext: ExternalInterface,
        network: ipaddress.IPv4Network,
        options: dict[str, Any],
        mac: str | None = None,
    ) -> None:
        """``options`` are net-conf.json's Backend options (``netconf.Backend.options``);
        ``mac`` the VtepMAC to keep (kube mode: the node's annotation), else the existing
        device's or a new one."""
        self.nl, self.ext, self.network = nl, ext, network
        self.vni: int = options["VNI"]
        self.port: int = options["Port"] or KERNEL_PORT
        self.learning: bool = options["Learning"]
        self.gbp: bool = options["GBP"]
        self.direct_routing: bool = options["DirectRouting"]
        self.mtu: int = (options["MTU"] or ext.mtu) - OVERHEAD
        self.device = f"flannel.{self.vni}"
        self.mac = mac
        self.lease: ipaddress.IPv4Network | None = None

    # -- this node ------------------------------------------------------------------------

    def prepare(self) -> LeaseAttrs:
        link = self._existing()
        if link is None:
            link = self._create(self.mac or random_mac())
        elif self.mac and link.mac != self.mac:
            self._set(f"set the MAC of {self.device} to {self.mac}", mac=self.mac)
            link = self.nl.get_link(self.device)
        if link.mtu != self.mtu:
            self._set(f"set the MTU of {self.device} to {self.mtu}", mtu=self.mtu)
        self.mac = link.mac
        data = {"VNI": self.vni, "VtepMAC": self.mac}
        return LeaseAttrs(self.ext.public_ip, self.type, data)

    def configure(self, lease: ipaddress.IPv4Network) -> int:
        """``<lease network address>/32`` on the device, other addresses of the network
        off it, the device up."""
        self.lease = lease
        own = f"{lease.network_address}/32"
        try:
            for address in self.nl.list_addresses(self.device, socket.AF_INET):
                stale = (
                    address.cidr != own and ipaddress.ip_address(address.address) in self.network
                )
                if stale:
                    self.nl.delete_address(self.device, address.cidr)
            self.nl.replace_address(self.device, own, broadcast=False)
            self.nl.set_link(self.device, up=True)
        except KinError as exc:
            raise NetworkSetupError(
                f"failed to give {self.device} the lease {lease}: {exc}"
            ) from exc
        return self.mtu

    def _existing(self) -> Link | None:
        found = {link.name: link for link in self.nl.list_links()}.get(self.device)
        if found is None or self._compatible(found):
            return found
        log.info("deleting %s: not the vxlan device this configuration asks for", self.device)
        self.nl.delete_link(self.device)
        return None

    def _compatible(self, link: Link) -> bool:
        info = link.vxlan
        return (
            link.kind == "vxlan"
            and info is not None
            and info.vni == self.vni
            and info.dev_index == self.ext.index
            and info.local == str(self.ext.address.ip)
            and info.port == self.port
        )

    def _create(self, mac: str) -> Link:
        try:
            self.nl.add_vxlan(self.device, self.vni, str(self.ext.address.ip), self.ext.index,
                              port=self.port, learning=self.learning, mtu=self.mtu, mac=mac,
                              gbp=self.gbp)  # fmt: skip
            link = self.nl.get_link(self.device)
        except KinError as exc:
            raise NetworkSetupError(
                f"failed to create {self.device} on {self.ext.name}: {exc}"
            ) from exc
        if link.mac != mac:  # Flannel's check: something rewrote the address we gave
            raise NetworkSetupError(
                f"{self.device} has MAC {link.mac}, not the {mac} it was made with"
            )
        log.info("created %s (vni %d, port %d, mtu %d, mac %s)", self.device, self.vni, self.port,
                 self.mtu, mac)  # fmt: skip
        return link

    def _set(self, what: str, **change: Any) -> None:
        try:
            self.nl.set_link(self.device, **change)
        except KinError as exc:
            raise NetworkSetupError(f"failed to {what}: {exc}") from exc

    # -- peers ----------------------------------------------------------------------------

    def add(self, peer: Lease) -> None:
        wanted = self._peer(peer)
        if wanted is None:
            return
        try:
            if wanted.direct:
                self.nl.replace_route(wanted.subnet, gateway=wanted.public_ip)
            else:
                self._add_entries(wanted)
        except KinError as exc:
            raise NetworkSetupError(f"failed to add peer {peer} on {self.device}: {exc}") from exc

    def _add_entries(self, wanted: _Peer) -> None:
        """Neighbour, FDB entry, route; a failed step undoes the ones before it."""
        nl, device = self.nl, self.device
        nl.replace_neighbour(device, wanted.gateway, wanted.mac)
        try:
            nl.replace_fdb(device, wanted.mac, wanted.public_ip)
            try:
                nl.replace_route(wanted.subnet, gateway=wanted.gateway, oif=device, onlink=True)
            except KinError:
                nl.delete_fdb(device, wanted.mac, wanted.public_ip)
                raise
        except KinError:
            nl.delete_neighbour(device, wanted.gateway)
            raise

    def remove(self, peer: Lease) -> None:
        gone = self._peer(peer)
        if gone is None:
            return
        try:
            if gone.direct:
                self.nl.delete_route(gone.subnet, gateway=gone.public_ip)
                return
            self.nl.delete_neighbour(self.device, gone.gateway)
            self.nl.delete_fdb(self.device, gone.mac, gone.public_ip)
            self.nl.delete_route(gone.subnet, oif=self.device)
        except KinError as exc:
            raise NetworkSetupError(
                f"failed to remove peer {peer} from {self.device}: {exc}"
            ) from exc

    def reconcile(self, peers: Sequence[Lease]) -> None:
        """Remove every entry on the device (and direct route) that no peer needs, then
        add every peer: replaces are idempotent, so what was right stays untouched."""
        wanted = [p for p in map(self._peer, peers) if p is not None]
        try:
            self._remove_stale(wanted)
        except KinError as exc:
            raise NetworkSetupError(f"failed to reconcile {self.device}: {exc}") from exc
        add_each(self.add, peers)

    def _remove_stale(self, wanted: list[_Peer]) -> None:
        nl, device = self.nl, self.device
        index = nl.link_index(device)
        trios = {p.subnet: p for p in wanted if not p.direct}
        neighbours = {p.gateway: p.mac for p in trios.values()}
        for entry in nl.list_neighbours(device, socket.AF_INET):
            if neighbours.get(entry.address) != entry.lladdr:
                nl.delete_neighbour(device, entry.address)
        fdb = {(p.mac, p.public_ip) for p in trios.values()}
        for fdb_entry in nl.list_fdb(device):
            if fdb_entry.dst is not None and (fdb_entry.mac, fdb_entry.dst) not in fdb:
                nl.delete_fdb(device, fdb_entry.mac, fdb_entry.dst)
        for route in nl.list_routes(socket.AF_INET):
            stale = route.oif == index and route.dst not in trios
            if stale and is_peer_subnet(route.dst, self.network, self.lease):
                nl.delete_route(route.dst, oif=index)
        direct = {p.subnet: p.public_ip for p in wanted if p.direct}
        remove_stale_routes(nl, self.ext, self.network, self.lease, direct)

    def _peer(self, lease: Lease) -> _Peer | None:
        attrs = lease.attrs
        if attrs.backend_type != self.type:
            log.warning("ignoring lease %s: backend %s, not vxlan", lease, attrs.backend_type)
            return None
        mac = (attrs.backend_data or {}).get("VtepMAC")
        if not isinstance(mac, str):
            log.warning("ignoring lease %s: its backend data has no VtepMAC", lease)
            return None
        direct = self.direct_routing and on_link(self.ext, attrs.public_ip)
        return _Peer(str(lease.subnet), str(lease.subnet.network_address), mac.lower(),
                     str(attrs.public_ip), direct)  # fmt: skip
