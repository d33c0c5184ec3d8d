"""Which interface flannel sends through, and from which address (Flannel's ``--iface``).

``--iface`` names an interface or one of its addresses (the first that exists wins);
without it, the interface of the default route. The public IP is ``--public-ip``, else
the node's ``node-public-ip`` annotation (kube mode), else the interface's first IPv4
address. Only IPv4 is looked at: kin's pod networks are IPv4.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Sequence

from kin.errors import ConfigError
from kin.flannel.backends.base import ExternalInterface
from kin.linux.netlink import Netlink

__all__ = ["external_interface"]


def external_interface(
    nl: Netlink, ifaces: Sequence[str] = (), public_ip: ipaddress.IPv4Address | None = None
) -> ExternalInterface:
    links = {link.name: link for link in nl.list_links()}
    addresses = [a for a in nl.list_addresses(family=socket.AF_INET) if a.scope == 0]
    by_index = {link.index: link for link in links.values()}
    chosen, address = None, None
    for wanted in ifaces:
        named = [a for a in addresses if a.address == wanted]
        if wanted in links:
            chosen = links[wanted]
        elif named:  # an address names its interface, and is the one to use
            chosen, address = by_index[named[0].index], named[0]
        if chosen is not None:
            break
    if ifaces and chosen is None:
        raise ConfigError(f"none of --iface {', '.join(ifaces)} is an interface or an address here")
    if chosen is None:
        default = [r for r in nl.list_routes(socket.AF_INET) if r.dst == "0.0.0.0/0" and r.oif]
        if not default:
            raise ConfigError("no --iface given and no default route to choose an interface by")
        chosen = by_index[default[0].oif]  # type: ignore[index]
    if address is None:
        own = [a for a in addresses if a.index == chosen.index]
        if not own:
            raise ConfigError(f"interface {chosen.name} has no IPv4 address")
        address = own[0]
    interface = ipaddress.IPv4Interface(address.cidr)
    return ExternalInterface(
        chosen.name, chosen.index, interface, chosen.mtu, public_ip or interface.ip
    )
