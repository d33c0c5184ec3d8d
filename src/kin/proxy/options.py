"""kube-proxy's flags and its ``--config`` file (KubeProxyConfiguration), as one ``Settings``.

kubeadm (and so kind) runs ``kube-proxy --config=/var/lib/kube-proxy/config.conf
--hostname-override=$(NODE_NAME)`` with the file from ConfigMap ``kube-proxy``; kin's
DaemonSet does the same. Flags given on the command line win over the file, as they do
upstream. A file that does not parse, a field of the wrong type or an unknown field is an
error naming the field (kube-proxy decodes strictly too). Modes are ``iptables`` (the
default, kind's too) and ``nftables``; ``ipvs`` needs a kernel module this machine
lacks, so it is refused with the reason rather than half-working.
"""

from __future__ import annotations

import argparse
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from kin.errors import ConfigError
from kin.kube.duration import parse_duration

__all__ = ["MODES", "Settings", "parse_args"]

MODES = ("iptables", "nftables")
CONFIG_KIND = "KubeProxyConfiguration"
CONFIG_VERSION = "kubeproxy.config.k8s.io/v1alpha1"
# Fields of KubeProxyConfiguration kin reads; the rest of upstream's are accepted and
# have no effect here (there is nothing for them to change on a kin node).
_READ = {"apiVersion", "kind", "mode", "clusterCIDR", "hostnameOverride", "clientConnection",
         "iptables", "nftables"}  # fmt: skip
_ACCEPTED = {"healthzBindAddress", "bindAddress", "bindAddressHardFail", "metricsBindAddress",
             "enableProfiling",
             "showHiddenMetricsForVersion", "featureGates", "ipvs", "winkernel", "conntrack",
             "configSyncPeriod", "portRange", "nodePortAddresses", "oomScoreAdj",
             "detectLocalMode", "detectLocal", "logging", "linux", "windowsRunAsService",
             "udpIdleTimeout"}  # fmt: skip


@dataclass(frozen=True)
class Settings:
    node: str
    mode: str = "iptables"
    cluster_cidr: str = ""
    """The pod network: traffic to a cluster IP from outside it is masqueraded."""
    kubeconfig: str = ""
    masquerade_bit: int = 14
    min_sync_period: float = 1.0
    sync_period: float = 30.0

    @property
    def mark(self) -> str:
        return hex(1 << self.masquerade_bit)


def parse_args(argv: list[str], environ: Mapping[str, str]) -> Settings:
    parser = argparse.ArgumentParser(prog="python -m kin.proxy", description="kin's kube-proxy")
    parser.add_argument("--config", default="")
    parser.add_argument("--hostname-override", default=None)
    parser.add_argument("--proxy-mode", default=None)
    parser.add_argument("--cluster-cidr", default=None)
    parser.add_argument("--kubeconfig", default=None)
    parser.add_argument("--masquerade-bit", type=int, default=None)
    parser.add_argument("--min-sync-period", default=None)
    parser.add_argument("--sync-period", default=None)
    parser.add_argument("--healthz-bind-address", default=None)
    parser.add_argument("-v", "--v", default="0")
    args = parser.parse_args(argv)
    values = _read_config(args.config) if args.config else {}
    flags = {"node": args.hostname_override, "mode": args.proxy_mode,
             "cluster_cidr": args.cluster_cidr, "kubeconfig": args.kubeconfig,
             "masquerade_bit": args.masquerade_bit,
             "min_sync_period": _duration("--min-sync-period", args.min_sync_period),
             "sync_period": _duration("--sync-period", args.sync_period)}  # fmt: skip
    values.update({k: v for k, v in flags.items() if v is not None})
    if not values.get("node"):
        values["node"] = environ.get("NODE_NAME") or socket.gethostname()
    return _checked(Settings(**values))


def _checked(settings: Settings) -> Settings:
    if settings.mode == "ipvs":
        raise ConfigError("proxy mode ipvs needs the kernel's IPVS (ip_vs), which this machine "
                          "lacks: use iptables or nftables")  # fmt: skip
    if settings.mode not in MODES:
        raise ConfigError(f"invalid proxy mode {settings.mode!r}: use one of {', '.join(MODES)}")
    if settings.cluster_cidr:
        try:
            ipaddress.IPv4Network(settings.cluster_cidr)
        except ValueError as exc:
            raise ConfigError(f"clusterCIDR {settings.cluster_cidr!r}: {exc}") from None
    if not 0 <= settings.masquerade_bit <= 31:
        raise ConfigError(f"masqueradeBit {settings.masquerade_bit} is not in 0..31")
    return settings


def _read_config(path: str) -> dict[str, Any]:
    try:
        with open(path) as f:
            raw = yaml.safe_load(f)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not YAML: {exc}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: a {CONFIG_KIND} must be a mapping")
    return _from_config(raw, path)


def _from_config(raw: dict[str, Any], path: str) -> dict[str, Any]:
    unknown = sorted(raw.keys() - _READ - _ACCEPTED)
    if unknown:
        raise ConfigError(f'{path}: strict decoding error: unknown field "{unknown[0]}"')
    if raw.get("kind", CONFIG_KIND) != CONFIG_KIND:
        raise ConfigError(f"{path}: kind is {raw['kind']!r}, not {CONFIG_KIND}")
    values: dict[str, Any] = {}
    mode = _field(raw, "mode", str, path)
    values["mode"] = mode or "iptables"
    for key, attr in (("clusterCIDR", "cluster_cidr"), ("hostnameOverride", "node")):
        if raw.get(key):
            values[attr] = _field(raw, key, str, path)
    connection = _field(raw, "clientConnection", dict, path) or {}
    if connection.get("kubeconfig"):
        values["kubeconfig"] = _field(connection, "kubeconfig", str, f"{path}: clientConnection")
    section = _field(raw, values["mode"], dict, path) if values["mode"] in MODES else None
    for key, value in (section or {}).items():
        where = f"{values['mode']}.{key}"
        if key in ("minSyncPeriod", "syncPeriod") and value:
            attr = "min_sync_period" if key == "minSyncPeriod" else "sync_period"
            values[attr] = _duration(f"{path}: {where}", _field(section or {}, key, str, path))
        elif key == "masqueradeBit" and value is not None:
            values["masquerade_bit"] = _field(section or {}, key, int, path)
    return values


def _field(raw: Mapping[str, Any], key: str, kind: type, path: str) -> Any:
    value = raw.get(key)
    if value is not None and not isinstance(value, kind):
        wanted = {str: "a string", int: "an integer", dict: "a mapping"}[kind]
        raise ConfigError(f"{path}: {key} must be {wanted}, not {value!r}")
    return value


def _duration(where: str, text: str | None) -> float | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except ConfigError as exc:
        raise ConfigError(f"{where}: {exc}") from None
