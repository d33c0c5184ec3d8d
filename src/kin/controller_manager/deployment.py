"""The Deployment controller: rolls a Deployment's template out through ReplicaSets.

The ReplicaSet whose template equals the Deployment's (``pod-template-hash`` aside) is the
new one, created as ``<deployment>-<hash>`` when there is none; the others are old. With
``RollingUpdate`` the new one grows while the total stays within ``replicas + maxSurge``
and old ones shrink while ``replicas - maxUnavailable`` pods stay available; with
``Recreate`` the old ones go to zero and their pods away before the new one grows. Each
ReplicaSet carries its ``deployment.kubernetes.io/revision``; a template that comes back
(``kubectl rollout undo``) takes the next revision; old ReplicaSets scaled to zero
beyond ``revisionHistoryLimit`` are deleted. The status is what ``kubectl rollout
status`` reads (observedGeneration, updated/ready/available replicas, the Available and
Progressing conditions, with ``ProgressDeadlineExceeded`` when a rollout stops moving for
``progressDeadlineSeconds``). ReplicaSets are claimed as pods are by theirs: an orphan the
selector matches is adopted, an owned one it no longer matches released.
"""

from __future__ import annotations

import logging
import math
import time
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.pods import DONE_PHASES, controller_of, owner_reference
from kin.controller_manager.replicaset import APPS, PODS, SETS, claim, selects
from kin.controller_manager.templatehash import template_hash, without_hash
from kin.errors import APIError
from kin.kube import events
from kin.kube.client import Client
from kin.kube.events import parse_time
from kin.kube.informer import key_of

__all__ = ["DeploymentController", "rolling_limits"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
DEPLOYMENTS = f"{APPS}/deployments"
REVISION = "deployment.kubernetes.io/revision"
DESIRED = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
HASH = "pod-template-hash"
COMPONENT = "deployment-controller"
UPDATED, TIMED_OUT = "ReplicaSetUpdated", "ProgressDeadlineExceeded"
PROGRESS_FIELDS = ("replicas", "updatedReplicas", "readyReplicas", "availableReplicas")


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.deployments = self.watch(DEPLOYMENTS)
        self.sets = self.watch(SETS)
        self.pods = self.watch(PODS)
        self.deployments.add_handler(lambda kind, obj: self.enqueue(obj))
        self.sets.add_handler(self._owned_changed)
        self.pods.add_handler(self._pod_changed)

    async def resync_all(self) -> None:
        for key in self.deployments.objects:
            self.enqueue(key)

    def _owned_changed(self, kind: str, rs: Obj) -> None:
        ref = controller_of(rs)
        namespace = rs["metadata"]["namespace"]
        if ref is not None:
            if ref.get("kind") == "Deployment":
                self.enqueue(f"{namespace}/{ref.get('name')}")
            return
        for key, deployment in self.deployments.objects.items():  # an orphan: who adopts it?
            if deployment["metadata"].get("namespace") == namespace and selects(deployment, rs):
                self.enqueue(key)

    def _pod_changed(self, kind: str, pod: Obj) -> None:
        """Recreate waits for old pods to be gone: a pod's deletion may unblock it."""
        ref = controller_of(pod)
        if kind == "DELETED" and ref is not None and ref.get("kind") == "ReplicaSet":
            rs = self.sets.objects.get(f"{pod['metadata']['namespace']}/{ref.get('name')}")
            if rs is not None:
                self._owned_changed(kind, rs)

    async def sync(self, key: str) -> None:
        deployment = self.deployments.objects.get(key)
        if deployment is None or deployment["metadata"].get("deletionTimestamp"):
            return
        spec = deployment.get("spec") or {}
        sets = await claim(self, deployment, "Deployment", SETS, _adoptable)
        new = _matching(sets, spec.get("template") or {})
        if spec.get("paused"):
            await self._write_status(deployment, new, sets)
            return
        if new is None:
            new = await self._create_new(deployment, sets)
            sets.append(new)
        else:
            new = await self._bump_revision(deployment, new, sets)
        old = [rs for rs in sets if rs is not new]
        strategy = (spec.get("strategy") or {}).get("type") or "RollingUpdate"
        if strategy == "Recreate":
            await self._recreate(deployment, new, old)
        else:
            await self._roll(deployment, new, old)
        await self._clean_up(deployment, old)
        await self._write_status(deployment, new, self._owned_sets(deployment))
        self._check_progress_later(key)

    def _check_progress_later(self, key: str) -> None:
        """A rollout that stops moving times out without an event: look again once its
        ``progressDeadlineSeconds`` since the last progress have passed."""
        deployment = self.deployments.objects.get(key)
        if deployment is None:
            return
        spec = deployment.get("spec") or {}
        deadline, progressing = (
            spec.get("progressDeadlineSeconds"),
            _find(deployment, "Progressing"),
        )
        if deadline is None or spec.get("paused") or progressing is None:
            return
        if progressing.get("reason") != UPDATED:
            return
        since = parse_time(str(progressing.get("lastUpdateTime") or ""))
        self.queue.add_after(key, max(since + int(deadline) - time.time(), 0.0) + 1.0)

    def _owned_sets(self, deployment: Obj) -> list[Obj]:
        uid = deployment["metadata"]["uid"]
        namespace = deployment["metadata"]["namespace"]
        return [
            rs for rs in self.sets.objects.values()
            if rs["metadata"].get("namespace") == namespace
            and (controller_of(rs) or {}).get("uid") == uid
        ]  # fmt: skip

    async def _create_new(self, deployment: Obj, sets: list[Obj]) -> Obj:
        meta, spec = deployment["metadata"], deployment.get("spec") or {}
        collisions = int((deployment.get("status") or {}).get("collisionCount") or 0)
        template = spec.get("template") or {}
        digest = template_hash(template, collisions)
        labels = {**((template.get("metadata") or {}).get("labels") or {}), HASH: digest}
        selector = dict(spec.get("selector") or {})
        selector["matchLabels"] = {**(selector.get("matchLabels") or {}), HASH: digest}
        replicas = int(spec.get("replicas", 1))
        surge, _ = rolling_limits(deployment)
        body = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {
                "name": f"{meta['name']}-{digest}", "namespace": meta["namespace"],
                "labels": labels,
                "annotations": {REVISION: str(_max_revision(sets) + 1),
                                DESIRED: str(replicas), MAX_REPLICAS: str(replicas + surge)},
                "ownerReferences": [owner_reference(deployment, "Deployment")],
            },
            "spec": {
                "replicas": 0, "minReadySeconds": spec.get("minReadySeconds", 0),
                "selector": selector,
                "template": {**template,
                             "metadata": {**(template.get("metadata") or {}), "labels": labels}},
            },
        }  # fmt: skip
        path = f"{APPS}/namespaces/{meta['namespace']}/replicasets"
        try:
            created = await self.api.create(path, body)
        except APIError as exc:
            if exc.code != 409:
                raise
            return await self._collided(deployment, body)
        self.sets.remember(created)
        log.info("deployment %s: created replica set %s", key_of(deployment),
                 created["metadata"]["name"])  # fmt: skip
        await self._event(
            deployment,
            "ScalingReplicaSet",
            f'Created new replica set "{created["metadata"]["name"]}"',
        )
        return created

    async def _collided(self, deployment: Obj, body: Obj) -> Obj:
        """A ReplicaSet of that name exists: ours (the cache lags) or another's template."""
        meta = body["metadata"]
        path = f"{APPS}/namespaces/{meta['namespace']}/replicasets/{meta['name']}"
        existing = await self.api.get(path)
        mine = (controller_of(existing) or {}).get("uid") == deployment["metadata"]["uid"]
        if mine and _same_template(existing, deployment["spec"].get("template") or {}):
            self.sets.remember(existing)
            return existing
        count = int((deployment.get("status") or {}).get("collisionCount") or 0) + 1
        dmeta = deployment["metadata"]
        status_path = f"{APPS}/namespaces/{dmeta['namespace']}/deployments/{dmeta['name']}/status"
        updated = await self.api.patch(status_path,
                                       {"status": {"collisionCount": count}})  # fmt: skip
        self.deployments.remember(updated)
        raise APIError(409, "AlreadyExists", f"replica set {meta['name']} exists; "
                       f"collision count now {count}")  # fmt: skip

    async def _bump_revision(self, deployment: Obj, new: Obj, sets: list[Obj]) -> Obj:
        """A template rolled back to: its ReplicaSet becomes the latest revision."""
        others = [rs for rs in sets if rs is not new]
        if _revision(new) > _max_revision(others):
            return new
        return await self._patch_set(new, annotations={REVISION: str(_max_revision(others) + 1)})

    async def _roll(self, deployment: Obj, new: Obj, old: list[Obj]) -> None:
        wanted = int((deployment.get("spec") or {}).get("replicas", 1))
        surge, unavailable = rolling_limits(deployment)
        size = _spec_replicas(new)
        if size > wanted:
            new = await self._scale(deployment, new, wanted)
        elif size < wanted:
            total = sum(_spec_replicas(rs) for rs in [new, *old])
            room = wanted + surge - total
            if room > 0:
                new = await self._scale(deployment, new, min(size + room, wanted))
        await self._shrink_old(deployment, new, old, wanted - unavailable)

    async def _shrink_old(self, deployment: Obj, new: Obj, old: list[Obj], floor: int) -> None:
        live = [rs for rs in old if _spec_replicas(rs) > 0]
        if not live:
            return
        total = sum(_spec_replicas(rs) for rs in [new, *old])
        new_unavailable = _spec_replicas(new) - _status(new, "availableReplicas")
        budget = total - floor - new_unavailable
        if budget <= 0:
            return
        live.sort(key=_revision)
        latest = []
        for rs in live:  # first the old pods that are not available anyway
            unhealthy = _spec_replicas(rs) - _status(rs, "availableReplicas")
            cut = min(unhealthy, budget)
            if cut > 0:
                rs = await self._scale(deployment, rs, _spec_replicas(rs) - cut)
                budget -= cut
            latest.append(rs)
        available = sum(_status(rs, "availableReplicas") for rs in [new, *old])
        budget = available - floor
        for rs in latest:
            if budget <= 0:
                break
            cut = min(_spec_replicas(rs), budget)
            if cut > 0:
                await self._scale(deployment, rs, _spec_replicas(rs) - cut)
                budget -= cut

    async def _recreate(self, deployment: Obj, new: Obj, old: list[Obj]) -> None:
        for rs in old:
            if _spec_replicas(rs) > 0:
                await self._scale(deployment, rs, 0)
        if any(self._has_running_pods(rs) for rs in old):
            return  # the new pods wait until the old ones are gone
        await self._scale(deployment, new, int(deployment["spec"].get("replicas", 1)))

    def _has_running_pods(self, rs: Obj) -> bool:
        """Old pods not finished, terminating ones included: Recreate waits for them."""
        uid = rs["metadata"]["uid"]
        return any(
            (controller_of(p) or {}).get("uid") == uid
            and (p.get("status") or {}).get("phase") not in DONE_PHASES
            for p in self.pods.objects.values()
        )  # fmt: skip

    async def _scale(self, deployment: Obj, rs: Obj, replicas: int) -> Obj:
        before = _spec_replicas(rs)
        if before == replicas:
            return rs
        wanted = int(deployment["spec"].get("replicas", 1))
        surge, _ = rolling_limits(deployment)
        updated = await self._patch_set(
            rs, {"replicas": replicas},
            {DESIRED: str(wanted), MAX_REPLICAS: str(wanted + surge)},
        )  # fmt: skip
        direction = "up" if replicas > before else "down"
        name = rs["metadata"]["name"]
        log.info("deployment %s: scaled %s replica set %s from %d to %d", key_of(deployment),
                 direction, name, before, replicas)  # fmt: skip
        await self._event(
            deployment,
            "ScalingReplicaSet",
            f"Scaled {direction} replica set {name} from {before} to {replicas}",
        )
        return updated

    async def _patch_set(
        self, rs: Obj, spec: Obj | None = None, annotations: dict[str, str] | None = None
    ) -> Obj:
        meta = rs["metadata"]
        body: Obj = {"metadata": {"resourceVersion": meta.get("resourceVersion")}}
        if spec:
            body["spec"] = spec
        if annotations:
            body["metadata"]["annotations"] = annotations
        path = f"{APPS}/namespaces/{meta['namespace']}/replicasets/{meta['name']}"
        updated = await self.api.patch(path, body)
        self.sets.remember(updated)
        return updated

    async def _clean_up(self, deployment: Obj, old: list[Obj]) -> None:
        limit = int((deployment.get("spec") or {}).get("revisionHistoryLimit", 10))
        idle = [rs for rs in old if not _spec_replicas(rs) and not _status(rs, "replicas")
                and not rs["metadata"].get("deletionTimestamp")]  # fmt: skip
        idle.sort(key=_revision)
        for rs in idle[: max(len(idle) - limit, 0)]:
            meta = rs["metadata"]
            try:
                await self.api.delete(
                    f"{APPS}/namespaces/{meta['namespace']}/replicasets/{meta['name']}"
                )
            except APIError as exc:
                if exc.code != 404:
                    raise
            self.sets.forget(rs)
            log.info("deployment %s: deleted old replica set %s", key_of(deployment), meta["name"])

    async def _write_status(self, deployment: Obj, new: Obj | None, sets: list[Obj]) -> None:
        spec, meta = deployment.get("spec") or {}, deployment["metadata"]
        wanted = int(spec.get("replicas", 1))
        _, unavailable = rolling_limits(deployment)
        available = sum(_status(rs, "availableReplicas") for rs in sets)
        status: Obj = {
            "observedGeneration": meta.get("generation", 1),
            "replicas": sum(_status(rs, "replicas") for rs in sets),
            "updatedReplicas": _status(new, "replicas") if new else 0,
            "readyReplicas": sum(_status(rs, "readyReplicas") for rs in sets),
            "availableReplicas": available,
            "unavailableReplicas": max(sum(_spec_replicas(rs) for rs in sets) - available, 0),
        }
        old = deployment.get("status") or {}
        if old.get("collisionCount"):
            status["collisionCount"] = old["collisionCount"]
        deadline = None if spec.get("paused") else spec.get("progressDeadlineSeconds")
        status["conditions"] = _conditions(old, status, wanted, unavailable, new, deadline)
        if all(old.get(k) == v for k, v in status.items()) and _revision_current(deployment, new):
            return
        path = f"{APPS}/namespaces/{meta['namespace']}/deployments/{meta['name']}"
        if not _revision_current(deployment, new) and new is not None:
            patched = await self.api.patch(
                path, {"metadata": {"annotations": {REVISION: str(_revision(new))}}}
            )
            self.deployments.remember(patched)
        if any(old.get(k) != v for k, v in status.items()):
            updated = await self.api.patch(f"{path}/status", {"status": status})
            self.deployments.remember(updated)

    async def _event(self, deployment: Obj, reason: str, message: str) -> None:
        about = {"kind": "Deployment", "apiVersion": "apps/v1", **deployment}
        await events.record(self.api, about, reason, message, component=COMPONENT)


def rolling_limits(deployment: Obj) -> tuple[int, int]:
    """``maxSurge`` (rounded up) and ``maxUnavailable`` (rounded down) as pod counts; both
    zero cannot make progress, so unavailable becomes one, as Kubernetes resolves it."""
    spec = deployment.get("spec") or {}
    strategy = spec.get("strategy") or {}
    if (strategy.get("type") or "RollingUpdate") != "RollingUpdate":
        return 0, 0
    rolling = strategy.get("rollingUpdate") or {}
    replicas = int(spec.get("replicas", 1))
    surge = _resolve(rolling.get("maxSurge", "25%"), replicas, math.ceil)
    unavailable = _resolve(rolling.get("maxUnavailable", "25%"), replicas, math.floor)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _resolve(value: int | str, replicas: int, rounding: Any) -> int:
    if isinstance(value, str) and value.endswith("%"):
        return int(rounding(int(value[:-1]) * replicas / 100))
    return int(value)


def _conditions(
    old: Obj, status: Obj, wanted: int, unavailable: int, new: Obj | None, deadline: int | None
) -> list[Obj]:
    name = new["metadata"]["name"] if new else ""
    ok = status["availableReplicas"] >= wanted - unavailable
    done = (
        new is not None and status["updatedReplicas"] == wanted
        and status["replicas"] == wanted and status["availableReplicas"] == wanted
    )  # fmt: skip
    available = (
        ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.") if ok
        else ("False", "MinimumReplicasUnavailable",
              "Deployment does not have minimum availability.")
    )  # fmt: skip
    before = {c.get("type"): c for c in old.get("conditions") or []}
    progressing, moved = _progressing(before.get("Progressing"), old, status, name, done, deadline)
    return [
        _condition(before.get("Available"), "Available", *available),
        _condition(before.get("Progressing"), "Progressing", *progressing, touched=moved),
    ]


def _progressing(
    last: Obj | None, old: Obj, status: Obj, name: str, done: bool, deadline: int | None
) -> tuple[tuple[str, str, str], bool]:
    """The Progressing condition's (status, reason, message), and whether the rollout moved
    (its lastUpdateTime then starts the deadline again). No movement for
    ``progressDeadlineSeconds`` is ProgressDeadlineExceeded, which ``kubectl rollout
    status`` reports as an error; it holds until the rollout moves again."""
    if done:
        return ("True", "NewReplicaSetAvailable",
                f'ReplicaSet "{name}" has successfully progressed.'), False  # fmt: skip
    updating = ("True", UPDATED, f'ReplicaSet "{name}" is progressing.')
    timed_out = ("False", TIMED_OUT, f'ReplicaSet "{name}" has timed out progressing.')
    moved = any(old.get(field) != status.get(field) for field in PROGRESS_FIELDS)
    if last is None or moved or last.get("message") not in (updating[2], timed_out[2]):
        return updating, True
    if last.get("reason") == TIMED_OUT:
        return timed_out, False
    since = parse_time(str(last.get("lastUpdateTime") or ""))
    if deadline is not None and since and time.time() - since > int(deadline):
        return timed_out, False
    return updating, False


def _condition(
    before: Obj | None, kind: str, status: str, reason: str, message: str, touched: bool = False
) -> Obj:
    now = events.now()
    if before is None or before.get("status") != status:
        return {"type": kind, "status": status, "reason": reason, "message": message,
                "lastUpdateTime": now, "lastTransitionTime": now}  # fmt: skip
    same = not touched and before.get("reason") == reason and before.get("message") == message
    return {
        "type": kind, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": before.get("lastUpdateTime", now) if same else now,
        "lastTransitionTime": before.get("lastTransitionTime", now),
    }  # fmt: skip


def _find(deployment: Obj, kind: str) -> Obj | None:
    conditions = (deployment.get("status") or {}).get("conditions") or []
    return next((c for c in conditions if c.get("type") == kind), None)


def _adoptable(rs: Obj) -> bool:
    return not rs["metadata"].get("deletionTimestamp")


def _matching(sets: list[Obj], template: Obj) -> Obj | None:
    found = [rs for rs in sets if _same_template(rs, template)]
    found.sort(key=lambda rs: parse_time(str(rs["metadata"].get("creationTimestamp") or "")))
    return found[0] if found else None


def _same_template(rs: Obj, template: Obj) -> bool:
    return bool(
        without_hash((rs.get("spec") or {}).get("template") or {}) == without_hash(template)
    )


def _revision(rs: Obj) -> int:
    text = str((rs["metadata"].get("annotations") or {}).get(REVISION) or "0")
    return int(text) if text.isdigit() else 0


def _max_revision(sets: list[Obj]) -> int:
    return max((_revision(rs) for rs in sets), default=0)


def _revision_current(deployment: Obj, new: Obj | None) -> bool:
    if new is None:
        return True
    have = (deployment["metadata"].get("annotations") or {}).get(REVISION)
    return bool(have == str(_revision(new)))


def _spec_replicas(rs: Obj) -> int:
    return int((rs.get("spec") or {}).get("replicas", 1))


def _status(rs: Obj | None, field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)
