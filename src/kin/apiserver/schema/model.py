"""The shape of Kubernetes' built-in types, written once and used four ways.

One ``TypeDef`` per API type (``io.k8s.api.core.v1.PodSpec`` ...) lists its fields
with their JSON type, protobuf field number and patch metadata. From that single
description kin derives: strict validation (unknown fields, wrong types), the
``/openapi/v3`` documents kubectl validates against, strategic-merge-patch
behaviour (merge keys, strategies, list types) and decoding of protobuf request
bodies. Nothing here is copied from Kubernetes; the facts (field names, numbers,
merge keys) are the public API's.
"""

from __future__ import annotations

__all__ = [
    "ANY",
    "BOOLEAN",
    "BYTES",
    "FIELDS_V1",
    "INT64",
    "INTEGER",
    "INT_OR_STRING",
    "MICRO_TIME",
    "NUMBER",
    "QUANTITY",
    "STRING",
    "TIME",
    "Field",
    "T",
    "TypeDef",
    "array",
    "mapof",
    "ref",
]


class T:
    """A type expression: a scalar, a reference to a ``TypeDef``, or an array/map of ``T``.

    ``kind`` is one of string, integer, number, boolean, object (with ``ref``), array,
    map (string keys; ``item`` values), quantity, intorstring, time, microtime, bytes, any.
    ``any`` is free-form JSON; with a ``ref`` it names the OpenAPI component (``FieldsV1``).
    ``format`` refines scalars as OpenAPI does (int32, int64, double, date-time, byte).
    """

    __slots__ = ("format", "item", "kind", "ref")

    def __init__(self, kind: str, ref: str = "", item: T | None = None, format: str = "") -> None:
        self.kind = kind
        self.ref = ref
        self.item = item
        self.format = format

    def __repr__(self) -> str:
        inner = self.ref or (repr(self.item) if self.item else self.format)
        return f"T({self.kind}{', ' + inner if inner else ''})"


STRING = T("string")
INTEGER = T("integer", format="int32")
INT64 = T("integer", format="int64")
NUMBER = T("number", format="double")
BOOLEAN = T("boolean")
QUANTITY = T("quantity")
INT_OR_STRING = T("intorstring")
TIME = T("time", format="date-time")
MICRO_TIME = T("microtime", format="date-time")
BYTES = T("bytes", format="byte")
ANY = T("any")
FIELDS_V1 = T("any", ref="io.k8s.apimachinery.pkg.apis.meta.v1.FieldsV1")


def ref(name: str) -> T:
    return T("object", ref=name)


def array(item: T) -> T:
    return T("array", item=item)


def mapof(item: T) -> T:
    return T("map", item=item)


class Field:
    """One field of a type.

    ``proto`` is the protobuf field number (0 if the field has none). For lists,
    ``merge_key`` and ``strategy`` are the ``patchMergeKey``/``patchStrategy`` tags that
    strategic merge patch uses (strategy ``merge``, ``replace``, ``retainKeys`` or
    ``merge,retainKeys``), and ``list_type``/``map_keys`` the ``x-kubernetes-list-type``
    (``atomic``, ``map``, ``set``) and ``x-kubernetes-list-map-keys`` that server-side
    apply uses.

    ``pointer`` marks a Go pointer scalar (``*int32`` replicas, ``*bool`` optional): its
    zero value is meaningful, so a protobuf decoder keeps an explicit 0/false/"" that it
    drops for plain ``omitempty`` scalars.
    """

    __slots__ = (
        "description",
        "list_type",
        "map_keys",
        "merge_key",
        "name",
        "pointer",
        "proto",
        "required",
        "strategy",
        "t",
    )

    def __init__(
        self,
        name: str,
        t: T,
        proto: int = 0,
        *,
        merge_key: str = "",
        strategy: str = "",
        list_type: str = "",
        map_keys: tuple[str, ...] = (),
        required: bool = False,
        description: str = "",
        pointer: bool = False,
    ) -> None:
        self.name = name
        self.t = t
        self.proto = proto
        self.merge_key = merge_key
        self.strategy = strategy
        self.list_type = list_type
        self.map_keys = map_keys
        self.required = required
        self.description = description
        self.pointer = pointer

    def __repr__(self) -> str:
        return f"Field({self.name!r}, {self.t!r})"


class TypeDef:
    """A named object type; ``gvk`` is set for top-level kinds (group, version, kind).

    ``embeds`` lists Go's inlined structs as (protobuf field number, TypeDef): a Volume
    embeds VolumeSource under field 2. Their fields appear in ``fields`` as JSON shows
    them (flat), while protobuf nests them in that field. ``atomic`` is
    ``+structType=atomic`` (``x-kubernetes-map-type: atomic``): apply replaces it whole.
    """

    __slots__ = ("atomic", "description", "embeds", "fields", "gvk", "name")

    def __init__(
        self,
        name: str,
        fields: list[Field],
        gvk: tuple[str, str, str] | None = None,
        description: str = "",
        *,
        embeds: tuple[tuple[int, TypeDef], ...] = (),
        atomic: bool = False,
    ) -> None:
        self.name = name
        self.fields = {f.name: f for f in fields}
        self.gvk = gvk
        self.description = description
        self.embeds = embeds
        self.atomic = atomic
        for _, inner in embeds:
            for field in inner.fields.values():
                self.fields.setdefault(field.name, field)

    def __repr__(self) -> str:
        return f"TypeDef({self.name!r}, {len(self.fields)} fields)"
