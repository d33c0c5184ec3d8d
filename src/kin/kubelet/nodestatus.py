"""The kubelet's Node: registration, status every 10 s, and the Lease heartbeat.

What it reports follows the kubelet's setters: labels (hostname, os, arch and the ones
given with ``--node-labels``), InternalIP and Hostname addresses, nodeInfo (kernel, OS
image, ``kin://<version>`` as the runtime, the kubelet version), capacity and
allocatable (allocatable is capacity less the hard eviction thresholds), the pressure
conditions and Ready, which requires the runtime's RuntimeReady and NetworkReady.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import platform
from typing import Any

from kin import KUBERNETES_VERSION
from kin.errors import APIError
from kin.kube.client import Client
from kin.kubelet import pods
from kin.runtime.cri import api_pb2 as cri

__all__ = ["NodeAgent"]

log = logging.getLogger("kin.kubelet")
STATUS_PERIOD = 10.0
READINESS_POLL = 0.5
NOT_READY_POLL = 0.1  # a NotReady node looks often: its CNI config is about to appear
REGISTER_RETRY, REGISTER_RETRY_MAX = 0.1, 0.25
LEASE_DURATION = 40
LEASE_NAMESPACE = "kube-node-lease"
FORCE_REPORT = 60.0
KUBELET_PORT = 10250
MEMORY_EVICTION = 100 * 1024 * 1024
Obj = dict[str, Any]


class NodeAgent:
    def __init__(
        self,
        api: Client,
        runtime: Any,
        images: Any,
        name: str,
        node_ip: str,
        labels: dict[str, str],
        taints: list[Obj],
    ) -> None:
        self.api = api
        self.runtime = runtime
        self.images = images
        self.name = name
        self.node_ip = node_ip
        self.labels = labels
        self.taints = taints
        self.uid = ""
        self.pod_cidr = ""
        self._last: Obj | None = None
        self._conditions: dict[str, Obj] = {}
        self.registered = asyncio.Event()

    # -- registration ---------------------------------------------------------------------

    async def register(self) -> None:
        """Create the Node, or adopt an existing one; retry until the API server answers
        (often: on the control plane the kubelet itself is starting it, and every second
        spent asleep after it answers delays the whole cluster)."""
        delay = REGISTER_RETRY
        while True:
            try:
                node = await self._create_or_get()
                break
            except APIError as exc:
                log.info("registering node %s: %s", self.name, exc.message)
                await asyncio.sleep(delay)
                delay = min(delay * 1.5, REGISTER_RETRY_MAX)
        self.uid = node["metadata"]["uid"]
        self.pod_cidr = node.get("spec", {}).get("podCIDR", "")
        log.info("node %s registered", self.name)
        self.registered.set()

    async def _create_or_get(self) -> Obj:
        body = {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": self.name, "labels": self._labels(), "annotations": {
                "kubeadm.alpha.kubernetes.io/cri-socket": "unix:///run/containerd/containerd.sock",
                "node.alpha.kubernetes.io/ttl": "0",
                "volumes.kubernetes.io/controller-managed-attach-detach": "true",
            }},
            "spec": {"taints": self.taints} if self.taints else {},
        }  # fmt: skip
        try:
            return await self.api.create("/api/v1/nodes", body)
        except APIError as exc:
            if exc.code != 409:
                raise
        node = await self.api.get(f"/api/v1/nodes/{self.name}")
        missing = {
            k: v
            for k, v in self._labels().items()
            if node["metadata"].get("labels", {}).get(k) != v
        }
        if missing:
            patch = {"metadata": {"labels": missing}}
            node = await self.api.patch(f"/api/v1/nodes/{self.name}", patch)
        return node

    def _labels(self) -> dict[str, str]:
        return {
            "kubernetes.io/hostname": self.name.lower(), "kubernetes.io/os": "linux",
            "kubernetes.io/arch": "amd64", "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": "amd64", **self.labels,
        }  # fmt: skip

    # -- status ---------------------------------------------------------------------------

    async def status_loop(self) -> None:
        await self.registered.wait()
        since_report = FORCE_REPORT
        while True:
            ready = None
            try:
                status = await self.status()
                ready = _ready(status)
                comparable = _without_heartbeats(status)
                if comparable != self._last or since_report >= FORCE_REPORT:
                    await self.api.patch(f"/api/v1/nodes/{self.name}/status", {"status": status})
                    self._last = comparable
                    since_report = 0.0
                node = await self.api.get(f"/api/v1/nodes/{self.name}")
                self.pod_cidr = node.get("spec", {}).get("podCIDR", "") or self.pod_cidr
                if _ready(node.get("status") or {}) != ready:  # marked Unknown while silent
                    since_report = FORCE_REPORT
                    await asyncio.sleep(READINESS_POLL)
                    continue
            except Exception as exc:  # the API server or runtime may be restarting
                log.warning("node %s: status update failed: %s", self.name, exc)
            since_report += await self._until_next_report(ready)

    async def _until_next_report(self, ready: bool | None) -> float:
        """Sleep the status period, cut short when the runtime's readiness stops being
        ``ready`` (a CNI config appeared: the node turns Ready in a second, not ten).
        Returns the seconds slept."""
        slept, poll = 0.0, READINESS_POLL if ready else NOT_READY_POLL
        while slept < STATUS_PERIOD:
            await asyncio.sleep(poll)
            slept += poll
            try:
                reply = await self.runtime.Status(cri.StatusRequest())
            except Exception:
                continue  # the runtime may be restarting: the full report says so
            if all(c.status for c in reply.status.conditions) != ready:
                break
        return slept

    async def status(self) -> Obj:
        runtime_status = await self.runtime.Status(cri.StatusRequest())
        version = await self.runtime.Version(cri.VersionRequest())
        conditions = {c.type: c for c in runtime_status.status.conditions}
        capacity = _capacity()
        allocatable = dict(capacity)
        allocatable["memory"] = f"{max(0, _kib(capacity['memory']) - MEMORY_EVICTION // 1024)}Ki"
        allocatable["ephemeral-storage"] = str(
            int(_kib(capacity["ephemeral-storage"]) * 1024 * 0.9)
        )
        images = await self.images.ListImages(cri.ListImagesRequest())
        return {
            "capacity": capacity,
            "allocatable": allocatable,
            "conditions": self._node_conditions(conditions),
            "addresses": [
                {"type": "InternalIP", "address": self.node_ip},
                {"type": "Hostname", "address": self.name},
            ],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": KUBELET_PORT}},
            "nodeInfo": _node_info(
                self.name, f"{version.runtime_name}://{version.runtime_version}"
            ),
            "images": [
                {"names": [*i.repo_tags, i.id], "sizeBytes": int(i.size)} for i in images.images
            ][:50],
        }

    def _node_conditions(self, runtime: dict[str, Any]) -> list[Obj]:
        now = pods.now_rfc3339(nano=False)
        problems = [
            f"{kind}={'true' if c.status else 'false'} reason:{c.reason} message:{c.message}"
            for kind, c in runtime.items() if not c.status
        ]  # fmt: skip
        ready = not problems and "RuntimeReady" in runtime and "NetworkReady" in runtime
        not_ready = "container runtime network not ready: " + "; ".join(problems)
        wanted = [
            ("MemoryPressure", "False", "KubeletHasSufficientMemory",
             "kubelet has sufficient memory available"),
            ("DiskPressure", "False", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
            ("PIDPressure", "False", "KubeletHasSufficientPID",
             "kubelet has sufficient PID available"),
            ("Ready", "True", "KubeletReady", "kubelet is posting ready status")
            if ready else ("Ready", "False", "KubeletNotReady", not_ready),
        ]  # fmt: skip
        found = []
        for kind, status, reason, message in wanted:
            old = self._conditions.get(kind)
            changed = old is None or old["status"] != status
            condition = {
                "type": kind, "status": status, "reason": reason, "message": message,
                "lastHeartbeatTime": now,
                "lastTransitionTime": now if changed else old["lastTransitionTime"],  # type: ignore[index]
            }  # fmt: skip
            self._conditions[kind] = condition
            found.append(condition)
        return found

    # -- lease ----------------------------------------------------------------------------

    async def lease_loop(self) -> None:
        await self.registered.wait()
        path = f"/apis/coordination.k8s.io/v1/namespaces/{LEASE_NAMESPACE}/leases/{self.name}"
        while True:
            try:
                await self._renew(path)
            except Exception as exc:
                log.warning("node %s: lease renewal failed: %s", self.name, exc)
            await asyncio.sleep(LEASE_DURATION / 4)

    async def _renew(self, path: str) -> None:
        now = pods.now_rfc3339()
        try:
            lease = await self.api.get(path)
        except APIError as exc:
            if exc.code != 404:
                raise
            await self.api.create(path.rsplit("/", 1)[0], {
                "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": self.name, "namespace": LEASE_NAMESPACE, "ownerReferences": [
                    {"apiVersion": "v1", "kind": "Node", "name": self.name, "uid": self.uid}]},
                "spec": {"holderIdentity": self.name, "leaseDurationSeconds": LEASE_DURATION,
                         "renewTime": now},
            })  # fmt: skip
            return
        lease["spec"].update(
            holderIdentity=self.name, leaseDurationSeconds=LEASE_DURATION, renewTime=now
        )
        await self.api.update(path, lease)


def _ready(status: Obj) -> bool:
    return any(
        c["type"] == "Ready" and c["status"] == "True" for c in status.get("conditions") or []
    )  # fmt: skip


def _without_heartbeats(status: Obj) -> Obj:
    copy = dict(status)
    copy["conditions"] = [
        {k: v for k, v in c.items() if k != "lastHeartbeatTime"} for c in status["conditions"]
    ]
    return copy


def _kib(quantity: str) -> int:
    return int(quantity.removesuffix("Ki"))


def _capacity() -> dict[str, str]:
    memory_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                memory_kib = int(line.split()[1])
    disk = os.statvfs("/")
    return {
        "cpu": str(os.cpu_count() or 1),
        "memory": f"{memory_kib}Ki",
        "ephemeral-storage": f"{disk.f_blocks * disk.f_frsize // 1024}Ki",
        "hugepages-1Gi": "0",
        "hugepages-2Mi": "0",
        "pods": "110",
    }


def _node_info(name: str, runtime_version: str) -> dict[str, str]:
    return {
        "machineID": _derived_id("machine", name, "/etc/machine-id"),
        "systemUUID": _derived_id("system", name, "/sys/class/dmi/id/product_uuid"),
        "bootID": _read("/proc/sys/kernel/random/boot_id"),
        "kernelVersion": platform.release(),
        "osImage": _os_image(),
        "containerRuntimeVersion": runtime_version,
        "kubeletVersion": KUBERNETES_VERSION,
        "kubeProxyVersion": KUBERNETES_VERSION,
        "operatingSystem": "linux",
        "architecture": "amd64",
    }


def _derived_id(kind: str, node: str, host_file: str) -> str:
    """Nodes share the host's files: each gets its own ID, stable for its name."""
    return hashlib.sha256(f"{kind}\0{_read(host_file)}\0{node}".encode()).hexdigest()[:32]


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def _os_image() -> str:
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip('"')
    return "Linux"
