"""Conversion between an API's shape and the stored shape, where the two differ.

Kubernetes stores ``events.k8s.io/v1`` Events and core ``v1`` Events as one resource; the
newer API renames fields (``note`` for ``message``, ``regarding`` for ``involvedObject``,
``deprecatedCount`` for ``count`` ...). kin stores the core shape and converts the
events.k8s.io view both ways, so ``kubectl get events`` shows what a controller recorded
through either API. Every other resource is stored as served.
"""

from __future__ import annotations

import copy
from typing import Any

from kin.apiserver.resources import Resource

__all__ = ["converts", "from_storage", "to_storage"]

Obj = dict[str, Any]

# events.k8s.io/v1 field -> core/v1 field
EVENT_FIELDS = (
    ("note", "message"),
    ("regarding", "involvedObject"),
    ("related", "related"),
    ("reason", "reason"),
    ("type", "type"),
    ("action", "action"),
    ("eventTime", "eventTime"),
    ("series", "series"),
    ("reportingController", "reportingComponent"),
    ("reportingInstance", "reportingInstance"),
    ("deprecatedSource", "source"),
    ("deprecatedFirstTimestamp", "firstTimestamp"),
    ("deprecatedLastTimestamp", "lastTimestamp"),
    ("deprecatedCount", "count"),
)


def converts(res: Resource) -> bool:
    """Whether ``res`` is served in another shape than it is stored in."""
    return res.group == "events.k8s.io"


def to_storage(res: Resource, obj: Obj) -> Obj:
    if not converts(res):
        return obj
    core: Obj = {
        "kind": "Event",
        "apiVersion": "v1",
        "metadata": copy.deepcopy(obj.get("metadata", {})),
    }
    for new, old in EVENT_FIELDS:
        if new in obj:
            core[old] = copy.deepcopy(obj[new])
    return core


def from_storage(res: Resource, obj: Obj) -> Obj:
    if not converts(res):
        obj.setdefault("kind", res.kind)
        obj.setdefault("apiVersion", res.api_version)
        return obj
    out: Obj = {"kind": "Event", "apiVersion": res.api_version, "metadata": obj.get("metadata", {})}
    for new, old in EVENT_FIELDS:
        if old in obj:
            out[new] = obj[old]
    return out
