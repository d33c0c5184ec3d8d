"""CNI ``bridge``: a veth from the pod to a Linux bridge on the node, addresses from IPAM.

Behaviour and wording follow the reference plugin (containernetworking/plugins
``plugins/main/bridge/bridge.go``); the kernel steps live in
``kin.cni.bridgenet``. ``ipMasq`` uses nftables in the node's namespace (the
reference's nftables backend); VLAN, MAC spoof checking and port isolation
are not implemented and are refused when asked for (code 2, naming the field).
"""

from __future__ import annotations

import ipaddress

from kin.cni import bridgenet, invoke, skel, spec
from kin.cni.args import known_args
from kin.errors import CNIError
from kin.linux.netlink import Netlink

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, NoReturn

__all__ = ["PLUGIN", "BridgeConf", "main"]

UNSUPPORTED = ("vlan", "vlanTrunk", "macspoofchk", "portIsolation", "disableContainerInterface")


class BridgeConf:
    """The network config, with the reference's defaults and checks."""

    def __init__(self, raw: dict[str, Any]) -> None:
        self.raw = raw
        self.name: str = raw["name"]
        self.bridge = _string(raw, "bridge", "cni0")
        self.is_default_gateway = _flag(raw, "isDefaultGateway")
        self.is_gateway = _flag(raw, "isGateway") or self.is_default_gateway
        self.force_address = _flag(raw, "forceAddress")
        self.ip_masq = _flag(raw, "ipMasq")
        self.hairpin = _flag(raw, "hairpinMode")
        self.promisc = _flag(raw, "promiscMode")
        self.mtu = _integer(raw, "mtu")
        self.ipam: dict[str, Any] = raw.get("ipam") or {}
        self._check()

    def _check(self) -> None:
        if self.hairpin and self.promisc:
            raise CNIError(
                spec.ERR_INVALID_NETWORK_CONFIG,
                "cannot set hairpin mode and promiscuous mode at the same time.",
            )
        for key in UNSUPPORTED:
            if self.raw.get(key):
                value = self.raw[key]
                raise CNIError(spec.ERR_UNSUPPORTED_FIELD, f"unsupported field {key}: {value!r}")
        backend = self.raw.get("ipMasqBackend")
        if backend not in (None, "", "nftables", "iptables"):
            raise CNIError(spec.ERR_INVALID_NETWORK_CONFIG, f"invalid ipMasqBackend {backend!r}")

    @property
    def ipam_type(self) -> str:
        return str(self.ipam.get("type") or "")

    @property
    def has_ipam(self) -> bool:
        return bool(self.ipam_type)


def _string(raw: dict[str, Any], key: str, default: str) -> str:
    value = raw.get(key, default) or default
    if not isinstance(value, str):
        raise CNIError(spec.ERR_DECODING, f"failed to load netconf: {key} must be a string")
    return value


def _flag(raw: dict[str, Any], key: str) -> bool:
    value = raw.get(key, False)
    if not isinstance(value, bool):
        raise CNIError(spec.ERR_DECODING, f"failed to load netconf: {key} must be a boolean")
    return value


def _integer(raw: dict[str, Any], key: str) -> int:
    value = raw.get(key, 0) or 0
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise CNIError(spec.ERR_DECODING, f"failed to load netconf: {key} must be a number")
    return value


def _requested_mac(args: skel.CmdArgs) -> str | None:
    """CNI_ARGS ``MAC=`` < ``args.cni.mac`` < ``runtimeConfig.mac``, as the reference."""
    mac = known_args(args.args, ("MAC",)).get("MAC")
    mac = ((args.config.get("args") or {}).get("cni") or {}).get("mac") or mac
    return args.runtime_config.get("mac") or mac


def cmd_add(args: skel.CmdArgs) -> dict[str, Any]:
    conf = BridgeConf(args.config)
    mac = _requested_mac(args)
    with Netlink() as nl:
        bridge = bridgenet.ensure_bridge(nl, conf.bridge, conf.mtu, conf.promisc)
        host, pod_mac = bridgenet.setup_veth(args.netns, args.ifname, conf.mtu, mac)
        try:
            return _attach(args, conf, nl, host, _interfaces(args, conf, bridge.mac, host, pod_mac))
        except BaseException:
            bridgenet.delete_container_link(args.netns, args.ifname)  # no veth left behind
            raise


def _interfaces(
    args: skel.CmdArgs, conf: BridgeConf, bridge_mac: str | None, host: str, pod_mac: str
) -> list[dict[str, Any]]:
    """The reference's order: bridge, node-side veth, pod interface (``ips[].interface`` = 2)."""
    return [
        {"name": conf.bridge, "mac": bridge_mac},
        {"name": host, "mac": ""},
        {"name": args.ifname, "mac": pod_mac, "sandbox": args.netns},
    ]


def _attach(
    args: skel.CmdArgs,
    conf: BridgeConf,
    nl: Netlink,
    host: str,
    interfaces: list[dict[str, Any]],
) -> dict[str, Any]:
    bridgenet.enslave_host_veth(nl, host, conf.bridge, conf.hairpin)
    result: dict[str, Any] = {"interfaces": interfaces, "ips": [], "routes": [], "dns": {}}
    if conf.has_ipam:
        _add_addresses(args, conf, nl, result)
    _finish(nl, conf, result)
    return result


def _add_addresses(
    args: skel.CmdArgs, conf: BridgeConf, nl: Netlink, result: dict[str, Any]
) -> None:
    """IPAM ADD, then addresses, routes, gateway and masquerade; IPAM DEL if any of it fails."""
    ipam = invoke.delegate("ADD", args.config, args.env, conf.ipam_type) or {}
    try:
        if not ipam.get("ips"):
            raise CNIError(spec.ERR_INTERNAL, "IPAM plugin returned missing IP config")
        ips, routes = _gateways(conf, ipam)
        result.update(ips=ips, routes=routes, dns=ipam.get("dns") or {})
        bridgenet.configure_container(args.netns, args.ifname, ips, routes)
        if conf.is_gateway:
            _ensure_gateways(nl, conf, ips)
        if conf.ip_masq:
            from kin.cni import ipmasq  # nft and hashing: only for networks that masquerade

            cidrs = [ip["address"] for ip in ips]
            ipmasq.setup_masquerade(cidrs, conf.name, args.ifname, args.container_id)
    except BaseException:
        invoke.delegate("DEL", args.config, args.env, conf.ipam_type)
        raise


def _gateways(
    conf: BridgeConf, ipam: dict[str, Any]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Each IP on interface 2; with isGateway a missing gateway is the subnet's first address;
    with isDefaultGateway a default route via it, unless one is already there."""
    ips: list[dict[str, Any]] = []
    routes = [dict(r) for r in ipam.get("routes") or []]
    for ip in ipam["ips"]:
        ip = {**ip, "interface": 2}
        network = ipaddress.ip_interface(ip["address"]).network
        if conf.is_gateway and not ip.get("gateway"):
            ip["gateway"] = str(network.network_address + 1)
        if conf.is_default_gateway and ip.get("gateway"):
            default = "0.0.0.0/0" if network.version == 4 else "::/0"
            if not any(r["dst"] == default and r.get("gw") for r in routes):
                routes.append({"dst": default, "gw": ip["gateway"]})
        ips.append(ip)
    return ips, routes


def _ensure_gateways(nl: Netlink, conf: BridgeConf, ips: list[dict[str, Any]]) -> None:
    for ip in ips:
        if not ip.get("gateway"):
            continue
        prefix = ipaddress.ip_interface(ip["address"]).network.prefixlen
        bridgenet.ensure_gateway_address(
            nl, conf.bridge, f"{ip['gateway']}/{prefix}", conf.force_address
        )
        bridgenet.enable_forwarding(ipaddress.ip_address(ip["gateway"]).version)


def _finish(nl: Netlink, conf: BridgeConf, result: dict[str, Any]) -> None:
    """Wait for the host veth to be up, then report both node-side MACs as they are now."""
    host = result["interfaces"][1]["name"]
    result["interfaces"][1]["mac"] = bridgenet.wait_oper_up(nl, host).mac
    result["interfaces"][0]["mac"] = nl.get_link(conf.bridge).mac
    if conf.raw.get("dns"):
        result["dns"] = conf.raw["dns"]


def cmd_del(args: skel.CmdArgs) -> None:
    conf = BridgeConf(args.config)
    wait_for_link = bridgenet.start_deleting_container_link(args.netns, args.ifname)
    try:
        if conf.has_ipam:
            invoke.delegate("DEL", args.config, args.env, conf.ipam_type)
    finally:
        wait_for_link()
    if conf.ip_masq:
        from kin.cni import ipmasq

        ipmasq.teardown_masquerade(conf.name, args.ifname, args.container_id)


def cmd_check(args: skel.CmdArgs) -> None:
    from kin.cni.bridgecheck import check

    conf = BridgeConf(args.config)
    if conf.has_ipam:
        invoke.delegate("CHECK", args.config, args.env, conf.ipam_type)
    check(args, conf.bridge, conf.promisc)


def cmd_status(args: skel.CmdArgs) -> None:
    conf = BridgeConf(args.config)
    if conf.has_ipam:
        invoke.delegate("STATUS", args.config, args.env, conf.ipam_type)


def cmd_gc(args: skel.CmdArgs) -> None:
    conf = BridgeConf(args.config)
    if conf.has_ipam:
        invoke.delegate("GC", args.config, args.env, conf.ipam_type)
    attachments = args.config.get("cni.dev/valid-attachments") or []
    valid = {(a.get("containerID", ""), a.get("ifname", "")) for a in attachments}
    from kin.cni import ipmasq

    ipmasq.gc_masquerade(conf.name, valid)


PLUGIN = skel.Plugin(
    "CNI bridge plugin (kin)", cmd_add, cmd_del, check=cmd_check, status=cmd_status, gc=cmd_gc
)


def main() -> NoReturn:
    skel.main(PLUGIN)
