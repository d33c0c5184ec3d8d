"""kube-proxy's nftables mode: the service ports as table ``ip kube-proxy``.

The layout is upstream's (``pkg/proxy/nftables``), so ``nft list table ip kube-proxy`` on a
kin node reads like it does on any Kubernetes node:

- ``nat-prerouting``/``nat-output`` jump to ``services``, which looks the packet's
  destination up in the verdict maps ``service-ips`` (cluster IP . protocol . port) and,
  for a local destination, ``service-nodeports`` (protocol . port);
- a chain per service port (``service-HASH-ns/name/tcp/port``) chooses an endpoint with
  ``numgen random`` (see ``_choose``), after the session-affinity sets; a chain per endpoint
  (``endpoint-HASH-ns/name/tcp/port__IP/PORT``) DNATs to it;
- ``external-HASH-...`` chains take NodePort and external-IP traffic, masqueraded unless
  ``externalTrafficPolicy: Local`` (then only this node's endpoints, the client's address
  kept);
- ``mark-for-masquerade`` sets the 0x4000 mark that ``masquerading`` (postrouting) turns
  into a masquerade: traffic to a cluster IP from outside the pod network, traffic from
  an endpoint to itself through its service (hairpin), and external traffic;
- the filter chains reject new connections to a service port without endpoints
  (``no-endpoint-services``/``no-endpoint-nodeports``) and to a cluster IP's other ports.
"""

from __future__ import annotations

from kin.linux import nft
from kin.proxy import names
from kin.proxy.model import Endpoint, ServicePort
from kin.proxy.options import Settings
from kin.proxy.ruleset import Ruleset, transaction

__all__ = ["TABLE", "NftablesBackend", "cleanup", "ruleset"]

TABLE = "kube-proxy"
SERVICE_KEY = "ipv4_addr . inet_proto . inet_service"
NODEPORT_KEY = "inet_proto . inet_service"
LOCAL_DESTINATION = "fib daddr type local ip daddr != 127.0.0.0/8"
HOOKS = {
    "filter-input": "type filter hook input priority -110",
    "filter-forward": "type filter hook forward priority -110",
    "filter-output": "type filter hook output priority -110",
    "filter-output-post-dnat": "type filter hook output priority -90",
    "nat-prerouting": "type nat hook prerouting priority dstnat",
    "nat-output": "type nat hook output priority -100",
    "nat-postrouting": "type nat hook postrouting priority srcnat",
}
NEW = "ct state new"
MAPS = {
    "cluster-ips": 'set { type ipv4_addr ; comment "Active ClusterIPs" ; }',
    "service-ips": f'map {{ type {SERVICE_KEY} : verdict ; comment "ClusterIP, ExternalIP and '
    'LoadBalancer IP traffic" ; }',
    "service-nodeports": f'map {{ type {NODEPORT_KEY} : verdict ; comment "NodePort traffic" ; }}',
    "no-endpoint-services": f'map {{ type {SERVICE_KEY} : verdict ; comment "vmap to drop or '
    'reject packets to services with no endpoints" ; }',
    "no-endpoint-nodeports": f'map {{ type {NODEPORT_KEY} : verdict ; comment "vmap to drop or '
    'reject packets to service nodeports with no endpoints" ; }',
}


def ruleset(ports: list[ServicePort], settings: Settings) -> Ruleset:
    rs = Ruleset("ip", TABLE, "rules for kube-proxy", hooks=dict(HOOKS),
                 declarations=dict(MAPS), elements={name: {} for name in MAPS})  # fmt: skip
    rs.chains.update(_fixed_chains(settings))
    for sp in ports:
        _add_service_port(rs, sp, settings)
    return rs


def _fixed_chains(settings: Settings) -> dict[str, tuple[str, ...]]:
    mark = settings.mark
    return {
        "filter-input": (f"{NEW} jump nodeport-endpoints-check",
                         f"{NEW} jump service-endpoints-check"),
        "filter-forward": (f"{NEW} jump service-endpoints-check", f"{NEW} jump cluster-ips-check"),
        "filter-output": (f"{NEW} jump service-endpoints-check",),
        "filter-output-post-dnat": (f"{NEW} jump cluster-ips-check",),
        "nat-prerouting": ("jump services",),
        "nat-output": ("jump services",),
        "nat-postrouting": ("jump masquerading",),
        "mark-for-masquerade": (f"mark set mark or {mark}",),
        "masquerading": (f"mark and {mark} == 0 return", f"mark set mark xor {mark}",
                         "masquerade fully-random"),
        "services": ("ip daddr . meta l4proto . th dport vmap @service-ips",
                     f"{LOCAL_DESTINATION} meta l4proto . th dport vmap @service-nodeports"),
        "service-endpoints-check": (
            "ip daddr . meta l4proto . th dport vmap @no-endpoint-services",),
        "nodeport-endpoints-check": (
            f"{LOCAL_DESTINATION} meta l4proto . th dport vmap @no-endpoint-nodeports",),
        "cluster-ips-check": ('ip daddr @cluster-ips reject comment "Reject traffic to invalid '
                              'ports of ClusterIPs"',),
        "reject-chain": ('reject comment "helper for @no-endpoint-services / '
                         '@no-endpoint-nodeports"',),
    }  # fmt: skip


def _add_service_port(rs: Ruleset, sp: ServicePort, settings: Settings) -> None:
    base = names.nft_service_base(sp)
    service, external, local = f"service-{base}", f"external-{base}", f"local-{base}"
    key = f"{sp.cluster_ip} . {sp.protocol} . {sp.port}"
    rs.elements["cluster-ips"][sp.cluster_ip] = ""
    if sp.cluster_endpoints:
        masquerade = []
        if settings.cluster_cidr:  # from outside the pod network: replies must come back here
            outside = f"ip saddr != {settings.cluster_cidr} jump mark-for-masquerade"
            masquerade = [f"ip daddr {sp.cluster_ip} {sp.protocol} dport {sp.port} {outside}"]
        rs.chains[service] = (*masquerade, *_choose(sp, sp.cluster_endpoints))
        rs.elements["service-ips"][key] = f"goto {service}"
    else:
        rs.elements["no-endpoint-services"][key] = _no_endpoints(sp)
    for endpoint in {*sp.cluster_endpoints, *sp.external_endpoints}:
        _add_endpoint(rs, sp, endpoint, settings)
    if not sp.external:
        return
    if sp.external_endpoints or (sp.external_local and sp.cluster_endpoints):
        rs.chains[external] = _external_rules(sp, service, local, settings)
        if sp.external_local and sp.external_endpoints:
            rs.chains[local] = _choose(sp, sp.external_endpoints)
        target, vmap, nodeport_vmap = f"goto {external}", "service-ips", "service-nodeports"
    else:
        target = _no_endpoints(sp)
        vmap, nodeport_vmap = "no-endpoint-services", "no-endpoint-nodeports"
    for ip in sp.external_ips:
        rs.elements[vmap][f"{ip} . {sp.protocol} . {sp.port}"] = target
    if sp.node_port:
        rs.elements[nodeport_vmap][f"{sp.protocol} . {sp.node_port}"] = target


def _no_endpoints(sp: ServicePort) -> str:
    """No endpoint at all: reject (the client hears at once); none this policy allows: drop."""
    return "drop" if sp.cluster_endpoints or sp.external_endpoints else "goto reject-chain"


def _external_rules(
    sp: ServicePort, service: str, local: str, settings: Settings
) -> tuple[str, ...]:
    """NodePort and external-IP traffic: masqueraded to any endpoint, or (policy Local)
    to this node's with the client's address kept; pods and the node itself still reach
    every endpoint, as through the cluster IP."""
    if not sp.external_local:
        return ("jump mark-for-masquerade", f"goto {service}")
    rules: list[str] = []
    if sp.cluster_endpoints:
        if settings.cluster_cidr:
            rules.append(f"ip saddr {settings.cluster_cidr} goto {service}")
        rules += ["fib saddr type local jump mark-for-masquerade",
                  f"fib saddr type local goto {service}"]  # fmt: skip
    if sp.external_endpoints:
        return (*rules, f"goto {local}")
    return (*rules, f'drop comment "{sp.key} has no local endpoints"')


def _choose(sp: ServicePort, endpoints: tuple[Endpoint, ...]) -> tuple[str, ...]:
    """Affinity first (a client seen lately goes where it went), then endpoint i of n with
    chance 1/(n-i), uniform overall. Upstream writes the choice as one ``numgen random mod
    n vmap {...}``; each such anonymous map makes the kernel's loop check walk every set
    for every jump, which cost 1,000 services of 10 endpoints 1.3 s more per full sync."""
    chains = [f"endpoint-{names.nft_endpoint_base(sp, e)}" for e in endpoints]
    rules = []
    if sp.affinity_seconds:
        rules = [f"ip saddr @affinity-{chain[len('endpoint-') :]} goto {chain}" for chain in chains]
    for i, chain in enumerate(chains):
        left = len(chains) - i
        rules.append(f"numgen random mod {left} == 0 goto {chain}" if left > 1 else f"goto {chain}")
    return tuple(rules)


def _add_endpoint(rs: Ruleset, sp: ServicePort, endpoint: Endpoint, settings: Settings) -> None:
    base = names.nft_endpoint_base(sp, endpoint)
    # hairpin: an endpoint reaching itself through its service. The mark is set here
    # rather than by a jump to mark-for-masquerade: a jump per endpoint chain costs a
    # kernel loop check each (0.5 s per full sync at 10,000 endpoints).
    rules = [f"ip saddr {endpoint.ip} mark set mark or {settings.mark}"]
    if sp.affinity_seconds:
        affinity = f"affinity-{base}"
        rs.declarations[affinity] = (
            f"set {{ type ipv4_addr ; flags dynamic,timeout ; timeout {sp.affinity_seconds}s ; }}"
        )
        rules.append(f"update @{affinity} {{ ip saddr }}")
    rules.append(f"meta l4proto {sp.protocol} dnat to {endpoint.address}")
    rs.chains[f"endpoint-{base}"] = tuple(rules)


class NftablesBackend:
    """Applies each sync as one transaction from the table the last sync left."""

    mode = "nftables"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.previous: Ruleset | None = None

    def sync(self, ports: list[ServicePort], full: bool = False) -> None:
        """One transaction from the last sync's table (``full`` changes nothing: a rebuild
        would forget the session-affinity sets)."""
        desired = ruleset(ports, self.settings)
        script = transaction(self.previous, desired)
        self.previous = None  # unknown until this transaction lands
        nft.apply(script)
        self.previous = desired


def cleanup() -> None:
    """Remove kube-proxy's table (another mode takes over); absent already is fine."""
    nft.apply(f"add table ip {TABLE}\ndelete table ip {TABLE}\n")
