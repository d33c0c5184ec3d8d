"""The kubelet's loop: desired pods from its sources, one worker per pod, a relist of the
runtime every second (the PLEG) that wakes the workers whose pods changed.

Sources: the static pod directory, always (so the control plane starts before any API
server exists), and, with an API client, the pods bound to this node. A pod that no
source wants any more, and any sandbox the runtime holds for a pod nobody wants, is
stopped and removed, but only once every source has been read once, so a restarted
kubelet never kills pods it simply has not heard of yet.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from kin.kubelet import pods
from kin.kubelet.backoff import Backoff
from kin.kubelet.criconfig import POD_UID, NodeContext
from kin.kubelet.environment import Fetch
from kin.kubelet.probes import Prober
from kin.kubelet.static import ManifestDirectory
from kin.kubelet.status import pod_status
from kin.kubelet.sync import PodSync
from kin.runtime.cri import api_pb2 as cri

__all__ = ["Kubelet"]

log = logging.getLogger("kin.kubelet")
Pod = dict[str, Any]
TERMINAL = ("Succeeded", "Failed")
RELIST_PERIOD = 1.0
RESYNC_PERIOD = 10.0
INIT_POLL = 0.02
MANIFEST_POLL = 0.5
StatusListener = Callable[[Pod, dict[str, Any]], None]
TerminatedListener = Callable[[Pod], Awaitable[None]]


class Kubelet:
    def __init__(
        self,
        runtime: Any,
        images: Any,
        node: NodeContext,
        manifest_dir: str,
        fetch: Fetch | None = None,
        backoff: Backoff | None = None,
        api_source: bool = False,
    ) -> None:
        self.node = node
        self.runtime = runtime
        self.sync = PodSync(runtime, images, node, fetch, backoff or Backoff())
        self.manifests = ManifestDirectory(manifest_dir, node.node_name) if manifest_dir else None
        self.static: dict[str, Pod] = {}
        self.api: dict[str, Pod] = {}
        self.api_ready = not api_source
        self.workers: dict[str, asyncio.Task[None]] = {}
        self.wakes: dict[str, asyncio.Event] = {}
        self.init_polls: dict[str, float] = {}  # pods with a running init container
        self.statuses: dict[str, dict[str, Any]] = {}
        self.known: dict[str, Pod] = {}
        """The last version of every pod a source gave, kept to stop it properly once gone."""
        self.listeners: list[StatusListener] = []
        self.terminated_listeners: list[TerminatedListener] = []
        self.ready: dict[tuple[str, str], bool] = {}
        self._fingerprints: dict[str, tuple[tuple[str, int], ...]] = {}
        self.prober = Prober(runtime, self._probe_ready, self._probe_failed)
        self._background: set[asyncio.Task[None]] = set()

    # -- desired pods ---------------------------------------------------------------------

    def desired(self, uid: str) -> Pod | None:
        pod = self.static.get(uid) or self.api.get(uid)
        if pod is not None:
            self.known[uid] = pod
        return pod

    def all_desired(self) -> dict[str, Pod]:
        return {**self.api, **self.static}

    def set_api_pods(self, found: dict[str, Pod]) -> None:
        """The API source's whole set (after a list) or one change applied to it."""
        before = set(self.api)
        first = not self.api_ready
        self.api = found
        self.api_ready = True
        # On the first list, what the runtime holds for pods nobody wants is decided too.
        orphans = set(self._fingerprints) if first else set()
        for uid in before | set(found) | orphans:
            self.wake(uid)

    def api_pod_changed(self, pod: Pod, deleted: bool = False) -> None:
        uid = pods.uid(pod)
        if deleted:
            self.api.pop(uid, None)
            self.known[uid] = pod  # its last word, force-deletion grace included
        else:
            self.api[uid] = pod
            self._reassert(pod)
        self.wake(uid)

    def _reassert(self, pod: Pod) -> None:
        """Someone else changed the pod's readiness in the API (the node lifecycle
        controller marks pods not ready while their node is silent): say what it is."""
        ours = self.statuses.get(pods.uid(pod))
        if ours is not None and _ready_of(ours) != _ready_of(pod.get("status") or {}):
            for listener in self.listeners:
                listener(pod, ours)

    def wake(self, uid: str) -> None:
        if uid not in self.workers or self.workers[uid].done():
            self.wakes[uid] = asyncio.Event()
            self.workers[uid] = asyncio.create_task(self._worker(uid), name=f"pod-{uid[:8]}")
        self.wakes[uid].set()

    # -- loops ----------------------------------------------------------------------------

    async def run(self) -> None:
        loops = [self._relist_loop()]
        if self.manifests is not None:
            loops.append(self._manifest_loop())
        await asyncio.gather(*loops)

    async def _manifest_loop(self) -> None:
        while True:
            try:
                self._read_manifests()
            except Exception as exc:  # a bad directory never stops the kubelet
                log.warning("reading static pod manifests failed: %s", exc)
            await asyncio.sleep(MANIFEST_POLL)

    def _read_manifests(self) -> None:
        assert self.manifests is not None
        if not self.manifests.changed():
            return
        for problem in self.manifests.read():
            log.warning("%s", problem)
        before = set(self.static)
        self.static = dict(self.manifests.pods)
        for uid in set(self.static) - before:
            log.info("static pod %s added", pods.full_name(self.static[uid]))
            self.known[uid] = self.static[uid]
        for uid in before - set(self.static):
            log.info("static pod with UID %s removed", uid)
        for uid in before ^ set(self.static):
            self.wake(uid)

    async def _relist_loop(self) -> None:
        while True:
            try:
                await self._relist()
            except Exception as exc:  # the runtime may be restarting: keep relisting
                log.warning("relist failed: %s", exc)
            await asyncio.sleep(RELIST_PERIOD)

    async def _relist(self) -> None:
        sandboxes = await self.runtime.ListPodSandbox(cri.ListPodSandboxRequest())
        containers = await self.runtime.ListContainers(cri.ListContainersRequest())
        seen: dict[str, list[tuple[str, int]]] = {}
        for item in sandboxes.items:
            seen.setdefault(item.labels.get(POD_UID, ""), []).append((item.id, item.state))
        for container in containers.containers:
            seen.setdefault(container.labels.get(POD_UID, ""), []).append(
                (container.id, container.state)
            )
        fingerprints = {uid: tuple(sorted(items)) for uid, items in seen.items() if uid}
        for uid in set(fingerprints) | set(self._fingerprints):
            changed = fingerprints.get(uid) != self._fingerprints.get(uid)
            wanted = self.desired(uid) is not None
            if changed and (wanted or (self.api_ready and uid in fingerprints)):
                self.wake(uid)
        self._fingerprints = fingerprints

    async def _worker(self, uid: str) -> None:
        wake = self.wakes[uid]
        while True:
            wake.clear()
            try:
                if await self._work(uid):
                    if wake.is_set() or self.desired(uid) is not None:
                        continue  # woken while finishing: go on rather than lose it
                    self.workers.pop(uid, None)
                    self.wakes.pop(uid, None)
                    return
            except Exception as exc:  # one pod's trouble never ends its worker
                log.warning("pod %s: worker step failed: %s", uid, exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self._next_look(uid))

    async def _work(self, uid: str) -> bool:
        """One step for the pod; True when there is nothing left to do for it."""
        pod = self.desired(uid)
        if pod is not None and not pod["metadata"].get("deletionTimestamp"):
            await self._sync_once(pod)
            return False
        last = pod or self.known.get(uid)
        static = last is not None and pods.is_static(last)
        if pod is None and not self.api_ready and not static:
            return True  # not known yet: the API source decides once it has listed
        done = await self._terminate(uid, last, gone=pod is None)
        if pod is None and done:
            self.known.pop(uid, None)
            return True
        return False

    def _next_look(self, uid: str) -> float:
        """When the worker looks again unasked: soon while an init container runs (the pod
        goes on the moment it exits, not at the next relist), backing off towards the
        relist period; else at the resync period."""
        delay = self.init_polls.get(uid)
        if delay is None:
            return RESYNC_PERIOD
        self.init_polls[uid] = min(delay * 1.5, RELIST_PERIOD)
        return delay

    async def _sync_once(self, pod: Pod) -> None:
        uid = pods.uid(pod)
        phase = (pod.get("status") or {}).get("phase")
        if phase in TERMINAL and uid not in self.statuses:
            state = await self.sync.state(uid)  # ended before this kubelet: never rerun it
            if not state.containers:
                return  # nothing left to report: the API keeps the status it has
        else:
            try:
                state = await self.sync.sync(pod)
            except Exception as exc:
                log.warning("pod %s: sync failed: %s", pods.full_name(pod), exc)
                state = await self.sync.state(uid)
        await self.sync.prune_dead_containers(state)
        running = {c.name: c.id for c in state.in_current_sandbox() if c.running}
        if any(c.get("restartPolicy") != "Always" and c["name"] in running
               for c in pods.containers(pod, "initContainers")):  # fmt: skip
            self.init_polls.setdefault(uid, INIT_POLL)
        else:
            self.init_polls.pop(uid, None)
        host = self.node.node_ip if pod["spec"].get("hostNetwork") else state.ip
        self.prober.update(pod, running, host)
        ready = {name: ok for (u, name), ok in self.ready.items() if u == uid}
        status = pod_status(
            pod, state, self.sync.waiting, ready, self.node.node_ip, self.statuses.get(uid)
        )
        self._report(pod, status)
        if status["phase"] in TERMINAL and any(
            s.state == cri.SANDBOX_READY for s in state.sandboxes
        ):
            # Done for good: release its sandbox (the IP, pause), keep it for logs and status.
            await self.sync.terminate(pod, 0)

    async def _terminate(self, uid: str, pod: Pod | None, gone: bool) -> bool:
        """Stop the pod's containers and sandboxes; once no source wants it, remove them
        and forget it. False when that failed (the worker tries again)."""
        grace = None if pod is not None else 2  # a pod no source ever described: short grace
        if pod is not None and pod["metadata"].get("deletionGracePeriodSeconds") is not None:
            grace = int(pod["metadata"]["deletionGracePeriodSeconds"])
        name = pods.full_name(pod) if pod is not None else uid
        try:
            state = await self.sync.state(uid)
            if state.sandboxes:
                await self.sync.terminate(pod or {"metadata": {"uid": uid}, "spec": {}}, grace)
                log.info("pod %s: stopped", name)
            if pod is not None and not gone:
                state = await self.sync.state(uid)
                status = pod_status(pod, state, {}, {}, self.node.node_ip, self.statuses.get(uid))
                self._report(pod, status)
                for listener in self.terminated_listeners:
                    await listener(pod)
            if gone:
                await self.sync.remove(uid, pod)
                self._forget(uid)
                if state.sandboxes:
                    log.info("pod %s: removed", name)
        except Exception as exc:
            log.warning("pod %s: termination failed, will retry: %s", name, exc)
            return False
        return True

    def _forget(self, uid: str) -> None:
        self.statuses.pop(uid, None)
        self.init_polls.pop(uid, None)
        self.prober.forget(uid)
        for key in [k for k in self.ready if k[0] == uid]:
            del self.ready[key]

    def _probe_ready(self, uid: str, name: str, ready: bool) -> None:
        if self.ready.get((uid, name)) != ready:
            self.ready[(uid, name)] = ready
            self.wake(uid)

    def _probe_failed(self, pod: Pod, name: str, container_id: str, why: str) -> None:
        """A failed liveness or startup probe: kill the container; the sync restarts it."""
        log.info("pod %s: container %s: %s, will be restarted", pods.full_name(pod), name, why)
        grace = int(pod["spec"].get("terminationGracePeriodSeconds", 30))

        async def kill() -> None:
            try:
                await self.sync.kill_container(container_id, grace)
            except Exception as exc:
                log.warning(
                    "pod %s: killing container %s failed: %s", pods.full_name(pod), name, exc
                )
            self.wake(pods.uid(pod))

        task = asyncio.create_task(kill())
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _report(self, pod: Pod, status: dict[str, Any]) -> None:
        uid = pods.uid(pod)
        if self.statuses.get(uid) == status:
            return
        self.statuses[uid] = status
        for listener in self.listeners:
            listener(pod, status)


def _ready_of(status: dict[str, Any]) -> str | None:
    for condition in status.get("conditions") or []:
        if condition.get("type") == "Ready":
            return str(condition.get("status"))
    return None
