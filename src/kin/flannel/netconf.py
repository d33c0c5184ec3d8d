"""``net-conf.json``, read as flanneld reads it.

Flannel decodes the file (ConfigMap ``kube-flannel-cfg`` in a cluster, ``<prefix>/config``
in etcd) with Go's ``encoding/json``: keys match case-insensitively, unknown keys are
ignored, ``EnableIPv4`` is true unless the file says otherwise, and a file without
``Backend`` means the ``udp`` backend (the documentation says vxlan; the code, and so kin,
says udp). ``lease_ranges`` is Flannel's ``CheckNetworkConfig``: the subnet length and the
first and last subnet to hand out, which only the etcd subnet manager uses (in a cluster a
lease is the node's ``spec.podCIDR``). Errors name the file and what is wrong, in
Flannel's words where it has them.
"""

from __future__ import annotations

import ipaddress
import json
from dataclasses import dataclass, field
from typing import Any

from kin.errors import ConfigError

__all__ = [
    "BACKENDS",
    "Backend",
    "LeaseRanges",
    "NetConfig",
    "lease_ranges",
    "parse",
]

# What kin implements, and what Flannel registers besides (a clear error, not "unknown")
BACKENDS = ("vxlan", "host-gw", "udp")
FLANNEL_ONLY = ("wireguard", "ipip", "ipsec", "alloc", "extension", "tencent-vpc")
# backend options by type: JSON name -> (Go type, default)
_OPTIONS: dict[str, dict[str, tuple[type, Any]]] = {
    "vxlan": {
        "VNI": (int, 1),
        "Port": (int, 0),  # 0: the kernel's default, 8472
        "GBP": (bool, False),
        "Learning": (bool, False),
        "DirectRouting": (bool, False),
        "MTU": (int, 0),  # 0: the external interface's MTU
    },
    "host-gw": {},
    "udp": {"Port": (int, 8285)},
}
_GO_TYPES = {int: "int", bool: "bool", str: "string"}


@dataclass(frozen=True)
class Backend:
    """``Backend`` of net-conf.json: its lower-cased type and its options, defaulted."""

    type: str
    options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class NetConfig:
    network: ipaddress.IPv4Network | None
    backend: Backend
    enable_ipv4: bool = True
    enable_ipv6: bool = False
    enable_nftables: bool = False
    subnet_len: int = 0  # 0: unset (lease_ranges chooses)
    subnet_min: ipaddress.IPv4Address | None = None
    subnet_max: ipaddress.IPv4Address | None = None


@dataclass(frozen=True)
class LeaseRanges:
    """What the etcd subnet manager may hand out: subnets of ``subnet_len`` from
    ``subnet_min`` to ``subnet_max`` (both the network address of a subnet)."""

    network: ipaddress.IPv4Network
    subnet_len: int
    subnet_min: ipaddress.IPv4Address
    subnet_max: ipaddress.IPv4Address


def parse(text: str | bytes, source: str = "net-conf.json") -> NetConfig:
    """The configuration in ``text``; ConfigError naming ``source`` when it is not one."""
    try:
        document = json.loads(text, parse_constant=_not_json)
    except ValueError as exc:
        raise ConfigError(f"{source}: not valid JSON: {exc}") from None
    if not isinstance(document, dict):
        raise ConfigError(f"{source}: {_unmarshal(document, 'Config', '', 'struct')}")
    fields = _Fields(document, source, "Config")
    enable_ipv6 = fields.get("EnableIPv6", bool, False)
    if enable_ipv6:
        raise ConfigError(f"{source}: EnableIPv6 is not supported by kin: pod networks are IPv4")
    return NetConfig(
        network=fields.get("Network", _cidr, None),
        backend=_backend(document, source),
        enable_ipv4=fields.get("EnableIPv4", bool, True),
        enable_ipv6=enable_ipv6,
        enable_nftables=fields.get("EnableNFTables", bool, False),
        subnet_len=_subnet_len(fields.get("SubnetLen", int, 0), source),
        subnet_min=fields.get("SubnetMin", _ip4, None),
        subnet_max=fields.get("SubnetMax", _ip4, None),
    )


def lease_ranges(config: NetConfig, source: str = "net-conf.json") -> LeaseRanges:
    """Flannel's ``CheckNetworkConfig``: the subnet length (24 when the network is a /22
    or larger, else a quarter of it) and the first and last subnet to hand out (the first
    subnet of the network is skipped: its ``.0`` address would be the network's)."""
    network = config.network
    if not config.enable_ipv4 or network is None:
        raise ConfigError(
            f"{source}: please define a correct Network parameter in the flannel config"
        )
    length = config.subnet_len
    if length > 0:
        if length > 30:
            raise ConfigError(f"{source}: SubnetLen must be less than /31")
        if length < network.prefixlen + 2:
            raise ConfigError(
                f"{source}: network must be able to accommodate at least four subnets"
            )
    elif network.prefixlen > 28:
        raise ConfigError(f"{source}: network is too small. Minimum useful network prefix is /28")
    else:
        length = 24 if network.prefixlen <= 22 else network.prefixlen + 2
    size = 1 << (32 - length)
    low = _in_network(config.subnet_min, network, "SubnetMin", source) or network[size]
    last = int(network.broadcast_address) + 1 - size
    high = _in_network(config.subnet_max, network, "SubnetMax", source) or ipaddress.IPv4Address(
        last
    )
    for name, address in (("SubnetMin", low), ("SubnetMax", high)):
        if int(address) % size:
            raise ConfigError(f"{source}: {name} is not on a SubnetLen boundary: {address}")
    return LeaseRanges(network, length, low, high)


def _in_network(
    address: ipaddress.IPv4Address | None, network: ipaddress.IPv4Network, name: str, source: str
) -> ipaddress.IPv4Address | None:
    if address is not None and address not in network:
        raise ConfigError(f"{source}: {name} is not in the range of the Network")
    return address


def _backend(document: dict[str, Any], source: str) -> Backend:
    raw = _Fields(document, source, "Config").raw("Backend")
    if raw is None:  # absent: Flannel's parseBackendType says udp
        return Backend("udp", _defaults("udp"))
    if not isinstance(raw, dict):
        problem = _unmarshal(raw, "struct { Type string }", "", "")
        raise ConfigError(f"{source}: error decoding Backend property of config: {problem}")
    fields = _Fields(raw, source, "Backend")
    kind = fields.get("Type", str, "").lower()
    if kind in FLANNEL_ONLY:
        supported = ", ".join(BACKENDS)
        raise ConfigError(f"{source}: backend type {kind!r} is not supported by kin ({supported})")
    if kind not in BACKENDS:
        raise ConfigError(f"{source}: unknown backend type: {kind}")
    options = {
        name: fields.get(name, kind_, default) for name, (kind_, default) in _OPTIONS[kind].items()
    }
    _check_options(kind, options, source)
    return Backend(kind, options)


def _defaults(kind: str) -> dict[str, Any]:
    return {name: default for name, (_, default) in _OPTIONS[kind].items()}


def _check_options(kind: str, options: dict[str, Any], source: str) -> None:
    port = options.get("Port", 0)
    if not 0 <= port <= 65535:
        raise ConfigError(f"{source}: Backend.Port {port} is not a UDP port (0-65535)")
    if kind == "vxlan" and not 0 <= options["VNI"] < 1 << 24:
        raise ConfigError(f"{source}: Backend.VNI {options['VNI']} does not fit in 24 bits")
    if kind == "vxlan" and options["MTU"] and not 68 + 50 <= options["MTU"] <= 65535:
        raise ConfigError(
            f"{source}: Backend.MTU {options['MTU']} leaves no room for VXLAN's 50 bytes"
        )


class _Fields:
    """Go's ``encoding/json`` field lookup: the exact key, else the last key equal to it
    case-insensitively."""

    def __init__(self, document: dict[str, Any], source: str, struct: str) -> None:
        self.document, self.source, self.struct = document, source, struct
        self._folded = {key.lower(): key for key in document}

    def raw(self, name: str) -> Any:
        if name in self.document:
            return self.document[name]
        key = self._folded.get(name.lower())
        return None if key is None else self.document[key]

    def get(self, name: str, kind: Any, default: Any) -> Any:
        value = self.raw(name)
        if value is None:
            return default
        if kind in _GO_TYPES:
            ok = isinstance(value, kind) and (kind is not int or not isinstance(value, bool))
            if not ok:
                go = _GO_TYPES[kind]
                raise ConfigError(f"{self.source}: {_unmarshal(value, self.struct, name, go)}")
            return value
        try:
            return kind(value)
        except ValueError as exc:
            raise ConfigError(f"{self.source}: {name}: {exc}") from None


def _unmarshal(value: Any, struct: str, name: str, go: str) -> str:
    found = {bool: "bool", str: "string", list: "array", dict: "object"}.get(type(value), "number")
    where = f"Go struct field {struct}.{name}" if name else "Go value"
    return f"json: cannot unmarshal {found} into {where} of type {go}"


def _cidr(value: Any) -> ipaddress.IPv4Network:
    if not isinstance(value, str):
        raise ValueError(f"want a CIDR string, not {json.dumps(value)}")
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise ValueError(f"invalid CIDR address: {value}") from None
    if not isinstance(network, ipaddress.IPv4Network):
        raise ValueError(f"{value} is not an IPv4 network (IPv6 belongs in IPv6Network)")
    return network


def _ip4(value: Any) -> ipaddress.IPv4Address:
    if not isinstance(value, str):
        raise ValueError(f"want an IPv4 address string, not {json.dumps(value)}")
    try:
        return ipaddress.IPv4Address(value)
    except ValueError:
        raise ValueError(f"invalid IP address format: {value}") from None


def _subnet_len(value: int, source: str) -> int:
    if value < 0:  # a Go uint
        problem = f"json: cannot unmarshal number {value} into Go struct field Config.SubnetLen"
        raise ConfigError(f"{source}: {problem} of type uint")
    return value


def _not_json(constant: str) -> Any:
    raise ValueError(f"{constant} is not a JSON value")
