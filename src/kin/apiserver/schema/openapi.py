"""``/openapi/v3``: the root index and one document per group-version, built from the TypeDefs.

kubectl 1.32 fetches ``/openapi/v3``, then the document of the object's group-version
(by the ``serverRelativeURL`` the root gives, hash included), and looks for a PATCH
operation carrying the object's GVK and a ``fieldValidation`` parameter; finding one, it
leaves validation to the server (``fieldValidation=Strict``). ``kubectl explain`` reads
the component schemas. So the documents carry real schemas: every property with its
type and format, ``$ref`` to other components, required fields, the GVK of top-level
kinds, and the patch and list extensions (``x-kubernetes-patch-merge-key``,
``-patch-strategy``, ``-list-type``, ``-list-map-keys``, ``-map-type``) that strategic
merge and apply clients use. Quantity, IntOrString, Time, MicroTime and FieldsV1 are
components of their own, shaped as kube publishes them in v3.

The hash in each URL is a digest of the document, so it changes exactly when the
content does and clients may cache a document for as long as its URL stays the same.

The schema builders take a ``Dialect`` so that ``/openapi/v2`` (``openapi_v2.py``) builds
its Swagger 2.0 ``definitions`` from the same code: only the reference prefix and the
shapes of the special components differ between the two versions.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, NamedTuple

from kin.apiserver.resources import CATALOG
from kin.apiserver.schema import catalog
from kin.apiserver.schema.model import Field, T, TypeDef
from kin.apiserver.schema.openapi_paths import Resource, base_path, path_items

__all__ = [
    "V3",
    "Dialect",
    "Resource",
    "base_path",
    "component_schemas",
    "document_hash",
    "group_version",
    "openapi_document",
    "openapi_root",
    "referenced",
    "served_resources",
    "type_schema",
]

_META = "io.k8s.apimachinery.pkg.apis.meta.v1."
_SPECIAL: dict[str, dict[str, object]] = {
    "io.k8s.apimachinery.pkg.api.resource.Quantity": {
        "description": "Quantity is a fixed-point representation of a number: 128Mi, 500m, 1.5.",
        "oneOf": [{"type": "string"}, {"type": "number"}],
    },
    "io.k8s.apimachinery.pkg.util.intstr.IntOrString": {
        "description": "IntOrString holds an int32 or a string.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    },
    _META + "Time": {
        "description": "Time is an RFC 3339 date and time in UTC, to the second.",
        "format": "date-time",
        "type": "string",
    },
    _META + "MicroTime": {
        "description": "MicroTime is an RFC 3339 date and time in UTC, to the microsecond.",
        "format": "date-time",
        "type": "string",
    },
    _META + "FieldsV1": {
        "description": "FieldsV1 is the set of fields a manager owns, as a JSON trie.",
        "type": "object",
    },
    _META + "Patch": {
        "description": "Patch is a PATCH request body, in the format its content type names.",
        "type": "object",
    },
}
_SPECIAL_REFS = {
    "quantity": "io.k8s.apimachinery.pkg.api.resource.Quantity",
    "intorstring": "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
    "time": _META + "Time",
    "microtime": _META + "MicroTime",
}


class Dialect(NamedTuple):
    """What differs between OpenAPI versions when building schemas from TypeDefs.

    ``refs`` prefixes every ``$ref`` (``#/components/schemas/`` in v3, ``#/definitions/``
    in Swagger 2.0); ``special`` gives the components that have no TypeDef (Quantity,
    IntOrString, Time, ...), whose shapes kube publishes differently in each version.
    """

    refs: str
    special: Mapping[str, Mapping[str, object]]


V3 = Dialect("#/components/schemas/", _SPECIAL)
_SCALARS: dict[str, dict[str, object]] = {
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "number": {"type": "number", "format": "double"},
    "bytes": {"type": "string", "format": "byte"},
}


def openapi_root(resources: Iterable[Resource]) -> dict[str, Any]:
    """The ``/openapi/v3`` index: a ``serverRelativeURL`` with a content hash per group-version."""
    resources = tuple(resources)
    paths = {}
    for group, version in sorted({(r.group, r.version) for r in resources}):
        key = base_path(group, version)
        digest = _cached_hash(group, version, resources)
        paths[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
    return {"paths": paths}


def openapi_document(group: str, version: str, resources: Iterable[Resource]) -> dict[str, Any]:
    """The ``/openapi/v3/<api/v1|apis/g/v>`` document for the resources of that group-version.

    A fresh dict each call (JSON-shaped, so typed loosely): callers may serialise or edit it."""
    mine = [r for r in resources if (r.group, r.version) == (group, version)]
    paths: dict[str, object] = {}
    kinds: list[str] = []
    for res in sorted(mine, key=lambda r: r.plural):
        typedef = catalog.for_gvk(res.group, res.version, res.kind)
        if typedef is None:
            raise ValueError(f"no type for {res.kind} in {base_path(group, version)}")
        paths.update(path_items(res, typedef.name))
        kinds.append(typedef.name)
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes", "version": "v1.32.0"},
        "paths": paths,
        "components": {"schemas": component_schemas(referenced(paths, kinds))},
    }


def group_version(path: str) -> tuple[str, str] | None:
    """``("apps", "v1")`` for the document path ``apis/apps/v1``; None if it is not one."""
    parts = path.strip("/").split("/")
    if len(parts) == 2 and parts[0] == "api":
        return "", parts[1]
    if len(parts) == 3 and parts[0] == "apis":
        return parts[1], parts[2]
    return None


def document_hash(document: dict[str, object]) -> str:
    """A digest of the document's canonical JSON (kube uses SHA-512 too), upper-case hex."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    return hashlib.sha512(canonical).hexdigest().upper()


@lru_cache(maxsize=64)
def _cached_hash(group: str, version: str, resources: tuple[Resource, ...]) -> str:
    return document_hash(openapi_document(group, version, resources))


def component_schemas(names: Iterable[str], dialect: Dialect = V3) -> dict[str, object]:
    """The schemas of ``names`` and of every type they reach, sorted by name."""
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        typedef = catalog.lookup(name)
        if typedef is not None:
            todo.extend(_refs_of(typedef))
    return {name: _component(name, dialect) for name in sorted(seen)}


def referenced(paths: Mapping[str, object], kinds: Iterable[str]) -> list[str]:
    """Every component the (v3) path items point at, plus the kinds and their lists."""
    found = set(kinds)
    found |= {k + "List" for k in found if catalog.lookup(k + "List")}
    text = json.dumps(paths)
    marker = '"' + V3.refs
    for chunk in text.split(marker)[1:]:
        found.add(chunk.split('"', 1)[0])
    return sorted(found)


def _component(name: str, dialect: Dialect) -> dict[str, object]:
    if name in dialect.special:
        return dict(dialect.special[name])
    typedef = catalog.lookup(name)
    if typedef is None:
        raise KeyError(f"no schema for {name}")
    return type_schema(typedef, dialect)


def served_resources() -> tuple[Resource, ...]:
    """The resources kin serves that have a TypeDef, described for the OpenAPI documents."""
    return tuple(
        Resource(r.group, r.version, r.kind, r.plural, r.namespaced,
                 tuple(s.name for s in r.subresources), r.verbs)
        for r in CATALOG
        if catalog.for_gvk(r.group, r.version, r.kind) is not None
    )  # fmt: skip


def type_schema(typedef: TypeDef, dialect: Dialect = V3) -> dict[str, object]:
    """The component schema of one TypeDef."""
    schema: dict[str, object] = {"type": "object"}
    if typedef.description:
        schema["description"] = typedef.description
    fields = sorted(typedef.fields.items())
    schema["properties"] = {name: _property(f, dialect) for name, f in fields}
    required = [f.name for f in typedef.fields.values() if f.required]
    if required:
        schema["required"] = required
    if typedef.gvk:
        group, version, kind = typedef.gvk
        schema["x-kubernetes-group-version-kind"] = [
            {"group": group, "kind": kind, "version": version}
        ]
    if typedef.atomic:
        schema["x-kubernetes-map-type"] = "atomic"
    return schema


def _property(spec: Field, dialect: Dialect) -> dict[str, object]:
    schema = _type(spec.t, dialect)
    if spec.description:
        schema["description"] = spec.description
    extensions = {
        "x-kubernetes-patch-merge-key": spec.merge_key,
        "x-kubernetes-patch-strategy": spec.strategy,
        "x-kubernetes-list-type": spec.list_type,
    }
    schema.update({key: value for key, value in extensions.items() if value})
    if spec.map_keys:
        schema["x-kubernetes-list-map-keys"] = list(spec.map_keys)
    return schema


def _type(t: T, dialect: Dialect) -> dict[str, object]:
    if t.kind in _SCALARS:
        return dict(_SCALARS[t.kind])
    if t.kind == "integer":
        return {"type": "integer", "format": t.format or "int64"}
    if t.kind in _SPECIAL_REFS:
        return {"$ref": dialect.refs + _SPECIAL_REFS[t.kind]}
    if t.kind == "object" or (t.kind == "any" and t.ref):
        return {"$ref": dialect.refs + t.ref}
    if t.kind == "array" and t.item is not None:
        return {"type": "array", "items": _type(t.item, dialect)}
    if t.kind == "map" and t.item is not None:
        return {"type": "object", "additionalProperties": _type(t.item, dialect)}
    return {"x-kubernetes-preserve-unknown-fields": True}


def _refs_of(typedef: TypeDef) -> list[str]:
    refs = []
    for spec in typedef.fields.values():
        t: T | None = spec.t
        while t is not None:
            if t.ref:
                refs.append(t.ref)
            refs.extend([_SPECIAL_REFS[t.kind]] if t.kind in _SPECIAL_REFS else [])
            t = t.item
    return refs
