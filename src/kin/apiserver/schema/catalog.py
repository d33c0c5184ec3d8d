"""The registry of built-in types: every TypeDef kin knows, by name and by group/version/kind.

Type modules only build lists; this module imports each of them by name (no registration
by import side effect) and adds the ``<Kind>List`` type of every resource kind, which
Kubernetes declares for list responses (``PodList``: metadata and items). Everything
else (validation, OpenAPI, protobuf, strategic merge patch) looks types up here.
"""

from __future__ import annotations

from kin.apiserver.schema import (
    apps,
    batch,
    core_container,
    core_node,
    core_pod,
    core_service,
    core_volume,
    meta,
    other,
    storage,
)
from kin.apiserver.schema.model import STRING, Field, T, TypeDef, array, ref

__all__ = ["all_types", "for_gvk", "list_kind", "lookup", "resolve"]

_MODULES = (
    meta, core_volume, core_container, core_pod, core_node, core_service, storage, apps, batch,
)  # fmt: skip
_LIST_META = "io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta"
_NOT_LISTED = frozenset({"Status", "DeleteOptions", "Binding", "Scale"})


def _list_of(kind: TypeDef) -> TypeDef:
    assert kind.gvk is not None
    group, version, name = kind.gvk
    fields = [
        Field("apiVersion", STRING),
        Field("kind", STRING),
        Field("metadata", ref(_LIST_META), 1),
        Field("items", array(ref(kind.name)), 2, required=True, list_type="atomic"),
    ]
    return TypeDef(f"{kind.name}List", fields, (group, version, f"{name}List"))


def _build() -> dict[str, TypeDef]:
    types = [t for module in _MODULES for t in module.TYPES] + list(other.TYPES)
    lists = [_list_of(t) for t in types if t.gvk and t.gvk[2] not in _NOT_LISTED]
    registry: dict[str, TypeDef] = {}
    for typedef in types + lists:
        if typedef.name in registry:
            raise ValueError(f"type {typedef.name} is defined twice")
        registry[typedef.name] = typedef
    return registry


_TYPES = _build()
_BY_GVK = {t.gvk: t for t in _TYPES.values() if t.gvk}


def lookup(name: str) -> TypeDef | None:
    """The type with this OpenAPI definition name (``io.k8s.api.core.v1.PodSpec``)."""
    return _TYPES.get(name)


def resolve(t: T) -> TypeDef:
    """The TypeDef an object type expression refers to; KeyError if the catalog lacks it."""
    return _TYPES[t.ref]


def for_gvk(group: str, version: str, kind: str) -> TypeDef | None:
    """The top-level type of a kind: ``for_gvk("apps", "v1", "Deployment")``."""
    return _BY_GVK.get((group, version, kind))


def list_kind(group: str, version: str, kind: str) -> TypeDef | None:
    """The ``<Kind>List`` type of a resource kind."""
    return _BY_GVK.get((group, version, kind + "List"))


def all_types() -> list[TypeDef]:
    """Every type, in definition order (meta first, then core, apps, batch, the rest)."""
    return list(_TYPES.values())
