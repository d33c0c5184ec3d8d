"""UDP flows to endpoints that are gone: found after each sync, deleted from conntrack.

A UDP "connection" lives in conntrack as long as packets keep coming, translation and
all, so a client that keeps its source port (a DNS resolver, a game, a metrics agent)
would keep talking to a removed endpoint forever. After each sync kube-proxy deletes the
UDP entries whose reply comes from an endpoint a service port no longer has, for the
cluster IP, external IPs and NodePort that reached it, as upstream's conntrack cleanup
does. The next packet of the flow is translated afresh.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from kin.errors import KinError
from kin.linux import conntrack
from kin.proxy.model import ServicePort

__all__ = ["Flow", "clear_stale_udp", "stale_udp_flows"]

log = logging.getLogger("kin.proxy")


@dataclass(frozen=True, order=True)
class Flow:
    """Entries to delete: original destination (address and/or port), reply source."""

    orig_dst: str
    orig_port_dst: int
    reply_src: str


def stale_udp_flows(before: Iterable[ServicePort], after: Iterable[ServicePort]) -> list[Flow]:
    now = {(sp.key, sp.protocol): _addresses(sp) for sp in after}
    flows: set[Flow] = set()
    for sp in before:
        if sp.protocol != "udp":
            continue
        for gone in _addresses(sp) - now.get((sp.key, sp.protocol), set()):
            flows.add(Flow(sp.cluster_ip, sp.port, gone))
            flows.update(Flow(ip, sp.port, gone) for ip in sp.external_ips)
            if sp.node_port:
                flows.add(Flow("", sp.node_port, gone))
    return sorted(flows)


def _addresses(sp: ServicePort) -> set[str]:
    return {e.ip for e in (*sp.cluster_endpoints, *sp.external_endpoints)}


def clear_stale_udp(before: Iterable[ServicePort], after: Iterable[ServicePort]) -> None:
    """Delete the stale flows; a failure is logged (the rules are right regardless)."""
    for flow in stale_udp_flows(before, after):
        try:
            deleted = conntrack.delete_udp(orig_dst=flow.orig_dst, orig_port_dst=flow.orig_port_dst,
                                           reply_src=flow.reply_src)  # fmt: skip
        except KinError as exc:
            log.warning("clearing UDP flows to %s failed: %s", flow.reply_src, exc)
            continue
        if deleted:
            target = f"{flow.orig_dst or 'node port'}:{flow.orig_port_dst}"
            log.info("deleted %d UDP flows to %s answered by %s", deleted, target, flow.reply_src)
