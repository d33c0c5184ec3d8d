"""Backends by name: an explicit registry, no import-time registration."""

from __future__ import annotations

from kin.flannel.backends.base import Backend, ExternalInterface
from kin.flannel.backends.hostgw import HostGwBackend
from kin.flannel.backends.udp import UdpBackend
from kin.flannel.backends.vxlan import VxlanBackend

__all__ = ["REGISTRY", "Backend", "ExternalInterface"]

REGISTRY: dict[str, type[VxlanBackend] | type[HostGwBackend] | type[UdpBackend]] = {
    "vxlan": VxlanBackend,
    "host-gw": HostGwBackend,
    "udp": UdpBackend,
}
