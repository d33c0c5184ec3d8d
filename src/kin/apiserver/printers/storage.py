"""Storage kinds: persistentvolumes, persistentvolumeclaims and storageclasses, as
kube-apiserver prints them (access modes abbreviated RWO/ROX/RWX/RWOP, a PV's claim as
``namespace/name``, ``<unset>`` for no volume attributes class, the default StorageClass
marked ``(default)``)."""

from __future__ import annotations

from datetime import datetime

from kin.apiserver.printers.base import AGE, NAME, Column, Obj, Printer, Row, age, get, name, text

__all__ = ["PERSISTENT_VOLUMES", "PERSISTENT_VOLUME_CLAIMS", "STORAGE_CLASSES"]

MODES = {
    "ReadWriteOnce": "RWO", "ReadOnlyMany": "ROX", "ReadWriteMany": "RWX",
    "ReadWriteOncePod": "RWOP",
}  # fmt: skip
DEFAULT_CLASS = "storageclass.kubernetes.io/is-default-class"
UNSET = "<unset>"


def _modes(obj: Obj, *path: str) -> str:
    modes = get(obj, *path)
    found = [MODES.get(str(m), str(m)) for m in modes] if isinstance(modes, list) else []
    return ",".join(m for m in MODES.values() if m in found)


def _storage(obj: Obj, *path: str) -> str:
    return text(obj, *path, "storage")


def _pv_row(pv: Obj, now: datetime) -> Row:
    claim = get(pv, "spec", "claimRef")
    claimed = f"{text(claim, 'namespace')}/{text(claim, 'name')}" if claim else ""
    return {"cells": [
        name(pv), _storage(pv, "spec", "capacity"), _modes(pv, "spec", "accessModes"),
        text(pv, "spec", "persistentVolumeReclaimPolicy"), text(pv, "status", "phase"), claimed,
        text(pv, "spec", "storageClassName"),
        text(pv, "spec", "volumeAttributesClassName") or UNSET, text(pv, "status", "reason"),
        age(pv, now), text(pv, "spec", "volumeMode") or "Filesystem",
    ]}  # fmt: skip


def _pvc_row(pvc: Obj, now: datetime) -> Row:
    bound = text(pvc, "status", "phase") == "Bound"
    return {"cells": [
        name(pvc), text(pvc, "status", "phase"), text(pvc, "spec", "volumeName"),
        _storage(pvc, "status", "capacity") if bound else "",
        _modes(pvc, "status", "accessModes") if bound else "",
        text(pvc, "spec", "storageClassName"),
        text(pvc, "spec", "volumeAttributesClassName") or UNSET, age(pvc, now),
        text(pvc, "spec", "volumeMode") or "Filesystem",
    ]}  # fmt: skip


def _class_row(sc: Obj, now: datetime) -> Row:
    shown = name(sc)
    if text(sc, "metadata", "annotations", DEFAULT_CLASS) == "true":
        shown += " (default)"
    expansion = get(sc, "allowVolumeExpansion")
    return {"cells": [
        shown, text(sc, "provisioner"), text(sc, "reclaimPolicy") or "Delete",
        text(sc, "volumeBindingMode") or "Immediate", bool(expansion), age(sc, now),
    ]}  # fmt: skip


def _column(title: str, what: str, priority: int = 0) -> Column:
    return Column(title, "string", what, priority)


VOLUME_MODE = _column("VolumeMode", "Whether the volume is a file system or a raw block.", 1)
ATTRIBUTES_CLASS = _column("VolumeAttributesClass", "The volume's VolumeAttributesClass.")

PERSISTENT_VOLUMES = Printer(
    (
        NAME,
        _column("Capacity", "The volume's capacity."),
        _column("Access Modes", "The ways the volume can be mounted."),
        _column("Reclaim Policy", "What happens to the volume when its claim is released."),
        _column("Status", "The volume's phase."),
        _column("Claim", "The claim bound to the volume."),
        _column("StorageClass", "The volume's StorageClass."),
        ATTRIBUTES_CLASS,
        _column("Reason", "Why the volume is in its phase."),
        AGE,
        VOLUME_MODE,
    ),
    _pv_row,
)

PERSISTENT_VOLUME_CLAIMS = Printer(
    (
        NAME,
        _column("Status", "The claim's phase."),
        _column("Volume", "The volume bound to the claim."),
        _column("Capacity", "The capacity of the bound volume."),
        _column("Access Modes", "The ways the bound volume can be mounted."),
        _column("StorageClass", "The claim's StorageClass."),
        ATTRIBUTES_CLASS,
        AGE,
        VOLUME_MODE,
    ),
    _pvc_row,
)

STORAGE_CLASSES = Printer(
    (
        NAME,
        _column("Provisioner", "The provisioner that makes this class's volumes."),
        _column("ReclaimPolicy", "What happens to a released volume."),
        _column("VolumeBindingMode", "When volumes are bound to claims."),
        Column("AllowVolumeExpansion", "boolean", "Whether volumes may grow."),
        AGE,
    ),
    _class_row,
)
