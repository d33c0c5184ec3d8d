"""Deletion as Kubernetes does it: preconditions, graceful pods, finalizers, propagation.

* A pod bound to a node is deleted gracefully: it gets ``deletionTimestamp`` and
  ``deletionGracePeriodSeconds`` and stays until its kubelet deletes it with grace 0
  (or a client forces it). An unbound or finished pod goes at once.
* An object with finalizers gets ``deletionTimestamp`` and goes when the last finalizer is
  removed (see ``Registry``). ``propagationPolicy`` Foreground and Orphan add the
  ``foregroundDeletion`` and ``orphan`` finalizers, which this module then honours.
* Background propagation (the default) deletes the owner at once and its dependents
  (objects whose ``ownerReferences`` name its uid) right after — the garbage collector's
  job, done in-process until kin has a controller manager.
* A namespace is Terminating until everything in it is gone; then it goes too.
  ``default``, ``kube-system`` and ``kube-public`` may not be deleted (403).
"""

from __future__ import annotations

import asyncio
import datetime
import logging
from typing import TYPE_CHECKING, Any

from kin.apiserver import errors
from kin.apiserver.objectmeta import meta, now_rfc3339
from kin.apiserver.resources import CATALOG, Resource
from kin.apiserver.strategies.pods import pod_is_bound, pod_is_terminal

if TYPE_CHECKING:
    from kin.apiserver.registry import Registry, WriteOptions

__all__ = ["Deleter"]

log = logging.getLogger(__name__)
Obj = dict[str, Any]
FOREGROUND, ORPHAN, NAMESPACE_FINALIZER = "foregroundDeletion", "orphan", "kubernetes"
SETTLE_POLL = 0.2
IMMORTAL_NAMESPACES = ("default", "kube-system", "kube-public")
"""What the NamespaceLifecycle admission plugin never lets anyone delete."""


class Deleter:
    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.tasks: set[asyncio.Task[None]] = set()

    async def delete(
        self, res: Resource, namespace: str, name: str, options: Obj, opts: WriteOptions
    ) -> Obj:
        obj = await self.registry.get(res, namespace, name)
        if res.plural == "namespaces" and res.group == "" and name in IMMORTAL_NAMESPACES:
            message = f'namespaces "{name}" is forbidden: this namespace may not be deleted'
            raise errors.APIError(403, "Forbidden", message, {"name": name, "kind": "namespaces"})
        _check_preconditions(res, obj, options.get("preconditions") or {})
        if opts.dry_run:
            return obj
        if res.plural == "pods" and res.group == "":
            graceful = await self._graceful_pod(res, namespace, obj, options, opts)
            if graceful is not None:
                return graceful
        policy = _policy(options)
        finalizers = list(meta(obj).get("finalizers") or [])
        if policy in (FOREGROUND, ORPHAN) and policy not in finalizers:
            finalizers.append(FOREGROUND if policy == FOREGROUND else ORPHAN)
        if res.plural == "namespaces" and res.group == "":
            return await self._terminate_namespace(res, obj, opts)
        if finalizers:
            return await self._mark(res, namespace, obj, finalizers, opts)
        return await self._remove(res, namespace, obj)

    async def _remove(self, res: Resource, namespace: str, obj: Obj) -> Obj:
        gone = await self.registry.remove(res, namespace, str(meta(obj)["name"]))
        self._spawn(self._delete_dependents(res, gone))
        return gone

    # -- pods --------------------------------------------------------------------------------

    async def _graceful_pod(
        self, res: Resource, namespace: str, pod: Obj, options: Obj, opts: WriteOptions
    ) -> Obj | None:
        """Mark a running pod for its kubelet; None when it should go at once."""
        grace = options.get("gracePeriodSeconds")
        if grace is None:
            grace = (pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30)
        if grace == 0 or not pod_is_bound(pod) or pod_is_terminal(pod):
            return None
        grace = max(int(grace), 1)  # a negative grace period means 1 s, as in kube
        current = meta(pod).get("deletionGracePeriodSeconds")
        if current is not None and current <= grace:
            return pod
        deadline = datetime.datetime.now(datetime.UTC) + datetime.timedelta(seconds=int(grace))

        def mark(obj: Obj) -> Obj:
            meta(obj)["deletionTimestamp"] = deadline.strftime("%Y-%m-%dT%H:%M:%SZ")
            meta(obj)["deletionGracePeriodSeconds"] = int(grace)
            return obj

        return await self.registry.replace_with(
            res, namespace, str(meta(pod)["name"]), mark, opts, allow_deletion_fields=True
        )

    # -- finalizers and propagation -------------------------------------------------------------

    async def _mark(
        self, res: Resource, namespace: str, obj: Obj, finalizers: list[str], opts: WriteOptions
    ) -> Obj:
        def mark(current: Obj) -> Obj:
            """Deleted now but for the finalizers: a graceful deletion in progress (a pod
            deleted again with grace 0) ends, so the last finalizer's removal finishes it."""
            metadata = meta(current)
            metadata["finalizers"] = finalizers
            if metadata.get("deletionGracePeriodSeconds") or not metadata.get("deletionTimestamp"):
                metadata["deletionTimestamp"] = now_rfc3339()
            metadata["deletionGracePeriodSeconds"] = 0
            return current

        marked = await self.registry.replace_with(
            res, namespace, str(meta(obj)["name"]), mark, opts, allow_deletion_fields=True
        )
        if ORPHAN in finalizers:
            self._spawn(self._orphan(res, namespace, marked))
        if FOREGROUND in finalizers:
            self._spawn(self._foreground(res, namespace, marked))
        return marked

    async def _orphan(self, res: Resource, namespace: str, owner: Obj) -> None:
        uid = meta(owner)["uid"]
        for dep_res, dep in await self.dependents(res, owner):
            await self.registry.replace_with(
                dep_res, _ns(dep), _name(dep), _drop_owner(uid), _internal()
            )
        await self._release(res, namespace, owner, ORPHAN)

    async def _foreground(self, res: Resource, namespace: str, owner: Obj) -> None:
        await self._delete_dependents(res, owner)
        while await self.dependents(res, owner):
            await asyncio.sleep(SETTLE_POLL)
        await self._release(res, namespace, owner, FOREGROUND)

    async def _release(self, res: Resource, namespace: str, owner: Obj, finalizer: str) -> None:
        def drop(obj: Obj) -> Obj:
            meta(obj)["finalizers"] = [
                f for f in meta(obj).get("finalizers") or [] if f != finalizer
            ]
            return obj

        try:
            await self.registry.replace_with(res, namespace, _name(owner), drop, _internal())
        except errors.APIError as exc:
            if exc.code != 404:
                raise

    async def _delete_dependents(self, res: Resource, owner: Obj) -> None:
        for dep_res, dep in await self.dependents(res, owner):
            try:
                await self.delete(dep_res, _ns(dep), _name(dep), {}, _internal())
            except errors.APIError as exc:
                if exc.code != 404:
                    log.warning(
                        "deleting dependent %s/%s failed: %s", dep_res.plural, _name(dep), exc
                    )

    async def dependents(self, res: Resource, owner: Obj) -> list[tuple[Resource, Obj]]:
        """Objects whose ownerReferences name ``owner``'s uid (same namespace, or any for
        cluster-scoped owners)."""
        from kin.apiserver.registry import ListOptions

        uid = meta(owner).get("uid")
        namespace = str(meta(owner).get("namespace", ""))
        found = []
        for candidate in _storable():
            items, _, _ = await self.registry.list(
                candidate, namespace if candidate.namespaced else "", ListOptions()
            )
            found += [
                (candidate, o)
                for o in items
                if any(r.get("uid") == uid for r in meta(o).get("ownerReferences") or [])
            ]
        return found

    # -- namespaces ------------------------------------------------------------------------------

    async def _terminate_namespace(self, res: Resource, ns: Obj, opts: WriteOptions) -> Obj:
        def terminate(obj: Obj) -> Obj:
            meta(obj).setdefault("deletionTimestamp", now_rfc3339())
            meta(obj).setdefault("deletionGracePeriodSeconds", 0)
            obj.setdefault("status", {})["phase"] = "Terminating"
            return obj

        marked = await self.registry.replace_with(
            res, "", _name(ns), terminate, opts, allow_deletion_fields=True, status_too=True
        )
        self._spawn(self._empty_namespace(res, _name(ns)))
        return marked

    async def _empty_namespace(self, res: Resource, name: str) -> None:
        """The namespace controller's job, in-process: delete everything, then the namespace."""
        from kin.apiserver.registry import ListOptions

        while True:
            remaining = 0
            for candidate in _storable():
                if not candidate.namespaced:
                    continue
                items, _, _ = await self.registry.list(candidate, name, ListOptions())
                remaining += len(items)
                for obj in items:
                    if not meta(obj).get("deletionTimestamp"):
                        await self._quietly_delete(candidate, name, obj)
            if remaining == 0:
                break
            await asyncio.sleep(SETTLE_POLL)
        await self._finalize_namespace(res, name)

    async def _quietly_delete(self, res: Resource, namespace: str, obj: Obj) -> None:
        try:
            await self.delete(res, namespace, _name(obj), {}, _internal())
        except errors.APIError as exc:
            if exc.code != 404:
                log.warning(
                    "namespace %s: deleting %s/%s failed: %s",
                    namespace,
                    res.plural,
                    _name(obj),
                    exc,
                )

    async def _finalize_namespace(self, res: Resource, name: str) -> None:
        def finalize(obj: Obj) -> Obj:
            spec = obj.setdefault("spec", {})
            spec["finalizers"] = [
                f for f in spec.get("finalizers") or [] if f != NAMESPACE_FINALIZER
            ]
            return obj

        ns = await self.registry.replace_with(res, "", name, finalize, _internal(), status_too=True)
        if not (ns.get("spec") or {}).get("finalizers") and not meta(ns).get("finalizers"):
            await self.registry.remove(res, "", name)

    def _spawn(self, coro: Any) -> None:
        task: asyncio.Task[None] = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self.tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("deletion task failed: %s", task.exception())


def _storable() -> list[Resource]:
    """Every resource with its own storage (events.k8s.io shares core events')."""
    return [r for r in CATALOG if r.group != "events.k8s.io" and "list" in r.verbs]


def _policy(options: Obj) -> str:
    policy = options.get("propagationPolicy")
    if options.get("orphanDependents") is True:
        return ORPHAN
    return {"Foreground": FOREGROUND, "Orphan": ORPHAN}.get(str(policy), "Background")


def _check_preconditions(res: Resource, obj: Obj, pre: Obj) -> None:
    for key in ("uid", "resourceVersion"):
        wanted, actual = pre.get(key), meta(obj).get(key)
        if wanted and wanted != actual:
            label = "UID" if key == "uid" else "ResourceVersion"
            why = (
                f"Precondition failed: {label} in precondition: {wanted}, "
                f"{label} in object meta: {actual}"
            )
            raise errors.conflict(res.plural, _name(obj), res.group, why)


def _drop_owner(uid: str) -> Any:
    def drop(obj: Obj) -> Obj:
        refs = [r for r in meta(obj).get("ownerReferences") or [] if r.get("uid") != uid]
        if refs:
            meta(obj)["ownerReferences"] = refs
        else:
            meta(obj).pop("ownerReferences", None)
        return obj

    return drop


def _internal() -> WriteOptions:
    from kin.apiserver.registry import WriteOptions

    return WriteOptions(manager="kin-apiserver")


def _ns(obj: Obj) -> str:
    return str(meta(obj).get("namespace", ""))


def _name(obj: Obj) -> str:
    return str(meta(obj)["name"])
