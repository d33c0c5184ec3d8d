"""Node lifecycle: notices silent kubelets, taints nodes by their Ready condition, and
evicts the pods that do not tolerate it.

A node whose kubelet renewed neither its Lease (``kube-node-lease``) nor its Ready
condition for the grace period (40 s, ``--node-monitor-grace-period``) gets its conditions
set to Unknown ("Kubelet stopped posting node status.") and its pods marked not ready.
Taints follow the Ready condition as kube-controller-manager sets them: False ->
``node.kubernetes.io/not-ready``, Unknown -> ``node.kubernetes.io/unreachable`` (each
NoSchedule and NoExecute, the latter stamped with ``timeAdded``), True -> neither; a
cordoned node gets ``node.kubernetes.io/unschedulable:NoSchedule``. A pod on a node with a
NoExecute taint is deleted at once if it does not tolerate it, or when its
``tolerationSeconds`` (300 s by default, from the API server's admission) have passed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.pods import delete_pods, is_active
from kin.errors import APIError
from kin.kube import events
from kin.kube.client import STRATEGIC_PATCH, Client
from kin.kube.events import parse_time
from kin.kube.matching import toleration_matches

__all__ = ["NodeLifecycleController", "wanted_taints"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
NODES = "/api/v1/nodes"
LEASES = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
PODS = "/api/v1/pods"
NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
UNSCHEDULABLE = "node.kubernetes.io/unschedulable"
MANAGED = (NOT_READY, UNREACHABLE, UNSCHEDULABLE)
MONITOR_PERIOD = 5.0
GRACE = 40.0
COMPONENT = "node-controller"


class NodeLifecycleController(Controller):
    name = "nodelifecycle"
    workers = 1

    def __init__(self, api: Client, informers: Informers, grace: float = GRACE) -> None:
        super().__init__(api, informers)
        self.grace = grace
        # As kube-controller-manager's probe timestamps: a node's silence counts from when
        # this controller could first hear it, so a cluster that was stopped for an hour
        # gets its full grace when it starts, not an instant NotReady.
        self.started = time.time()
        self.nodes = self.watch(NODES)
        self.leases = self.watch(LEASES)
        self.pods = self.watch(PODS)
        self.nodes.add_handler(lambda kind, obj: self.enqueue(obj))

    async def run(self) -> None:
        await asyncio.gather(super().run(), self._monitor())

    async def _monitor(self) -> None:
        """Silence is not an event: look at every node every few seconds."""
        await asyncio.gather(*(i.synced.wait() for i in self.watched))
        while True:
            await asyncio.sleep(min(MONITOR_PERIOD, self.grace / 4))
            for key in list(self.nodes.objects):
                self.enqueue(key)

    async def sync(self, key: str) -> None:
        node = self.nodes.objects.get(key)
        if node is None:
            return
        now = time.time()
        if self._silent(node, now):
            node = await self._mark_unknown(node)
        node = await self._taint(node, now)
        await self._evict(node, now)

    def _silent(self, node: Obj, now: float) -> bool:
        ready = _ready(node)
        if ready is not None and ready.get("status") == "Unknown":
            return False  # already marked
        lease = self.leases.objects.get(f"kube-node-lease/{node['metadata']['name']}")
        beats = [self.started, parse_time(str(node["metadata"].get("creationTimestamp") or ""))]
        if lease is not None:
            beats.append(parse_time(str((lease.get("spec") or {}).get("renewTime") or "")))
        if ready is not None:
            beats.append(parse_time(str(ready.get("lastHeartbeatTime") or "")))
        return now - max(beats) > self.grace

    async def _mark_unknown(self, node: Obj) -> Obj:
        name = node["metadata"]["name"]
        stamp = events.now()
        conditions = []
        for condition in (node.get("status") or {}).get("conditions") or []:
            conditions.append({**condition, "status": "Unknown", "reason": "NodeStatusUnknown",
                               "message": "Kubelet stopped posting node status.",
                               "lastTransitionTime": stamp})  # fmt: skip
        if not conditions:
            conditions = [{"type": "Ready", "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                           "message": "Kubelet never posted node status.",
                           "lastHeartbeatTime": stamp, "lastTransitionTime": stamp}]  # fmt: skip
        body = {"status": {"conditions": conditions}}
        updated = await self.api.patch(f"{NODES}/{name}/status", body, STRATEGIC_PATCH)
        self.nodes.remember(updated)
        log.info("node %s: kubelet silent for %.0fs; conditions Unknown", name, self.grace)
        await events.record(
            self.api,
            {"kind": "Node", **updated},
            "NodeNotReady",
            f"Node {name} status is now: NodeNotReady",
            component=COMPONENT,
        )
        await self._mark_pods_not_ready(name)
        return updated

    async def _mark_pods_not_ready(self, node_name: str) -> None:
        for pod in list(self.pods.objects.values()):
            if (pod.get("spec") or {}).get("nodeName") != node_name or not is_active(pod):
                continue
            meta = pod["metadata"]
            condition = {"type": "Ready", "status": "False", "lastProbeTime": None,
                         "lastTransitionTime": events.now()}  # fmt: skip
            try:
                await self.api.patch(
                    f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}/status",
                    {"status": {"conditions": [condition]}},
                    STRATEGIC_PATCH,
                )
            except APIError as exc:
                log.info("pod %s/%s: not marked not ready: %s", meta["namespace"],
                         meta["name"], exc.message)  # fmt: skip

    async def _taint(self, node: Obj, now: float) -> Obj:
        current = list((node.get("spec") or {}).get("taints") or [])
        wanted = wanted_taints(node, current, events.now())
        if _taint_set(current) == _taint_set(wanted):
            return node
        name = node["metadata"]["name"]
        body = {
            "spec": {"taints": wanted or None},
            "metadata": {"resourceVersion": node["metadata"].get("resourceVersion")},
        }
        updated = await self.api.patch(f"{NODES}/{name}", body)
        self.nodes.remember(updated)
        log.info("node %s: taints %s", name,
                 ", ".join(f"{t['key']}:{t['effect']}" for t in wanted) or "none")  # fmt: skip
        return updated

    async def _evict(self, node: Obj, now: float) -> None:
        taints = [t for t in (node.get("spec") or {}).get("taints") or []
                  if t.get("effect") == "NoExecute"]  # fmt: skip
        if not taints:
            return
        name = node["metadata"]["name"]
        due: list[Obj] = []
        soonest = None
        for pod in self.pods.objects.values():
            if (pod.get("spec") or {}).get("nodeName") != name or not is_active(pod):
                continue
            at = eviction_time(pod, taints)
            if at is None:
                continue
            if at <= now:
                due.append(pod)
            else:
                soonest = at if soonest is None else min(soonest, at)
        if due:
            log.info("node %s: evicting %s", name, ", ".join(p["metadata"]["name"] for p in due))
            for pod in due:
                await events.record(
                    self.api,
                    {"kind": "Pod", **pod},
                    "TaintManagerEviction",
                    f"Marking for deletion Pod {pod['metadata']['namespace']}/"
                    f"{pod['metadata']['name']}",
                    component="taint-eviction-controller",
                )
            error = await delete_pods(self.api, self.pods, due)
            if error is not None:
                raise error
        if soonest is not None:
            self.queue.add_after(name, soonest - now + 0.1)


def wanted_taints(node: Obj, current: list[Obj], stamp: str) -> list[Obj]:
    """``current`` with the taints this controller manages set as the node's state says;
    a taint that stays keeps its ``timeAdded``."""
    ready = _ready(node)
    status = ready.get("status") if ready else "False"  # registered, no status posted yet
    keys = {"False": [NOT_READY], "Unknown": [UNREACHABLE]}.get(str(status), [])
    wanted = [t for t in current if t.get("key") not in MANAGED]
    for key in keys:
        for effect in ("NoSchedule", "NoExecute"):
            kept = next((t for t in current if t.get("key") == key and t.get("effect") == effect),
                        None)  # fmt: skip
            taint = kept or {"key": key, "effect": effect}
            if effect == "NoExecute" and "timeAdded" not in taint:
                taint = {**taint, "timeAdded": stamp}
            wanted.append(taint)
    if (node.get("spec") or {}).get("unschedulable"):
        wanted.append({"key": UNSCHEDULABLE, "effect": "NoSchedule"})
    return wanted


def eviction_time(pod: Obj, taints: list[Obj]) -> float | None:
    """When ``pod`` must go because of the NoExecute ``taints``: now-ish (0) for one it
    does not tolerate, else the earliest ``timeAdded + tolerationSeconds``; None if it
    tolerates them all for ever."""
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    times = []
    for taint in taints:
        matching = [t for t in tolerations if toleration_matches(t, taint)]
        if not matching:
            return 0.0
        seconds = [
            t["tolerationSeconds"] for t in matching if t.get("tolerationSeconds") is not None
        ]
        if seconds and len(seconds) == len(matching):
            times.append(parse_time(str(taint.get("timeAdded") or "")) + max(0, min(seconds)))
    return min(times) if times else None


def _ready(node: Obj) -> Obj | None:
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def _taint_set(taints: list[Obj]) -> set[tuple[str, str, str]]:
    return {(str(t.get("key")), str(t.get("value", "")), str(t.get("effect"))) for t in taints}
