"""From a Pod to the CRI configs the kubelet sends: PodSandboxConfig and ContainerConfig.

Labels, annotations, log paths and namespace options are the kubelet's own, because the
kubelet reads them back (restart count, container hash, grace period) and crictl shows
them (pod name and namespace).
"""

from __future__ import annotations

import hashlib
import json
import os
from typing import Any

from kin.kube.quantity import parse_quantity as quantity
from kin.kubelet import pods
from kin.runtime.cri import api_pb2 as cri

__all__ = [
    "CONTAINER_NAME",
    "POD_NAME",
    "POD_NAMESPACE",
    "POD_UID",
    "NodeContext",
    "container_config",
    "container_hash",
    "sandbox_config",
]

POD_NAME = "io.kubernetes.pod.name"
POD_NAMESPACE = "io.kubernetes.pod.namespace"
POD_UID = "io.kubernetes.pod.uid"
CONTAINER_NAME = "io.kubernetes.container.name"
CONTAINER_HASH = "io.kubernetes.container.hash"
RESTART_COUNT = "io.kubernetes.container.restartCount"
GRACE_PERIOD = "io.kubernetes.pod.terminationGracePeriod"
PROTOCOLS = {"TCP": cri.TCP, "UDP": cri.UDP, "SCTP": cri.SCTP}
Pod = dict[str, Any]


class NodeContext:
    """What the kubelet knows about its node that goes into pod configs."""

    def __init__(
        self,
        node_name: str,
        pod_logs_dir: str = "/var/log/pods",
        root_dir: str = "/var/lib/kubelet",
        cluster_dns: tuple[str, ...] = (),
        cluster_domain: str = "cluster.local",
        resolv_conf: str = "/etc/resolv.conf",
        node_ip: str = "",
    ) -> None:
        self.node_name = node_name
        self.pod_logs_dir = pod_logs_dir
        self.root_dir = root_dir
        self.cluster_dns = cluster_dns
        self.cluster_domain = cluster_domain
        self.resolv_conf = resolv_conf
        self.node_ip = node_ip

    def pod_dir(self, pod: Pod) -> str:
        return os.path.join(self.root_dir, "pods", pods.uid(pod))

    def log_dir(self, pod: Pod) -> str:
        meta = pod["metadata"]
        return os.path.join(self.pod_logs_dir, f"{meta['namespace']}_{meta['name']}_{meta['uid']}")


def host_network(pod: Pod) -> bool:
    return bool(pod["spec"].get("hostNetwork"))


def pid_mode(pod: Pod) -> cri.NamespaceMode:
    spec = pod["spec"]
    if spec.get("hostPID"):
        return cri.NODE
    return cri.POD if spec.get("shareProcessNamespace") else cri.CONTAINER


def namespace_options(pod: Pod) -> cri.NamespaceOption:
    spec = pod["spec"]
    return cri.NamespaceOption(
        network=cri.NODE if host_network(pod) else cri.POD,
        pid=pid_mode(pod),
        ipc=cri.NODE if spec.get("hostIPC") else cri.POD,
    )


def sandbox_config(pod: Pod, attempt: int, node: NodeContext) -> cri.PodSandboxConfig:
    meta = pod["metadata"]
    spec = pod["spec"]
    labels = {**meta.get("labels", {}), POD_NAME: meta["name"], POD_NAMESPACE: meta["namespace"],
              POD_UID: meta["uid"]}  # fmt: skip
    config = cri.PodSandboxConfig(
        metadata=cri.PodSandboxMetadata(
            name=meta["name"], namespace=meta["namespace"], uid=meta["uid"], attempt=attempt
        ),
        hostname="" if host_network(pod) else spec.get("hostname") or meta["name"],
        log_directory=node.log_dir(pod),
        labels=labels,
        annotations=meta.get("annotations", {}),
        port_mappings=_port_mappings(pod),
    )
    dns = dns_config(pod, node)
    if dns is not None:
        config.dns_config.CopyFrom(dns)
    linux = config.linux
    linux.cgroup_parent = f"/kubepods/pod{meta['uid']}"
    linux.security_context.namespace_options.CopyFrom(namespace_options(pod))
    linux.security_context.privileged = any(
        (c.get("securityContext") or {}).get("privileged") for c in pods.containers(pod)
    )
    for sysctl in (spec.get("securityContext") or {}).get("sysctls") or []:
        linux.sysctls[sysctl["name"]] = str(sysctl["value"])
    return config


def _port_mappings(pod: Pod) -> list[cri.PortMapping]:
    mappings = []
    for container in pods.containers(pod):
        for port in container.get("ports") or []:
            mappings.append(
                cri.PortMapping(
                    protocol=PROTOCOLS.get(port.get("protocol", "TCP"), cri.TCP),
                    container_port=int(port["containerPort"]),
                    host_port=int(port.get("hostPort") or 0),
                    host_ip=port.get("hostIP", ""),
                )
            )
    return mappings


def dns_config(pod: Pod, node: NodeContext) -> cri.DNSConfig | None:
    """The pod's resolv.conf, as the kubelet derives it from ``dnsPolicy``."""
    spec = pod["spec"]
    policy = spec.get("dnsPolicy", "ClusterFirst")
    if policy == "ClusterFirstWithHostNet" or (policy == "ClusterFirst" and not host_network(pod)):
        cluster_first = True
    else:
        cluster_first = False
    host_servers, host_searches, host_options = _read_resolv_conf(node.resolv_conf)
    if policy == "None":
        config = cri.DNSConfig()
    elif cluster_first and node.cluster_dns:
        namespace = pod["metadata"]["namespace"]
        domain = node.cluster_domain
        searches = [f"{namespace}.svc.{domain}", f"svc.{domain}", domain, *host_searches]
        config = cri.DNSConfig(
            servers=list(node.cluster_dns), searches=searches, options=["ndots:5"]
        )
    else:  # Default, or ClusterFirst without a cluster DNS: the node's own resolver
        config = cri.DNSConfig(servers=host_servers, searches=host_searches, options=host_options)
    custom = spec.get("dnsConfig") or {}
    config.servers.extend(s for s in custom.get("nameservers") or [] if s not in config.servers)
    config.searches.extend(s for s in custom.get("searches") or [] if s not in config.searches)
    for option in custom.get("options") or []:
        text = option["name"] + (f":{option['value']}" if option.get("value") else "")
        config.options.append(text)
    return config


def _read_resolv_conf(path: str) -> tuple[list[str], list[str], list[str]]:
    servers: list[str] = []
    searches: list[str] = []
    options: list[str] = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError:
        return servers, searches, options
    for line in lines:
        fields = line.split()
        if not fields or fields[0].startswith(("#", ";")):
            continue
        if fields[0] == "nameserver" and len(fields) > 1:
            servers.append(fields[1])
        elif fields[0] in ("search", "domain"):
            searches = fields[1:]
        elif fields[0] == "options":
            options.extend(fields[1:])
    return servers, searches, options


CPU_PERIOD = 100_000  # microseconds, the kubelet's CFS period
MIN_SHARES = 2


def _resources(target: cri.LinuxContainerResources, resources: dict[str, Any]) -> None:
    """Limits and requests as the kubelet turns them into cgroup settings."""
    limits, requests = resources.get("limits") or {}, resources.get("requests") or {}
    if "memory" in limits:
        target.memory_limit_in_bytes = int(quantity(limits["memory"]))
    if "cpu" in limits:
        target.cpu_period = CPU_PERIOD
        target.cpu_quota = max(1000, int(quantity(limits["cpu"]) * CPU_PERIOD))
    cpu_request = requests.get("cpu", limits.get("cpu"))
    target.cpu_shares = (
        max(MIN_SHARES, int(quantity(cpu_request) * 1024)) if cpu_request else MIN_SHARES
    )


def container_hash(container: dict[str, Any]) -> str:
    raw = json.dumps(container, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha256(raw).hexdigest()[:8]


def container_config(
    pod: Pod,
    container: dict[str, Any],
    restart_count: int,
    image_ref: str,
    env: dict[str, str],
    mounts: list[cri.Mount],
) -> cri.ContainerConfig:
    meta = pod["metadata"]
    name = container["name"]
    config = cri.ContainerConfig(
        metadata=cri.ContainerMetadata(name=name, attempt=restart_count),
        image=cri.ImageSpec(image=image_ref, user_specified_image=container["image"]),
        command=container.get("command") or [],
        args=container.get("args") or [],
        working_dir=container.get("workingDir", ""),
        envs=[cri.KeyValue(key=k, value=v.encode()) for k, v in env.items()],
        mounts=mounts,
        log_path=f"{name}/{restart_count}.log",
        labels={
            POD_NAME: meta["name"],
            POD_NAMESPACE: meta["namespace"],
            POD_UID: meta["uid"],
            CONTAINER_NAME: name,
        },
        annotations={
            CONTAINER_HASH: container_hash(container),
            RESTART_COUNT: str(restart_count),
            "io.kubernetes.container.terminationMessagePath": container.get(
                "terminationMessagePath", "/dev/termination-log"
            ),
            "io.kubernetes.container.terminationMessagePolicy": container.get(
                "terminationMessagePolicy", "File"
            ),
            GRACE_PERIOD: str(pod["spec"].get("terminationGracePeriodSeconds", 30)),
        },
        stdin=bool(container.get("stdin")),
        stdin_once=bool(container.get("stdinOnce")),
        tty=bool(container.get("tty")),
    )
    _resources(config.linux.resources, container.get("resources") or {})
    security = container.get("securityContext") or {}
    linux_security = config.linux.security_context
    linux_security.privileged = bool(security.get("privileged"))
    capabilities = security.get("capabilities") or {}
    linux_security.capabilities.add_capabilities.extend(capabilities.get("add") or [])
    linux_security.capabilities.drop_capabilities.extend(capabilities.get("drop") or [])
    linux_security.namespace_options.CopyFrom(namespace_options(pod))
    pod_security = pod["spec"].get("securityContext") or {}
    run_as_user = security.get("runAsUser", pod_security.get("runAsUser"))
    if run_as_user is not None:
        linux_security.run_as_user.value = int(run_as_user)
    run_as_group = security.get("runAsGroup", pod_security.get("runAsGroup"))
    if run_as_group is not None:
        linux_security.run_as_group.value = int(run_as_group)
    groups = list(pod_security.get("supplementalGroups") or [])
    if pod_security.get("fsGroup") is not None:
        groups.append(pod_security["fsGroup"])
    linux_security.supplemental_groups.extend(int(g) for g in groups)
    linux_security.readonly_rootfs = bool(security.get("readOnlyRootFilesystem"))
    return config
