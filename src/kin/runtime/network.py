"""Pod networking as containerd does it: a pinned network namespace, then CNI.

The network config is the lexically first valid file in the CNI config directory
(``/etc/cni/net.d``), read again on every pod so that a conflist installed later (by
flannel's DaemonSet) is picked up; without one the runtime reports NetworkReady=false.
The loopback interface comes up before the chain runs (containerd runs the loopback
plugin for that; setting ``lo`` up directly is the same result without a process).
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import uuid
from collections.abc import Sequence
from typing import Any

from kin.cni.executor import Executor, RuntimeConf
from kin.cni.netconf import NetworkConfigList, find_network
from kin.errors import CNIError, CRIError
from kin.linux import ns
from kin.linux.netlink import Netlink
from kin.runtime.cri import api_pb2 as cri

__all__ = ["Attachment", "PodNetwork"]

PROTOCOLS = {cri.TCP: "tcp", cri.UDP: "udp", cri.SCTP: "sctp"}


class Attachment:
    """A sandbox's network: its namespace path and the addresses CNI gave it."""

    def __init__(self, netns: str, ips: list[str], result: dict[str, Any]) -> None:
        self.netns = netns
        self.ips = ips
        self.result = result


class PodNetwork:
    def __init__(self, conf_dir: str, bin_dirs: list[str], cache_dir: str, netns_dir: str) -> None:
        self.conf_dir = conf_dir
        self.netns_dir = netns_dir
        self.executor = Executor(bin_dirs, cache_dir)

    def config(self) -> NetworkConfigList:
        try:
            return find_network(self.conf_dir)
        except CNIError as exc:
            raise CRIError(f"cni config not initialized: {exc.msg}") from exc

    def readiness(self) -> tuple[bool, str]:
        """(NetworkReady, the message when it is not), as containerd words it."""
        try:
            self.config()
        except CRIError as exc:
            return False, f"Network plugin returns error: {exc}"
        return True, ""

    def attach(
        self, sandbox_id: str, config: cri.PodSandboxConfig, requested: Sequence[str] = ()
    ) -> Attachment:
        """Pin a new network namespace and run the CNI chain in it; undo it all on failure.
        ``requested``: the pod's earlier addresses; IPAM is asked for the first
        (``CNI_ARGS`` ``IP=``, which names one address)."""
        network = self.config()
        name = f"cni-{uuid.uuid4()}"
        path = ns.create_netns(name, self.netns_dir)
        attachment = Attachment(path, [], {})
        try:
            ns.run_in(path, _loopback_up)
            rt = _runtime_conf(sandbox_id, path, config)
            if requested:
                rt.args.append(("IP", requested[0]))
            result = self.executor.add(network, rt)
            attachment.result = result
            attachment.ips = pod_ips(result)
        except Exception as exc:  # a plugin's error or a result we cannot read
            with contextlib.suppress(Exception):
                self.detach(sandbox_id, config, attachment)
            raise CRIError(
                f"failed to setup network for sandbox {sandbox_id[:13]}: {_reason(exc)}"
            ) from exc
        if not attachment.ips:
            self.detach(sandbox_id, config, attachment)
            raise CRIError(f"failed to find network info for sandbox {sandbox_id[:13]}")
        return attachment

    def detach(self, sandbox_id: str, config: cri.PodSandboxConfig, attachment: Attachment) -> None:
        """CNI DEL, then unpin. Idempotent: what is already gone is fine."""
        pinned = attachment.netns and ns.netns_exists(
            os.path.basename(attachment.netns), os.path.dirname(attachment.netns)
        )
        netns = attachment.netns if pinned else ""  # gone already: DEL without one
        try:
            network = self.config()
        except CRIError:
            network = None  # the config is gone: nothing to call DEL with
        if network is not None:
            try:
                self.executor.delete(network, _runtime_conf(sandbox_id, netns, config))
            except CNIError as exc:
                if attachment.result:
                    raise CRIError(
                        f"failed to destroy network for sandbox {sandbox_id[:13]}: {exc.msg}"
                    ) from exc
        if attachment.netns:
            ns.delete_netns(os.path.basename(attachment.netns), os.path.dirname(attachment.netns))

    def release(self, sandbox_id: str, namespace: str, name: str, uid: str) -> None:
        """CNI DEL for a sandbox whose namespace is gone (lost with a node's reboot): what
        the plugins keep outside the namespace, such as an IPAM reservation, is freed."""
        try:
            network = self.config()
            rt = RuntimeConf.for_pod(sandbox_id, "", namespace, name, uid)
            self.executor.delete(network, rt)
        except CNIError as exc:
            what = f"failed to destroy network for sandbox {sandbox_id[:13]}"
            raise CRIError(f"{what}: {exc.msg}") from exc


def pod_ips(result: dict[str, Any]) -> list[str]:
    """The addresses on eth0, IPv4 first (containerd's default preference)."""
    interfaces = result.get("interfaces") or []
    ips = []
    for entry in result.get("ips") or []:
        index = entry.get("interface")
        if index is not None and (
            index >= len(interfaces) or interfaces[index].get("name") != "eth0"
        ):
            continue
        ips.append(str(ipaddress.ip_interface(entry["address"]).ip))
    return sorted(ips, key=lambda ip: ipaddress.ip_address(ip).version)


def _runtime_conf(sandbox_id: str, netns: str, config: cri.PodSandboxConfig) -> RuntimeConf:
    meta = config.metadata
    mappings = [
        {
            "hostPort": m.host_port,
            "containerPort": m.container_port,
            "protocol": PROTOCOLS.get(m.protocol, "tcp"),
            "hostIP": m.host_ip,
        }
        for m in config.port_mappings
        if m.host_port > 0
    ]
    capabilities: dict[str, Any] = {"portMappings": mappings} if mappings else {}
    if config.HasField("dns_config"):
        dns = config.dns_config
        capabilities["dns"] = {
            "servers": list(dns.servers),
            "searches": list(dns.searches),
            "options": list(dns.options),
        }
    return RuntimeConf.for_pod(
        sandbox_id,
        netns,
        meta.namespace,
        meta.name,
        meta.uid,
        capability_args=capabilities,
    )


def _loopback_up() -> None:
    with Netlink() as nl:
        nl.set_link("lo", up=True)


def _reason(exc: BaseException) -> str:
    return exc.msg if isinstance(exc, CNIError) else str(exc)
