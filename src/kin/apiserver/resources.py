"""The resources the API server serves: names, scope, verbs and subresources, as discovery
advertises them and as kubectl resolves ``po``, ``deploy`` or ``all``.

One ``Resource`` per (group, version, plural). Everything the HTTP layer, discovery,
OpenAPI and storage keys need about a resource's identity lives here; what a kind *does*
(defaults, validation, status rules) lives in its strategy.
"""

from __future__ import annotations

from dataclasses import dataclass, field

__all__ = ["CATALOG", "STANDARD_VERBS", "Resource", "Subresource", "find", "groups"]

STANDARD_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")


@dataclass(frozen=True)
class Subresource:
    name: str
    kind: str
    verbs: tuple[str, ...]
    group: str = ""
    version: str = ""
    """The group/version of ``kind`` when it differs from the parent's (Scale is autoscaling/v1)."""


@dataclass(frozen=True)
class Resource:
    group: str
    version: str
    kind: str
    plural: str
    singular: str
    namespaced: bool
    short_names: tuple[str, ...] = ()
    categories: tuple[str, ...] = ()
    verbs: tuple[str, ...] = STANDARD_VERBS
    subresources: tuple[Subresource, ...] = field(default_factory=tuple)
    storage: str = ""
    """The key segment under /registry (kube's: ``events`` for both Event APIs)."""

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def list_kind(self) -> str:
        return self.kind + "List"

    def subresource(self, name: str) -> Subresource | None:
        return next((s for s in self.subresources if s.name == name), None)

    def key(self, namespace: str, name: str) -> str:
        """``/registry/pods/default/web`` or ``/registry/nodes/n1``."""
        return f"{self.prefix(namespace)}{name}"

    def prefix(self, namespace: str = "") -> str:
        """Keys of all objects (in ``namespace`` when given), ending in ``/``."""
        base = f"/registry/{self.storage or self.plural}/"
        return f"{base}{namespace}/" if self.namespaced and namespace else base


def _status(kind: str) -> Subresource:
    return Subresource("status", kind, ("get", "patch", "update"))


def _scale() -> Subresource:
    return Subresource("scale", "Scale", ("get", "patch", "update"), "autoscaling", "v1")


FINALIZE = Subresource("finalize", "Namespace", ("update",))
POD_SUBRESOURCES = (
    _status("Pod"),
    Subresource("binding", "Binding", ("create",)),
    Subresource("log", "Pod", ("get",)),
    Subresource("exec", "PodExecOptions", ("create", "get")),
    Subresource("attach", "PodAttachOptions", ("create", "get")),
    Subresource("portforward", "PodPortForwardOptions", ("create", "get")),
    Subresource("eviction", "Eviction", ("create",), "policy", "v1"),
)

CATALOG: tuple[Resource, ...] = (
    Resource("", "v1", "Namespace", "namespaces", "namespace", False, ("ns",),
             subresources=(_status("Namespace"), FINALIZE)),
    Resource("", "v1", "Node", "nodes", "node", False, ("no",), subresources=(_status("Node"),),
             storage="minions"),
    Resource("", "v1", "Pod", "pods", "pod", True, ("po",), ("all",),
             subresources=POD_SUBRESOURCES),
    Resource("", "v1", "Service", "services", "service", True, ("svc",), ("all",),
             subresources=(_status("Service"),), storage="services/specs"),
    Resource("", "v1", "Endpoints", "endpoints", "endpoints", True, ("ep",),
             storage="services/endpoints"),
    Resource("", "v1", "ConfigMap", "configmaps", "configmap", True, ("cm",)),
    Resource("", "v1", "Secret", "secrets", "secret", True),
    Resource("", "v1", "ServiceAccount", "serviceaccounts", "serviceaccount", True, ("sa",)),
    Resource("", "v1", "Event", "events", "event", True, ("ev",)),
    Resource("", "v1", "PersistentVolume", "persistentvolumes", "persistentvolume", False,
             ("pv",), subresources=(_status("PersistentVolume"),)),
    Resource("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims",
             "persistentvolumeclaim", True, ("pvc",),
             subresources=(_status("PersistentVolumeClaim"),)),
    Resource("", "v1", "Binding", "bindings", "binding", True, verbs=("create",)),
    Resource("apps", "v1", "Deployment", "deployments", "deployment", True, ("deploy",), ("all",),
             subresources=(_status("Deployment"), _scale())),
    Resource("apps", "v1", "ReplicaSet", "replicasets", "replicaset", True, ("rs",), ("all",),
             subresources=(_status("ReplicaSet"), _scale())),
    Resource("apps", "v1", "DaemonSet", "daemonsets", "daemonset", True, ("ds",), ("all",),
             subresources=(_status("DaemonSet"),)),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", "lease", True),
    Resource("discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", "endpointslice", True),
    Resource("events.k8s.io", "v1", "Event", "events", "event", True, ("ev",)),
    Resource("storage.k8s.io", "v1", "StorageClass", "storageclasses", "storageclass", False,
             ("sc",)),
    Resource("authentication.k8s.io", "v1", "SelfSubjectReview", "selfsubjectreviews",
             "selfsubjectreview", False, verbs=("create",)),
)  # fmt: skip

_BY_PATH = {(r.group, r.version, r.plural): r for r in CATALOG}


def find(group: str, version: str, plural: str) -> Resource | None:
    return _BY_PATH.get((group, version, plural))


def groups() -> dict[str, list[str]]:
    """Group name -> its versions, in the order discovery lists them ("" is the core group)."""
    out: dict[str, list[str]] = {}
    for resource in CATALOG:
        versions = out.setdefault(resource.group, [])
        if resource.version not in versions:
            versions.append(resource.version)
    return out
