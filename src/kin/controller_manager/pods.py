"""Pods as the workload controllers see them: active, ready, available; owned through a
controller reference; made from a template; created and deleted in batches.

``create_pods`` starts with one pod and doubles the batch while creations succeed (the
"slow start" of kube-controller-manager), so a template the API server rejects fails one
request, not hundreds, and a valid one is created many at a time.
"""

from __future__ import annotations

import asyncio
import copy
from collections.abc import Awaitable, Callable
from typing import Any

from kin.errors import APIError
from kin.kube.client import Client
from kin.kube.events import parse_time
from kin.kube.informer import Informer

__all__ = [
    "available",
    "controller_of",
    "create_pods",
    "delete_pods",
    "deletion_order",
    "is_active",
    "owner_reference",
    "pod_from_template",
    "ready",
    "ready_since",
]

Obj = dict[str, Any]
DONE_PHASES = ("Succeeded", "Failed")
PHASE_RANK = {"Pending": 0, "Unknown": 1, "Running": 2}


def is_active(pod: Obj) -> bool:
    """Counted by its controller: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in DONE_PHASES and not pod["metadata"].get("deletionTimestamp")


def _ready_condition(pod: Obj) -> Obj | None:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return dict(condition)
    return None


def ready(pod: Obj) -> bool:
    condition = _ready_condition(pod)
    return condition is not None and condition.get("status") == "True"


def ready_since(pod: Obj) -> float:
    """When the pod became ready (seconds since the epoch; 0 when unknown)."""
    condition = _ready_condition(pod) or {}
    return parse_time(str(condition.get("lastTransitionTime") or ""))


def available(pod: Obj, min_ready_seconds: int, now: float) -> bool:
    """Ready for at least ``minReadySeconds``."""
    if not ready(pod):
        return False
    return min_ready_seconds <= 0 or ready_since(pod) + min_ready_seconds <= now


def controller_of(obj: Obj) -> Obj | None:
    for ref in obj["metadata"].get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def owner_reference(owner: Obj, kind: str, api_version: str = "apps/v1") -> Obj:
    meta = owner["metadata"]
    return {
        "apiVersion": api_version, "kind": kind, "name": meta["name"], "uid": meta["uid"],
        "controller": True, "blockOwnerDeletion": True,
    }  # fmt: skip


def pod_from_template(template: Obj, owner_ref: Obj, generate_name: str) -> Obj:
    """A pod as the controller creates it: the template's metadata and spec, owned."""
    meta = copy.deepcopy(template.get("metadata") or {})
    for field in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp"):
        meta.pop(field, None)
    meta["generateName"] = generate_name
    meta["ownerReferences"] = [owner_ref]
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta,
            "spec": copy.deepcopy(template.get("spec") or {})}  # fmt: skip


async def create_pods(
    api: Client, pods: Informer, namespace: str, bodies: list[Obj]
) -> APIError | None:
    """Create the pods in doubling batches; stop at the first batch with an error, which
    is returned. Every created pod is remembered in the pod cache at once."""
    path = f"/api/v1/namespaces/{namespace}/pods"
    return await _in_batches(bodies, lambda body: api.create(path, body), pods)


async def delete_pods(api: Client, pods: Informer, victims: list[Obj]) -> APIError | None:
    async def delete(pod: Obj) -> Obj:
        meta = pod["metadata"]
        left = await api.delete(f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}")
        if (left.get("metadata") or {}).get("deletionTimestamp"):
            return left  # graceful: the kubelet finishes it; cached as being deleted
        pods.forget(pod)
        return {}

    return await _in_batches(victims, delete, pods)


async def _in_batches(
    items: list[Obj], call: Callable[[Obj], Awaitable[Obj]], cache: Informer
) -> APIError | None:
    batch, done = 1, 0
    while done < len(items):
        chunk = items[done : done + batch]
        results = await asyncio.gather(*(call(item) for item in chunk), return_exceptions=True)
        for item, result in zip(chunk, results, strict=True):
            if isinstance(result, dict) and result.get("kind") == "Pod":
                cache.remember(result)
            elif isinstance(result, APIError) and result.code == 404:
                cache.forget(item)  # already gone: what a delete wanted
        errors = [r for r in results if isinstance(r, BaseException)]
        failures = [e for e in errors if not (isinstance(e, APIError) and e.code == 404)]
        if failures:
            first = failures[0]
            if isinstance(first, APIError):
                return first
            raise first
        done += len(chunk)
        batch *= 2
    return None


def deletion_order(pod: Obj) -> tuple[int, int, int, int, float]:
    """Sort key: the pods a controller deletes first come first (kube-controller-manager's
    order: unscheduled, then pending, not ready, most restarted, newest)."""
    status = pod.get("status") or {}
    restarts = sum(int(c.get("restartCount") or 0) for c in status.get("containerStatuses") or [])
    created = parse_time(str(pod["metadata"].get("creationTimestamp") or ""))
    return (
        1 if (pod.get("spec") or {}).get("nodeName") else 0,
        PHASE_RANK.get(str(status.get("phase")), 0),
        1 if ready(pod) else 0,
        -restarts,
        -created,
    )
