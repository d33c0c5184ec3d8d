"""kin's local-path provisioner: the volumes behind kind's ``standard`` StorageClass.

As Rancher's local-path-provisioner (``rancher.io/local-path``), which kind installs: a
claim of its class that the binder hands to it (annotated
``volume.kubernetes.io/storage-provisioner``, and for ``WaitForFirstConsumer`` with the node
the scheduler chose) gets a PersistentVolume ``pvc-<claim uid>``: a ``hostPath``
directory ``/var/local-path-provisioner/pvc-<uid>_<namespace>_<name>`` on that node
(created by the kubelet when a pod mounts it), node affinity on the node's hostname,
pre-bound to the claim. A Released volume with the ``Delete`` policy has its directory
removed by a helper pod on its node (``helper-pod-delete-<volume>`` in
``local-path-storage``, as Rancher's), then goes. It runs in the controller manager
(``--controllers`` name ``localpath``) rather than as a Deployment of its own.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.controller_manager.volumes import (
    CLAIMS,
    CLASSES,
    PROVISIONER,
    SELECTED_NODE,
    VOLUMES,
)
from kin.errors import APIError
from kin.kube import events
from kin.kube.client import Client
from kin.kube.informer import key_of

__all__ = ["LOCAL_PATH", "LocalPathProvisioner", "volume_for"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
LOCAL_PATH = "rancher.io/local-path"
BASE_DIR = "/var/local-path-provisioner"
HELPER_NAMESPACE = "local-path-storage"
PODS = "/api/v1/pods"
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"


class LocalPathProvisioner(Controller):
    name = "localpath"
    workers = 1

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.claims = self.watch(CLAIMS)
        self.volumes = self.watch(VOLUMES)
        self.classes = self.watch(CLASSES)
        self.pods = self.watch(PODS)
        self.claims.add_handler(lambda kind, obj: self.enqueue(f"claim:{key_of(obj)}"))
        self.volumes.add_handler(lambda kind, obj: self.enqueue(f"volume:{key_of(obj)}"))
        self.pods.add_handler(self._helper_changed)

    async def resync_all(self) -> None:
        for key in self.claims.objects:
            self.enqueue(f"claim:{key}")
        for key in self.volumes.objects:
            self.enqueue(f"volume:{key}")

    def _helper_changed(self, kind: str, pod: Obj) -> None:
        volume = (pod["metadata"].get("labels") or {}).get("kin.dev/helper-for")
        if volume:
            self.enqueue(f"volume:{volume}")

    async def sync(self, key: str) -> None:
        kind, _, name = key.partition(":")
        if kind == "claim":
            await self._provision(name)
        else:
            await self._reclaim(name)

    async def _provision(self, key: str) -> None:
        pvc = self.claims.objects.get(key)
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            return
        annotations = pvc["metadata"].get("annotations") or {}
        if annotations.get(PROVISIONER) != LOCAL_PATH or (pvc.get("spec") or {}).get("volumeName"):
            return
        name = f"pvc-{pvc['metadata']['uid']}"
        if name in self.volumes.objects:
            return
        node = annotations.get(SELECTED_NODE)
        sc = self.classes.objects.get(str(pvc["spec"].get("storageClassName") or ""))
        if not node or sc is None:
            return  # local volumes need the node the scheduler chose
        try:
            created = await self.api.create(VOLUMES, volume_for(pvc, sc, str(node)))
        except APIError as exc:
            if exc.code != 409:
                raise
            return
        self.volumes.remember(created)
        log.info("claim %s: provisioned %s on %s", key, name, node)
        about = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", **pvc}
        await events.record(self.api, about, "ProvisioningSucceeded",
                            f"Successfully provisioned volume {name}",
                            component=f"{LOCAL_PATH}_kin")  # fmt: skip

    async def _reclaim(self, name: str) -> None:
        pv = self.volumes.objects.get(name)
        if (
            pv is None
            or (pv["metadata"].get("annotations") or {}).get(PROVISIONED_BY) != LOCAL_PATH
        ):
            return
        spec = pv.get("spec") or {}
        released = (pv.get("status") or {}).get("phase") == "Released"
        if not released or spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        helper = self.pods.objects.get(f"{HELPER_NAMESPACE}/helper-pod-delete-{name}")
        if helper is None:
            await self._start_helper(pv)
            return
        phase = (helper.get("status") or {}).get("phase")
        if phase == "Succeeded":
            await _delete_quietly(self.api, f"{VOLUMES}/{name}")
            await _delete_quietly(
                self.api, f"/api/v1/namespaces/{HELPER_NAMESPACE}/pods/helper-pod-delete-{name}"
            )
            log.info("volume %s: deleted with its directory", name)

    async def _start_helper(self, pv: Obj) -> None:
        name = pv["metadata"]["name"]
        path = str(pv["spec"].get("hostPath", {}).get("path") or "")
        node = _node_of(pv)
        if not path.startswith(BASE_DIR + "/") or not node:
            return  # never remove anything outside the provisioner's directory
        await _ensure_namespace(self.api)
        pod = {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": f"helper-pod-delete-{name}", "namespace": HELPER_NAMESPACE,
                         "labels": {"kin.dev/helper-for": name}},
            "spec": {
                "nodeName": node, "restartPolicy": "Never",
                "tolerations": [{"operator": "Exists"}],
                "containers": [{
                    "name": "helper-pod", "image": "busybox",
                    "command": [sys.executable, "-c",
                                "import shutil, sys; shutil.rmtree(sys.argv[1], True)", path],
                    "volumeMounts": [{"name": "data", "mountPath": BASE_DIR}],
                }],
                "volumes": [{"name": "data", "hostPath": {"path": BASE_DIR,
                                                          "type": "DirectoryOrCreate"}}],
            },
        }  # fmt: skip
        try:
            self.pods.remember(await self.api.create(
                f"/api/v1/namespaces/{HELPER_NAMESPACE}/pods", pod))  # fmt: skip
        except APIError as exc:
            if exc.code != 409:
                raise


def volume_for(pvc: Obj, sc: Obj, node: str) -> Obj:
    meta, spec = pvc["metadata"], pvc["spec"]
    name = f"pvc-{meta['uid']}"
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    on_node = {"nodeSelectorTerms": [{"matchExpressions": [
        {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}  # fmt: skip
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": name, "annotations": {
            PROVISIONED_BY: LOCAL_PATH, "local.path.provisioner/selected-node": node}},
        "spec": {
            "capacity": {"storage": storage},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode") or "Filesystem",
            "hostPath": {"path": f"{BASE_DIR}/{name}_{meta['namespace']}_{meta['name']}",
                         "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": on_node},
            "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                         "namespace": meta["namespace"], "name": meta["name"],
                         "uid": meta["uid"]},
        },
    }  # fmt: skip


def _node_of(pv: Obj) -> str:
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {}
    for term in required.get("nodeSelectorTerms") or []:
        for expression in term.get("matchExpressions") or []:
            if expression.get("key") == "kubernetes.io/hostname" and expression.get("values"):
                return str(expression["values"][0])
    return ""


async def _ensure_namespace(api: Client) -> None:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": HELPER_NAMESPACE}}
    try:
        await api.create("/api/v1/namespaces", body)
    except APIError as exc:
        if exc.code != 409:
            raise


async def _delete_quietly(api: Client, path: str) -> None:
    try:
        await api.delete(path)
    except APIError as exc:
        if exc.code != 404:
            raise
