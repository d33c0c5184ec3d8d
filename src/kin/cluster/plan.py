"""The cluster plan: every name, address, subnet and port, computed up front with no I/O.

``plan_cluster`` is a pure function of the config, the cluster name, the kin
network, the addresses other clusters already hold and the host ports chosen
for ``0`` requests; create realises the plan, delete reads it back. Ordering
follows kind and kubeadm: control-plane nodes first, then workers, each in
config order, for node addresses and for the /24 pod CIDR each node gets out
of ``podSubnet``.
"""

from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Collection, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from kin.config import Cluster
from kin.errors import ConfigError

__all__ = [
    "API_SERVER_NODE_PORT",
    "CLUSTER_DOMAIN",
    "ClusterPlan",
    "MountPlan",
    "NetworkPlan",
    "NodePlan",
    "PortPlan",
    "api_server_port_key",
    "node_names",
    "plan_cluster",
    "port_mapping_key",
]

API_SERVER_NODE_PORT = 6443
CLUSTER_DOMAIN = "cluster.local"
NODE_CIDR_PREFIX = 24


@dataclass(frozen=True)
class PortPlan:
    """A published port: ``listen_address:host_port`` on the host -> a node's ``container_port``."""

    listen_address: str
    host_port: int
    container_port: int
    protocol: str
    source: str
    """The config field it comes from, for messages (``nodes[1].extraPortMappings[0]``)."""

    def docker_style(self) -> str:
        host = f"[{self.listen_address}]" if ":" in self.listen_address else self.listen_address
        return f"{host}:{self.host_port}->{self.container_port}/{self.protocol}"


@dataclass(frozen=True)
class MountPlan:
    """A kind ``extraMount``: a host path bound into the node."""

    host_path: str
    container_path: str
    read_only: bool = False
    propagation: str = "None"


@dataclass(frozen=True)
class NodePlan:
    name: str
    role: str
    ip: str
    pod_cidr: str
    mac: str
    veth: str
    """Name of the node's veth end on the kin network's bridge."""
    ports: tuple[PortPlan, ...] = ()
    labels: tuple[tuple[str, str], ...] = ()
    mounts: tuple[MountPlan, ...] = ()


@dataclass(frozen=True)
class NetworkPlan:
    """The shared "kind network": a bridge in its own network namespace."""

    subnet: str
    gateway: str
    netns: str = "kin-net"
    bridge: str = "kin0"

    @property
    def prefixlen(self) -> int:
        return ipaddress.ip_network(self.subnet).prefixlen


@dataclass(frozen=True)
class ClusterPlan:
    name: str
    network: NetworkPlan
    nodes: tuple[NodePlan, ...]
    api_server: PortPlan
    pod_subnet: str
    service_subnet: str
    kube_proxy_mode: str
    disable_default_cni: bool
    flannel_backend: str = "vxlan"
    """kin-only (``--flannel-backend``): vxlan, host-gw or udp."""
    datastore: str = "sqlite"
    """kin-only (``--datastore``): sqlite (embedded in the API server) or etcd."""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def dns_ip(self) -> str:
        """Cluster DNS: the tenth address of the service subnet, as kubeadm picks it."""
        return str(ipaddress.ip_network(self.service_subnet)[10])

    @property
    def control_plane(self) -> NodePlan:
        return next(n for n in self.nodes if n.role == "control-plane")

    def node(self, name: str) -> NodePlan | None:
        return next((n for n in self.nodes if n.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, raw: Mapping[str, Any]) -> ClusterPlan:
        nodes = tuple(_node_from_json(n) for n in raw["nodes"])
        return cls(
            name=raw["name"],
            network=NetworkPlan(**raw["network"]),
            nodes=nodes,
            api_server=PortPlan(**raw["api_server"]),
            pod_subnet=raw["pod_subnet"],
            service_subnet=raw["service_subnet"],
            kube_proxy_mode=raw["kube_proxy_mode"],
            disable_default_cni=raw["disable_default_cni"],
            flannel_backend=raw.get("flannel_backend", "vxlan"),
            datastore=raw.get("datastore", "sqlite"),
            extra=dict(raw.get("extra", {})),
        )


def _node_from_json(raw: Mapping[str, Any]) -> NodePlan:
    fields = dict(raw)
    fields["ports"] = tuple(PortPlan(**p) for p in raw.get("ports", ()))
    fields["labels"] = tuple((k, v) for k, v in raw.get("labels", ()))
    fields["mounts"] = tuple(MountPlan(**m) for m in raw.get("mounts", ()))
    return NodePlan(**fields)


def node_names(cluster: str, roles: list[str]) -> list[str]:
    """kind's namer: the first node of a role has no suffix, later ones 2, 3, ..."""
    seen: dict[str, int] = {}
    names = []
    for role in roles:
        seen[role] = seen.get(role, 0) + 1
        suffix = "" if seen[role] == 1 else str(seen[role])
        names.append(f"{cluster}-{role}{suffix}")
    return names


def port_mapping_key(node_index: int, mapping_index: int) -> str:
    return f"nodes[{node_index}].extraPortMappings[{mapping_index}]"


def api_server_port_key() -> str:
    return "networking.apiServerPort"


def plan_cluster(
    config: Cluster,
    name: str,
    network: NetworkPlan,
    used_ips: Collection[str],
    chosen_ports: Mapping[str, int],
    flannel_backend: str = "vxlan",
    datastore: str = "sqlite",
) -> ClusterPlan:
    """Plan ``config`` as cluster ``name``; ``chosen_ports`` maps a port's key to its host
    port; ``flannel_backend`` and ``datastore`` are kin's own choices (already checked)."""
    order = _creation_order(config)
    names = dict(zip(order, node_names(name, [config.nodes[i].role for i in order]), strict=True))
    ips = _allocate_ips(network, used_ips, len(order))
    cidrs = _node_cidrs(config.networking.pod_subnet, len(order))
    nodes = tuple(
        _plan_node(config, i, names[i], ips[rank], cidrs[rank], chosen_ports)
        for rank, i in enumerate(order)
    )
    return ClusterPlan(
        name=name,
        network=network,
        nodes=nodes,
        api_server=_api_server_port(config, chosen_ports),
        pod_subnet=config.networking.pod_subnet,
        service_subnet=config.networking.service_subnet,
        # This kernel has no IPVS: kind's default mode instead (the config layer warns).
        kube_proxy_mode=_proxy_mode(config.networking.kube_proxy_mode),
        disable_default_cni=config.networking.disable_default_cni,
        flannel_backend=flannel_backend,
        datastore=datastore,
    )


def _proxy_mode(mode: str) -> str:
    return "iptables" if mode == "ipvs" else mode


def _creation_order(config: Cluster) -> list[int]:
    """Config indexes, control planes first, then workers, each in config order."""
    control = [i for i, n in enumerate(config.nodes) if n.role == "control-plane"]
    return control + [i for i, n in enumerate(config.nodes) if n.role != "control-plane"]


def _plan_node(
    config: Cluster,
    index: int,
    name: str,
    ip: str,
    pod_cidr: str,
    chosen_ports: Mapping[str, int],
) -> NodePlan:
    node = config.nodes[index]
    ports = tuple(
        PortPlan(
            listen_address=m.listen_address or "0.0.0.0",
            host_port=chosen_ports.get(port_mapping_key(index, j), m.host_port),
            container_port=m.container_port,
            protocol=(m.protocol or "TCP").lower(),
            source=port_mapping_key(index, j),
        )
        for j, m in enumerate(node.extra_port_mappings)
    )
    return NodePlan(
        name=name,
        role=node.role,
        ip=ip,
        pod_cidr=pod_cidr,
        mac=_mac_for(ip),
        veth=_veth_name(name),
        ports=ports,
        labels=tuple(sorted(node.labels.items())),
        mounts=tuple(
            MountPlan(m.host_path, m.container_path, m.read_only, m.propagation or "None")
            for m in node.extra_mounts
        ),
    )


def _api_server_port(config: Cluster, chosen_ports: Mapping[str, int]) -> PortPlan:
    net = config.networking
    return PortPlan(
        listen_address=net.api_server_address,
        host_port=chosen_ports.get(api_server_port_key(), net.api_server_port),
        container_port=API_SERVER_NODE_PORT,
        protocol="tcp",
        source=api_server_port_key(),
    )


def _allocate_ips(network: NetworkPlan, used: Collection[str], count: int) -> list[str]:
    """The ``count`` lowest free host addresses after the gateway."""
    taken = {*used, network.gateway}
    free: list[str] = []
    for host in ipaddress.ip_network(network.subnet).hosts():
        if str(host) not in taken:
            free.append(str(host))
            if len(free) == count:
                return free
    raise ConfigError(f"the kin network {network.subnet} has no room for {count} more nodes")


def _node_cidrs(pod_subnet: str, count: int) -> list[str]:
    subnet = ipaddress.ip_network(pod_subnet, strict=False)
    if subnet.prefixlen > NODE_CIDR_PREFIX:
        raise ConfigError(
            f"networking.podSubnet {pod_subnet} is smaller than one /{NODE_CIDR_PREFIX} node CIDR"
        )
    room = 2 ** (NODE_CIDR_PREFIX - subnet.prefixlen)
    if count > room:
        raise ConfigError(
            f"networking.podSubnet {pod_subnet} has room for {room} node CIDRs "
            f"(/{NODE_CIDR_PREFIX} each), the config has {count} nodes"
        )
    cidrs = subnet.subnets(new_prefix=NODE_CIDR_PREFIX)
    return [str(next(cidrs)) for _ in range(count)]


def _mac_for(ip: str) -> str:
    """Docker's scheme: 02:42 followed by the IPv4 address, so a MAC names its node."""
    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def _veth_name(node: str) -> str:
    """``kv`` + 10 hex digits of the node name's hash: unique, and within 15 characters."""
    return "kv" + hashlib.sha1(node.encode()).hexdigest()[:10]
