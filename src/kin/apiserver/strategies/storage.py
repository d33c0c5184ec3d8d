"""PersistentVolumes, PersistentVolumeClaims and StorageClasses: their defaults, their
first status, and the checks kube-apiserver makes that a volume and a claim need."""

from __future__ import annotations

from kin.apiserver.errors import cause
from kin.apiserver.strategies.base import Causes, Obj, Strategy

__all__ = ["PersistentVolumeClaimStrategy", "PersistentVolumeStrategy", "StorageClassStrategy"]

ACCESS_MODES = ("ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod")
RECLAIM_POLICIES = ("Retain", "Delete", "Recycle")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
SOURCES = (
    "gcePersistentDisk", "awsElasticBlockStore", "hostPath", "glusterfs", "nfs", "rbd", "iscsi",
    "cinder", "cephfs", "fc", "flocker", "flexVolume", "azureFile", "vsphereVolume", "quobyte",
    "azureDisk", "photonPersistentDisk", "portworxVolume", "scaleIO", "local", "storageos", "csi",
)  # fmt: skip


def _access_mode_causes(modes: object, field: str) -> Causes:
    if not isinstance(modes, list) or not modes:
        return [
            cause(field, "Required value: at least 1 access mode is required", "FieldValueRequired")
        ]
    supported = ", ".join(f'"{m}"' for m in ACCESS_MODES)
    return [
        cause(f"{field}[{i}]", f'Unsupported value: "{mode}": supported values: {supported}',
              "FieldValueNotSupported")
        for i, mode in enumerate(modes) if mode not in ACCESS_MODES
    ]  # fmt: skip


class PersistentVolumeStrategy(Strategy):
    tracks_generation = False

    def defaults(self, obj: Obj) -> None:
        spec = obj.setdefault("spec", {})
        spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
        spec.setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending"}

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        spec = obj.get("spec") or {}
        causes += _access_mode_causes(spec.get("accessModes"), "spec.accessModes")
        if not (spec.get("capacity") or {}).get("storage"):
            causes.append(cause("spec.capacity", "Required value", "FieldValueRequired"))
        policy = spec.get("persistentVolumeReclaimPolicy")
        if policy not in RECLAIM_POLICIES:
            message = f'Unsupported value: "{policy}"'
            field = "spec.persistentVolumeReclaimPolicy"
            causes.append(cause(field, message, "FieldValueNotSupported"))
        sources = [k for k in SOURCES if k in spec]
        if len(sources) != 1:
            message = ("Required value: must specify a volume type" if not sources else
                       "Forbidden: may not specify more than 1 volume type")  # fmt: skip
            causes.append(cause("spec", message, "FieldValueRequired"))
        return causes


class PersistentVolumeClaimStrategy(Strategy):
    tracks_generation = False

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending"}

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        spec = obj.get("spec") or {}
        causes += _access_mode_causes(spec.get("accessModes"), "spec.accessModes")
        requests = (spec.get("resources") or {}).get("requests") or {}
        if "storage" not in requests:
            causes.append(cause("spec.resources[storage]", "Required value", "FieldValueRequired"))
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        before, after = dict(old.get("spec") or {}), dict(new.get("spec") or {})
        unset = {field: not before.get(field) for field in ("volumeName", "storageClassName")}
        for spec in (before, after):
            spec.pop("resources", None)  # may grow (expansion); the rest is fixed
            for field, settable in unset.items():
                if settable:  # set once: by the binder, or to the default class
                    spec.pop(field, None)
        if before != after:
            causes.append(cause("spec", "Forbidden: spec is immutable after creation except "
                                "resources.requests and volumeAttributesClassName for bound "
                                "claims", "FieldValueForbidden"))  # fmt: skip
        return causes


class StorageClassStrategy(Strategy):
    has_status = False
    tracks_generation = False

    def defaults(self, obj: Obj) -> None:
        obj.setdefault("reclaimPolicy", "Delete")
        obj.setdefault("volumeBindingMode", "Immediate")

    def validate(self, obj: Obj) -> Causes:
        causes = super().validate(obj)
        if not obj.get("provisioner"):
            causes.append(cause("provisioner", "Required value", "FieldValueRequired"))
        if obj.get("volumeBindingMode") not in BINDING_MODES:
            causes.append(cause("volumeBindingMode",
                                f'Unsupported value: "{obj.get("volumeBindingMode")}"',
                                "FieldValueNotSupported"))  # fmt: skip
        return causes

    def validate_update(self, new: Obj, old: Obj) -> Causes:
        causes = self.validate(new)
        for field in ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode"):
            if new.get(field) != old.get(field):
                causes.append(cause(field, "Forbidden: updates to " + field + " are forbidden.",
                                    "FieldValueForbidden"))  # fmt: skip
        return causes
