"""CNI ``flannel``: a meta plugin that turns ``/run/flannel/subnet.env`` into a bridge config.

As flannel-io/cni-plugin does: read the node's lease from ``subnet.env``, build
the delegate (``bridge`` + ``host-local`` by default: ``ipMasq`` = not
``FLANNEL_IPMASQ``, ``mtu`` = ``FLANNEL_MTU``, ``isGateway``, one range per
node subnet, a route per flannel network), save it under
``<dataDir>/<containerID>`` *before* delegating, and delegate. DEL replays the
saved config, so it works after the lease changed; no saved config means
nothing to undo. When the delegate is one of kin's own plugins it runs in this
process (see ``kin.cni.invoke``).

Two choices differ from the reference, both towards its documented intent: a
missing ``subnet.env`` is error code 11 (try again later), since flanneld may
simply not have written it yet; and the saved config is removed only after the
delegate's DEL succeeded, so a failed DEL can be retried.
"""

from __future__ import annotations

import ipaddress
import json
import os
import sys

from kin.cni import invoke, skel, spec
from kin.errors import CNIError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["PLUGIN", "SubnetEnv", "build_delegate", "load_subnet_env", "main"]

DEFAULT_SUBNET_FILE = "/run/flannel/subnet.env"
DEFAULT_DATA_DIR = "/var/lib/cni/flannel"


class SubnetEnv:
    """What flanneld wrote: networks, this node's subnets (as networks), MTU, ip-masq."""

    def __init__(self) -> None:
        self.networks: list[str] = []
        self.subnets: list[str] = []
        self.ipv6_networks: list[str] = []
        self.ipv6_subnets: list[str] = []
        self.mtu: int | None = None
        self.ipmasq: bool | None = None

    def missing(self) -> list[str]:
        absent = []
        if not self.networks and not self.ipv6_networks:
            absent += ["FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK"]
        if not self.subnets and not self.ipv6_subnets:
            absent += ["FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET"]
        if self.mtu is None:
            absent.append("FLANNEL_MTU")
        if self.ipmasq is None:
            absent.append("FLANNEL_IPMASQ")
        return absent


def load_subnet_env(path: str) -> SubnetEnv:
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as exc:
        reason = (exc.strerror or str(exc)).lower()
        raise CNIError(
            spec.ERR_TRY_AGAIN_LATER,
            f"failed to load flannel 'subnet.env' file: open {path}: {reason}. "
            "Check the flannel pod log for this node.",
        ) from exc
    env = SubnetEnv()
    for line in lines:
        key, _, value = line.partition("=")
        _apply(env, key, value, path)
    missing = env.missing()
    if missing:
        raise CNIError(spec.ERR_INTERNAL, f"{path} is missing {', '.join(missing)}")
    return env


def _apply(env: SubnetEnv, key: str, value: str, path: str) -> None:
    try:
        if key in ("FLANNEL_NETWORK", "FLANNEL_IPV6_NETWORK"):
            target = env.networks if key == "FLANNEL_NETWORK" else env.ipv6_networks
            for item in value.split(","):
                network = str(ipaddress.ip_network(item.strip(), strict=False))
                if network not in target:
                    target.append(network)
        elif key in ("FLANNEL_SUBNET", "FLANNEL_IPV6_SUBNET"):
            target = env.subnets if key == "FLANNEL_SUBNET" else env.ipv6_subnets
            target.append(str(ipaddress.ip_network(value.strip(), strict=False)))
        elif key == "FLANNEL_MTU":
            env.mtu = int(value)
        elif key == "FLANNEL_IPMASQ":
            env.ipmasq = value == "true"
    except ValueError as exc:
        raise CNIError(spec.ERR_INTERNAL, f"{path}: invalid {key}={value!r}: {exc}") from exc


def _checked_delegate(conf: dict[str, Any]) -> dict[str, Any]:
    delegate = conf.get("delegate") or {}
    if not isinstance(delegate, dict):
        raise CNIError(spec.ERR_DECODING, "failed to load netconf: 'delegate' must be an object")
    if "type" in delegate and not isinstance(delegate["type"], str):
        raise CNIError(
            spec.ERR_INVALID_NETWORK_CONFIG,
            "'delegate' dictionary, if present, must have (string) 'type' field",
        )
    for key in ("name", "ipam"):
        if key in delegate:
            raise CNIError(
                spec.ERR_INVALID_NETWORK_CONFIG,
                f"'delegate' dictionary must not have '{key}' field, it'll be set by flannel",
            )
    return dict(delegate)


def build_delegate(conf: dict[str, Any], env: SubnetEnv) -> dict[str, Any]:
    """The delegate config as the reference builds it: user keys win, but for name and ipam."""
    delegate = _checked_delegate(conf)
    if conf.get("runtimeConfig") is not None:
        delegate["runtimeConfig"] = conf["runtimeConfig"]
    delegate["name"] = conf["name"]
    delegate.setdefault("type", "bridge")
    delegate.setdefault("ipMasq", not env.ipmasq)
    delegate.setdefault("mtu", env.mtu)
    if delegate["type"] == "bridge":
        delegate.setdefault("isGateway", True)
    if conf.get("cniVersion"):
        delegate["cniVersion"] = conf["cniVersion"]
    delegate["ipam"] = _delegate_ipam(conf, env)
    return delegate


def _delegate_ipam(conf: dict[str, Any], env: SubnetEnv) -> dict[str, Any]:
    ipam = dict(conf.get("ipam") or {})
    ipam.setdefault("type", "host-local")
    ipam["ranges"] = [[{"subnet": s}] for s in env.subnets[:1] + env.ipv6_subnets[:1]]
    routes = list(ipam.get("routes") or [])
    if not isinstance(routes, list):
        raise CNIError(spec.ERR_INTERNAL, "failed to read IPAM routes: routes must be a list")
    ipam["routes"] = routes + [{"dst": n} for n in env.networks + env.ipv6_networks]
    return ipam


def _paths(conf: dict[str, Any]) -> tuple[str, str]:
    return (
        conf.get("subnetFile") or DEFAULT_SUBNET_FILE,
        conf.get("dataDir") or DEFAULT_DATA_DIR,
    )


def _save_scratch(data_dir: str, container_id: str, body: bytes) -> None:
    """Written (and synced) before delegating, so a DEL can always replay it."""
    os.makedirs(data_dir, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(data_dir, container_id), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, body)
        os.fsync(fd)
    finally:
        os.close(fd)


def cmd_add(args: skel.CmdArgs) -> dict[str, Any]:
    subnet_file, data_dir = _paths(args.config)
    delegate = build_delegate(args.config, load_subnet_env(subnet_file))
    body = json.dumps(delegate, sort_keys=True).encode()
    sys.stderr.write(body.decode() + "\n")
    _save_scratch(data_dir, args.container_id, body)
    # The delegate's own error goes out unchanged, as the reference's skel unwraps it.
    result = invoke.delegate("ADD", delegate, args.env)
    if result is None:
        raise CNIError(spec.ERR_INTERNAL, "delegate returned no result")
    return result


def cmd_del(args: skel.CmdArgs) -> None:
    _, data_dir = _paths(args.config)
    path = os.path.join(data_dir, args.container_id)
    try:
        with open(path, "rb") as f:
            saved = json.loads(f.read())
    except FileNotFoundError:
        return  # nothing was set up, or it is already undone
    except ValueError as exc:
        sys.stderr.write(f"failed to parse netconf {path}: {exc}\n")
        os.unlink(path)
        return
    invoke.delegate("DEL", saved, args.env)
    os.unlink(path)


def cmd_check(args: skel.CmdArgs) -> None:
    """As the reference: nothing to check at this level."""


def cmd_status(args: skel.CmdArgs) -> None:
    subnet_file, _ = _paths(args.config)
    try:
        env = load_subnet_env(subnet_file)
    except CNIError as exc:
        raise CNIError(spec.ERR_NOT_AVAILABLE, "flannel is not ready", exc.msg) from exc
    invoke.delegate("STATUS", build_delegate(args.config, env), args.env)


def cmd_gc(args: skel.CmdArgs) -> None:
    """Forget saved configs of attachments that are gone, then let the delegate collect."""
    subnet_file, data_dir = _paths(args.config)
    attachments = args.config.get("cni.dev/valid-attachments") or []
    valid = {a.get("containerID") for a in attachments}
    for name in os.listdir(data_dir) if os.path.isdir(data_dir) else []:
        if name not in valid:
            os.unlink(os.path.join(data_dir, name))
    delegate = build_delegate(args.config, load_subnet_env(subnet_file))
    delegate["cni.dev/valid-attachments"] = attachments
    invoke.delegate("GC", delegate, args.env)


PLUGIN = skel.Plugin(
    "CNI flannel plugin (kin)", cmd_add, cmd_del, check=cmd_check, status=cmd_status, gc=cmd_gc
)


def main() -> NoReturn:
    skel.main(PLUGIN)
