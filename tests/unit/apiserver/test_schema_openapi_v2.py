"""/openapi/v2: the Swagger 2.0 document, its gnostic protobuf, and the real kubectl using it.

kubectl 1.32 validates a ``kind: List`` manifest on the client, against the v2
``definitions`` it reads as gnostic protobuf. The structure tests pin what kubectl's
strict parser (``proto.NewOpenAPIData``) and its v2 field-validation verifier need; the
protobuf is decoded back here with a reader written from ``OpenAPIv2.proto``'s field
numbers (independently of the encoder's tables) and must give the JSON document again.
The kubectl tests serve kin's discovery, v3 and v2 from a loopback server and run
``kubectl apply --dry-run=client`` on Lists; skipped where kubectl 1.32 is not installed.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from kin.apiserver import discovery
from kin.apiserver.schema import gnostic, openapi
from kin.apiserver.schema.openapi_v2 import (
    PROTOBUF_CONTENT_TYPE,
    openapi_v2_document,
    openapi_v2_protobuf,
    swagger_document,
)
from kin.apiserver.schema.protobuf import _scan

DEFS = "#/definitions/"
CORE = "io.k8s.api.core.v1."
QUANTITY = "io.k8s.apimachinery.pkg.api.resource.Quantity"
ACCEPT_PROTOBUF = "application/com.github.proto-openapi.spec.v2@v1.0+protobuf"
KUBECTL = Path("/usr/lib/google-cloud-sdk/bin/kubectl.1.32")


@pytest.fixture(scope="module")
def doc() -> dict[str, Any]:
    return openapi_v2_document()


# -- the JSON document ---------------------------------------------------------------------


def test_kube_definition_names_and_real_type_schemas(doc) -> None:
    assert (doc["swagger"], doc["info"]) == ("2.0", {"title": "Kubernetes", "version": "v1.32.0"})
    defs = doc["definitions"]
    meta = "io.k8s.apimachinery.pkg.apis.meta.v1."
    assert {CORE + "PodList", "io.k8s.api.apps.v1.Deployment", meta + "ObjectMeta"} <= set(defs)
    gvk = defs[CORE + "Pod"]["x-kubernetes-group-version-kind"]
    assert gvk == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert defs[CORE + "Container"]["properties"]["ports"] == {
        "type": "array",
        "items": {"$ref": DEFS + CORE + "ContainerPort"},
        "x-kubernetes-patch-merge-key": "containerPort",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
    }
    assert defs[CORE + "Container"]["required"] == ["name"]
    port = defs[CORE + "ContainerPort"]["properties"]["containerPort"]
    assert port == {"type": "integer", "format": "int32"}
    limits = defs[CORE + "ResourceRequirements"]["properties"]["limits"]
    assert limits["additionalProperties"] == {"$ref": DEFS + QUANTITY}


def test_quantity_and_int_or_string_are_strings_as_kube_publishes_them_in_v2(doc) -> None:
    """Swagger 2.0 has no oneOf, and kubectl's parser rejects several types."""
    quantity = doc["definitions"][QUANTITY]
    int_or_string = doc["definitions"]["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]
    assert quantity["type"] == "string" and "oneOf" not in quantity
    assert (int_or_string["type"], int_or_string["format"]) == ("string", "int-or-string")


def test_every_reference_is_a_definition_and_no_v3_reference_is_left(doc) -> None:
    text = json.dumps(doc)
    assert "#/components/" not in text
    names = {chunk.split('"', 1)[0] for chunk in text.split('"' + DEFS)[1:]}
    assert names and names <= set(doc["definitions"])


def walk(schema: dict[str, Any], where: str) -> Iterator[tuple[str, dict[str, Any]]]:
    yield where, schema
    for name, prop in schema.get("properties", {}).items():
        yield from walk(prop, f"{where}.{name}")
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from walk(schema[key], f"{where}[{key}]")


def test_schemas_pass_kubectls_strict_parser_rules(doc) -> None:
    """``proto.NewOpenAPIData``: a $ref has no type or properties, an array has one item
    schema, types are single and known."""
    known = {"object", "array", "string", "integer", "number", "boolean"}
    for name, definition in doc["definitions"].items():
        for where, schema in walk(definition, name):
            if "$ref" in schema:
                assert not {"type", "properties"} & set(schema), where
            if schema.get("type") == "array":
                assert isinstance(schema.get("items"), dict), where
            assert schema.get("type", "object") in known, where


def test_every_served_kind_has_a_patch_with_gvk_and_field_validation(doc) -> None:
    """What kubectl's v2 verifier (``supportsQueryParam``) looks for, per kind."""
    found = set()
    for item in doc["paths"].values():
        patch = item.get("patch")
        if patch is None:
            continue
        names = {p["name"] for p in patch["parameters"] if p["in"] == "query"}
        if "fieldValidation" in names:
            gvk = patch["x-kubernetes-group-version-kind"]
            found.add((gvk["group"], gvk["version"], gvk["kind"]))
    kinds = {(r.group, r.version, r.kind) for r in openapi.served_resources() if "patch" in r.verbs}
    assert kinds and kinds <= found


def test_operations_have_swagger2_parameters_bodies_and_responses(doc) -> None:
    pods = doc["paths"]["/api/v1/namespaces/{namespace}/pods"]
    namespace = {"name": "namespace", "in": "path", "required": True, "type": "string"}
    assert pods["parameters"][0] == {**namespace, "uniqueItems": True}
    create, pod = pods["post"], {"$ref": DEFS + CORE + "Pod"}
    assert (create["operationId"], create["consumes"]) == ("createCoreV1NamespacedPod", ["*/*"])
    body = create["parameters"][0]
    assert body == {"name": "body", "in": "body", "required": True, "schema": pod}
    assert create["responses"]["201"] == {"description": "Created", "schema": pod}
    assert "application/json" in create["produces"]
    patch = doc["paths"]["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]
    assert all("schema" not in p or p["in"] == "body" for p in patch["parameters"])


def test_a_kind_without_a_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="no type for Widget"):
        swagger_document([openapi.Resource("", "v1", "Widget", "widgets", True)])


# -- the protobuf --------------------------------------------------------------------------


def fields(data: bytes) -> dict[int, list[Any]]:
    """Field number -> values, read with kin's own wire-format scanner."""
    out: dict[int, list[Any]] = {}
    for number, (_, value) in _scan(data):
        out.setdefault(number, []).append(value)
    return out


def strings(data: bytes, number: int) -> list[str]:
    return [v.decode() for v in fields(data).get(number, [])]


def one(data: bytes, number: int) -> bytes:
    (value,) = fields(data)[number]
    assert isinstance(value, bytes)
    return value


def named(data: bytes) -> dict[str, bytes]:
    """A ``Named<X>`` list (name = 1, value = 2) as a dict."""
    return {strings(entry, 1)[0]: one(entry, 2) for entry in fields(data).get(1, [])}


def vendor(data: bytes, number: int) -> dict[str, Any]:
    """NamedAny{name, Any{yaml = 2}}, parsed as kubectl does (yaml.Unmarshal)."""
    out = {}
    for entry in fields(data).get(number, []):
        out[strings(entry, 1)[0]] = yaml.safe_load(strings(one(entry, 2), 2)[0])
    return out


def decode_schema(data: bytes) -> dict[str, Any]:
    """openapi_v2.Schema back to JSON: $ref 1, format 2, description 4, required 19,
    additionalProperties 21, type 22, items 23, properties 25, vendor extensions 31."""
    f = fields(data)
    out: dict[str, Any] = {}
    for number, key in ((1, "$ref"), (2, "format"), (4, "description")):
        if number in f:
            out[key] = strings(data, number)[0]
    if 19 in f:
        out["required"] = strings(data, 19)
    if 21 in f:
        out["additionalProperties"] = decode_schema(one(one(data, 21), 1))
    if 22 in f:
        (out["type"],) = strings(one(data, 22), 1)
    if 23 in f:
        out["items"] = decode_schema(one(one(data, 23), 1))
    if 25 in f:
        out["properties"] = {k: decode_schema(v) for k, v in named(one(data, 25)).items()}
    return {**out, **vendor(data, 31)}


@pytest.fixture(scope="module")
def message() -> bytes:
    return openapi_v2_protobuf()


def test_protobuf_header_and_every_definition_round_trip(doc, message) -> None:
    assert openapi_v2_protobuf() is message  # computed once
    assert strings(message, 1) == ["2.0"]
    info = one(message, 2)
    assert (strings(info, 1), strings(info, 2)) == (["Kubernetes"], ["v1.32.0"])
    definitions = named(one(message, 9))
    assert list(definitions) == list(doc["definitions"])
    for name, data in definitions.items():
        assert decode_schema(data) == doc["definitions"][name], name


def test_protobuf_patch_operation_has_gvk_and_field_validation(message) -> None:
    paths = {strings(e, 1)[0]: one(e, 2) for e in fields(one(message, 8))[2]}
    item = paths["/api/v1/namespaces/{namespace}/pods/{name}"]
    patch = one(item, 8)  # PathItem.patch
    assert strings(patch, 5) == ["patchCoreV1NamespacedPod"]  # Operation.operation_id
    gvk = vendor(patch, 13)["x-kubernetes-group-version-kind"]
    assert gvk == {"group": "", "kind": "Pod", "version": "v1"}
    queries = []
    for param in fields(patch)[8]:  # ParametersItem -> Parameter
        parameter = fields(one(param, 1))
        if 2 in parameter:  # NonBodyParameter -> QueryParameterSubSchema (3)
            queries.append(strings(one(parameter[2][0], 3), 4)[0])
        else:  # BodyParameter, with its schema (5)
            body = parameter[1][0]
            assert decode_schema(one(body, 5))["$ref"].endswith("meta.v1.Patch")
    assert queries == ["dryRun", "fieldManager", "fieldValidation", "force"]


def test_unknown_keys_are_refused_not_dropped() -> None:
    with pytest.raises(ValueError, match=r"Schema has no field for \['oneOf'\]"):
        gnostic.encode_document({"definitions": {"X": {"oneOf": []}}})


# -- the real kubectl ----------------------------------------------------------------------

POD: dict[str, Any] = yaml.safe_load(
    "{apiVersion: v1, kind: Pod, metadata: {name: p1},"
    " spec: {containers: [{name: c, image: nginx, ports: [{containerPort: 80}]}]}}"
)
DEPLOYMENT: dict[str, Any] = yaml.safe_load(
    "{apiVersion: apps/v1, kind: Deployment, metadata: {name: d1}, spec: {"
    " selector: {matchLabels: {app: d1}}, template: {metadata: {labels: {app: d1}},"
    " spec: {containers: [{name: c, image: nginx}]}}}}"
)
NOT_FOUND = b'{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'


def a_list(*items: dict[str, Any]) -> str:
    return yaml.safe_dump({"apiVersion": "v1", "kind": "List", "items": list(items)})


@dataclass
class Served:
    url: str = ""
    with_v2: bool = True
    seen: list[tuple[str, str]] = field(default_factory=list)


def answer(path: str, accept: str, with_v2: bool) -> tuple[str, bytes] | None:
    """kin's discovery and OpenAPI for ``path``: (content type, body), None for 404."""
    resources = openapi.served_resources()
    if path == "/openapi/v2" and with_v2 and "protobuf" in accept:
        return PROTOBUF_CONTENT_TYPE, openapi_v2_protobuf()
    found: Any
    if path in ("/api", "/apis") and discovery.wants_aggregated(accept):
        body = json.dumps(discovery.aggregated(path == "/api")).encode()
        return discovery.AGGREGATED_CONTENT_TYPE, body
    if path == "/version":
        found = discovery.version_info()
    elif path == "/api":
        found = discovery.api_versions("127.0.0.1")
    elif path == "/apis":
        found = discovery.api_group_list()
    elif path == "/openapi/v3":
        found = openapi.openapi_root(resources)
    elif path.startswith("/openapi/v3/"):
        gv = openapi.group_version(path.removeprefix("/openapi/v3/"))
        found = gv and openapi.openapi_document(*gv, resources)
    else:
        gv = openapi.group_version(path)
        found = gv and discovery.resource_list(*gv)
    return ("application/json", json.dumps(found).encode()) if found else None


def handler(served: Served) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            path, accept = urlsplit(self.path).path, self.headers.get("Accept", "")
            served.seen.append((path, accept))
            code, (content_type, body) = 200, answer(path, accept, served.with_v2) or (None, b"")
            if content_type is None:
                code, content_type, body = 404, "application/json", NOT_FOUND
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    return Handler


@pytest.fixture
def served() -> Iterator[Served]:
    served = Served()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler(served))
    served.url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield served
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def apply_list(served: Served, tmp_path: Path):
    if not KUBECTL.exists():
        pytest.skip("kubectl 1.32 is not installed")
    cluster = {"name": "c", "cluster": {"server": served.url}}
    context = {"name": "x", "context": {"cluster": "c", "user": "u", "namespace": "default"}}
    config = {"apiVersion": "v1", "kind": "Config", "clusters": [cluster],
              "users": [{"name": "u", "user": {}}], "contexts": [context],
              "current-context": "x"}  # fmt: skip
    (tmp_path / "kubeconfig").write_text(json.dumps(config))
    env = {**os.environ, "HOME": str(tmp_path), "KUBECACHEDIR": str(tmp_path / "cache")}

    def run(manifest: str) -> subprocess.CompletedProcess[str]:
        (tmp_path / "list.yaml").write_text(manifest)
        argv = [str(KUBECTL), "--kubeconfig", str(tmp_path / "kubeconfig"),
                "--request-timeout=20s", "apply", "--dry-run=client", "-f", "list.yaml"]  # fmt: skip
        return subprocess.run(
            argv, capture_output=True, text=True, env=env, timeout=60, cwd=tmp_path
        )

    return run


def test_a_valid_list_passes_client_side_validation(apply_list, served: Served) -> None:
    done = apply_list(a_list(POD, DEPLOYMENT))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "pod/p1 created (dry run)\ndeployment.apps/d1 created (dry run)\n"
    assert ("/openapi/v2", ACCEPT_PROTOBUF) in served.seen


def test_an_unknown_field_in_a_list_item_is_refused(apply_list) -> None:
    bad = copy.deepcopy(POD)
    bad["spec"]["containers"][0]["imagee"] = "nginx"
    done = apply_list(a_list(bad, DEPLOYMENT))
    assert done.returncode == 1
    assert done.stderr == (
        'error: error validating "list.yaml": error validating data: '
        "ValidationError(Pod.spec.containers[0]): "
        'unknown field "imagee" in io.k8s.api.core.v1.Container; '
        "if you choose to ignore these errors, turn validation off with --validate=false\n"
    )


def test_wrong_types_and_missing_required_fields_are_refused(apply_list) -> None:
    no_name, two = copy.deepcopy(POD), copy.deepcopy(DEPLOYMENT)
    del no_name["spec"]["containers"][0]["name"]
    two["spec"]["replicas"] = "two"
    done = apply_list(a_list(no_name, two))
    assert done.returncode == 1
    assert (
        'ValidationError(Pod.spec.containers[0]): missing required field "name" '
        "in io.k8s.api.core.v1.Container"
    ) in done.stderr
    assert (
        "ValidationError(Deployment.spec.replicas): invalid type for "
        'io.k8s.api.apps.v1.DeploymentSpec.replicas: got "string", expected "integer"'
    ) in done.stderr


def test_without_v2_kubectl_cannot_validate_a_list(apply_list, served: Served) -> None:
    """The control: the same valid List fails when /openapi/v2 is not served."""
    served.with_v2 = False
    done = apply_list(a_list(POD))
    assert done.returncode == 1
    assert done.stderr == (
        'error: error validating "list.yaml": error validating data: '
        "the server could not find the requested resource; "
        "if you choose to ignore these errors, turn validation off with --validate=false\n"
    )
