"""A one-line-per-field notation for the built-in types, so each type reads in a few lines.

Kubernetes has about two hundred types behind the resources kin serves; written as
``Field(...)`` calls they would fill thousands of lines and hide the facts that matter
(names, protobuf numbers, patch keys). Each type is instead one spec string::

    core.add("ContainerPort", "name str 1, hostPort int32 2, containerPort int32 3 req, ...")

A field is ``<json name> <type> <protobuf number> [flags]``; fields are separated by commas.

Types: ``str int32 int64 bool float quantity intstr time microtime bytes fields any``;
``*int32`` is a Go pointer scalar (an explicit zero is kept); ``[T]`` a list; ``{T}`` a map
with string keys; ``PodSpec`` a type of the same group; ``meta.ObjectMeta`` another group's.

Flags: ``req`` (OpenAPI required), ``merge=KEY`` (patchMergeKey, patchStrategy merge),
``set`` (patchStrategy merge on a list of scalars), ``retainkeys`` (adds retainKeys),
``list=atomic|map|set`` and ``keys=a/b`` (x-kubernetes-list-type and -list-map-keys).
Unless told otherwise a list keyed by ``merge=K`` is a map list keyed by K, a ``set`` list
is a set and any other list is atomic, which is what Kubernetes declares for these types.
"""

from __future__ import annotations

from kin.apiserver.schema.model import (
    ANY,
    BOOLEAN,
    BYTES,
    FIELDS_V1,
    INT64,
    INT_OR_STRING,
    INTEGER,
    MICRO_TIME,
    NUMBER,
    QUANTITY,
    STRING,
    TIME,
    Field,
    T,
    TypeDef,
    array,
    mapof,
    ref,
)

__all__ = ["GROUPS", "Group", "parse_fields"]

# alias -> (OpenAPI definition prefix, API group, version)
GROUPS: dict[str, tuple[str, str, str]] = {
    "meta": ("io.k8s.apimachinery.pkg.apis.meta.v1", "", "v1"),
    "core": ("io.k8s.api.core.v1", "", "v1"),
    "apps": ("io.k8s.api.apps.v1", "apps", "v1"),
    "batch": ("io.k8s.api.batch.v1", "batch", "v1"),
    "autoscaling": ("io.k8s.api.autoscaling.v1", "autoscaling", "v1"),
    "coordination": ("io.k8s.api.coordination.v1", "coordination.k8s.io", "v1"),
    "discovery": ("io.k8s.api.discovery.v1", "discovery.k8s.io", "v1"),
    "events": ("io.k8s.api.events.v1", "events.k8s.io", "v1"),
    "storage": ("io.k8s.api.storage.v1", "storage.k8s.io", "v1"),
}

_SCALARS: dict[str, T] = {
    "str": STRING,
    "int32": INTEGER,
    "int64": INT64,
    "bool": BOOLEAN,
    "float": NUMBER,
    "quantity": QUANTITY,
    "intstr": INT_OR_STRING,
    "time": TIME,
    "microtime": MICRO_TIME,
    "bytes": BYTES,
    "fields": FIELDS_V1,
    "any": ANY,
}


def _parse_type(text: str, group: str) -> T:
    if text.startswith("[") and text.endswith("]"):
        return array(_parse_type(text[1:-1], group))
    if text.startswith("{") and text.endswith("}"):
        return mapof(_parse_type(text[1:-1], group))
    if text in _SCALARS:
        return _SCALARS[text]
    alias, _, short = text.rpartition(".")
    if not short[:1].isupper() or (alias and alias not in GROUPS):
        raise ValueError(f"unknown type {text!r}")
    return ref(f"{GROUPS[alias or group][0]}.{short}")


def _list_type(t: T, flags: dict[str, str]) -> tuple[str, tuple[str, ...]]:
    if t.kind != "array":
        return flags.get("list", ""), ()
    keys = tuple(k for k in flags.get("keys", flags.get("merge", "")).split("/") if k)
    if "list" in flags:
        return flags["list"], keys if flags["list"] == "map" else ()
    if keys:
        return "map", keys
    return ("set" if "set" in flags else "atomic"), ()


def _strategy(flags: dict[str, str]) -> str:
    parts = ["merge"] if "merge" in flags or "set" in flags else []
    if "retainkeys" in flags:
        parts.append("retainKeys")
    return ",".join(parts)


def _field(spec: str, group: str) -> Field:
    name, type_text, proto, *rest = spec.split()
    flags = dict([*flag.split("=", 1), ""][:2] for flag in rest)
    pointer = type_text.startswith("*")
    t = _parse_type(type_text.lstrip("*"), group)
    list_type, keys = _list_type(t, flags)
    return Field(
        name,
        t,
        int(proto),
        merge_key=flags.get("merge", ""),
        strategy=_strategy(flags),
        list_type=list_type,
        map_keys=keys,
        required="req" in flags,
        pointer=pointer,
    )


def parse_fields(spec: str, group: str = "core") -> list[Field]:
    """The fields of one spec string (see the module docstring), refs resolved in ``group``."""
    fields = []
    for part in spec.split(","):
        if part.strip():
            try:
                fields.append(_field(part, group))
            except ValueError as exc:
                raise ValueError(f"bad field spec {part.strip()!r}: {exc}") from exc
    return fields


class Group:
    """Collects the TypeDefs of one API group-version, in definition order."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.prefix, self.api_group, self.version = GROUPS[alias]
        self.types: list[TypeDef] = []

    def add(
        self,
        name: str,
        spec: str = "",
        *,
        embeds: tuple[tuple[int, TypeDef], ...] = (),
        atomic: bool = False,
        description: str = "",
    ) -> TypeDef:
        """Define a sub-type such as ``PodSpec``."""
        try:
            fields = parse_fields(spec, self.alias)
        except ValueError as exc:
            raise ValueError(f"{self.prefix}.{name}: {exc}") from exc
        typedef = TypeDef(
            f"{self.prefix}.{name}", fields, None, description, embeds=embeds, atomic=atomic
        )
        self.types.append(typedef)
        return typedef

    def kind(self, name: str, spec: str, *, description: str = "") -> TypeDef:
        """Define a top-level kind: ``apiVersion`` and ``kind`` first, and its GVK."""
        typedef = self.add(name, "apiVersion str 0, kind str 0, " + spec, description=description)
        typedef.gvk = (self.api_group, self.version, name)
        return typedef
