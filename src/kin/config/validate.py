"""kind's ``Validate()`` with its exact wording, and kin's own support checks.

``validate`` reproduces ``pkg/internal/apis/config/validate.go``: every problem is
collected; a node's problems are folded into one ``invalid configuration for node <i>: ...``
entry (itself ``[a, b]`` when there are several), and the whole list raises one
``ConfigError``. Go's ``net.ParseIP`` / ``net.ParseCIDR`` and ``IP.String()`` are mimicked
(no zones, IPv4-mapped addresses print as IPv4) because their results appear in messages.

``unsupported_warnings`` and ``check_supported`` are kin's, not kind's: a valid kind file
may ask for something kin ignores (a warning naming the field) or cannot do yet (an error
naming the field), and the user should hear which before any node is made.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator, Sequence

from kin.config.internal import CONTROL_PLANE, WORKER, Cluster, Node, PortMapping
from kin.config.v1alpha4 import DEFAULT_NODE_IMAGE
from kin.config.yamlstrict import go_quote
from kin.errors import ConfigError, format_problems

__all__ = [
    "CLUSTER_NAME_MAX",
    "check_supported",
    "name_length_warning",
    "unsupported_warnings",
    "validate",
]

CLUSTER_NAME_MAX = 50
_NAME_RE = re.compile(r"[a-z0-9.-]+")
_IP_FAMILIES = ("ipv4", "ipv6", "dual")
_PROXY_MODES = ("iptables", "ipvs", "none", "nftables")
_DUAL_STACK = (
    "expected one (IPv4 or IPv6) CIDR or two CIDRs from each family for dual-stack networking"
)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def validate(cluster: Cluster) -> None:
    """Raise ``ConfigError`` with every problem kind's ``Validate()`` would report."""
    problems = list(_cluster_problems(cluster))
    if problems:
        raise ConfigError(problems)


def _cluster_problems(cluster: Cluster) -> Iterator[str]:
    if not _NAME_RE.fullmatch(cluster.name):
        yield (
            f"'{cluster.name}' is not a valid cluster name, "
            f"cluster names must match `^[a-z0-9.-]+$`"
        )
    yield from _networking_problems(cluster)
    for index, node in enumerate(cluster.nodes):
        node_problems = list(_node_problems(node))
        if node_problems:
            yield f"invalid configuration for node {index}: {_aggregate(node_problems)}"
    if not any(node.role == CONTROL_PLANE for node in cluster.nodes):
        yield "must have at least one control-plane node"


def _networking_problems(cluster: Cluster) -> Iterator[str]:
    net = cluster.networking
    if net.api_server_port != 0 and not _valid_port(net.api_server_port):
        yield f"invalid apiServerPort: invalid port number: {net.api_server_port}"
    if net.ip_family not in _IP_FAMILIES:
        yield f"invalid ipFamily: {net.ip_family}"
    for label, subnets in (("pod", net.pod_subnet), ("service", net.service_subnet)):
        problem = _subnets_problem(subnets, net.ip_family)
        if problem:
            yield f"invalid {label} subnet {problem}"
    if net.kube_proxy_mode not in _PROXY_MODES:
        yield f"invalid kubeProxyMode: {net.kube_proxy_mode}"


def _node_problems(node: Node) -> Iterator[str]:
    if node.role not in (CONTROL_PLANE, WORKER):
        yield f"{go_quote(node.role)} is not a valid node role"
    if not node.image:
        yield "image is a required field"
    for mapping in node.extra_port_mappings:
        if not _valid_port(mapping.host_port):
            yield f"invalid hostPort: invalid port number: {mapping.host_port}"
        if not _valid_port(mapping.container_port):
            yield f"invalid containerPort: invalid port number: {mapping.container_port}"
    problem = _port_mappings_problem(node.extra_port_mappings)
    if problem:
        yield f"invalid portMapping: {problem}"


def _aggregate(problems: Sequence[str]) -> str:
    """k8s' ``utilerrors.NewAggregate(...).Error()``: de-duplicated, bracketed when several."""
    return format_problems(list(dict.fromkeys(problems)))


def _valid_port(port: int) -> bool:
    # -1 asks the container runtime to pick the port in kind; it is accepted here.
    return -1 <= port <= 65535


# -- port mappings (kind's validatePortMappings) --------------------------------------------


def _port_mappings_problem(mappings: Sequence[PortMapping]) -> str | None:
    """The first clash of listen address, host port and protocol within one node."""
    bound: dict[str, set[str]] = {}
    for mapping in mappings:
        if mapping.host_port in (-1, 0):
            continue  # random ports never clash
        addr = parse_ip(mapping.listen_address or "0.0.0.0")
        if addr is None:
            return f"invalid listen address: {mapping.listen_address}"
        key = f"{mapping.host_port}/{mapping.protocol}"
        clash = (
            "port mapping with same listen address, port and protocol already configured: "
            f"{addr}:{key}"
        )
        text = "0.0.0.0" if addr == ipaddress.IPv6Address("::") else str(addr)
        seen = bound.setdefault(key, set())
        if (text == "0.0.0.0" and seen) or text in seen or "0.0.0.0" in seen:
            return clash
        seen.add(text)
    return None


# -- Go's net package, as far as messages show it --------------------------------------------


def parse_ip(text: str) -> IPAddress | None:
    """Go's ``net.ParseIP``: IPv4 or IPv6, no zone; IPv4-mapped IPv6 becomes IPv4."""
    if "%" in text:
        return None
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        return addr.ipv4_mapped
    return addr


def parse_cidr(text: str) -> IPNetwork | None:
    """Go's ``net.ParseCIDR``: address (no zone) '/' decimal prefix; host bits allowed."""
    addr_text, slash, prefix = text.partition("/")
    if not slash or "%" in addr_text or not re.fullmatch(r"[0-9]+", prefix):
        return None
    try:
        addr = ipaddress.ip_address(addr_text)
    except ValueError:
        return None
    if int(prefix) > addr.max_prefixlen:
        return None
    return ipaddress.ip_network(f"{addr}/{int(prefix)}", strict=False)


def _is_ipv4(network: IPNetwork) -> bool:
    """Go's ``IP.To4() != nil`` on the masked network address."""
    if isinstance(network, ipaddress.IPv4Network):
        return True
    return network.network_address.ipv4_mapped is not None


def _subnets_problem(subnets: str, family: str) -> str | None:
    networks: list[IPNetwork] = []
    for text in subnets.split(","):
        network = parse_cidr(text)
        if network is None:
            error = f"invalid CIDR address: {text}"
            return f"failed to parse cidr value:{go_quote(text)} with error: {error}"
        networks.append(network)
    return _subnet_family_problem(networks, family)


def _subnet_family_problem(networks: list[IPNetwork], family: str) -> str | None:
    dual = family == "dual"
    if dual and len(networks) > 2:
        return _DUAL_STACK
    if dual and len(networks) == 2:
        families = {_is_ipv4(network) for network in networks}
        return None if len(families) == 2 else _DUAL_STACK
    if not dual and len(networks) > 1:
        return "only one CIDR allowed for single-stack networking"
    if family == "ipv4" and not _is_ipv4(networks[0]):
        return "expected IPv4 CIDR for IPv4 family"
    if family == "ipv6" and _is_ipv4(networks[0]):
        return "expected IPv6 CIDR for IPv6 family"
    return None


# -- kin's own checks -------------------------------------------------------------------------


def name_length_warning(name: str) -> str | None:
    """kind's warning for a cluster name longer than 50 bytes."""
    if len(name.encode()) <= CLUSTER_NAME_MAX:
        return None
    return (
        f"cluster name {go_quote(name)} is probably too long, "
        "this might not work properly on some systems"
    )


_IGNORED_CLUSTER_FIELDS = (
    ("kubeadm_config_patches", "kubeadmConfigPatches", "kin does not run kubeadm"),
    ("kubeadm_config_patches_json6902", "kubeadmConfigPatchesJSON6902", "kin does not run kubeadm"),
    ("containerd_config_patches", "containerdConfigPatches", "kin does not run containerd"),
    (
        "containerd_config_patches_json6902",
        "containerdConfigPatchesJSON6902",
        "kin does not run containerd",
    ),
    ("feature_gates", "featureGates", "kin's components have no feature gates to set"),
    ("runtime_config", "runtimeConfig", "kin's API server has no --runtime-config"),
)


def unsupported_warnings(cluster: Cluster) -> list[str]:
    """One line per field kin accepts but ignores, naming the field and where it is."""
    warnings = [
        f"{yaml_name}: {why}; ignored"
        for attr, yaml_name, why in _IGNORED_CLUSTER_FIELDS
        if getattr(cluster, attr)
    ]
    if cluster.networking.kube_proxy_mode == "ipvs":
        warnings.append(
            "networking.kubeProxyMode: ipvs needs IPVS, which this kernel lacks; "
            "kin uses the default mode, iptables, instead"
        )
    for index, node in enumerate(cluster.nodes):
        where = f"nodes[{index}]"
        if node.image and node.image != DEFAULT_NODE_IMAGE:
            warnings.append(f"{where}.image: kin runs on the host's files and ignores node images")
        warnings.extend(_node_warnings(where, node))
    return warnings


def _node_warnings(where: str, node: Node) -> Iterator[str]:
    if node.kubeadm_config_patches:
        yield f"{where}.kubeadmConfigPatches: kin does not run kubeadm; ignored"
    if node.kubeadm_config_patches_json6902:
        yield f"{where}.kubeadmConfigPatchesJSON6902: kin does not run kubeadm; ignored"
    for index, mount in enumerate(node.extra_mounts):
        if mount.selinux_relabel:
            yield (
                f"{where}.extraMounts[{index}].selinuxRelabel: "
                "kin bind-mounts host paths without SELinux relabelling; ignored"
            )


def check_supported(cluster: Cluster) -> None:
    """Raise ``ConfigError`` naming every field kin cannot honour yet."""
    problems = list(_unsupported(cluster))
    if problems:
        raise ConfigError(problems)


def _unsupported(cluster: Cluster) -> Iterator[str]:
    net = cluster.networking
    if net.ip_family in ("ipv6", "dual"):
        yield f"networking.ipFamily: {net.ip_family} is not supported by kin yet (only ipv4)"
    if net.api_server_port == -1:
        yield (
            "networking.apiServerPort: -1 (a port picked by the container runtime) is not "
            "supported by kin; use 0 for a random free port"
        )
    if _overlap(net.pod_subnet, net.service_subnet):
        yield (
            f"networking.podSubnet {net.pod_subnet} and networking.serviceSubnet "
            f"{net.service_subnet} overlap: pods and Services need addresses of their own"
        )
    control_planes = sum(node.role == CONTROL_PLANE for node in cluster.nodes)
    if control_planes > 1:
        yield f"nodes: {control_planes} control-plane nodes; kin supports exactly one"
    for index, node in enumerate(cluster.nodes):
        yield from _unsupported_ports(f"nodes[{index}]", node)


def _overlap(first: str, second: str) -> bool:
    """Whether any subnet of one comma-separated list overlaps one of the other (kind does
    not check; kube-proxy would send a pod's traffic to a Service, or the reverse)."""
    try:
        ours = [ipaddress.ip_network(s.strip(), strict=False) for s in first.split(",") if s]
        theirs = [ipaddress.ip_network(s.strip(), strict=False) for s in second.split(",") if s]
    except ValueError:
        return False  # kind's validation reported it
    return any(a.version == b.version and a.overlaps(b) for a in ours for b in theirs)


def _unsupported_ports(where: str, node: Node) -> Iterator[str]:
    for index, mapping in enumerate(node.extra_port_mappings):
        field = f"{where}.extraPortMappings[{index}]"
        if mapping.host_port == -1:
            yield (
                f"{field}.hostPort: -1 (a port picked by the container runtime) is not "
                "supported by kin; use 0 for a random free port"
            )
        if mapping.protocol == "SCTP":
            yield (
                f"{field}.protocol: SCTP is not supported by kin's port publisher "
                "(TCP and UDP only)"
            )
