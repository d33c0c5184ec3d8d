"""The kubelet's side of the API server: pods bound to this node, their status, mirror pods.

Pods come from a list and then a watch of ``spec.nodeName=<node>`` (relisted after a
410 or a broken stream). Statuses the workers compute are written with
``PATCH pods/<name>/status``, coalesced per pod so a burst of changes costs one write.
A pod deleted with a grace period is stopped by its worker and then removed from the
API with grace 0 and its UID as precondition, as the kubelet's status manager does.

Static pods get mirror pods: a copy carrying ``kubernetes.io/config.mirror`` and owned by
the Node, recreated if someone deletes it, deleted when the manifest goes.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
from typing import Any

from kin.errors import APIError
from kin.kube.client import Client
from kin.kubelet import pods
from kin.kubelet.kubelet import Kubelet
from kin.kubelet.nodestatus import NodeAgent

__all__ = ["APIPods"]

log = logging.getLogger("kin.kubelet")
Pod = dict[str, Any]
RETRY = 0.25  # the API server may be starting (on the control plane, by this kubelet)
MIRROR_PERIOD = 2.0


def is_mirror(pod: Pod) -> bool:
    return pods.CONFIG_MIRROR in (pod["metadata"].get("annotations") or {})


def pod_path(pod: Pod, sub: str = "") -> str:
    meta = pod["metadata"]
    return f"/api/v1/namespaces/{meta['namespace']}/pods/{meta['name']}{sub}"


class APIPods:
    def __init__(self, api: Client, kubelet: Kubelet, agent: NodeAgent) -> None:
        self.api = api
        self.kubelet = kubelet
        self.agent = agent
        self.node = agent.name
        self.mirrors: dict[str, Pod] = {}
        """Mirror pods in the API, by ``namespace/name``."""
        self.pending: dict[str, tuple[Pod, dict[str, Any]]] = {}
        self.has_pending = asyncio.Event()
        self.mirror_wake = asyncio.Event()
        kubelet.listeners.append(self.status_changed)
        kubelet.terminated_listeners.append(self.terminated)

    async def run(self) -> None:
        await asyncio.gather(self.watch_loop(), self.status_writer(), self.mirror_loop())

    # -- pods from the API ----------------------------------------------------------------

    async def watch_loop(self) -> None:
        selector = f"spec.nodeName={self.node}"
        while True:
            try:
                listed = await self.api.get("/api/v1/pods", fieldSelector=selector)
                version = listed["metadata"]["resourceVersion"]
                items = listed.get("items") or []
                self.mirrors = {_key(p): p for p in items if is_mirror(p)}
                for mirror in self.mirrors.values():
                    self._mirror_seen(mirror)
                self.kubelet.set_api_pods({pods.uid(p): p for p in items if not is_mirror(p)})
                self.mirror_wake.set()
                async for kind, obj in self.api.watch(
                    "/api/v1/pods", version, fieldSelector=selector
                ):
                    self._event(kind, obj)
            except APIError as exc:
                if exc.code != 410:
                    log.info("pods on %s: %s", self.node, exc.message)
                    await asyncio.sleep(RETRY)

    def _event(self, kind: str, obj: Pod) -> None:
        if kind == "BOOKMARK" or "metadata" not in obj:
            return
        if is_mirror(obj):
            if kind == "DELETED":
                self.mirrors.pop(_key(obj), None)
            else:
                new = _key(obj) not in self.mirrors
                self.mirrors[_key(obj)] = obj
                if new:
                    self._mirror_seen(obj)
            self.mirror_wake.set()
            return
        if kind in ("ADDED", "MODIFIED", "DELETED"):
            self.kubelet.api_pod_changed(pods.with_defaults(obj), deleted=kind == "DELETED")

    # -- status ---------------------------------------------------------------------------

    def status_changed(self, pod: Pod, status: dict[str, Any]) -> None:
        self.pending[pods.uid(pod)] = (pod, status)
        self.has_pending.set()

    async def status_writer(self) -> None:
        while True:
            await self.has_pending.wait()
            self.has_pending.clear()
            batch, self.pending = self.pending, {}
            for uid, (pod, status) in batch.items():
                try:
                    await self._write_status(pod, status)
                except APIError as exc:
                    if exc.code == 404:
                        continue  # the pod is gone: nothing to report to
                    log.warning(
                        "pod %s: status update failed: %s", pods.full_name(pod), exc.message
                    )
                    self.pending.setdefault(uid, (pod, status))
                    self.has_pending.set()
                    await asyncio.sleep(RETRY)

    async def _write_status(self, pod: Pod, status: dict[str, Any]) -> None:
        if pods.is_static(pod):
            mirror = self.mirrors.get(_key(pod))
            if mirror is None:
                return  # written when the mirror pod appears (see _mirror_seen)
            target = mirror
        else:
            target = pod
        # The UID makes it a precondition: never the status of a namesake made since.
        body = {"metadata": {"uid": pods.uid(target)}, "status": status}
        await self.api.patch(pod_path(target, "/status"), body)

    def _mirror_seen(self, mirror: Pod) -> None:
        """A mirror pod appeared: its static pod's status goes to it now."""
        for static in self.kubelet.static.values():
            if _key(static) == _key(mirror):
                status = self.kubelet.statuses.get(pods.uid(static))
                if status is not None:
                    self.status_changed(static, status)

    async def terminated(self, pod: Pod) -> None:
        """A pod being deleted has stopped: let the API server forget it."""
        if pods.is_static(pod):
            return
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": pods.uid(pod)}}  # fmt: skip
        try:
            await self.api.request("DELETE", pod_path(pod), body)
        except APIError as exc:
            if exc.code not in (404, 409):
                log.warning("pod %s: delete failed: %s", pods.full_name(pod), exc.message)

    # -- mirror pods ----------------------------------------------------------------------

    async def mirror_loop(self) -> None:
        await self.agent.registered.wait()
        while True:
            try:
                await self._reconcile_mirrors()
            except APIError as exc:
                log.info("mirror pods: %s", exc.message)
            self.mirror_wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.mirror_wake.wait(), MIRROR_PERIOD)

    async def _reconcile_mirrors(self) -> None:
        wanted = {_key(p): p for p in self.kubelet.static.values()}
        for key, static in wanted.items():
            mirror = self.mirrors.get(key)
            hash_ = static["metadata"]["annotations"][pods.CONFIG_HASH]
            current = mirror is not None and not mirror["metadata"].get("deletionTimestamp")
            if current and mirror["metadata"]["annotations"].get(pods.CONFIG_MIRROR) == hash_:  # type: ignore[index]
                continue
            if mirror is not None:
                await self._delete_mirror(mirror)
            created = await self._create_mirror(static, hash_)
            if created is not None:
                self.mirrors[key] = created
                status = self.kubelet.statuses.get(pods.uid(static))
                if status is not None:
                    self.status_changed(static, status)
        for key, mirror in list(self.mirrors.items()):
            if key not in wanted:
                await self._delete_mirror(mirror)
                self.mirrors.pop(key, None)

    async def _create_mirror(self, static: Pod, hash_: str) -> Pod | None:
        body = copy.deepcopy(static)
        meta = body["metadata"]
        for field in ("uid", "resourceVersion", "creationTimestamp"):
            meta.pop(field, None)
        meta["annotations"][pods.CONFIG_MIRROR] = hash_
        meta["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": self.node,
                                    "uid": self.agent.uid, "controller": True}]  # fmt: skip
        body.pop("status", None)
        try:
            created = await self.api.create(f"/api/v1/namespaces/{meta['namespace']}/pods", body)
        except APIError as exc:
            if exc.code == 409:
                return None  # there already: the watch brings it
            raise
        log.info("mirror pod %s created", pods.full_name(static))
        return created

    async def _delete_mirror(self, mirror: Pod) -> None:
        body = {"apiVersion": "v1", "kind": "DeleteOptions", "gracePeriodSeconds": 0,
                "preconditions": {"uid": pods.uid(mirror)}}  # fmt: skip
        try:
            await self.api.request("DELETE", pod_path(mirror), body)
            log.info("mirror pod %s deleted", pods.full_name(mirror))
        except APIError as exc:
            if exc.code not in (404, 409):
                raise


def _key(pod: Pod) -> str:
    meta = pod["metadata"]
    return f"{meta.get('namespace', 'default')}/{meta['name']}"
