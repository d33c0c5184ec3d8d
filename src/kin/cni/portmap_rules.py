"""What kin's ``portmap`` plugin asks of nftables, as pure functions: config, scripts, listings.

Kept apart from the plugin so every rule it writes, removes or checks is tested without
root, and so the plugin itself is only I/O (``nft``, one sysctl, ``conntrack``).

The layout is the reference plugin's nftables backend (containernetworking/plugins
``plugins/meta/portmap/portmap_nftables.go`` after PR #1210), one table per family::

    table ip cni_hostport                     (ip6: the same, without the localhost rule)
      prerouting   nat hook prerouting -100:  <conditionsV4> fib daddr type local jump hostports_all
      output       nat hook output -100:      <conditionsV4> fib daddr type local jump hostports_all
      hostports_all:                          jump hostip_hostports; jump hostports
      hostip_hostports:                       empty; the reference's old chain, still jumped to
      hostports:    [ip daddr HOSTIP] tcp dport 8080 dnat to 10.244.1.2:80 comment "NET/CID"
      masquerading nat hook postrouting 100:  ip saddr POD ip daddr POD masquerade (hairpin)
                                              ip saddr 127.0.0.1 ip daddr POD masquerade

``fib daddr type local`` limits DNAT to traffic for the node's own addresses (the same
as iptables' ``--dst-type LOCAL``); the output hook makes the node itself, 127.0.0.1
included, reach a host port. A rule per mapping rather than a map: a rule can be
deleted for exactly one container even if another container reuses the pod IP.

Where kin differs from the reference, on purpose:

- Comments name the network and the container (``NET/CID``), not the container alone,
  so two networks attaching one container stay apart and GC finds its network's rules.
- ``masqAll`` masquerades DNATed connections to the pod (``ct status dnat``), as the
  iptables backend's mark does, not every connection to the pod.
- Removing the last rules removes the table: a node with no host ports has no portmap
  ruleset. Every ADD rewrites the prerouting jump, so the removal deletes that jump by
  handle in the same transaction; after a concurrent ADD the handle is gone, nft refuses
  the whole transaction, and the caller reads the table again and retries.
- ``markMasqBit`` is validated and otherwise unused, as in the reference's nftables
  backend: masquerading matches addresses, leaving mark bits to kube-proxy and others.
"""

from __future__ import annotations

import ipaddress

from kin.cni.spec import ERR_INVALID_NETWORK_CONFIG, ERR_UNSUPPORTED_FIELD
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable
    from typing import Any

    Listing = list[dict[str, Any]]

__all__ = [
    "FAMILIES",
    "TABLE",
    "PortMapConf",
    "PortMapping",
    "add_script",
    "check_problems",
    "container_ips",
    "network_prefix",
    "owner_comment",
    "parse_config",
    "removal_script",
]

TABLE = "cni_hostport"
FAMILIES = ("ip", "ip6")
PROTOCOLS = ("tcp", "udp", "sctp")
BACKENDS = ("", "nftables")
DEFAULT_MARK_BIT = 13
COMMENT_MAX = 128  # nft refuses longer comments
NETWORK_PART_MAX = 48  # 48 + "/" + 79 = 128
HOOKS = ("prerouting", "output")
STRUCTURE = (*HOOKS, "hostports_all")
DATA_CHAINS = ("hostports", "hostip_hostports", "masquerading")
TABLE_COMMENT = "CNI portmap plugin"


class PortMapping:
    """One ``runtimeConfig.portMappings`` entry, validated; ``host_ip`` is "" when absent."""

    __slots__ = ("container_port", "host_ip", "host_port", "protocol")

    def __init__(self, host_port: int, container_port: int, protocol: str, host_ip: str) -> None:
        self.host_port = host_port
        self.container_port = container_port
        self.protocol = protocol
        self.host_ip = host_ip

    def __repr__(self) -> str:
        where = f"{self.host_ip}:" if self.host_ip else ""
        return f"{where}{self.host_port}->{self.container_port}/{self.protocol}"


class PortMapConf:
    """The plugin's settings for one call, with the reference's defaults."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.network: str = config["name"]
        self.snat = _bool(config, "snat", True)
        self.masq_all = _bool(config, "masqAll", False)
        self.mark_bit = _mark_bit(config)
        self.backend = _string(config, "backend")
        self.conditions = {
            "ip": _conditions(config, "conditionsV4"),
            "ip6": _conditions(config, "conditionsV6"),
        }
        runtime = config.get("runtimeConfig") or {}
        raw = runtime.get("portMappings") if isinstance(runtime, dict) else None
        self.mappings = _mappings(raw)


def parse_config(config: dict[str, Any]) -> PortMapConf:
    """Validate ``config`` (code 7 names the field; backend ``iptables`` is code 2)."""
    conf = PortMapConf(config)
    if conf.backend not in BACKENDS:
        detail = 'kin\'s portmap writes nftables rules only; use "nftables" or leave it out'
        raise CNIError(
            ERR_UNSUPPORTED_FIELD, f'unsupported field "backend": {conf.backend!r}', detail
        )
    return conf


def _invalid(message: str) -> CNIError:
    return CNIError(ERR_INVALID_NETWORK_CONFIG, message)


def _bool(config: dict[str, Any], key: str, default: bool) -> bool:
    value = config.get(key, default)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise _invalid(f"{key} must be true or false, not {value!r}")
    return value


def _string(config: dict[str, Any], key: str) -> str:
    value = config.get(key) or ""
    if not isinstance(value, str):
        raise _invalid(f"{key} must be a string, not {value!r}")
    return value


def _conditions(config: dict[str, Any], key: str) -> list[str]:
    """nft match tokens; a newline or ";" would end the rule and start another command."""
    value = config.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _invalid(f"{key} must be a list of strings, not {value!r}")
    if any(c in v for v in value for c in "\n\r;#"):
        raise _invalid(f"{key}: one rule's matches only, no newline, ';' or '#': {value!r}")
    return value


def _mark_bit(config: dict[str, Any]) -> int:
    value = config.get("markMasqBit")
    if value is not None and config.get("externalSetMarkChain") is not None:
        raise _invalid("cannot specify externalSetMarkChain and markMasqBit")
    if value is None:
        return DEFAULT_MARK_BIT
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 31:
        raise _invalid(f"markMasqBit must be between 0 and 31, not {value!r}")
    return value


def _mappings(raw: object) -> list[PortMapping]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise _invalid(f"runtimeConfig.portMappings must be a list, not {raw!r}")
    return [_mapping(i, entry) for i, entry in enumerate(raw)]


def _mapping(index: int, entry: object) -> PortMapping:
    where = f"runtimeConfig.portMappings[{index}]"
    if not isinstance(entry, dict):
        raise _invalid(f"{where} must be an object, not {entry!r}")
    host_port = _port(entry.get("hostPort"), f"{where}.hostPort", "host")
    container_port = _port(entry.get("containerPort"), f"{where}.containerPort", "container")
    protocol = entry.get("protocol") or "tcp"
    if not isinstance(protocol, str) or protocol.lower() not in PROTOCOLS:
        raise _invalid(f"{where}.protocol: unsupported protocol {protocol!r} (tcp, udp or sctp)")
    host_ip = entry.get("hostIP") or ""
    if host_ip:
        host_ip = _address(host_ip, f"{where}.hostIP")
    return PortMapping(host_port, container_port, protocol.lower(), host_ip)


def _port(value: object, where: str, kind: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < 65536:
        raise _invalid(f"Invalid {kind} port number: {value!r} ({where})")
    return value


def _address(value: object, where: str) -> str:
    """The canonical form of an IP address; anything else (an int, a scope ID, which
    ``ipaddress`` would pass through verbatim into the nft script) is code 7."""
    try:
        if not isinstance(value, str) or "%" in value:
            raise ValueError(value)
        return str(ipaddress.ip_address(value))
    except ValueError as exc:
        raise _invalid(f"{where}: {value!r} is not an IP address") from exc


def family_of(address: str) -> str:
    """``"ip"`` or ``"ip6"``: the nftables family of an address."""
    return "ip6" if ":" in address else "ip"


# --- which addresses ------------------------------------------------------------------------


def container_ips(prev: dict[str, Any], ifname: str) -> dict[str, str]:
    """The pod's first address per family (``{"ip": "10.244.1.2"}``), as the reference picks it:
    skip addresses on interfaces known not to be the sandbox's ``ifname``."""
    interfaces = prev.get("interfaces") or []
    found: dict[str, str] = {}
    for ip in prev.get("ips") or []:
        index = ip.get("interface")
        if isinstance(index, int) and 0 <= index < len(interfaces):
            interface = interfaces[index]
            if interface.get("name") != ifname or not interface.get("sandbox"):
                continue
        address = _address(str(ip.get("address", "")).split("/")[0], "prevResult.ips")
        found.setdefault(family_of(address), address)
    return found


# --- identity -------------------------------------------------------------------------------


def owner_comment(network: str, container_id: str) -> str:
    """``NET/CID``, the comment on every rule of one attachment. A network name over 48
    characters, or a container ID that would pass nft's 128, is shortened with a digest."""
    prefix = network_prefix(network)
    return prefix + _shorten(container_id, COMMENT_MAX - len(prefix))


def network_prefix(network: str) -> str:
    """What every comment of ``network`` starts with: ``NET/``."""
    return _shorten(network, NETWORK_PART_MAX) + "/"


def _shorten(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    import hashlib

    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    return f"{text[: limit - 17]}~{digest}"


# --- ADD ------------------------------------------------------------------------------------


def add_script(family: str, pod_ip: str, conf: PortMapConf, comment: str) -> str:
    """The ``nft -f`` lines that map ``conf.mappings`` to ``pod_ip`` in ``family``'s table."""
    mappings = _of_family(conf.mappings, family)
    if not mappings:
        return ""  # unlike the reference, no empty table that no DEL would remove
    lines = _skeleton(family, conf.conditions[family], conf.snat)
    lines += [_dnat_rule(family, m, pod_ip, comment) for m in mappings]
    if conf.snat:
        lines += _masquerade_rules(family, pod_ip, conf.masq_all, comment)
    return "".join(line + "\n" for line in lines)


def _of_family(mappings: list[PortMapping], family: str) -> list[PortMapping]:
    """A hostIP of the other family leaves a mapping out, as in the reference."""
    return [m for m in mappings if not m.host_ip or family_of(m.host_ip) == family]


def _skeleton(family: str, conditions: list[str], snat: bool) -> list[str]:
    at = f"{family} {TABLE}"
    entry = " ".join([*conditions, "fib daddr type local jump hostports_all"])
    lines = [f'add table {at} {{ comment "{TABLE_COMMENT}" ; }}']
    lines += [f"add chain {at} {name}" for name in ("hostports", "hostip_hostports")]
    lines += [f"add chain {at} hostports_all", f"flush chain {at} hostports_all"]
    lines += [
        f"add rule {at} hostports_all jump {name}" for name in ("hostip_hostports", "hostports")
    ]
    for hook in HOOKS:
        lines.append(f"add chain {at} {hook} {{ type nat hook {hook} priority -100 ; }}")
        lines += [f"flush chain {at} {hook}", f"add rule {at} {hook} {entry}"]
    if snat:
        lines.append(f"add chain {at} masquerading {{ type nat hook postrouting priority 100 ; }}")
    return lines


def _dnat_rule(family: str, mapping: PortMapping, pod_ip: str, comment: str) -> str:
    match = f"{family} daddr {mapping.host_ip} " if _restricts(mapping) else ""
    target = f"[{pod_ip}]" if family == "ip6" else pod_ip
    return (
        f"add rule {family} {TABLE} hostports {match}{mapping.protocol} dport {mapping.host_port}"
        f' dnat to {target}:{mapping.container_port} comment "{comment}"'
    )


def _restricts(mapping: PortMapping) -> bool:
    """A hostIP narrows the mapping unless it is 0.0.0.0 or ::."""
    return bool(mapping.host_ip) and not ipaddress.ip_address(mapping.host_ip).is_unspecified


def _masquerade_rules(family: str, pod_ip: str, masq_all: bool, comment: str) -> list[str]:
    at = f"add rule {family} {TABLE} masquerading"
    tail = f'masquerade comment "{comment}"'
    if masq_all:
        return [f"{at} {family} daddr {pod_ip} ct status dnat {tail}"]
    rules = [f"{at} {family} saddr {pod_ip} {family} daddr {pod_ip} {tail}"]
    if family == "ip":
        rules.append(f"{at} ip saddr 127.0.0.1 ip daddr {pod_ip} {tail}")
    return rules


# --- DEL and GC -----------------------------------------------------------------------------


def removal_script(family: str, listing: Listing, doomed: Callable[[str], bool]) -> str:
    """``nft -f`` lines deleting every rule whose comment is ``doomed``; the whole table when
    nothing else would be left (guarded by the entry jumps' handles, see the module doc)."""
    if not any("table" in item for item in listing):
        return ""
    rules = [item["rule"] for item in listing if "rule" in item]
    ours = [r for r in rules if r.get("chain") in DATA_CHAINS and doomed(r.get("comment", ""))]
    at = f"{family} {TABLE}"
    if _only_structure_left(listing, rules, ours):
        guards = [r for r in rules if r["chain"] in HOOKS]
        lines = [f"delete rule {at} {r['chain']} handle {r['handle']}" for r in guards]
        return "".join(line + "\n" for line in [*lines, f"delete table {at}"])
    return "".join(f"delete rule {at} {r['chain']} handle {r['handle']}\n" for r in ours)


def _only_structure_left(listing: Listing, rules: list[dict[str, Any]], ours: list[Any]) -> bool:
    doomed = {r["handle"] for r in ours}
    kinds = {key for item in listing for key in item} - {"metainfo", "table", "chain", "rule"}
    chains = {item["chain"]["name"] for item in listing if "chain" in item}
    others = [r for r in rules if r["chain"] not in STRUCTURE and r["handle"] not in doomed]
    return not kinds and chains <= {*STRUCTURE, *DATA_CHAINS} and not others


# --- CHECK ----------------------------------------------------------------------------------


def check_problems(
    family: str, pod_ip: str, conf: PortMapConf, comment: str, listing: Listing
) -> list[str]:
    """What is missing from ``listing`` for the ADD of ``conf`` to ``pod_ip``; [] if nothing."""
    mappings = _of_family(conf.mappings, family)
    rules = [item["rule"] for item in listing if "rule" in item]
    found = {_dnat_signature(r) for r in rules if r.get("comment") == comment}
    problems = [
        f"no jump to hostports_all in {family} {hook}" for hook in HOOKS if not _enters(rules, hook)
    ]
    for m in mappings:
        host_ip = m.host_ip if _restricts(m) else None
        if (m.protocol, m.host_port, host_ip, pod_ip, m.container_port) not in found:
            problems.append(f"no DNAT rule for {m!r} to {pod_ip}")
    masq = sum(1 for r in rules if r.get("chain") == "masquerading" and r.get("comment") == comment)
    wanted = len(_masquerade_rules(family, pod_ip, conf.masq_all, comment))
    if conf.snat and mappings and masq < wanted:
        problems.append(f"{wanted - masq} of {wanted} masquerade rules for {pod_ip} missing")
    return problems


def _enters(rules: Iterable[dict[str, Any]], hook: str) -> bool:
    return any(
        r.get("chain") == hook
        and any(e.get("jump", {}).get("target") == "hostports_all" for e in r["expr"])
        for r in rules
    )


def _dnat_signature(rule: dict[str, Any]) -> tuple[object, ...]:
    """(protocol, host port, host IP or None, pod IP, container port) of a listed DNAT rule."""
    proto = port = host_ip = addr = to_port = None
    for expr in rule.get("expr", []):
        payload = expr.get("match", {}).get("left", {}).get("payload", {})
        if payload.get("field") == "dport":
            proto, port = payload.get("protocol"), expr["match"]["right"]
        elif payload.get("field") == "daddr":
            host_ip = expr["match"]["right"]
        elif "dnat" in expr:
            addr, to_port = expr["dnat"].get("addr"), expr["dnat"].get("port")
    return (proto, port, host_ip, addr, to_port)
