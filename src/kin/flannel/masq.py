"""flanneld's traffic rules in nftables, in the node's own namespace.

kin always uses nftables, in Flannel's nftables layout: table ``ip flannel-ipv4`` with a
NAT chain ``postrtg`` (postrouting, srcnat) for ``--ip-masq`` and a filter chain
``forward`` (forward, filter) for ``--iptables-forward-rules``. Each chain is flushed and
refilled in one transaction, so a resync never leaves it half-written.

Which masquerade rules go in depends on net-conf.json's ``EnableNFTables``, as it does in
Flannel: with it, Flannel's nftables rules word for word; without (Flannel's default, its
iptables rules), the same decisions written for nft. They differ in one rule: the
iptables set returns for outside sources going to *this node's* pods and masquerades
outside sources going to pods on other nodes; Flannel's nftables set returns for any
source outside this node's subnet going to any pod, so its last rule never fires for
them. Either way pod-to-pod traffic keeps its addresses and pod traffic leaving the
network is masqueraded (not multicast, not what kube-proxy marked 0x4000).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from kin.linux import nft

__all__ = ["TABLE", "Rules", "apply", "script"]

TABLE = "flannel-ipv4"
MULTICAST = "224.0.0.0/4"


@dataclass(frozen=True)
class Rules:
    network: ipaddress.IPv4Network  # the whole pod network
    lease: ipaddress.IPv4Network  # this node's subnet
    ip_masq: bool
    forward: bool = True
    flannel_nftables: bool = False  # net-conf.json's EnableNFTables


def script(rules: Rules) -> str:
    """The nft script that makes the table hold exactly ``rules`` (chains not wanted are
    removed, so turning a flag off takes effect too)."""
    lines = [f'add table ip {TABLE} {{ comment "rules for {TABLE}" ; }}']
    lines += _chain(
        "postrtg",
        "type nat hook postrouting priority srcnat",
        "chain to manage traffic masquerading by flannel",
        _masquerade(rules) if rules.ip_masq else None,
    )
    net = rules.network
    forward = [f"ip saddr {net} accept", f"ip daddr {net} accept"] if rules.forward else None
    lines += _chain(
        "forward",
        "type filter hook forward priority filter",
        "chain to accept flannel traffic",
        forward,
    )
    return "\n".join(lines) + "\n"


def apply(rules: Rules, netns: str | None = None) -> None:
    """Apply ``script(rules)`` in one transaction (in ``netns``, a namespace path, if given)."""
    nft.apply(script(rules), netns)


def _chain(name: str, hook: str, comment: str, body: list[str] | None) -> list[str]:
    head = f'add chain ip {TABLE} {name} {{ {hook} ; comment "{comment}" ; }}'
    if body is None:
        return [head, f"delete chain ip {TABLE} {name}"]
    return [
        head,
        f"flush chain ip {TABLE} {name}",
        *(f"add rule ip {TABLE} {name} {r}" for r in body),
    ]


def _masquerade(rules: Rules) -> list[str]:
    net, pods = rules.network, rules.lease
    if rules.flannel_nftables:
        kept = ["meta mark 0x4000 return", f"ip saddr != {pods} ip daddr {net} return"]
    else:
        kept = ["meta mark & 0x4000 == 0x4000 return", f"ip saddr != {net} ip daddr {pods} return"]
    return [
        kept[0],  # kube-proxy marked it for its own masquerade: no double NAT
        f"ip saddr {pods} ip daddr {net} return",  # this node's pods to any pod
        f"ip saddr {net} ip daddr {pods} return",  # any pod to this node's pods
        kept[1],  # outside to pods: keep the client's address (see the docstring)
        f"ip saddr {net} ip daddr != {MULTICAST} masquerade fully-random",  # pods to outside
        f"ip saddr != {net} ip daddr {net} masquerade fully-random",  # outside to other pods
    ]
