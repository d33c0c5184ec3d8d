"""The type catalog against outside references: kubectl 1.32's own protobuf descriptors
(compiled into the binary), the official Python client's field names, and the patch
metadata strategic merge and apply depend on."""

from __future__ import annotations

import re
import zlib
from pathlib import Path
from typing import Any

import pytest

from kin.apiserver.schema import catalog, dsl
from kin.apiserver.schema.model import T, TypeDef

KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")
CORE = "io.k8s.api.core.v1."
META = "io.k8s.apimachinery.pkg.apis.meta.v1."
KINDS = [
    ("", "v1", k)
    for k in [
        "Pod",
        "Node",
        "Namespace",
        "Service",
        "Endpoints",
        "ConfigMap",
        "Secret",
        "ServiceAccount",
        "Event",
    ]
] + [
    ("apps", "v1", "Deployment"),
    ("apps", "v1", "ReplicaSet"),
    ("apps", "v1", "DaemonSet"),
    ("batch", "v1", "Job"),
    ("batch", "v1", "CronJob"),
    ("autoscaling", "v1", "Scale"),
    ("coordination.k8s.io", "v1", "Lease"),
    ("discovery.k8s.io", "v1", "EndpointSlice"),
    ("events.k8s.io", "v1", "Event"),
]


def typed(name: str) -> TypeDef:
    typedef = catalog.lookup(name)
    assert typedef is not None, name
    return typedef


def field(type_name: str, path: str):
    typedef = typed(type_name)
    name, _, rest = path.partition(".")
    spec = typedef.fields[name]
    if not rest:
        return spec
    t = spec.t.item if spec.t.kind in ("array", "map") else spec.t
    assert t is not None
    return field(t.ref, rest)


def refs(t: T | None):
    while t is not None:
        if t.kind == "object":
            yield t.ref
        t = t.item


def test_every_reference_resolves() -> None:
    missing = [
        (typedef.name, spec.name, name)
        for typedef in catalog.all_types()
        for spec in typedef.fields.values()
        for name in refs(spec.t)
        if catalog.lookup(name) is None
    ]
    assert missing == []


@pytest.mark.parametrize("gvk", KINDS, ids=lambda g: f"{g[0] or 'core'}/{g[2]}")
def test_kinds_and_their_lists(gvk: tuple[str, str, str]) -> None:
    typedef = catalog.for_gvk(*gvk)
    assert typedef is not None and typedef.gvk == gvk
    assert {"apiVersion", "kind", "metadata"} <= set(typedef.fields)
    if gvk[2] != "Scale":
        listed = catalog.list_kind(*gvk)
        assert listed is not None
        assert repr(listed.fields["items"].t) == f"T(array, T(object, {typedef.name}))"


def test_unknown_names_are_none() -> None:
    assert catalog.lookup("io.k8s.api.core.v1.Nope") is None
    assert catalog.for_gvk("apps", "v1", "StatefulSet") is None


@pytest.mark.parametrize(
    ("type_name", "path", "merge_key", "strategy", "list_type", "map_keys"),
    [
        (CORE + "PodSpec", "containers", "name", "merge", "map", ("name",)),
        (CORE + "PodSpec", "initContainers", "name", "merge", "map", ("name",)),
        (CORE + "PodSpec", "volumes", "name", "merge,retainKeys", "map", ("name",)),
        (CORE + "PodSpec", "imagePullSecrets", "name", "merge", "map", ("name",)),
        (CORE + "PodSpec", "tolerations", "", "", "atomic", ()),
        (
            CORE + "PodSpec",
            "topologySpreadConstraints",
            "topologyKey",
            "merge",
            "map",
            ("topologyKey", "whenUnsatisfiable"),
        ),
        (
            CORE + "Container",
            "ports",
            "containerPort",
            "merge",
            "map",
            ("containerPort", "protocol"),
        ),
        (CORE + "Container", "env", "name", "merge", "map", ("name",)),
        (CORE + "Container", "volumeMounts", "mountPath", "merge", "map", ("mountPath",)),
        (CORE + "Container", "args", "", "", "atomic", ()),
        (CORE + "ResourceRequirements", "claims", "", "", "map", ("name",)),
        (CORE + "PodStatus", "conditions", "type", "merge", "map", ("type",)),
        (CORE + "PodStatus", "hostIPs", "ip", "merge", "atomic", ()),
        (CORE + "NodeStatus", "addresses", "type", "merge", "map", ("type",)),
        (CORE + "NodeSpec", "podCIDRs", "", "merge", "set", ()),
        (CORE + "ServiceSpec", "ports", "port", "merge", "map", ("port", "protocol")),
        (META + "ObjectMeta", "finalizers", "", "merge", "set", ()),
        (META + "ObjectMeta", "ownerReferences", "uid", "merge", "map", ("uid",)),
        ("io.k8s.api.apps.v1.DeploymentSpec", "strategy", "", "retainKeys", "", ()),
        ("io.k8s.api.batch.v1.JobStatus", "conditions", "type", "merge", "atomic", ()),
    ],
)
def test_patch_metadata(type_name, path, merge_key, strategy, list_type, map_keys) -> None:
    spec = field(type_name, path)
    assert (spec.merge_key, spec.strategy, spec.list_type, spec.map_keys) == (
        merge_key,
        strategy,
        list_type,
        map_keys,
    )


def test_inlined_structs_are_flat_in_json() -> None:
    volume = catalog.lookup(CORE + "Volume")
    assert volume is not None and {"name", "hostPath", "configMap", "csi"} <= set(volume.fields)
    assert [(n, t.name) for n, t in volume.embeds] == [(2, CORE + "VolumeSource")]
    assert field(CORE + "Probe", "httpGet.port").t.kind == "intorstring"
    assert {"name", "key", "optional"} == set(typed(CORE + "SecretKeySelector").fields)
    assert "targetContainerName" in typed(CORE + "EphemeralContainer").fields


def test_pointers_required_and_atomic() -> None:
    assert field("io.k8s.api.apps.v1.DeploymentSpec", "replicas").pointer
    assert not field("io.k8s.api.apps.v1.DeploymentSpec", "minReadySeconds").pointer
    assert field(CORE + "Container", "name").required
    assert not field(CORE + "Container", "image").required
    assert typed(META + "LabelSelector").atomic
    assert not typed(CORE + "PodSpec").atomic


@pytest.mark.parametrize(
    ("spec", "error"),
    [
        ("x nosuch 1", "unknown type 'nosuch'"),
        ("x str", "not enough values"),
        ("x str one", "invalid literal"),
        ("x zz.Pod 1", "unknown type 'zz.Pod'"),
    ],
)
def test_dsl_rejects_bad_specs(spec: str, error: str) -> None:
    with pytest.raises(ValueError, match=error):
        dsl.parse_fields(spec)


# -- the official Python client -----------------------------------------------------------


def client_model(typedef: TypeDef):
    models = pytest.importorskip("kubernetes.client.models")
    parts = typedef.name.split(".")
    group = "Core" if parts[-3] == "core" else parts[-3].capitalize()
    for name in (f"{group}V1{parts[-1]}", f"V1{parts[-1]}"):
        if hasattr(models, name):
            return getattr(models, name)
    return None


def test_field_names_exist_in_the_official_client() -> None:
    """Every field kin knows is a real field (the client is newer, so it may have more)."""
    invented, checked = [], 0
    for typedef in catalog.all_types():
        model = client_model(typedef)
        if model is None:
            continue
        checked += 1
        invented += [
            (typedef.name, n) for n in set(typedef.fields) - set(model.attribute_map.values())
        ]
    assert invented == []
    assert checked > 200


# -- kubectl 1.32's protobuf descriptors --------------------------------------------------


def varint(data: bytes, pos: int) -> tuple[int, int]:
    result = shift = 0
    while True:
        byte = data[pos]
        result, shift, pos = result | (byte & 0x7F) << shift, shift + 7, pos + 1
        if byte < 0x80:
            return result, pos


def fields_of(data: bytes) -> list[tuple[int, Any]]:
    out: list[tuple[int, Any]] = []
    pos = 0
    while pos < len(data):
        key, pos = varint(data, pos)
        value: Any
        if key & 7 == 0:
            value, pos = varint(data, pos)
        else:
            size, pos = varint(data, pos)
            value, pos = data[pos : pos + size], pos + size
        out.append((key >> 3, value))
    return out


def add_messages(raw: bytes, prefix: str, into: dict[str, Any]) -> None:
    parts = fields_of(raw)
    name = prefix + "." + next(v for n, v in parts if n == 1).decode()
    entries = []
    for number, value in parts:
        if number == 2:
            f = dict(fields_of(value))
            entries.append((f[1].decode(), f[3], f.get(4), f.get(5), f.get(6, b"").decode()))
        elif number == 3:
            add_messages(value, name, into)
    is_map = any(n == 7 and dict(fields_of(v)).get(7) == 1 for n, v in parts)
    into[name] = (entries, is_map)


@pytest.fixture(scope="module")
def descriptors() -> dict[str, Any]:
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.32 is not installed")
    data, found = KUBECTL.read_bytes(), dict[str, Any]()
    for match in re.finditer(rb"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff", data):
        try:
            raw = zlib.decompressobj(31).decompress(data[match.start() : match.start() + 4_000_000])
        except zlib.error:
            continue
        parts = fields_of(raw)
        package = next((v for n, v in parts if n == 2), b"").decode()
        for number, value in parts:
            if number == 4:
                add_messages(value, "." + package, found)
    assert ".k8s.io.api.core.v1.PodSpec" in found
    return found


PROTO_SCALARS = {9: "string", 8: "boolean", 1: "number", 12: "bytes", 5: "int32", 3: "int64"}
PROTO_SPECIAL = {
    ".k8s.io.apimachinery.pkg.apis.meta.v1.Time": "time",
    ".k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": "microtime",
    ".k8s.io.apimachinery.pkg.api.resource.Quantity": "quantity",
    ".k8s.io.apimachinery.pkg.util.intstr.IntOrString": "intorstring",
    ".k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": "any",
}


def proto_kind(descs: dict[str, Any], ptype: int, type_name: str) -> str:
    if ptype in PROTO_SCALARS:
        return PROTO_SCALARS[ptype]
    if type_name in PROTO_SPECIAL:
        return PROTO_SPECIAL[type_name]
    entries, is_map = descs[type_name]
    if is_map:
        value = next(e for e in entries if e[0] == "value")
        return "map of " + proto_kind(descs, value[3], value[4])
    return "object " + type_name[1:].replace("k8s.io.", "io.k8s.", 1)


def kin_kind(t: T | None) -> str:
    assert t is not None
    if t.kind == "integer":
        return t.format
    if t.kind == "map":
        return "map of " + kin_kind(t.item)
    return f"object {t.ref}" if t.kind == "object" else t.kind


def test_names_numbers_and_types_match_kubectl_1_32(descriptors: dict[str, Any]) -> None:
    problems, compared = [], 0
    for typedef in catalog.all_types():
        message = "." + typedef.name.replace("io.k8s.", "k8s.io.", 1)
        if message not in descriptors:
            continue
        compared += 1
        embedded = {number: inner.name for number, inner in typedef.embeds}
        own = {f.name: f for f in typedef.fields.values() if f.proto}
        for name, number, label, ptype, type_name in descriptors[message][0]:
            if number in embedded:
                continue
            spec = own.pop(name, None)
            if spec is None:
                problems.append(f"{typedef.name}: missing {name} ({number})")
                continue
            want = proto_kind(descriptors, ptype, type_name)
            is_list = label == 3 and not want.startswith("map of")
            got = kin_kind(spec.t.item if is_list and spec.t.kind == "array" else spec.t)
            if spec.proto != number or want != got or is_list != (spec.t.kind == "array"):
                problems.append(f"{typedef.name}.{name}: {spec.proto}/{got} != {number}/{want}")
        inherited = {n for inner in typedef.embeds for n in inner[1].fields}
        problems += [f"{typedef.name}: extra {n}" for n in own if n not in inherited]
    assert problems == []
    assert compared > 200
