"""Make the runtime match a pod, one step at a time: what the kubelet's SyncPod does.

Each ``sync`` reads the pod's state from the runtime and does what is missing: a new
sandbox when there is none ready (stopping the old ones first), init containers one at
a time, then every container that is not running and should be (by restart policy and
crash-loop back-off). ``terminate`` stops containers with the grace period, then the
sandboxes; ``remove`` forgets them. Failures become the container's waiting reason
(CreateContainerConfigError, CreateContainerError, RunContainerError ...) and the
next sync tries again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import time
from typing import Any

import grpc

from kin.errors import KinError
from kin.kubelet import pods
from kin.kubelet.backoff import Backoff
from kin.kubelet.criconfig import NodeContext, container_config, host_network, sandbox_config
from kin.kubelet.environment import EnvironmentError_, Fetch, build_environment, expand
from kin.kubelet.podstate import ContainerView, PodState, read_pod_state
from kin.kubelet.volumes import Volumes
from kin.runtime.cri import api_pb2 as cri

__all__ = ["PodSync", "Waiting"]

log = logging.getLogger("kin.kubelet")
Pod = dict[str, Any]
MIN_GRACE = 2  # the kubelet never gives a container less at the runtime


class Waiting:
    """Why a container is not running yet: a reason and message for its status."""

    def __init__(self, reason: str, message: str = "") -> None:
        self.reason = reason
        self.message = message


class PodSync:
    def __init__(
        self, runtime: Any, images: Any, node: NodeContext, fetch: Fetch | None, backoff: Backoff
    ) -> None:
        self.runtime = runtime
        self.images = images
        self.node = node
        self.volumes = Volumes(node, fetch)
        self.fetch = fetch
        self.backoff = backoff
        self.waiting: dict[tuple[str, str], Waiting] = {}
        """(pod UID, container name) -> why it is not running, from the last sync."""

    async def state(self, uid: str) -> PodState:
        return await read_pod_state(self.runtime, uid)

    # -- running a pod --------------------------------------------------------------------

    async def sync(self, pod: Pod) -> PodState:
        uid = pods.uid(pod)
        state = await self.state(uid)
        if self._needs_sandbox(pod, state):
            if self._finished(pod, state):
                return state
            await self._new_sandbox(pod, state)
            state = await self.state(uid)
        sandbox = state.sandbox
        if sandbox is None or sandbox.state != cri.SANDBOX_READY:
            return state
        try:
            paths = await self.volumes.setup(pod, state.ip)
        except EnvironmentError_ as exc:
            # Only the containers that would start now wait on it; finished ones stay so.
            for container in pods.containers(pod, "initContainers") + pods.containers(pod):
                if self._would_start(pod, state, container):
                    self.waiting[(uid, container["name"])] = Waiting(
                        "CreateContainerConfigError", str(exc)
                    )
            return state
        if not await self._init_containers_done(pod, state, paths):
            return await self.state(uid)
        started = False
        for container in pods.containers(pod):
            started |= await self._ensure(pod, state, container, paths, init=False)
        return await self.state(uid) if started else state

    def _needs_sandbox(self, pod: Pod, state: PodState) -> bool:
        sandbox = state.sandbox
        if sandbox is None or sandbox.state != cri.SANDBOX_READY or len(state.ready_sandboxes) > 1:
            return True
        wanted = cri.NODE if host_network(pod) else cri.POD
        if sandbox.linux.namespaces.options.network != wanted:
            return True
        return not host_network(pod) and not sandbox.network.ip

    def _finished(self, pod: Pod, state: PodState) -> bool:
        """A pod that ran to its end is not started again (Never, or OnFailure and all 0)."""
        if state.sandbox is None or not state.containers:
            return False
        policy = pod["spec"].get("restartPolicy", "Always")
        if policy == "Never":
            return True
        if policy == "OnFailure":
            latest = [state.latest(c["name"]) for c in pods.containers(pod)]
            return all(c is not None and c.exited and c.status.exit_code == 0 for c in latest)
        return False

    async def _new_sandbox(self, pod: Pod, state: PodState) -> None:
        uid = pods.uid(pod)
        await self._kill_containers(
            state.containers, int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        )
        for old in state.sandboxes:
            await self.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=old.id))
        attempt = state.sandbox.metadata.attempt + 1 if state.sandbox is not None else 0
        config = sandbox_config(pod, attempt, self.node)
        os.makedirs(config.log_directory, mode=0o755, exist_ok=True)
        started = time.monotonic()
        try:
            response = await self.runtime.RunPodSandbox(cri.RunPodSandboxRequest(config=config))
        except grpc.aio.AioRpcError as exc:
            for container in pods.containers(pod):
                self.waiting[(uid, container["name"])] = Waiting(
                    "ContainerCreating", str(exc.details())
                )
            raise KinError(
                f"failed to create pod sandbox for {pods.full_name(pod)}: {exc.details()}"
            ) from exc
        took = (time.monotonic() - started) * 1000
        sandbox_id = response.pod_sandbox_id[:13]
        log.info(
            "pod %s: sandbox %s (attempt %d) in %.0f ms",
            pods.full_name(pod),
            sandbox_id,
            attempt,
            took,
        )

    async def _init_containers_done(self, pod: Pod, state: PodState, paths: dict[str, str]) -> bool:
        uid = pods.uid(pod)
        for container in pods.containers(pod, "initContainers"):
            latest = state.latest(container["name"])
            sidecar = container.get("restartPolicy") == "Always"  # a native sidecar
            if sidecar and latest is not None and latest.running:
                continue  # started: the next init container, or the pod, may go on
            if (
                not sidecar
                and latest is not None
                and latest.exited
                and latest.status.exit_code == 0
            ):
                self.waiting.pop((uid, container["name"]), None)
                continue
            if latest is not None and latest.running:
                return False
            await self._ensure(pod, state, container, paths, init=not sidecar)
            return False
        return True

    def _would_start(self, pod: Pod, state: PodState, container: dict[str, Any]) -> bool:
        """Not running, and not finished for good: the container waits to be started."""
        latest = state.latest(container["name"]) or state.newest(container["name"])
        if latest is None:
            return True
        if latest.running or latest.status.state == cri.CONTAINER_CREATED:
            return False
        init = container in pods.containers(pod, "initContainers")
        return self._should_restart(
            pod, latest, init and container.get("restartPolicy") != "Always"
        )

    async def _ensure(
        self,
        pod: Pod,
        state: PodState,
        container: dict[str, Any],
        paths: dict[str, str],
        init: bool,
    ) -> bool:
        """Start ``container`` if it should run and does not; True if it was started."""
        uid, name = pods.uid(pod), container["name"]
        latest = state.latest(name)
        if latest is not None and (latest.running or latest.status.state == cri.CONTAINER_CREATED):
            self.waiting.pop((uid, name), None)
            return False
        # After a new sandbox the container's history lives in the old ones: the restart
        # policy, the back-off and the attempt count follow it across sandboxes.
        latest = latest or state.newest(name)
        attempt = 0
        if latest is not None:
            if not self._should_restart(pod, latest, init):
                return False
            finished = latest.status.finished_at / 1e9
            key = f"{uid}/{name}"
            if self.backoff.in_backoff(key, finished):
                message = (
                    f"back-off {self.backoff.delay(key):.0f}s restarting failed "
                    f"container={name} pod={pods.full_name(pod)}"
                )
                self.waiting[(uid, name)] = Waiting("CrashLoopBackOff", message)
                return False
            self.backoff.next(key)
            attempt = state.restart_count(name) + 1
        return await self._start(pod, state, container, paths, attempt)

    def _should_restart(self, pod: Pod, latest: ContainerView, init: bool) -> bool:
        policy = pod["spec"].get("restartPolicy", "Always")
        if init:  # init containers restart on failure unless the pod never restarts
            return policy != "Never" and latest.status.exit_code != 0
        if policy == "Always":
            return True
        return policy == "OnFailure" and latest.status.exit_code != 0

    async def _start(
        self,
        pod: Pod,
        state: PodState,
        container: dict[str, Any],
        paths: dict[str, str],
        attempt: int,
    ) -> bool:
        uid, name = pods.uid(pod), container["name"]
        sandbox = state.sandbox
        assert sandbox is not None
        try:
            image_ref = await self._pull(container)
        except grpc.aio.AioRpcError as exc:
            self.waiting[(uid, name)] = Waiting("ErrImagePull", str(exc.details()))
            return False
        try:
            env = await build_environment(pod, container, state.ip, self.node.node_ip, self.fetch)
            mounts = self.volumes.mounts(pod, container, paths)
        except EnvironmentError_ as exc:
            self.waiting[(uid, name)] = Waiting("CreateContainerConfigError", str(exc))
            return False
        expanded = dict(container)
        for field in ("command", "args"):
            expanded[field] = [expand(str(part), env) for part in container.get(field) or []]
        config = container_config(pod, expanded, attempt, image_ref, env, mounts)
        config.metadata.attempt = attempt
        os.makedirs(os.path.join(self.node.log_dir(pod), name), mode=0o755, exist_ok=True)
        sandbox_cfg = sandbox_config(pod, sandbox.metadata.attempt, self.node)
        request = cri.CreateContainerRequest(
            pod_sandbox_id=sandbox.id, config=config, sandbox_config=sandbox_cfg
        )
        try:
            created = await self.runtime.CreateContainer(request)
        except grpc.aio.AioRpcError as exc:
            self.waiting[(uid, name)] = Waiting("CreateContainerError", str(exc.details()))
            return False
        try:
            await self.runtime.StartContainer(
                cri.StartContainerRequest(container_id=created.container_id)
            )
        except grpc.aio.AioRpcError as exc:
            self.waiting[(uid, name)] = Waiting("RunContainerError", str(exc.details()))
            return True  # it exists now, exited with StartError: its status says so
        self.waiting.pop((uid, name), None)
        log.info("pod %s: container %s started (restart %d)", pods.full_name(pod), name, attempt)
        return True

    async def _pull(self, container: dict[str, Any]) -> str:
        spec = cri.ImageSpec(image=container["image"])
        if container.get("imagePullPolicy") != "Always":
            found = await self.images.ImageStatus(cri.ImageStatusRequest(image=spec))
            if found.HasField("image"):
                return str(found.image.id)
        pulled = await self.images.PullImage(cri.PullImageRequest(image=spec))
        return str(pulled.image_ref)

    # -- stopping a pod -------------------------------------------------------------------

    async def terminate(self, pod: Pod, grace: int | None = None) -> None:
        """Stop every container (in parallel, with the grace period), then the sandboxes."""
        uid = pods.uid(pod)
        state = await self.state(uid)
        if grace is None:
            grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))
        await self._kill_containers(state.containers, grace)
        for sandbox in state.sandboxes:
            await self.runtime.StopPodSandbox(cri.StopPodSandboxRequest(pod_sandbox_id=sandbox.id))

    async def _kill_containers(self, containers: list[ContainerView], grace: int) -> None:
        running = [c for c in containers if c.running]
        timeout = max(grace, MIN_GRACE) if grace > 0 else 0
        await asyncio.gather(
            *(
                self.runtime.StopContainer(
                    cri.StopContainerRequest(container_id=c.id, timeout=timeout)
                )
                for c in running
            )
        )

    async def kill_container(self, container_id: str, grace: int) -> None:
        request = cri.StopContainerRequest(container_id=container_id, timeout=max(grace, MIN_GRACE))
        await self.runtime.StopContainer(request)

    async def remove(self, uid: str, pod: Pod | None = None) -> None:
        """Forget a terminated pod: its sandboxes (and containers), its volumes."""
        state = await self.state(uid)
        for sandbox in state.sandboxes:
            await self.runtime.RemovePodSandbox(
                cri.RemovePodSandboxRequest(pod_sandbox_id=sandbox.id)
            )
        for key in [k for k in self.waiting if k[0] == uid]:
            del self.waiting[key]
        self.backoff.forget_prefix(f"{uid}/")
        self.volumes.cleanup(pod or {"metadata": {"uid": uid}})
        if pod is not None:
            shutil.rmtree(self.node.log_dir(pod), ignore_errors=True)

    async def prune_dead_containers(self, state: PodState) -> None:
        """Keep the two newest of each container (by creation, across sandboxes: the one
        running or last run, and the one before it for ``logs --previous``)."""
        by_name: dict[str, list[ContainerView]] = {}
        for container in state.containers:
            by_name.setdefault(container.name, []).append(container)
        for views in by_name.values():
            views.sort(key=lambda c: c.status.created_at, reverse=True)
            for old in views[2:]:
                if old.exited:
                    with contextlib.suppress(grpc.aio.AioRpcError):
                        request = cri.RemoveContainerRequest(container_id=old.id)
                        await self.runtime.RemoveContainer(request)
