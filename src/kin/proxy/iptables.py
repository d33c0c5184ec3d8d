"""kube-proxy's iptables mode (kind's default): the service ports as ``KUBE-*`` chains.

The layout is upstream's (``pkg/proxy/iptables``), so ``iptables-save`` on a kin node
reads like it does on a kind node. In table ``nat``: ``KUBE-SERVICES`` matches cluster IPs
(and, last, local destinations into ``KUBE-NODEPORTS``); ``KUBE-SVC-*`` chooses an
endpoint with ``statistic --mode random`` (1/n, 1/(n-1), …, so each is equally likely),
after ``recent`` checks for session affinity; ``KUBE-SEP-*`` DNATs; ``KUBE-EXT-*`` takes
NodePort and external-IP traffic (masqueraded, or with ``externalTrafficPolicy: Local``
to ``KUBE-SVL-*``, this node's endpoints); ``KUBE-MARK-MASQ`` and ``KUBE-POSTROUTING`` do
the masquerade. In table ``filter``: ``KUBE-SERVICES``/``KUBE-EXTERNAL-SERVICES`` reject
new connections to service ports without endpoints, ``KUBE-FORWARD`` lets marked and
established traffic through a node whose FORWARD policy drops.

Every sync writes all of kube-proxy's chains in one ``iptables-restore --noflush`` (each
chain declared is flushed and refilled; chains no longer wanted are deleted in the same
batch) so no packet sees half a rule set.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from kin.linux import iptables
from kin.proxy import names
from kin.proxy.model import Endpoint, ServicePort
from kin.proxy.options import Settings

__all__ = ["JUMPS", "IptablesBackend", "Tables", "cleanup", "render", "restore_text"]

NAT_FIXED = ("KUBE-SERVICES", "KUBE-NODEPORTS", "KUBE-POSTROUTING", "KUBE-MARK-MASQ")
FILTER_FIXED = ("KUBE-SERVICES", "KUBE-EXTERNAL-SERVICES", "KUBE-FORWARD", "KUBE-NODEPORTS",
                "KUBE-PROXY-FIREWALL")  # fmt: skip
PORTALS = '-m comment --comment "kubernetes service portals"'
EXTERNAL = '-m comment --comment "kubernetes externally visible service portals"'
NEW = "-m conntrack --ctstate NEW"
# (table, built-in chain, rule as iptables-save prints it): the jumps into kube-proxy's
# chains, as upstream makes them.
JUMPS: tuple[tuple[str, str, str], ...] = (
    ("filter", "INPUT", f"{NEW} {EXTERNAL} -j KUBE-EXTERNAL-SERVICES"),
    ("filter", "FORWARD", '-m comment --comment "kubernetes forwarding rules" -j KUBE-FORWARD'),
    ("filter", "FORWARD", f"{NEW} {PORTALS} -j KUBE-SERVICES"),
    ("filter", "FORWARD", f"{NEW} {EXTERNAL} -j KUBE-EXTERNAL-SERVICES"),
    ("filter", "OUTPUT", f"{NEW} {PORTALS} -j KUBE-SERVICES"),
    ("nat", "OUTPUT", f"{PORTALS} -j KUBE-SERVICES"),
    ("nat", "PREROUTING", f"{PORTALS} -j KUBE-SERVICES"),
    (
        "nat",
        "POSTROUTING",
        '-m comment --comment "kubernetes postrouting rules" -j KUBE-POSTROUTING',
    ),
)


@dataclass
class Tables:
    """The chains of each table and their rules (``-A`` lines without the ``-A CHAIN``)."""

    nat: dict[str, list[str]] = field(default_factory=dict)
    filter: dict[str, list[str]] = field(default_factory=dict)


def render(ports: Iterable[ServicePort], settings: Settings) -> Tables:
    tables = Tables({name: [] for name in NAT_FIXED}, {name: [] for name in FILTER_FIXED})
    mark = settings.mark
    tables.nat["KUBE-MARK-MASQ"] = [f"-j MARK --or-mark {mark}"]
    tables.nat["KUBE-POSTROUTING"] = [
        f"-m mark ! --mark {mark}/{mark} -j RETURN",
        f"-j MARK --xor-mark {mark}",
        '-m comment --comment "kubernetes service traffic requiring SNAT" -j MASQUERADE '
        "--random-fully",
    ]
    tables.filter["KUBE-FORWARD"] = [
        "-m conntrack --ctstate INVALID -j DROP",
        f'-m comment --comment "kubernetes forwarding rules" -m mark --mark {mark}/{mark} '
        "-j ACCEPT",
        '-m comment --comment "kubernetes forwarding conntrack rule" -m conntrack --ctstate '
        "RELATED,ESTABLISHED -j ACCEPT",
    ]
    for sp in ports:
        _add_service_port(tables, sp, settings)
    tables.nat["KUBE-SERVICES"].append(
        '-m comment --comment "kubernetes service nodeports; NOTE: this must be the last rule '
        'in this chain" -m addrtype --dst-type LOCAL -j KUBE-NODEPORTS'
    )
    return tables


def _match(sp: ServicePort, ip: str = "", port: int = 0) -> str:
    proto = f"-m {sp.protocol} -p {sp.protocol}"
    destination = f" -d {ip}" if ip else ""
    return f"{proto}{destination} --dport {port or sp.port}"


def _add_service_port(tables: Tables, sp: ServicePort, settings: Settings) -> None:
    svc = names.iptables_chain("KUBE-SVC-", sp)
    ext = names.iptables_chain("KUBE-EXT-", sp)
    nat, filt = tables.nat, tables.filter
    cluster = f'-m comment --comment "{sp.key} cluster IP" {_match(sp, sp.cluster_ip)}'
    if sp.cluster_endpoints:
        nat["KUBE-SERVICES"].append(f"{cluster} -j {svc}")
        rules = []
        if settings.cluster_cidr:
            rules.append(f"{cluster} ! -s {settings.cluster_cidr} -j KUBE-MARK-MASQ")
        nat[svc] = rules + _choose(sp, sp.cluster_endpoints)
    else:
        filt["KUBE-SERVICES"].append(_no_endpoints(sp, _match(sp, sp.cluster_ip)))
    for endpoint in sorted({*sp.cluster_endpoints, *sp.external_endpoints}):
        nat[names.iptables_chain("KUBE-SEP-", sp, endpoint)] = _endpoint_rules(sp, endpoint)
    if sp.external:
        _add_external(tables, sp, svc, ext, settings)


def _add_external(tables: Tables, sp: ServicePort, svc: str, ext: str, settings: Settings) -> None:
    nat, filt = tables.nat, tables.filter
    if not (sp.external_endpoints or (sp.external_local and sp.cluster_endpoints)):
        for ip in sp.external_ips:
            filt["KUBE-EXTERNAL-SERVICES"].append(_no_endpoints(sp, _match(sp, ip)))
        if sp.node_port:
            local = "-m addrtype --dst-type LOCAL " + _match(sp, port=sp.node_port)
            filt["KUBE-EXTERNAL-SERVICES"].append(_no_endpoints(sp, local))
        return
    for ip in sp.external_ips:
        comment = f'-m comment --comment "{sp.key} external IP"'
        nat["KUBE-SERVICES"].append(f"{comment} {_match(sp, ip)} -j {ext}")
    if sp.node_port:
        comment = f"-m comment --comment {sp.key}"
        nat["KUBE-NODEPORTS"].append(f"{comment} {_match(sp, port=sp.node_port)} -j {ext}")
    what = f"{sp.key} external destinations"
    if not sp.external_local:
        nat[ext] = [f'-m comment --comment "masquerade traffic for {what}" -j KUBE-MARK-MASQ',
                    f"-j {svc}"]  # fmt: skip
        return
    rules = []
    if sp.cluster_endpoints:
        if settings.cluster_cidr:
            rules.append(f'-m comment --comment "pod traffic for {what}" '
                         f"-s {settings.cluster_cidr} -j {svc}")  # fmt: skip
        rules += [f'-m comment --comment "masquerade LOCAL traffic for {what}" '
                  "-m addrtype --src-type LOCAL -j KUBE-MARK-MASQ",
                  f'-m comment --comment "route LOCAL traffic for {what}" '
                  f"-m addrtype --src-type LOCAL -j {svc}"]  # fmt: skip
    if sp.external_endpoints:
        svl = names.iptables_chain("KUBE-SVL-", sp)
        nat[svl] = _choose(sp, sp.external_endpoints)
        rules.append(f"-j {svl}")
    else:
        rules.append(f'-m comment --comment "{sp.key} has no local endpoints" -j DROP')
    nat[ext] = rules


def _no_endpoints(sp: ServicePort, match: str) -> str:
    """No endpoint at all: reject; none the traffic policy allows: drop (as upstream)."""
    if sp.cluster_endpoints or sp.external_endpoints:
        return f'-m comment --comment "{sp.key} has no local endpoints" {match} -j DROP'
    return (f'-m comment --comment "{sp.key} has no endpoints" {match} -j REJECT '
            "--reject-with icmp-port-unreachable")  # fmt: skip


def _choose(sp: ServicePort, endpoints: tuple[Endpoint, ...]) -> list[str]:
    """Affinity first, then endpoint i of n with probability 1/(n-i): uniform overall."""
    rules = []
    seps = [(e, names.iptables_chain("KUBE-SEP-", sp, e)) for e in endpoints]
    if sp.affinity_seconds:
        for endpoint, sep in seps:
            rules.append(f'-m comment --comment "{sp.key} -> {endpoint.address}" -m recent '
                         f"--name {sep} --rcheck --seconds {sp.affinity_seconds} --reap "
                         f"-j {sep}")  # fmt: skip
    for i, (endpoint, sep) in enumerate(seps):
        comment = f'-m comment --comment "{sp.key} -> {endpoint.address}"'
        left = len(seps) - i
        chance = "" if left == 1 else f" -m statistic --mode random --probability {1 / left:.10f}"
        rules.append(f"{comment}{chance} -j {sep}")
    return rules


def _endpoint_rules(sp: ServicePort, endpoint: Endpoint) -> list[str]:
    sep = names.iptables_chain("KUBE-SEP-", sp, endpoint)
    comment = f"-m comment --comment {sp.key}"
    recent = f" -m recent --name {sep} --set" if sp.affinity_seconds else ""
    return [
        f"{comment} -s {endpoint.ip} -j KUBE-MARK-MASQ",  # hairpin: to itself via the service
        f"{comment}{recent} -m {sp.protocol} -p {sp.protocol} -j DNAT --to-destination "
        f"{endpoint.address}",
    ]


def restore_text(
    tables: Tables,
    previous: Tables,
    inserts: dict[str, list[str]] | None = None,
    changed_only: bool = False,
) -> str:
    """The ``iptables-restore --noflush`` input that sets every chain of ``tables`` (with
    ``changed_only``, those whose rules differ from ``previous``: upstream's minimal
    restore), adds ``inserts`` (table -> ``-I`` lines) and deletes the chains of
    ``previous`` no longer wanted (flushed first, so nothing refers to them)."""
    lines: list[str] = []
    for table in ("filter", "nat"):
        wanted: dict[str, list[str]] = getattr(tables, table)
        had: dict[str, list[str]] = getattr(previous, table)
        if changed_only:
            wanted = {c: r for c, r in wanted.items() if had.get(c) != r}
        gone = [c for c in had if c not in getattr(tables, table)]
        lines.append(f"*{table}")
        lines += [f":{chain} - [0:0]" for chain in [*wanted, *gone]]
        for chain, rules in wanted.items():
            lines += [f"-A {chain} {rule}" for rule in rules]
        lines += (inserts or {}).get(table, [])
        lines += [f"-X {chain}" for chain in gone]
        lines.append("COMMIT")
    return "\n".join(lines) + "\n"


class IptablesBackend:
    """Applies each sync's chains; remembers them, so the next sync writes only what
    changed and deletes the stale."""

    mode = "iptables"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.previous: Tables | None = None

    def sync(self, ports: list[ServicePort], full: bool = False) -> None:
        """Write the chains that changed since the last sync (``full``: every chain, which
        mends what was changed by hand)."""
        tables = render(ports, self.settings)
        inserts: dict[str, list[str]] = {}
        previous, first = self.previous, self.previous is None
        if previous is None:  # the first sync, or one after a failure: ask the kernel
            previous, inserts = _kernel_state()
        self.previous = None  # unknown until this sync lands
        changed_only = not (first or full)
        iptables.restore(restore_text(tables, previous, inserts, changed_only=changed_only))
        self.previous = tables


def _kernel_state() -> tuple[Tables, dict[str, list[str]]]:
    """kube-proxy's chains as the kernel has them (left by an earlier run, perhaps), and
    per table the ``-I`` lines of the jumps into them that are missing. One
    ``iptables-save`` per table: ``iptables -C`` reads the whole table per rule checked."""
    found, inserts = Tables(), dict[str, list[str]]()
    for table in ("filter", "nat"):
        saved = iptables.save(table)
        setattr(found, table, {c: [] for c in saved.chains if _ours(c)})
        missing = [(chain, rule) for t, chain, rule in reversed(JUMPS)
                   if t == table and f"-A {chain} {rule}" not in saved.rules]  # fmt: skip
        inserts[table] = [f"-I {chain} 1 {rule}" for chain, rule in missing]
    return found, inserts


def _ours(chain: str) -> bool:
    return chain.startswith("KUBE-")


def cleanup() -> None:
    """Remove kube-proxy's iptables rules (another mode takes over): jumps, then chains."""
    for table, chain, rule in JUMPS:
        iptables.delete_rule(table, chain, rule)
    left, _ = _kernel_state()
    if left.nat or left.filter:
        iptables.restore(restore_text(Tables(), left))
