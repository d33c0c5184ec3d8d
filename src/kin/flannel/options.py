"""flanneld's flags, and their ``FLANNELD_*`` environment twins, as Flannel reads them.

Flannel uses Go's ``flag`` package and then ``flagutil.SetFlagsFromEnv("FLANNELD", ...)``:
a flag not given on the command line takes ``FLANNELD_<NAME>`` (upper case, ``-`` as
``_``) when that is set. So ``--ip-masq`` and ``FLANNELD_IP_MASQ=true`` mean the same, and
the command line wins. Go accepts ``-flag`` as well as ``--flag``, ``-flag=value`` and
``-flag value`` (``-flag=false`` for booleans); so does this parser. Problems are a
ConfigError naming the flag (or the variable) and the value.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from kin.errors import ConfigError

__all__ = ["Options", "parse_args"]

ENV_PREFIX = "FLANNELD_"
_TRUE = ("1", "t", "T", "TRUE", "true", "True")  # Go's strconv.ParseBool
_FALSE = ("0", "f", "F", "FALSE", "false", "False")


@dataclass(frozen=True)
class Options:
    kube_subnet_mgr: bool = False
    etcd_endpoints: str = "http://127.0.0.1:4001,http://127.0.0.1:2379"
    etcd_prefix: str = "/coreos.com/network"
    etcd_keyfile: str = ""
    etcd_certfile: str = ""
    etcd_cafile: str = ""
    etcd_username: str = ""
    etcd_password: str = ""
    kube_annotation_prefix: str = "flannel.alpha.coreos.com"
    kube_api_url: str = ""
    kubeconfig_file: str = ""
    net_config_path: str = "/etc/kube-flannel/net-conf.json"
    iface: tuple[str, ...] = ()
    iface_regex: tuple[str, ...] = ()
    iface_can_reach: str = ""
    public_ip: str = ""
    subnet_file: str = "/run/flannel/subnet.env"
    subnet_lease_renew_margin: int = 60
    ip_masq: bool = False
    iptables_resync: int = 5
    iptables_forward_rules: bool = True
    ip_blackhole_route: bool = False
    healthz_ip: str = "0.0.0.0"
    healthz_port: int = 0
    set_node_network_unavailable: bool = True
    version: bool = False
    extra: tuple[str, ...] = field(default=())  # arguments after the flags, as Go leaves them

    @property
    def etcd_endpoint_list(self) -> list[str]:
        return [e.strip() for e in self.etcd_endpoints.split(",") if e.strip()]


# accepted as Flannel's, refused when given: nothing in kin uses them yet
NOT_YET = ("iface_regex", "iface_can_reach", "ip_blackhole_route", "etcd_keyfile",
           "etcd_certfile", "etcd_cafile", "etcd_username", "etcd_password")  # fmt: skip
_FLAGS = {f.name.replace("_", "-"): f for f in fields(Options) if f.name != "extra"}


def parse_args(argv: Sequence[str], environ: Mapping[str, str] | None = None) -> Options:
    """Options from ``argv`` (without the program name), then ``environ`` for the flags
    ``argv`` did not give."""
    given: dict[str, Any] = {}
    rest = list(argv)
    while rest and rest[0].startswith("-") and rest[0] not in ("-", "--"):
        name, value, rest = _next_flag(rest)
        _set(given, name, value, f"flag --{name}")
    if rest and rest[0] == "--":
        rest = rest[1:]
    for name, spec in _FLAGS.items():
        variable = ENV_PREFIX + name.upper().replace("-", "_")
        if spec.name not in given and environ and environ.get(variable, "") != "":
            _set(given, name, environ[variable], f"environment variable {variable}")
    options = Options(**given, extra=tuple(rest))
    _check(options)
    return options


def _next_flag(args: list[str]) -> tuple[str, str | None, list[str]]:
    arg, rest = args[0], args[1:]
    name, equals, value = arg.lstrip("-").partition("=")
    if name not in _FLAGS:
        raise ConfigError(f"flag provided but not defined: -{name}")
    if equals:
        return name, value, rest
    if _FLAGS[name].type == "bool":
        return name, None, rest
    if not rest:
        raise ConfigError(f"flag needs an argument: -{name}")
    return name, rest[0], rest[1:]


def _set(given: dict[str, Any], name: str, value: str | None, where: str) -> None:
    spec = _FLAGS[name]
    kind = str(spec.type)
    if kind == "bool":
        given[spec.name] = _bool(value, where)
    elif kind == "int":
        given[spec.name] = _int(value or "", where)
    elif kind.startswith("tuple"):
        given[spec.name] = (*given.get(spec.name, ()), value or "")
    else:
        given[spec.name] = value or ""


def _bool(value: str | None, where: str) -> bool:
    if value is None or value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f'invalid boolean value "{value}" for {where}: parse error')


def _int(value: str, where: str) -> int:
    try:
        return int(value, 0)
    except ValueError:
        raise ConfigError(f'invalid value "{value}" for {where}: parse error') from None


def _check(options: Options) -> None:
    if not 1 <= options.subnet_lease_renew_margin <= 1439:
        raise ConfigError(
            "invalid subnet-lease-renew-margin option, out of acceptable range: "
            f"{options.subnet_lease_renew_margin} (want 1 to 1439 minutes)"
        )
    if not 0 <= options.healthz_port <= 65535:
        raise ConfigError(f"invalid --healthz-port {options.healthz_port}: want 0 to 65535")
    if options.iptables_resync < 1:
        raise ConfigError(f"invalid --iptables-resync {options.iptables_resync}: want seconds >= 1")
    for name, kind in (("public_ip", ipaddress.IPv4Address), ("healthz_ip", ipaddress.ip_address)):
        text = getattr(options, name)
        if text:
            try:
                kind(text)
            except ValueError:
                raise ConfigError(
                    f"invalid --{name.replace('_', '-')} {text!r}: not an IP address"
                ) from None
    unsupported = ["--" + name.replace("_", "-") for name in NOT_YET if getattr(options, name)]
    if unsupported:
        raise ConfigError(f"{', '.join(unsupported)}: not in kin yet")
    if not options.kube_subnet_mgr and not options.etcd_endpoint_list:
        raise ConfigError(
            "--etcd-endpoints is empty and --kube-subnet-mgr is not set: no subnet manager"
        )
