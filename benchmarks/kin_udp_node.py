"""kin's udp backend as one node's flanneld would run it, for bench_flannel: a process
inside the node's namespace (``ip netns exec``), its own TUN and forwarding threads, the
peers given on the command line instead of by a subnet manager.

    kin_udp_node.py LEASE PEER_SUBNET=PEER_IP ...
"""

from __future__ import annotations

import ipaddress
import sys
import threading

from kin.flannel.backends.udp import UdpBackend
from kin.flannel.iface import external_interface
from kin.flannel.lease import Lease, LeaseAttrs
from kin.flannel.netconf import parse
from kin.linux.netlink import Netlink

NETWORK = ipaddress.IPv4Network("10.244.0.0/16")


def main() -> None:
    lease, *pairs = sys.argv[1:]
    options = parse('{"Network": "10.244.0.0/16"}').backend.options  # udp, port 8285
    nl = Netlink()
    backend = UdpBackend(nl, external_interface(nl, ["eth0"]), NETWORK, options)
    backend.prepare()
    backend.configure(ipaddress.IPv4Network(lease))
    peers = [p.split("=") for p in pairs]
    leases = [
        Lease(ipaddress.IPv4Network(subnet), LeaseAttrs(ipaddress.IPv4Address(ip), "", None))
        for subnet, ip in peers
    ]
    backend.reconcile(leases)
    print("ready", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
