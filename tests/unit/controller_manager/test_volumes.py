"""The PersistentVolume binder and the local-path provisioner against kin's real API
server: default classes, binding to the smallest fitting volume, provisioning on the
node the scheduler chose, and a Released volume's directory removed by a helper pod."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from kin.kube.client import Client
from kin.testing.apiserver import InProcessServer
from kin.testing.controllers import controllers, eventually, get_or_none, gone

pytestmark = pytest.mark.unit
Obj = dict[str, Any]
CLAIMS = "/api/v1/namespaces/default/persistentvolumeclaims"
VOLUMES = "/api/v1/persistentvolumes"
CLASSES = "/apis/storage.k8s.io/v1/storageclasses"
BINDERS = ["persistentvolume-binder", "localpath"]


def storage_class(name: str, mode: str, default: bool = False, provisioner: str = "") -> Obj:
    annotations = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
            "metadata": {"name": name, "annotations": annotations},
            "provisioner": provisioner or "rancher.io/local-path",
            "volumeBindingMode": mode}  # fmt: skip


def claim(name: str, size: str = "1Gi", cls: str | None = None) -> Obj:
    spec: Obj = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": size}}}
    if cls is not None:
        spec["storageClassName"] = cls
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": spec}  # fmt: skip


def volume(name: str, size: str, cls: str) -> Obj:
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"],
                     "hostPath": {"path": f"/tmp/{name}"}, "storageClassName": cls}}  # fmt: skip


async def bound(api: Client, name: str) -> Obj | None:
    pvc = await api.get(f"{CLAIMS}/{name}")
    return pvc if (pvc.get("status") or {}).get("phase") == "Bound" else None


def test_a_claim_binds_to_the_smallest_volume_that_fits(server: InProcessServer) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=BINDERS) as api:
            await api.create(
                CLASSES,
                storage_class("manual", "Immediate", provisioner="kubernetes.io/no-provisioner"),
            )
            for name, size in (("small", "500Mi"), ("big", "5Gi"), ("fits", "2Gi")):
                await api.create(VOLUMES, volume(name, size, "manual"))
            await api.create(CLAIMS, claim("data", "1Gi", "manual"))
            pvc = await eventually(lambda: bound(api, "data"))
            assert pvc["spec"]["volumeName"] == "fits"
            assert pvc["status"]["capacity"] == {"storage": "2Gi"}
            pv = await eventually(lambda: _phase(api, "fits", "Bound"))
            assert pv["spec"]["claimRef"]["name"] == "data"
            assert (await api.get(f"{VOLUMES}/small"))["status"]["phase"] == "Available"
            await api.delete(f"{CLAIMS}/data")
            await eventually(lambda: _phase(api, "fits", "Released"))  # Retain: kept

    asyncio.run(scenario())


def test_local_path_provisions_on_the_chosen_node_and_cleans_up(server: InProcessServer) -> None:
    async def scenario() -> None:
        async with controllers(server, controllers=BINDERS) as api:
            await api.create(CLASSES, storage_class("standard", "WaitForFirstConsumer", True))
            await api.create(CLAIMS, claim("data"))
            pvc = await eventually(lambda: _with_class(api, "data"))
            assert pvc["spec"]["storageClassName"] == "standard"  # the default class
            await asyncio.sleep(0.2)
            assert (await api.get(VOLUMES))["items"] == []  # waits for its first consumer
            selected = {"metadata": {"annotations": {
                "volume.kubernetes.io/selected-node": "kin-w1"}}}  # fmt: skip
            await api.patch(f"{CLAIMS}/data", selected)  # as the scheduler does
            pvc = await eventually(lambda: bound(api, "data"))
            pv = await api.get(f"{VOLUMES}/{pvc['spec']['volumeName']}")
            path = pv["spec"]["hostPath"]["path"]
            assert path == f"/var/local-path-provisioner/pvc-{pvc['metadata']['uid']}_default_data"
            terms = pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"]
            assert terms[0]["matchExpressions"][0]["values"] == ["kin-w1"]
            assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == (
                "rancher.io/local-path"
            )
            await api.delete(f"{CLAIMS}/data")
            helper_path = (f"/api/v1/namespaces/local-path-storage/pods/"
                           f"helper-pod-delete-{pv['metadata']['name']}")  # fmt: skip
            helper = await eventually(lambda: get_or_none(api, helper_path))
            assert (
                helper["spec"]["nodeName"] == "kin-w1"
                and path in helper["spec"]["containers"][0]["command"]
            )
            await api.patch(f"{helper_path}/status", {"status": {"phase": "Succeeded"}})
            await eventually(lambda: gone(api, f"{VOLUMES}/{pv['metadata']['name']}"))

    asyncio.run(scenario())


async def _phase(api: Client, name: str, phase: str) -> Obj | None:
    pv = await api.get(f"{VOLUMES}/{name}")
    return pv if (pv.get("status") or {}).get("phase") == phase else None


async def _with_class(api: Client, name: str) -> Obj | None:
    pvc = await api.get(f"{CLAIMS}/{name}")
    return pvc if pvc["spec"].get("storageClassName") else None
