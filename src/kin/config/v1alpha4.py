"""The user-facing ``kind.x-k8s.io/v1alpha4`` schema: types, strict decoding, defaults.

This mirrors kind's ``pkg/apis/config/v1alpha4`` (``types.go``, ``yaml.go``, ``default.go``).
It is kept apart from ``internal`` because it is a promise about a file format: field names,
Go type names in error messages (``v1alpha4.Node``, ``v1alpha4.PortMappingAlias``) and the
defaults kind applies to a file (``set_defaults``). Note what kind does *not* default here:
a port mapping's ``listenAddress`` and ``protocol`` stay empty (kind's docker provider fills
them in when it runs the node), and the cluster name stays empty until the create flow.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from yaml import Node as YamlNode

from kin.config.yamlstrict import Abort, Decoder, Handler, go_quote

__all__ = [
    "API_VERSION",
    "DEFAULT_NODE_IMAGE",
    "KIND",
    "Cluster",
    "Mount",
    "Networking",
    "Node",
    "PatchJSON6902",
    "PortMapping",
    "decode_cluster",
    "set_defaults",
]

API_VERSION = "kind.x-k8s.io/v1alpha4"
KIND = "Cluster"
# kind v0.32.0's default is this tag pinned by a digest we could not read in kind's source.
DEFAULT_NODE_IMAGE = "kindest/node:v1.36.1"

PROTOCOLS = ("", "TCP", "UDP", "SCTP")
PROPAGATIONS = ("", "None", "HostToContainer", "Bidirectional")


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
    propagation: str = ""


@dataclass
class PortMapping:
    container_port: int = 0
    host_port: int = 0
    listen_address: str = ""
    protocol: str = ""


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
    dns_search: list[str] | None = None


@dataclass
class Cluster:
    kind: str = ""
    api_version: str = ""
    name: str = ""
    nodes: list[Node] = field(default_factory=list)
    networking: Networking = field(default_factory=Networking)
    feature_gates: dict[str, bool] = field(default_factory=dict)
    runtime_config: dict[str, str] = field(default_factory=dict)
    kubeadm_config_patches: list[str] = field(default_factory=list)
    kubeadm_config_patches_json6902: list[PatchJSON6902] = field(default_factory=list)
    containerd_config_patches: list[str] = field(default_factory=list)
    containerd_config_patches_json6902: list[str] = field(default_factory=list)


# -- decoding ------------------------------------------------------------------------------


def _set(obj: object, attr: str, decode: Callable[[YamlNode], object | None]) -> Handler:
    """A field handler: decode the value node and store it unless it was null or bad."""

    def handler(node: YamlNode) -> None:
        value = decode(node)
        if value is not None:
            setattr(obj, attr, value)

    return handler


def decode_cluster(d: Decoder, node: YamlNode) -> Cluster:
    """Decode a whole config; type errors collect in ``d``, ``Abort`` stops at once."""
    out = Cluster()
    d.struct(
        node,
        "v1alpha4.Cluster",
        {
            "kind": _set(out, "kind", d.string),
            "apiVersion": _set(out, "api_version", d.string),
            "name": _set(out, "name", d.string),
            "nodes": _set(out, "nodes", lambda n: d.sequence(n, "[]v1alpha4.Node", _node(d))),
            "networking": _set(out, "networking", lambda n: _networking(d, n)),
            "featureGates": _set(out, "feature_gates", _bool_map(d)),
            "runtimeConfig": _set(out, "runtime_config", _string_map(d)),
            **_patch_fields(d, out),
            "containerdConfigPatches": _set(out, "containerd_config_patches", _strings(d)),
            "containerdConfigPatchesJSON6902": _set(
                out, "containerd_config_patches_json6902", _strings(d)
            ),
        },
    )
    return out


def _strings(d: Decoder) -> Callable[[YamlNode], list[str] | None]:
    return lambda n: d.sequence(n, "[]string", d.string)


def _string_map(d: Decoder) -> Callable[[YamlNode], dict[str, str] | None]:
    return lambda n: d.mapping(n, "map[string]string", d.string, "")


def _bool_map(d: Decoder) -> Callable[[YamlNode], dict[str, bool] | None]:
    return lambda n: d.mapping(n, "map[string]bool", d.boolean, False)


def _named(d: Decoder, type_name: str) -> Callable[[YamlNode], str | None]:
    return lambda n: d.string(n, type_name)


def _patch_fields(d: Decoder, out: Cluster | Node) -> dict[str, Handler]:
    patches = lambda n: d.sequence(n, "[]v1alpha4.PatchJSON6902", _patch(d))  # noqa: E731
    return {
        "kubeadmConfigPatches": _set(out, "kubeadm_config_patches", _strings(d)),
        "kubeadmConfigPatchesJSON6902": _set(out, "kubeadm_config_patches_json6902", patches),
    }


def _networking(d: Decoder, node: YamlNode) -> Networking:
    out = Networking()
    fields = {
        "ipFamily": _set(out, "ip_family", _named(d, "v1alpha4.ClusterIPFamily")),
        "apiServerPort": _set(out, "api_server_port", d.int32),
        "apiServerAddress": _set(out, "api_server_address", d.string),
        "podSubnet": _set(out, "pod_subnet", d.string),
        "serviceSubnet": _set(out, "service_subnet", d.string),
        "disableDefaultCNI": _set(out, "disable_default_cni", d.boolean),
        "kubeProxyMode": _set(out, "kube_proxy_mode", _named(d, "v1alpha4.ProxyMode")),
        "dnsSearch": _set(out, "dns_search", _strings(d)),
    }
    d.struct(node, "v1alpha4.Networking", fields)
    return out


def _node(d: Decoder) -> Callable[[YamlNode], Node]:
    def decode(node: YamlNode) -> Node:
        out = Node()
        fields = {
            "role": _set(out, "role", _named(d, "v1alpha4.NodeRole")),
            "image": _set(out, "image", d.string),
            "labels": _set(out, "labels", _string_map(d)),
            "extraMounts": _set(out, "extra_mounts", _mounts(d)),
            "extraPortMappings": _set(out, "extra_port_mappings", _port_mappings(d)),
            **_patch_fields(d, out),
        }
        d.struct(node, "v1alpha4.Node", fields)
        return out

    return decode


def _patch(d: Decoder) -> Callable[[YamlNode], PatchJSON6902]:
    def decode(node: YamlNode) -> PatchJSON6902:
        out = PatchJSON6902()
        fields = {name: _set(out, name, d.string) for name in ("group", "version", "kind")}
        fields["patch"] = _set(out, "patch", d.string)
        d.struct(node, "v1alpha4.PatchJSON6902", fields)
        return out

    return decode


def _mounts(d: Decoder) -> Callable[[YamlNode], list[Mount] | None]:
    """kind's ``Mount.UnmarshalYAML``: decode the alias type, then check propagation."""

    def decode(node: YamlNode) -> Mount | None:
        out = Mount()
        fields = {
            "containerPath": _set(out, "container_path", d.string),
            "hostPath": _set(out, "host_path", d.string),
            "readOnly": _set(out, "read_only", d.boolean),
            "selinuxRelabel": _set(out, "selinux_relabel", d.boolean),
            "propagation": _set(out, "propagation", _named(d, "v1alpha4.MountPropagation")),
        }
        if not d.struct(node, "v1alpha4.MountAlias", fields):
            return None
        if out.propagation not in PROPAGATIONS:
            raise Abort(f"Unknown MountPropagation: {go_quote(out.propagation)}")
        return out

    return lambda n: d.sequence(n, "[]v1alpha4.Mount", decode)


def _port_mappings(d: Decoder) -> Callable[[YamlNode], list[PortMapping] | None]:
    """kind's ``PortMapping.UnmarshalYAML``: decode the alias, upper-case and check protocol."""

    def decode(node: YamlNode) -> PortMapping | None:
        out = PortMapping()
        fields = {
            "containerPort": _set(out, "container_port", d.int32),
            "hostPort": _set(out, "host_port", d.int32),
            "listenAddress": _set(out, "listen_address", d.string),
            "protocol": _set(out, "protocol", _named(d, "v1alpha4.PortMappingProtocol")),
        }
        if not d.struct(node, "v1alpha4.PortMappingAlias", fields):
            return None
        out.protocol = out.protocol.upper()
        if out.protocol not in PROTOCOLS:
            raise Abort(f"Unknown PortMappingProtocol: {go_quote(out.protocol)}")
        return out

    return lambda n: d.sequence(n, "[]v1alpha4.PortMapping", decode)


# -- defaults (kind's v1alpha4 SetDefaultsCluster) -------------------------------------------

_POD_SUBNETS = {"ipv6": "fd00:10:244::/56", "dual": "10.244.0.0/16,fd00:10:244::/56"}
_SERVICE_SUBNETS = {"ipv6": "fd00:10:96::/112", "dual": "10.96.0.0/16,fd00:10:96::/112"}


def set_defaults(cluster: Cluster) -> None:
    """Fill what kind fills in a decoded file; the cluster name is left alone."""
    if not cluster.nodes:
        cluster.nodes = [Node(role="control-plane", image=DEFAULT_NODE_IMAGE)]
    for node in cluster.nodes:
        node.image = node.image or DEFAULT_NODE_IMAGE
        node.role = node.role or "control-plane"
    set_network_defaults(cluster.networking)


def set_network_defaults(net: Networking) -> None:
    family = net.ip_family = net.ip_family or "ipv4"
    if not net.api_server_address:
        net.api_server_address = "::1" if family == "ipv6" else "127.0.0.1"
    net.pod_subnet = net.pod_subnet or _POD_SUBNETS.get(family, "10.244.0.0/16")
    net.service_subnet = net.service_subnet or _SERVICE_SUBNETS.get(family, "10.96.0.0/16")
    net.kube_proxy_mode = net.kube_proxy_mode or "iptables"
