"""The scheduler: binds each pending pod to a node that fits it, as kube-scheduler does.

It keeps every Node and Pod from informers. A pod waits for it while it has no
``spec.nodeName``, asks for ``default-scheduler`` (or no scheduler) and is not being
deleted. One at a time, oldest first: the filters (``filters``) keep the nodes it fits,
the scores (``scoring``) pick one, and a ``pods/binding`` binds it; the pod is counted
on that node at once, so the next pod sees its requests and host ports before the watch
says so. A bound pod gets a ``Scheduled`` event ("Successfully assigned default/web to
myk8s-worker"); one that fits nowhere gets ``FailedScheduling`` with kube-scheduler's
count of reasons, a ``PodScheduled=False`` condition with reason ``Unschedulable``, and
is tried again when a node or a pod changes (or after 10 s at the latest).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import Counter
from typing import Any

from kin.errors import APIError
from kin.kube import events
from kin.kube.client import Client
from kin.kube.informer import Informer, key_of
from kin.scheduler.filters import failure
from kin.scheduler.scoring import best_node
from kin.scheduler.volumes import SELECTED_NODE, Claims

__all__ = ["Scheduler", "unschedulable_message"]

log = logging.getLogger("kin.scheduler")
Obj = dict[str, Any]
NAME = "default-scheduler"
RETRY_EVERY = 10.0
DONE_PHASES = ("Succeeded", "Failed")


class Scheduler:
    def __init__(self, api: Client) -> None:
        self.api = api
        self.wake = asyncio.Event()
        self.nodes = Informer(api, "/api/v1/nodes", self._changed)
        self.pods = Informer(api, "/api/v1/pods", self._changed)
        self.claims = Informer(api, "/api/v1/persistentvolumeclaims", self._wake)
        self.volumes = Informer(api, "/api/v1/persistentvolumes", self._wake)
        self.classes = Informer(api, "/apis/storage.k8s.io/v1/storageclasses", self._wake)
        self.storage = Claims(self.claims, self.volumes, self.classes)
        self.assumed: dict[str, str] = {}
        """Pods bound here that the watch has not shown bound yet: key -> node."""
        self.failed: dict[str, str] = {}
        """The last FailedScheduling message per pod UID, so an unchanged one is not repeated."""
        self.retry_at: dict[str, float] = {}
        """Pods whose last attempt failed with an error: not before this time again."""

    async def run(self) -> None:
        informers = [asyncio.create_task(i.run()) for i in self._informers()]
        loop = asyncio.create_task(self._loop())
        try:  # an informer that ends (it never should) ends the scheduler: it is restarted
            done, _ = await asyncio.wait([loop, *informers], return_when=asyncio.FIRST_COMPLETED)
            for task in done:
                task.result()
        finally:
            for task in [loop, *informers]:
                task.cancel()

    async def _loop(self) -> None:
        await self.nodes.synced.wait()
        await self.pods.synced.wait()
        log.info("scheduler %s: %d nodes, %d pods", NAME, len(self.nodes.objects),
                 len(self.pods.objects))  # fmt: skip
        while True:
            self.wake.clear()
            await self.schedule_pending()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), RETRY_EVERY)

    def _informers(self) -> tuple[Informer, ...]:
        return (self.nodes, self.pods, self.claims, self.volumes, self.classes)

    def _wake(self, kind: str, obj: Obj) -> None:
        self.wake.set()

    def _changed(self, kind: str, obj: Obj) -> None:
        key = key_of(obj)
        if kind == "DELETED" or (obj.get("spec") or {}).get("nodeName"):
            self.assumed.pop(key, None)
        if kind == "DELETED":
            self.failed.pop(_uid(obj), None)
            self.retry_at.pop(key, None)
        self.wake.set()

    async def schedule_pending(self) -> None:
        now = time.monotonic()
        for pod in sorted(self._pending(), key=_age):
            if self.retry_at.get(key_of(pod), 0) > now:
                continue
            try:
                await self.schedule(pod)
            except Exception as exc:  # one bad pod never stops the others
                what = exc.message if isinstance(exc, APIError) else f"{type(exc).__name__}: {exc}"
                log.warning("pod %s: %s", key_of(pod), what)
                self.retry_at[key_of(pod)] = now + RETRY_EVERY  # back off, do not hammer
                await self._unschedulable(pod, f"scheduling failed: {what}")

    def _pending(self) -> list[Obj]:
        return [
            pod for key, pod in self.pods.objects.items()
            if _waiting(pod) and key not in self.assumed
        ]  # fmt: skip

    async def schedule(self, pod: Obj) -> str | None:
        """Bind ``pod`` to the best node that fits it; the node's name, or None."""
        nodes = list(self.nodes.objects.values())
        problem = self.storage.problem(pod)
        if problem is not None:  # kube's PreFilter: no node counted
            total = len(nodes)
            await self._unschedulable(pod, f"0/{total} nodes are available: {problem}. "
                                      f"preemption: 0/{total} nodes are available: {total} "
                                      "Preemption is not helpful for scheduling.")  # fmt: skip
            return None
        by_node = self._pods_by_node()
        reasons: Counter[str] = Counter()
        feasible = []
        for node in nodes:
            on_node = by_node.get(node["metadata"]["name"], [])
            reason = failure(pod, node, on_node) or self.storage.failure(pod, node)
            if reason is None:
                feasible.append(node)
            else:
                reasons[reason] += 1
        if not feasible:
            await self._unschedulable(pod, unschedulable_message(len(nodes), reasons))
            return None
        node = best_node(pod, feasible, by_node)["metadata"]["name"]
        if self.storage.unbound(pod):
            await self._select_node_for_claims(pod, str(node))
            return None  # bound once its claims are (their changes wake the loop)
        await self._bind(pod, node)
        return str(node)

    async def _select_node_for_claims(self, pod: Obj, node: str) -> None:
        for pvc in self.storage.to_select(pod, node):
            meta = pvc["metadata"]
            path = f"/api/v1/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}"
            body = {"metadata": {"annotations": {SELECTED_NODE: node}}}
            self.claims.remember(await self.api.patch(path, body))
            log.info("pod %s: claim %s/%s selected node %s", key_of(pod), meta["namespace"],
                     meta["name"], node)  # fmt: skip

    def _pods_by_node(self) -> dict[str, list[Obj]]:
        placed: dict[str, list[Obj]] = {}
        for key, pod in self.pods.objects.items():
            node = (pod.get("spec") or {}).get("nodeName") or self.assumed.get(key)
            phase = (pod.get("status") or {}).get("phase")
            if node and phase not in DONE_PHASES:
                placed.setdefault(node, []).append(pod)
        return placed

    async def _bind(self, pod: Obj, node: str) -> None:
        meta = pod["metadata"]
        namespace, name = meta["namespace"], meta["name"]
        binding = {
            "apiVersion": "v1", "kind": "Binding",
            "metadata": {"name": name, "namespace": namespace, "uid": meta.get("uid")},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node},
        }  # fmt: skip
        try:
            await self.api.create(f"/api/v1/namespaces/{namespace}/pods/{name}/binding", binding)
        except APIError as exc:
            if exc.code in (404, 409):  # deleted, or bound by someone else meanwhile
                log.info("pod %s/%s not bound: %s", namespace, name, exc.message)
                return
            raise
        self.assumed[key_of(pod)] = node
        self.failed.pop(_uid(pod), None)
        self.retry_at.pop(key_of(pod), None)
        log.info("pod %s/%s bound to %s", namespace, name, node)
        message = f"Successfully assigned {namespace}/{name} to {node}"
        await events.record(self.api, {"kind": "Pod", **pod}, "Scheduled", message)

    async def _unschedulable(self, pod: Obj, message: str) -> None:
        key = key_of(pod)
        if self.failed.get(_uid(pod)) == message:
            return
        self.failed[_uid(pod)] = message
        log.info("pod %s: %s", key, message)
        meta = pod["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status"
        condition = {
            "type": "PodScheduled", "status": "False", "reason": "Unschedulable",
            "message": message, "lastProbeTime": None,
            "lastTransitionTime": events.now(),
        }  # fmt: skip
        patch = {"status": {"conditions": [condition]}}
        try:
            await self.api.patch(path, patch, content_type=STRATEGIC)
        except APIError as exc:
            log.info("pod %s: condition not written: %s", key, exc.message)
        await events.record(self.api, {"kind": "Pod", **pod}, "FailedScheduling", message,
                            kind="Warning")  # fmt: skip


STRATEGIC = "application/strategic-merge-patch+json"


def unschedulable_message(total: int, reasons: Counter[str]) -> str:
    """kube-scheduler's words: ``0/2 nodes are available: 1 Insufficient cpu, 1 node(s)
    had untolerated taint {...}. preemption: 0/2 nodes are available: 2 Preemption is not
    helpful for scheduling.``"""
    if not total:
        return "no nodes available to schedule pods"
    counted = ", ".join(sorted(f"{count} {reason}" for reason, count in reasons.items()))
    return (
        f"0/{total} nodes are available: {counted}. preemption: 0/{total} nodes are "
        f"available: {total} Preemption is not helpful for scheduling."
    )


def _waiting(pod: Obj) -> bool:
    spec, meta = pod.get("spec") or {}, pod.get("metadata") or {}
    return (
        not spec.get("nodeName")
        and spec.get("schedulerName", NAME) == NAME
        and not meta.get("deletionTimestamp")
        and (pod.get("status") or {}).get("phase") not in DONE_PHASES
    )


def _uid(pod: Obj) -> str:
    return str((pod.get("metadata") or {}).get("uid") or key_of(pod))


def _age(pod: Obj) -> tuple[str, str]:
    meta = pod.get("metadata") or {}
    return (str(meta.get("creationTimestamp", "")), key_of(pod))
