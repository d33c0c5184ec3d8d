"""The PersistentVolume controller: binds claims to volumes, as kube-controller-manager's
persistentvolume-binder does.

A claim without ``storageClassName`` gets the default StorageClass (the one annotated
``storageclass.kubernetes.io/is-default-class: "true"``). An unbound claim is bound to the
smallest Available volume of its class that has its access modes, size and volume mode
(and, for ``WaitForFirstConsumer``, only once the scheduler chose its node, to a volume
that node can reach); with none, a class with a provisioner gets the claim annotated
``volume.kubernetes.io/storage-provisioner`` (after the node is chosen for
``WaitForFirstConsumer``) and the provisioner makes a volume pre-bound to it. Binding
writes the volume's ``claimRef`` and the claim's ``volumeName``, then both statuses
``Bound``; a volume whose claim is gone becomes ``Released`` (``Retain``) or is left to
its provisioner to delete (``Delete``).
"""

from __future__ import annotations

import logging
from typing import Any

from kin.controller_manager.controller import Controller, Informers
from kin.kube import events
from kin.kube.client import Client
from kin.kube.informer import key_of
from kin.kube.matching import node_selector_matches
from kin.kube.quantity import parse_quantity

__all__ = ["BINDING_MODE", "PersistentVolumeController", "default_class", "fits"]

log = logging.getLogger("kin.controller_manager")
Obj = dict[str, Any]
CLAIMS = "/api/v1/persistentvolumeclaims"
VOLUMES = "/api/v1/persistentvolumes"
CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
NODES = "/api/v1/nodes"
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
SELECTED_NODE = "volume.kubernetes.io/selected-node"
PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
BINDING_MODE = "volumeBindingMode"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
COMPONENT = "persistentvolume-controller"


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"
    workers = 1  # one binder: two could give one volume to two claims

    def __init__(self, api: Client, informers: Informers) -> None:
        super().__init__(api, informers)
        self.claims = self.watch(CLAIMS)
        self.volumes = self.watch(VOLUMES)
        self.classes = self.watch(CLASSES)
        self.nodes = self.watch(NODES)
        self.told: set[tuple[str, str]] = set()
        """(claim uid, event reason) already recorded."""
        self.claims.add_handler(self._claim_changed)
        self.volumes.add_handler(self._volume_changed)
        self.classes.add_handler(lambda kind, obj: self._all_claims())

    async def resync_all(self) -> None:
        self._all_claims()
        for key in self.volumes.objects:
            self.enqueue(f"volume:{key}")

    def _claim_changed(self, kind: str, pvc: Obj) -> None:
        if kind == "DELETED":
            uid = str(pvc["metadata"].get("uid"))
            self.told = {seen for seen in self.told if seen[0] != uid}
        self.enqueue(f"claim:{key_of(pvc)}")
        claimed = (pvc.get("spec") or {}).get("volumeName")
        if claimed:  # the volume may be Released now
            self.enqueue(f"volume:{claimed}")

    def _all_claims(self) -> None:
        for key in self.claims.objects:
            self.enqueue(f"claim:{key}")

    def _volume_changed(self, kind: str, pv: Obj) -> None:
        self.enqueue(f"volume:{key_of(pv)}")
        claim = (pv.get("spec") or {}).get("claimRef")
        if claim:
            self.enqueue(f"claim:{claim.get('namespace')}/{claim.get('name')}")
        else:
            self._all_claims()  # a new Available volume may fit a waiting claim

    async def sync(self, key: str) -> None:
        kind, _, name = key.partition(":")
        if kind == "claim":
            await self._sync_claim(name)
        else:
            await self._sync_volume(name)

    # -- claims -----------------------------------------------------------------------------

    async def _sync_claim(self, key: str) -> None:
        pvc = self.claims.objects.get(key)
        if pvc is None or pvc["metadata"].get("deletionTimestamp"):
            return
        spec = pvc.get("spec") or {}
        if "storageClassName" not in spec:
            chosen = default_class(list(self.classes.objects.values()))
            if chosen is not None:
                await self._patch_claim(pvc, {"spec": {"storageClassName": chosen}})
            return  # the patch wakes this claim again
        if spec.get("volumeName"):
            await self._complete_binding(pvc)
            return
        sc = self.classes.objects.get(str(spec.get("storageClassName") or ""))
        waits = bool(sc) and (sc or {}).get(BINDING_MODE) == "WaitForFirstConsumer"
        node_name = (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if waits and not node_name:
            await self._event(
                pvc,
                "WaitForFirstConsumer",
                "waiting for first consumer to be created before binding",
            )
            return
        node = self.nodes.objects.get(str(node_name)) if node_name else None
        volume = self._best_volume(pvc, node)
        if volume is not None:
            await self._bind(pvc, volume)
        elif sc and sc.get("provisioner") not in (None, "", NO_PROVISIONER):
            await self._ask_provisioner(pvc, str(sc["provisioner"]))

    def _best_volume(self, pvc: Obj, node: Obj | None) -> Obj | None:
        candidates = [
            pv for pv in self.volumes.objects.values()
            if fits(pv, pvc) and (node is None or _reachable(pv, node))
        ]  # fmt: skip
        candidates.sort(key=lambda pv: parse_quantity(str(_capacity(pv))))
        return candidates[0] if candidates else None

    async def _ask_provisioner(self, pvc: Obj, provisioner: str) -> None:
        annotations = pvc["metadata"].get("annotations") or {}
        if annotations.get(PROVISIONER) == provisioner:
            return
        await self._patch_claim(
            pvc, {"metadata": {"annotations": {PROVISIONER: provisioner,
                                               BETA_PROVISIONER: provisioner}}},
        )  # fmt: skip
        await self._event(pvc, "ExternalProvisioning",
                          f"Waiting for a volume to be created either by the external "
                          f"provisioner '{provisioner}' or manually by the system administrator. "
                          "If volume creation is delayed, please verify that the provisioner "
                          "is running and correctly registered.")  # fmt: skip

    async def _bind(self, pvc: Obj, pv: Obj) -> None:
        meta = pvc["metadata"]
        claim_ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1",
                     "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
                     "resourceVersion": meta.get("resourceVersion")}  # fmt: skip
        annotations = {"pv.kubernetes.io/bound-by-controller": "yes"}
        version = pv["metadata"].get("resourceVersion")
        body = {"spec": {"claimRef": claim_ref},
                "metadata": {"resourceVersion": version, "annotations": annotations}}  # fmt: skip
        self.volumes.remember(await self.api.patch(f"{VOLUMES}/{pv['metadata']['name']}", body))
        log.info("claim %s/%s: bound to volume %s", meta["namespace"], meta["name"],
                 pv["metadata"]["name"])  # fmt: skip
        await self._complete_binding(pvc, pv["metadata"]["name"])

    async def _complete_binding(self, pvc: Obj, volume_name: str = "") -> None:
        """The claim names its volume, and both statuses say Bound."""
        name = volume_name or str(pvc["spec"]["volumeName"])
        pv = self.volumes.objects.get(name)
        claim_ref = ((pv or {}).get("spec") or {}).get("claimRef") or {}
        if pv is None or claim_ref.get("uid") not in (None, pvc["metadata"]["uid"]):
            return  # not (yet) ours: the volume's sync says Lost or Available
        if pvc["spec"].get("volumeName") != name:
            pvc = await self._patch_claim(pvc, {
                "spec": {"volumeName": name},
                "metadata": {"annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                             "pv.kubernetes.io/bound-by-controller": "yes"}},
            })  # fmt: skip
        await self._set_volume_phase(pv, "Bound")
        status = {"phase": "Bound", "accessModes": pv["spec"].get("accessModes") or [],
                  "capacity": pv["spec"].get("capacity") or {}}  # fmt: skip
        if any((pvc.get("status") or {}).get(k) != v for k, v in status.items()):
            meta = pvc["metadata"]
            path = f"/api/v1/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}"
            self.claims.remember(await self.api.patch(f"{path}/status", {"status": status}))

    async def _patch_claim(self, pvc: Obj, body: Obj) -> Obj:
        meta = pvc["metadata"]
        path = f"/api/v1/namespaces/{meta['namespace']}/persistentvolumeclaims/{meta['name']}"
        updated = await self.api.patch(path, body)
        self.claims.remember(updated)
        return updated

    # -- volumes ----------------------------------------------------------------------------

    async def _sync_volume(self, name: str) -> None:
        pv = self.volumes.objects.get(name)
        if pv is None or pv["metadata"].get("deletionTimestamp"):
            return
        claim_ref = (pv.get("spec") or {}).get("claimRef")
        if not claim_ref:
            await self._set_volume_phase(pv, "Available")
            return
        key = f"{claim_ref.get('namespace')}/{claim_ref.get('name')}"
        pvc = self.claims.objects.get(key)
        if pvc is not None and claim_ref.get("uid") in (None, pvc["metadata"]["uid"]):
            if (pvc.get("spec") or {}).get("volumeName") == name:
                await self._set_volume_phase(pv, "Bound")
            else:
                self.enqueue(f"claim:{key}")  # pre-bound by a provisioner: the claim binds
            return
        if pvc is None and (pv.get("status") or {}).get("phase") in ("Bound", "Released"):
            await self._set_volume_phase(pv, "Released")

    async def _set_volume_phase(self, pv: Obj, phase: str) -> None:
        if (pv.get("status") or {}).get("phase") == phase:
            return
        path = f"{VOLUMES}/{pv['metadata']['name']}/status"
        self.volumes.remember(await self.api.patch(path, {"status": {"phase": phase}}))
        log.info("volume %s: %s", pv["metadata"]["name"], phase)

    async def _event(self, pvc: Obj, reason: str, message: str) -> None:
        """Once per claim and reason: a waiting claim is synced again and again."""
        seen = (str(pvc["metadata"].get("uid")), reason)
        if seen in self.told:
            return
        self.told.add(seen)
        about = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", **pvc}
        await events.record(self.api, about, reason, message, component=COMPONENT)


def default_class(classes: list[Obj]) -> str | None:
    """The default StorageClass's name (the newest, if several claim to be)."""
    marked = [c for c in classes
              if (c["metadata"].get("annotations") or {}).get(DEFAULT_CLASS) == "true"]  # fmt: skip
    marked.sort(key=lambda c: str(c["metadata"].get("creationTimestamp") or ""))
    return str(marked[-1]["metadata"]["name"]) if marked else None


def fits(pv: Obj, pvc: Obj) -> bool:
    """An Available volume ``pvc`` may have: its class, access modes, size and mode."""
    spec, wanted = pv.get("spec") or {}, pvc.get("spec") or {}
    claim_ref = spec.get("claimRef")
    if claim_ref and claim_ref.get("uid") not in (None, pvc["metadata"].get("uid")):
        return False
    if claim_ref and (claim_ref.get("namespace"), claim_ref.get("name")) != (
        pvc["metadata"].get("namespace"),
        pvc["metadata"].get("name"),
    ):
        return False
    if (pv.get("status") or {}).get("phase") not in (None, "", "Pending", "Available"):
        return False
    if (spec.get("storageClassName") or "") != (wanted.get("storageClassName") or ""):
        return False
    if not set(wanted.get("accessModes") or []) <= set(spec.get("accessModes") or []):
        return False
    if (spec.get("volumeMode") or "Filesystem") != (wanted.get("volumeMode") or "Filesystem"):
        return False
    request = ((wanted.get("resources") or {}).get("requests") or {}).get("storage", "0")
    return parse_quantity(str(_capacity(pv))) >= parse_quantity(str(request))


def _capacity(pv: Obj) -> str:
    return str(((pv.get("spec") or {}).get("capacity") or {}).get("storage") or "0")


def _reachable(pv: Obj, node: Obj) -> bool:
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")) or None
    if required is None:
        return True
    as_pod = {"spec": {"affinity": {"nodeAffinity": {
        "requiredDuringSchedulingIgnoredDuringExecution": required}}}}  # fmt: skip
    return node_selector_matches(as_pod, node)
