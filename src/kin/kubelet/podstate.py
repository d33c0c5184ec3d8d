"""What the runtime says about one pod: its sandboxes and containers, newest first.

Read through CRI the way the kubelet's ``GetPodStatus`` reads it (ListPodSandbox and
ListContainers by the pod-UID label, then the status of each), so that everything the
kubelet decides rests on the runtime's view, which survives a kubelet restart.
"""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import grpc

from kin.kubelet.criconfig import POD_UID
from kin.runtime.cri import api_pb2 as cri

__all__ = ["ContainerView", "PodState", "read_pod_state"]


class ContainerView:
    """A container's status with the sandbox it ran in."""

    def __init__(self, status: cri.ContainerStatus, sandbox_id: str) -> None:
        self.status = status
        self.sandbox_id = sandbox_id

    @property
    def name(self) -> str:
        return str(self.status.metadata.name)

    @property
    def attempt(self) -> int:
        return int(self.status.metadata.attempt)

    @property
    def id(self) -> str:
        return str(self.status.id)

    @property
    def running(self) -> bool:
        return bool(self.status.state == cri.CONTAINER_RUNNING)

    @property
    def exited(self) -> bool:
        return bool(self.status.state in (cri.CONTAINER_EXITED, cri.CONTAINER_UNKNOWN))


class PodState:
    def __init__(
        self, sandboxes: list[cri.PodSandboxStatus], containers: list[ContainerView]
    ) -> None:
        self.sandboxes = sandboxes
        self.containers = containers

    @property
    def sandbox(self) -> cri.PodSandboxStatus | None:
        return self.sandboxes[0] if self.sandboxes else None

    @property
    def ready_sandboxes(self) -> list[cri.PodSandboxStatus]:
        return [s for s in self.sandboxes if s.state == cri.SANDBOX_READY]

    def in_current_sandbox(self) -> list[ContainerView]:
        current = self.sandbox
        return [c for c in self.containers if current is not None and c.sandbox_id == current.id]

    def latest(self, name: str) -> ContainerView | None:
        """The newest attempt of container ``name`` in the current sandbox."""
        found = [c for c in self.in_current_sandbox() if c.name == name]
        return max(found, key=lambda c: c.attempt) if found else None

    def newest(self, name: str) -> ContainerView | None:
        """The newest container ``name`` in any of the pod's sandboxes."""
        found = [c for c in self.containers if c.name == name]
        return max(found, key=lambda c: c.status.created_at) if found else None

    def previous(self, name: str) -> ContainerView | None:
        """The one before the newest (by creation), for ``lastState`` and ``logs --previous``."""
        found = sorted(
            (c for c in self.containers if c.name == name),
            key=lambda c: c.status.created_at,
            reverse=True,
        )
        return found[1] if len(found) > 1 else None

    def restart_count(self, name: str) -> int:
        latest = [c.attempt for c in self.containers if c.name == name]
        return max(latest) if latest else 0

    @property
    def ip(self) -> str:
        sandbox = self.sandbox
        if sandbox is None or sandbox.state != cri.SANDBOX_READY:
            return ""
        return str(sandbox.network.ip)


async def read_pod_state(runtime: Any, uid: str) -> PodState:
    selector = {POD_UID: uid}
    listed = await runtime.ListPodSandbox(
        cri.ListPodSandboxRequest(filter=cri.PodSandboxFilter(label_selector=selector))
    )
    sandboxes = []
    for item in sorted(listed.items, key=lambda s: s.created_at, reverse=True):
        request = cri.PodSandboxStatusRequest(pod_sandbox_id=item.id)
        response = await _unless_gone(runtime.PodSandboxStatus(request))
        if response is not None:
            sandboxes.append(response.status)
    found = await runtime.ListContainers(
        cri.ListContainersRequest(filter=cri.ContainerFilter(label_selector=selector))
    )
    containers = []
    for item in found.containers:
        response = await _unless_gone(
            runtime.ContainerStatus(cri.ContainerStatusRequest(container_id=item.id))
        )
        if response is not None:
            containers.append(ContainerView(response.status, item.pod_sandbox_id))
    return PodState(sandboxes, containers)


async def _unless_gone(call: Awaitable[Any]) -> Any:
    """The answer, or None when the object was removed between the list and this call."""
    try:
        return await call
    except grpc.aio.AioRpcError as exc:
        if exc.code() == grpc.StatusCode.NOT_FOUND:
            return None
        raise
