"""The internal cluster model every other part of kin works from.

Why a second set of types: the v1alpha4 types describe a file format and must keep its
quirks; this model is what kin's planner and actions read, and it can grow (a v1alpha5,
kin-only flags) without touching what a kind file means. As in kind
(``pkg/internal/apis/config``), a file is decoded as v1alpha4, defaulted, then converted
here; ``set_defaults`` is kind's internal ``SetDefaultsCluster``, which the create flow runs
again after ``--name`` / ``--image`` overrides and which is the only place the cluster name
defaults to ``kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from kin.config import v1alpha4

__all__ = [
    "CONTROL_PLANE",
    "DEFAULT_CLUSTER_NAME",
    "WORKER",
    "Cluster",
    "Mount",
    "Networking",
    "Node",
    "PatchJSON6902",
    "PortMapping",
    "convert_v1alpha4",
    "set_defaults",
]

DEFAULT_CLUSTER_NAME = "kind"
CONTROL_PLANE = "control-plane"
WORKER = "worker"


@dataclass
class PatchJSON6902:
    group: str = ""
    version: str = ""
    kind: str = ""
    patch: str = ""


@dataclass
class Mount:
    container_path: str = ""
    host_path: str = ""
    read_only: bool = False
    selinux_relabel: bool = False
    propagation: str = ""  # "", "None", "HostToContainer" or "Bidirectional"


@dataclass
class PortMapping:
    container_port: int = 0
    host_port: int = 0  # 0: kin picks a free port; -1: "the runtime picks" in kind
    listen_address: str = ""  # "" means the wildcard of the cluster's family
    protocol: str = ""  # "", "TCP", "UDP" or "SCTP"; "" means TCP but stays "" as in kind


@dataclass
class Node:
    role: str = ""
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    extra_mounts: list[Mount] = field(default_factory=list)
    extra_port_mappings: list[PortMapping] = field(default_factory=list)
    kubeadm_config_patches: list[str] = field(default_factory=list)
    kubeadm_config_patches_json6902: list[PatchJSON6902] = field(default_factory=list)


@dataclass
class Networking:
    ip_family: str = ""
    api_server_port: int = 0
    api_server_address: str = ""
    pod_subnet: str = ""
    service_subnet: str = ""
    disable_default_cni: bool = False
    kube_proxy_mode: str = ""
    dns_search: list[str] | None = None  # None: inherit the host's; []: no search domains


@dataclass
class Cluster:
    name: str = ""
    nodes: list[Node] = field(default_factory=list)
    networking: Networking = field(default_factory=Networking)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    runtime_config: dict[str, str] = field(default_factory=dict)
    kubeadm_config_patches: list[str] = field(default_factory=list)
    kubeadm_config_patches_json6902: list[PatchJSON6902] = field(default_factory=list)
    containerd_config_patches: list[str] = field(default_factory=list)
    containerd_config_patches_json6902: list[str] = field(default_factory=list)


def set_defaults(cluster: Cluster) -> None:
    """kind's internal SetDefaultsCluster: the v1alpha4 defaults plus the cluster name."""
    cluster.name = cluster.name or DEFAULT_CLUSTER_NAME
    if not cluster.nodes:
        cluster.nodes = [Node(role=CONTROL_PLANE, image=v1alpha4.DEFAULT_NODE_IMAGE)]
    for node in cluster.nodes:
        node.image = node.image or v1alpha4.DEFAULT_NODE_IMAGE
        node.role = node.role or CONTROL_PLANE
    net = v1alpha4.Networking(**vars(cluster.networking))
    v1alpha4.set_network_defaults(net)
    cluster.networking = Networking(**vars(net))


def convert_v1alpha4(src: v1alpha4.Cluster) -> Cluster:
    """Copy a (defaulted) v1alpha4 config into the internal model; nothing is shared."""
    return Cluster(
        name=src.name,
        nodes=[_node(node) for node in src.nodes],
        networking=_networking(src.networking),
        feature_gates=dict(src.feature_gates),
        runtime_config=dict(src.runtime_config),
        kubeadm_config_patches=list(src.kubeadm_config_patches),
        kubeadm_config_patches_json6902=_patches(src.kubeadm_config_patches_json6902),
        containerd_config_patches=list(src.containerd_config_patches),
        containerd_config_patches_json6902=list(src.containerd_config_patches_json6902),
    )


def _node(src: v1alpha4.Node) -> Node:
    return Node(
        role=src.role,
        image=src.image,
        labels=dict(src.labels),
        extra_mounts=[Mount(**vars(mount)) for mount in src.extra_mounts],
        extra_port_mappings=[PortMapping(**vars(pm)) for pm in src.extra_port_mappings],
        kubeadm_config_patches=list(src.kubeadm_config_patches),
        kubeadm_config_patches_json6902=_patches(src.kubeadm_config_patches_json6902),
    )


def _networking(src: v1alpha4.Networking) -> Networking:
    net = Networking(**vars(src))
    net.dns_search = None if src.dns_search is None else list(src.dns_search)
    return net


def _patches(src: list[v1alpha4.PatchJSON6902]) -> list[PatchJSON6902]:
    return [PatchJSON6902(**vars(patch)) for patch in src]
