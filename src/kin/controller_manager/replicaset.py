"""The ReplicaSet controller: keeps ``spec.replicas`` active pods made from the template.

Pods are the ReplicaSet's when their controller reference names its uid; a pod with no
controller whose labels the selector matches is adopted, an owned pod whose labels no
longer match is released, as kube-controller-manager does. Missing pods are created in
doubling batches, surplus ones deleted (unscheduled, pending, unready and newest first).
The status counts replicas, fully labelled, ready and available ones
(``minReadySeconds``) for the generation it observed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.pods import (
    available,
    controller_of,
    create_pods,
    delete_pods,
    deletion_order,
    is_active,
    owner_reference,
    pod_from_template,
    ready,
    ready_since,
)
from kin.kube import events
from kin.kube.client import Client
from kin.kube.informer import key_of
from kin.kube.matching import selector_matches

__all__ = ["ReplicaSetController", "claim", "owned_pods", "selects"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
PODS = "/api/v1/pods"
APPS = "/apis/apps/v1"
SETS = f"{APPS}/replicasets"
BURST = 500
"""At most this many pods created or deleted per sync, as kube-controller-manager."""


class ReplicaSetController(Controller):
    name = "replicaset"
    kind = "ReplicaSet"

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.sets = self.watch(SETS)
        self.pods = self.watch(PODS)
        self.sets.add_handler(lambda kind, obj: self.enqueue(obj))
        self.pods.add_handler(self._pod_changed)

    async def resync_all(self) -> None:
        for key in self.sets.objects:
            self.enqueue(key)

    def _pod_changed(self, kind: str, pod: Obj) -> None:
        namespace = pod["metadata"].get("namespace")
        ref = controller_of(pod)
        if ref is not None:
            if ref.get("kind") == self.kind:
                self.enqueue(f"{namespace}/{ref.get('name')}")
            return
        for key, owner in self.sets.objects.items():  # an orphan: who may adopt it?
            if owner["metadata"].get("namespace") == namespace and selects(owner, pod):
                self.enqueue(key)

    async def sync(self, key: str) -> None:
        rs = self.sets.objects.get(key)
        if rs is None or rs["metadata"].get("deletionTimestamp"):
            return
        pods = await owned_pods(self, rs, self.kind)
        active = [p for p in pods if is_active(p)]
        wanted = int((rs.get("spec") or {}).get("replicas", 1))
        error = None
        if len(active) < wanted:
            error = await self._create(rs, min(wanted - len(active), BURST))
        elif len(active) > wanted:
            victims = sorted(active, key=deletion_order)[: min(len(active) - wanted, BURST)]
            error = await delete_pods(self.api, self.pods, victims)
            log.info("replicaset %s: deleted %d pods", key, len(victims))
        pods = await owned_pods(self, rs, self.kind)
        await self._write_status(rs, [p for p in pods if is_active(p)])
        if error is not None:
            raise error

    async def _create(self, rs: Obj, count: int) -> Exception | None:
        meta = rs["metadata"]
        template = (rs.get("spec") or {}).get("template") or {}
        ref = owner_reference(rs, self.kind)
        bodies = [pod_from_template(template, ref, f"{meta['name']}-") for _ in range(count)]
        error = await create_pods(self.api, self.pods, meta["namespace"], bodies)
        if error is None:
            log.info("replicaset %s: created %d pods", key_of(rs), count)
        else:
            message = f"Error creating: {error.message}"
            await events.record(self.api, {"kind": "ReplicaSet", "apiVersion": "apps/v1", **rs},
                                "FailedCreate", message, "Warning",
                                "replicaset-controller")  # fmt: skip
        return error

    async def _write_status(self, rs: Obj, active: list[Obj]) -> None:
        spec = rs.get("spec") or {}
        min_ready = int(spec.get("minReadySeconds") or 0)
        now = time.time()
        labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        status = {
            "replicas": len(active),
            "fullyLabeledReplicas": sum(1 for p in active if _has_labels(p, labels)),
            "readyReplicas": sum(1 for p in active if ready(p)),
            "availableReplicas": sum(1 for p in active if available(p, min_ready, now)),
            "observedGeneration": rs["metadata"].get("generation", 1),
        }
        if min_ready and status["readyReplicas"] > status["availableReplicas"]:
            soonest = min(ready_since(p) for p in active if ready(p) and not
                          available(p, min_ready, now))  # fmt: skip
            self.queue.add_after(key_of(rs), max(soonest + min_ready - now, 0) + 0.5)
        old = rs.get("status") or {}
        if all(old.get(k, 0) == v for k, v in status.items()):
            return
        meta = rs["metadata"]
        path = f"{APPS}/namespaces/{meta['namespace']}/replicasets"
        updated = await self.api.patch(f"{path}/{meta['name']}/status", {"status": status})
        self.sets.remember(updated)


async def owned_pods(controller: Controller, owner: Obj, kind: str) -> list[Obj]:
    """The pods ``owner`` controls (see ``claim``)."""
    return await claim(controller, owner, kind, PODS, is_active)


async def claim(
    controller: Controller, owner: Obj, kind: str, path: str, adoptable: Callable[[Obj], bool]
) -> list[Obj]:
    """The objects of the informer at ``path`` that ``owner`` controls, after adopting the
    orphans its selector matches (``adoptable`` ones) and releasing the owned ones it no
    longer matches, both written to the API: client-go's ControllerRefManager."""
    informer = controller.informers.get(path)
    meta = owner["metadata"]
    found = []
    for obj in list(informer.objects.values()):
        if obj["metadata"].get("namespace") != meta["namespace"]:
            continue
        ref = controller_of(obj)
        matches = selects(owner, obj)
        if ref is not None and ref.get("uid") == meta["uid"]:
            if matches:
                found.append(obj)
            else:
                await _set_owner(controller, path, obj, None)
        elif ref is None and matches and adoptable(obj) and not meta.get("deletionTimestamp"):
            found.append(await _set_owner(controller, path, obj, owner_reference(owner, kind)))
    return found


def selects(owner: Obj, obj: Obj) -> bool:
    """Whether ``owner``'s selector matches ``obj``'s labels (an empty one matches none)."""
    selector = (owner.get("spec") or {}).get("selector")
    return bool(selector) and selector_matches(selector, obj["metadata"].get("labels"))


def _has_labels(pod: Obj, labels: dict[str, str]) -> bool:
    have = pod["metadata"].get("labels") or {}
    return all(have.get(k) == v for k, v in labels.items())


async def _set_owner(controller: Controller, path: str, obj: Obj, ref: Obj | None) -> Obj:
    """Adopt ``obj`` (``ref``) or release it (None), keeping its other owners."""
    meta = obj["metadata"]
    others = [r for r in meta.get("ownerReferences") or [] if not r.get("controller")]
    refs = others + ([ref] if ref else [])
    body = {"metadata": {"ownerReferences": refs, "resourceVersion": meta.get("resourceVersion")}}
    prefix, plural = path.rsplit("/", 1)
    updated = await controller.api.patch(
        f"{prefix}/namespaces/{meta['namespace']}/{plural}/{meta['name']}", body
    )
    controller.informers.get(path).remember(updated)
    what = "adopted" if ref else "released"
    log.info("%s: %s %s %s", controller.name, plural[:-1], key_of(obj), what)
    return updated
