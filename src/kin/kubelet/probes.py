"""Container probes, as the kubelet's prober runs them: startup, liveness and readiness.

One task per probe of each running container, every ``periodSeconds`` after
``initialDelaySeconds``, with ``timeoutSeconds`` and the success and failure thresholds.
A probe is an ``exec`` (CRI ExecSync; exit 0 succeeds), an ``httpGet`` (a status from
200 to 399 succeeds) or a ``tcpSocket`` (a connection succeeds), aimed at the pod's IP
(the node's for host-network pods). Until the startup probe succeeds the others wait;
a failed startup or liveness probe kills the container, which the pod's restart policy
then restarts; readiness decides the container's ``ready`` and the pod's Ready condition.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import Any

import aiohttp

from kin.kubelet import pods
from kin.runtime.cri import api_pb2 as cri

__all__ = ["Prober", "run_probe"]

log = logging.getLogger("kin.kubelet")
Pod = dict[str, Any]
KINDS = ("startupProbe", "livenessProbe", "readinessProbe")


async def run_probe(
    runtime: Any, probe: dict[str, Any], container_id: str, host: str
) -> tuple[bool, str]:
    """One attempt: (succeeded, what happened)."""
    timeout = float(probe.get("timeoutSeconds", 1))
    try:
        if "exec" in probe:
            request = cri.ExecSyncRequest(
                container_id=container_id, cmd=probe["exec"]["command"], timeout=int(timeout)
            )
            response = await runtime.ExecSync(request, timeout=timeout + 5)
            output = (response.stdout + response.stderr).decode(errors="replace").strip()
            return response.exit_code == 0, output or f"exit code {response.exit_code}"
        if "httpGet" in probe:
            return await _http(probe["httpGet"], host, timeout)
        if "tcpSocket" in probe:
            port = int(probe["tcpSocket"]["port"])
            target = probe["tcpSocket"].get("host") or host
            _, writer = await asyncio.wait_for(asyncio.open_connection(target, port), timeout)
            writer.close()
            return True, f"connected to {target}:{port}"
    except (TimeoutError, OSError, aiohttp.ClientError) as exc:
        return False, str(exc) or type(exc).__name__
    except Exception as exc:  # a runtime error is a failed probe, not a dead prober
        return False, str(exc)
    return False, "the probe names no handler"


async def _http(spec: dict[str, Any], host: str, timeout: float) -> tuple[bool, str]:
    scheme = spec.get("scheme", "HTTP").lower()
    target = spec.get("host") or host
    url = f"{scheme}://{target}:{int(spec['port'])}{spec.get('path', '/')}"
    headers = {h["name"]: h["value"] for h in spec.get("httpHeaders") or []}
    headers.setdefault("User-Agent", "kube-probe/1.32")
    client = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout))
    async with (
        client as session,
        session.get(url, headers=headers, ssl=False, allow_redirects=False) as response,
    ):
        ok = 200 <= response.status < 400
        return (
            ok,
            f"HTTP probe {'succeeded' if ok else 'failed'} with statuscode: {response.status}",
        )


class Prober:
    """Probe tasks for the running containers; reports through the callbacks it is given."""

    def __init__(
        self,
        runtime: Any,
        on_ready: Callable[[str, str, bool], None],
        on_failure: Callable[[Pod, str, str, str], None],
    ) -> None:
        self.runtime = runtime
        self.on_ready = on_ready
        self.on_failure = on_failure
        self.tasks: dict[str, tuple[str, asyncio.Task[None]]] = {}
        """container ID -> (pod UID, the task probing it)."""

    def update(self, pod: Pod, running: dict[str, str], host: str) -> None:
        """``running`` maps container names to the IDs of their running containers."""
        uid = pods.uid(pod)
        for container in pods.containers(pod):
            name = container["name"]
            container_id = running.get(name)
            if container_id is None or container_id in self.tasks:
                continue
            if not any(kind in container for kind in KINDS):
                continue
            task = asyncio.create_task(self._probe(pod, container, container_id, host))
            self.tasks[container_id] = (uid, task)
            if "readinessProbe" in container:
                self.on_ready(uid, name, False)
        alive = set(running.values())
        for container_id, (owner, task) in list(self.tasks.items()):
            if owner == uid and container_id not in alive:
                task.cancel()
                del self.tasks[container_id]

    def forget(self, uid: str) -> None:
        for container_id, (owner, task) in list(self.tasks.items()):
            if owner == uid:
                task.cancel()
                del self.tasks[container_id]

    async def _probe(
        self, pod: Pod, container: dict[str, Any], container_id: str, host: str
    ) -> None:
        uid, name = pods.uid(pod), container["name"]
        startup = container.get("startupProbe")
        if startup and not await self._until(startup, container_id, host, want=True):
            self.on_failure(pod, name, container_id, "Startup probe failed")
            return
        liveness = container.get("livenessProbe")
        readiness = container.get("readinessProbe")
        tasks = []
        if liveness:
            tasks.append(
                asyncio.create_task(self._liveness(pod, name, liveness, container_id, host))
            )
        if readiness:
            tasks.append(
                asyncio.create_task(self._readiness(uid, name, readiness, container_id, host))
            )
        try:
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()

    async def _liveness(
        self, pod: Pod, name: str, probe: dict[str, Any], container_id: str, host: str
    ) -> None:
        await self._until(probe, container_id, host, want=False)
        self.on_failure(pod, name, container_id, "Liveness probe failed")

    async def _readiness(
        self, uid: str, name: str, probe: dict[str, Any], container_id: str, host: str
    ) -> None:
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        ready = False
        streak = 0
        period = float(probe.get("periodSeconds", 10))
        # Until its first success a container is asked again sooner (50 ms, doubling up
        # to the period): upstream waits a whole period, so a server listening 10 ms
        # after its first probe stayed unready for a second. Only when one success makes
        # it ready; it changes when a pod becomes Ready, not what Ready means.
        soon = 0.05 if int(probe.get("successThreshold", 1)) == 1 else period
        while True:
            ok, _ = await run_probe(self.runtime, probe, container_id, host)
            streak = streak + 1 if ok != ready else 0
            threshold = (
                int(probe.get("successThreshold", 1))
                if not ready
                else int(probe.get("failureThreshold", 3))
            )
            if streak >= threshold:
                ready, streak = ok, 0
                self.on_ready(uid, name, ready)
            if ready:
                soon = period
            await asyncio.sleep(min(soon, period))
            soon *= 2

    async def _until(self, probe: dict[str, Any], container_id: str, host: str, want: bool) -> bool:
        """Probe until it gives ``want`` threshold times in a row (True), or, for a
        startup probe, until it fails ``failureThreshold`` times (False)."""
        await asyncio.sleep(float(probe.get("initialDelaySeconds", 0)))
        threshold = int(
            probe.get("successThreshold", 1) if want else probe.get("failureThreshold", 3)
        )
        limit = int(probe.get("failureThreshold", 3))
        streak = failures = 0
        while True:
            ok, detail = await run_probe(self.runtime, probe, container_id, host)
            streak = streak + 1 if ok == want else 0
            failures = failures + 1 if not ok else 0
            if streak >= threshold:
                return True
            if want and failures >= limit:
                log.info("startup probe of container %s failed: %s", container_id[:13], detail)
                return False
            await asyncio.sleep(float(probe.get("periodSeconds", 10)))
