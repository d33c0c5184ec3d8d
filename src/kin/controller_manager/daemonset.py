"""The DaemonSet controller: one pod of each DaemonSet on every node it should run on.

A node should run the pod when the template's node selector and required affinity accept
it and every NoSchedule/NoExecute taint is tolerated by the template's tolerations plus
the ones Kubernetes adds to daemon pods (not-ready and unreachable NoExecute, the
pressure and unschedulable NoSchedule taints, network-unavailable for host-network pods).
A pod already there stays through a NoSchedule taint and goes with a NoExecute one.
Pods are created for the scheduler with a required node affinity on the node's name
(``matchFields metadata.name``), as since Kubernetes 1.12, and labelled with the template's
``controller-revision-hash``; the RollingUpdate strategy deletes pods of older templates
while no more than ``maxUnavailable`` nodes are without an available pod (``OnDelete``
waits for the user). Failed pods are deleted and replaced.
"""

from __future__ import annotations

import copy
import logging
import math
import time
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.pods import (
    available,
    controller_of,
    create_pods,
    delete_pods,
    owner_reference,
    pod_from_template,
    ready,
    ready_since,
)
from kin.controller_manager.replicaset import APPS, PODS
from kin.controller_manager.templatehash import template_hash
from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.informer import key_of
from kin.kube.matching import node_selector_matches, tolerates

__all__ = ["DaemonSetController", "daemon_pod", "placement"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
DAEMONSETS = f"{APPS}/daemonsets"
NODES = "/api/v1/nodes"
REVISION_HASH = "controller-revision-hash"
GENERATION = "pod-template-generation"
DAEMON_TOLERATIONS = (
    ("node.kubernetes.io/not-ready", "NoExecute"),
    ("node.kubernetes.io/unreachable", "NoExecute"),
    ("node.kubernetes.io/disk-pressure", "NoSchedule"),
    ("node.kubernetes.io/memory-pressure", "NoSchedule"),
    ("node.kubernetes.io/pid-pressure", "NoSchedule"),
    ("node.kubernetes.io/unschedulable", "NoSchedule"),
)
NETWORK_UNAVAILABLE = ("node.kubernetes.io/network-unavailable", "NoSchedule")


class DaemonSetController(Controller):
    name = "daemonset"

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.sets = self.watch(DAEMONSETS)
        self.nodes = self.watch(NODES)
        self.pods = self.watch(PODS)
        self.failed_backoff: dict[tuple[str, str], tuple[float, float]] = {}
        """(daemon set, node) -> (not before, last delay) for replacing failed pods."""
        self.sets.add_handler(self._set_changed)
        self.nodes.add_handler(lambda kind, obj: self._enqueue_all())
        self.pods.add_handler(self._pod_changed)

    async def resync_all(self) -> None:
        self._enqueue_all()

    def _set_changed(self, kind: str, ds: Obj) -> None:
        if kind == "DELETED":
            key = key_of(ds)
            for entry in [e for e in self.failed_backoff if e[0] == key]:
                del self.failed_backoff[entry]
        self.enqueue(ds)

    def _enqueue_all(self) -> None:
        for key in self.sets.objects:
            self.enqueue(key)

    def _pod_changed(self, kind: str, pod: Obj) -> None:
        ref = controller_of(pod)
        if ref is not None and ref.get("kind") == "DaemonSet":
            self.enqueue(f"{pod['metadata']['namespace']}/{ref.get('name')}")

    async def sync(self, key: str) -> None:
        ds = self.sets.objects.get(key)
        if ds is None or ds["metadata"].get("deletionTimestamp"):
            return
        template = daemon_template(ds)
        digest = template_hash(template)
        by_node = self._pods_by_node(ds)
        create, delete = [], []
        now = time.monotonic()
        for node in sorted(self.nodes.objects.values(), key=lambda n: n["metadata"]["name"]):
            name = node["metadata"]["name"]
            pods = by_node.pop(name, [])
            may_start, may_stay = placement(template, node)
            live = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
            failed = [p for p in live if (p.get("status") or {}).get("phase") == "Failed"]
            running = [p for p in live if p not in failed]
            if failed and self._backing_off(key, name, now):
                continue  # a pod that keeps failing is replaced ever more slowly
            delete += failed
            if may_start and not running and not [p for p in pods if p not in live]:
                create.append(name)
            elif not may_stay:
                delete += running
            elif len(running) > 1:  # keep the oldest
                delete += sorted(running, key=_created)[1:]
        for orphaned in by_node.values():  # pods on nodes that are gone
            delete += [p for p in orphaned if not p["metadata"].get("deletionTimestamp")]
        delete += self._outdated(ds, digest)
        errors = [await self._create(ds, template, digest, create)]
        if delete:
            errors.append(await delete_pods(self.api, self.pods, _unique(delete)))
            log.info("daemonset %s: deleted %d pods", key, len(delete))
        await self._write_status(ds, digest)  # also when a write failed: the rest happened
        for error in errors:
            if error is not None:
                raise error

    def _backing_off(self, key: str, node: str, now: float) -> bool:
        """Whether a failed pod of ``key`` on ``node`` must wait before it is replaced:
        1 s after the first failure, doubling up to 15 min, as kube's failedPodsBackoff."""
        due, delay = self.failed_backoff.get((key, node), (0.0, 0.0))
        if now > due + max(delay, FAILED_BACKOFF_RESET):
            delay = 0.0  # it ran well for a while: start over
        if now < due:
            self.queue.add_after(key, due - now)
            return True
        delay = min(max(delay * 2, FAILED_BACKOFF_FIRST), FAILED_BACKOFF_MAX)
        self.failed_backoff[(key, node)] = (now + delay, delay)
        return False

    def _pods_by_node(self, ds: Obj) -> dict[str, list[Obj]]:
        uid = ds["metadata"]["uid"]
        found: dict[str, list[Obj]] = {}
        for pod in self.pods.objects.values():
            if (controller_of(pod) or {}).get("uid") == uid:
                found.setdefault(target_node(pod), []).append(pod)
        return found

    def _outdated(self, ds: Obj, digest: str) -> list[Obj]:
        """RollingUpdate: old pods to delete now, keeping ``maxUnavailable`` in mind."""
        strategy = (ds.get("spec") or {}).get("updateStrategy") or {}
        if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
            return []
        desired = [n for n in self.nodes.objects.values() if placement(daemon_template(ds), n)[0]]
        allowed = _max_unavailable(strategy, len(desired))
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        by_node = self._pods_by_node(ds)
        unavailable = 0
        old_unavailable: list[Obj] = []
        old_available: list[Obj] = []
        for node in desired:
            pods = [p for p in by_node.get(node["metadata"]["name"], [])
                    if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
            if not any(available(p, min_ready, now) for p in pods):
                unavailable += 1
            for pod in pods:
                if _labels(pod).get(REVISION_HASH) != digest:
                    ok = available(pod, min_ready, now)
                    (old_available if ok else old_unavailable).append(pod)
        # An old pod that is not available costs nothing to replace; the others wait
        # their turn within maxUnavailable.
        budget = max(allowed - unavailable, 0)
        return old_unavailable + sorted(old_available, key=_created)[:budget]

    async def _create(
        self, ds: Obj, template: Obj, digest: str, nodes: list[str]
    ) -> APIError | None:
        if not nodes:
            return None
        meta = ds["metadata"]
        ref = owner_reference(ds, "DaemonSet")
        generation = str(meta.get("generation", 1))
        bodies = [
            daemon_pod(template, ref, f"{meta['name']}-", node, digest, generation)
            for node in nodes
        ]  # fmt: skip
        error = await create_pods(self.api, self.pods, meta["namespace"], bodies)
        if error is None:
            log.info("daemonset %s: created pods for %s", key_of(ds), ", ".join(nodes))
        return error

    def _recheck_when_available(
        self, ds: Obj, by_node: dict[str, list[Obj]], min_ready: int, now: float
    ) -> None:
        """With ``minReadySeconds``, a ready pod becomes available later: sync then."""
        if min_ready <= 0:
            return
        waiting = [ready_since(p) for pods in by_node.values() for p in pods
                   if ready(p) and not available(p, min_ready, now)]  # fmt: skip
        if waiting:
            self.queue.add_after(key_of(ds), max(min(waiting) + min_ready - now, 0) + 0.5)

    async def _write_status(self, ds: Obj, digest: str) -> None:
        template = daemon_template(ds)
        min_ready = int((ds.get("spec") or {}).get("minReadySeconds") or 0)
        now = time.time()
        by_node = self._pods_by_node(ds)
        counts = dict.fromkeys(
            ("desiredNumberScheduled", "currentNumberScheduled", "numberMisscheduled",
             "numberReady", "numberAvailable", "updatedNumberScheduled"), 0,
        )  # fmt: skip
        for node in self.nodes.objects.values():
            pods = [p for p in by_node.get(node["metadata"]["name"], [])
                    if not p["metadata"].get("deletionTimestamp")]  # fmt: skip
            wanted = placement(template, node)[0]
            if not wanted:
                counts["numberMisscheduled"] += 1 if pods else 0
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            counts["numberReady"] += 1 if any(ready(p) for p in pods) else 0
            counts["numberAvailable"] += 1 if any(available(p, min_ready, now) for p in pods) else 0
            counts["updatedNumberScheduled"] += (
                1 if any(_labels(p).get(REVISION_HASH) == digest for p in pods) else 0
            )
        self._recheck_when_available(ds, by_node, min_ready, now)
        status: Obj = {**counts, "observedGeneration": ds["metadata"].get("generation", 1)}
        status["numberUnavailable"] = status["desiredNumberScheduled"] - status["numberAvailable"]
        old = ds.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        meta = ds["metadata"]
        path = f"{APPS}/namespaces/{meta['namespace']}/daemonsets/{meta['name']}/status"
        self.sets.remember(await self.api.patch(path, {"status": status}))


FAILED_BACKOFF_FIRST, FAILED_BACKOFF_MAX, FAILED_BACKOFF_RESET = 1.0, 900.0, 60.0


def daemon_template(ds: Obj) -> Obj:
    """The template with the tolerations every daemon pod gets."""
    template = copy.deepcopy((ds.get("spec") or {}).get("template") or {})
    spec = template.setdefault("spec", {})
    tolerations = list(spec.get("tolerations") or [])
    wanted = list(DAEMON_TOLERATIONS)
    if spec.get("hostNetwork"):
        wanted.append(NETWORK_UNAVAILABLE)
    for key, effect in wanted:
        if not any(t.get("key") == key and t.get("effect") == effect for t in tolerations):
            tolerations.append({"key": key, "operator": "Exists", "effect": effect})
    spec["tolerations"] = tolerations
    return template


def placement(template: Obj, node: Obj) -> tuple[bool, bool]:
    """(a new pod may start there, a running one may stay there)."""
    if not node_selector_matches(template, node):
        return False, False
    taints = (node.get("spec") or {}).get("taints") or []
    untolerated = {t.get("effect") for t in taints if not tolerates(template, t)}
    return not untolerated & {"NoSchedule", "NoExecute"}, "NoExecute" not in untolerated


def daemon_pod(
    template: Obj, ref: Obj, generate_name: str, node: str, digest: str, generation: str
) -> Obj:
    pod = pod_from_template(template, ref, generate_name)
    labels = pod["metadata"].setdefault("labels", {})
    labels[REVISION_HASH] = digest
    labels[GENERATION] = generation
    affinity = pod["spec"].setdefault("affinity", {})
    node_affinity = affinity.setdefault("nodeAffinity", {})
    required = node_affinity.setdefault("requiredDuringSchedulingIgnoredDuringExecution", {})
    by_name = [{"key": "metadata.name", "operator": "In", "values": [node]}]
    terms = required.get("nodeSelectorTerms") or [{}]
    required["nodeSelectorTerms"] = [{**term, "matchFields": by_name} for term in terms]
    return pod


def target_node(pod: Obj) -> str:
    """The node a daemon pod is for: where it runs, or where its affinity sends it."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return str(spec["nodeName"])
    required = (
        ((spec.get("affinity") or {}).get("nodeAffinity") or {})
        .get("requiredDuringSchedulingIgnoredDuringExecution") or {}
    )  # fmt: skip
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("values"):
                return str(field["values"][0])
    return ""


def _max_unavailable(strategy: Obj, desired: int) -> int:
    value = (strategy.get("rollingUpdate") or {}).get("maxUnavailable", 1)
    if isinstance(value, str) and value.endswith("%"):
        return max(math.ceil(int(value[:-1]) * desired / 100), 1)
    return max(int(value), 1) if desired else 0


def _labels(pod: Obj) -> dict[str, str]:
    return dict(pod["metadata"].get("labels") or {})


def _created(pod: Obj) -> str:
    return str(pod["metadata"].get("creationTimestamp") or "")


def _unique(pods: list[Obj]) -> list[Obj]:
    seen: dict[str, Obj] = {}
    for pod in pods:
        seen.setdefault(key_of(pod), pod)
    return list(seen.values())
