"""``ipMasq``: masquerade a pod's traffic that leaves its subnet, with nftables.

The layout is the reference's nftables backend (containernetworking/plugins
``pkg/ip/ipmasq_nftables_linux.go``): table ``inet cni_plugins_masquerade``, a
``postrouting`` NAT chain that skips multicast and jumps to ``masq_checks``,
and in it one rule per pod address whose comment starts with a hash of the
network and one of (ifname, containerID). DEL and GC find rules by that hash,
so they remove exactly one pod's rules, even when its link is already gone (the
reference's iptables backend leaks its chain then).
"""

from __future__ import annotations

import hashlib
import ipaddress

from kin.errors import PrerequisiteError
from kin.linux import nft

__all__ = ["comment_for", "gc_masquerade", "setup_masquerade", "teardown_masquerade"]

TABLE = "cni_plugins_masquerade"
CHAIN = "masq_checks"
COMMENT_MAX = 128


def _hash(text: str) -> str:
    return hashlib.sha512(text.encode()).hexdigest()[:16]


def network_hash(network: str) -> str:
    return _hash(network)


def instance_hash(network: str, ifname: str, container_id: str) -> str:
    return f"{_hash(network)}-{_hash(ifname + ':' + container_id)}"


def comment_for(network: str, ifname: str, container_id: str) -> str:
    def clean(s: str) -> str:
        return s.replace('"', "")

    text = (
        f"{instance_hash(network, ifname, container_id)}, net: {clean(network)}, "
        f"if: {clean(ifname)}, id: {clean(container_id)}"
    )
    return text[:COMMENT_MAX]


def _skeleton() -> str:
    return (
        f"add table inet {TABLE}\n"
        f"add chain inet {TABLE} {CHAIN}\n"
        f"add chain inet {TABLE} postrouting {{ type nat hook postrouting priority srcnat; }}\n"
        f"flush chain inet {TABLE} postrouting\n"
        f"add rule inet {TABLE} postrouting ip daddr 224.0.0.0/4 return\n"
        f"add rule inet {TABLE} postrouting ip6 daddr ff00::/8 return\n"
        f"add rule inet {TABLE} postrouting goto {CHAIN}\n"
    )


def setup_masquerade(cidrs: list[str], network: str, ifname: str, container_id: str) -> None:
    """One rule per pod address: from it, to anything outside its subnet -> masquerade."""
    script = _skeleton()
    script += "".join(
        f"delete rule inet {TABLE} {CHAIN} handle {h}\n"
        for h in _handles(instance_hash(network, ifname, container_id))
    )
    comment = comment_for(network, ifname, container_id)
    for cidr in cidrs:
        iface = ipaddress.ip_interface(cidr)
        family = "ip" if iface.version == 4 else "ip6"
        script += (
            f"add rule inet {TABLE} {CHAIN} {family} saddr {iface.ip} {family} daddr != "
            f'{iface.network} masquerade comment "{comment}"\n'
        )
    nft.apply(script)


def teardown_masquerade(network: str, ifname: str, container_id: str) -> None:
    _delete(_handles(instance_hash(network, ifname, container_id)))


def gc_masquerade(network: str, valid: set[tuple[str, str]]) -> None:
    """Remove this network's rules whose (containerID, ifname) is not in ``valid``."""
    keep = {comment_for(network, ifname, cid) for cid, ifname in valid}
    try:
        rules = _rules(network_hash(network))
    except PrerequisiteError:
        return  # no nft on this machine: no masquerade rules to collect either
    stale = [h for h, comment in rules if comment not in keep]
    _delete(stale)


def _delete(handles: list[int]) -> None:
    if handles:
        nft.apply("".join(f"delete rule inet {TABLE} {CHAIN} handle {h}\n" for h in handles))


def _handles(prefix: str) -> list[int]:
    return [handle for handle, _ in _rules(prefix)]


def _rules(prefix: str) -> list[tuple[int, str]]:
    """(handle, comment) of the rules in masq_checks whose comment starts with ``prefix``."""
    found = []
    for item in nft.list_json("chain", "inet", TABLE, CHAIN):
        rule = item.get("rule")
        if rule and str(rule.get("comment", "")).startswith(prefix):
            found.append((int(rule["handle"]), str(rule["comment"])))
    return found
