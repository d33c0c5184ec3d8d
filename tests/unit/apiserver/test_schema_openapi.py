"""/openapi/v3 documents: the index and its hashes, the PATCH operations kubectl 1.32 looks
for, and component schemas that describe the real types (not permissive placeholders)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from kin.apiserver.schema.openapi import (
    Resource,
    document_hash,
    group_version,
    openapi_document,
    openapi_root,
)

RESOURCES = (
    Resource("", "v1", "Pod", "pods", True, ("status", "log", "exec", "binding")),
    Resource("", "v1", "Node", "nodes", False, ("status",)),
    Resource("", "v1", "Namespace", "namespaces", False, ("status", "finalize")),
    Resource("", "v1", "Binding", "bindings", True, verbs=("create",)),
    Resource("apps", "v1", "Deployment", "deployments", True, ("status", "scale")),
    Resource("coordination.k8s.io", "v1", "Lease", "leases", True),
)
SCHEMAS = "#/components/schemas/"
CORE = "io.k8s.api.core.v1."


@pytest.fixture(scope="module")
def core() -> dict[str, Any]:
    return openapi_document("", "v1", RESOURCES)


@pytest.fixture(scope="module")
def apps() -> dict[str, Any]:
    return openapi_document("apps", "v1", RESOURCES)


def schema(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = doc["components"]["schemas"][name]
    return found


def test_root_lists_each_group_version_with_the_hash_of_its_document() -> None:
    root = openapi_root(RESOURCES)
    assert set(root["paths"]) == {"api/v1", "apis/apps/v1", "apis/coordination.k8s.io/v1"}
    url = root["paths"]["apis/apps/v1"]["serverRelativeURL"]
    digest = document_hash(openapi_document("apps", "v1", RESOURCES))
    assert url == f"/openapi/v3/apis/apps/v1?hash={digest}"
    assert len(digest) == 128


def test_the_hash_changes_with_the_content_only() -> None:
    before = openapi_root(RESOURCES)["paths"]
    more = (
        *RESOURCES[:-2],
        Resource("apps", "v1", "Deployment", "deployments", True),
        RESOURCES[-1],
    )
    after = openapi_root(more)["paths"]
    assert before["apis/apps/v1"] != after["apis/apps/v1"]
    assert before["api/v1"] == after["api/v1"]
    assert openapi_root(RESOURCES) == openapi_root(list(RESOURCES))


def kubectl_finds_server_validation(doc: dict[str, Any], gvk: dict[str, str]) -> bool:
    """What kubectl 1.32 checks before it sends fieldValidation=Strict (fact sheet §8a)."""
    for item in doc["paths"].values():
        patch = item.get("patch")
        if patch and patch.get("x-kubernetes-group-version-kind") == gvk:
            params = patch.get("parameters", [])
            if any(p["name"] == "fieldValidation" and p["in"] == "query" for p in params):
                return True
    return False


@pytest.mark.parametrize(
    ("doc_name", "gvk"),
    [
        ("core", {"group": "", "version": "v1", "kind": "Pod"}),
        ("core", {"group": "", "version": "v1", "kind": "Node"}),
        ("core", {"group": "", "version": "v1", "kind": "Namespace"}),
        ("apps", {"group": "apps", "version": "v1", "kind": "Deployment"}),
        ("apps", {"group": "autoscaling", "version": "v1", "kind": "Scale"}),
    ],
)
def test_patch_operations_carry_gvk_and_field_validation(request, doc_name, gvk) -> None:
    assert kubectl_finds_server_validation(request.getfixturevalue(doc_name), gvk)


def test_pod_paths_and_operations(core: dict[str, Any]) -> None:
    item = core["paths"]["/api/v1/namespaces/{namespace}/pods/{name}"]
    assert set(item) == {"get", "put", "patch", "delete", "parameters"}
    patch = item["patch"]
    assert patch["operationId"] == "patchCoreV1NamespacedPod"
    assert set(patch["requestBody"]["content"]) == {
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    }
    ok = patch["responses"]["200"]["content"]["application/json"]["schema"]
    assert ok == {"$ref": SCHEMAS + CORE + "Pod"}
    assert {p["name"] for p in item["parameters"]} == {"name", "namespace", "pretty"}
    listing = core["paths"]["/api/v1/pods"]["get"]
    assert listing["operationId"] == "listCoreV1PodForAllNamespaces"
    assert "/api/v1/namespaces/{namespace}/pods/{name}/log" in core["paths"]
    assert core["paths"]["/api/v1/nodes/{name}/status"]["patch"]["operationId"] == (
        "patchCoreV1NodeStatus"
    )


def test_verbs_limit_the_operations(core: dict[str, Any]) -> None:
    assert set(core["paths"]["/api/v1/namespaces/{namespace}/bindings"]) == {"post", "parameters"}
    assert "/api/v1/namespaces/{namespace}/bindings/{name}" not in core["paths"]


def test_container_schema_describes_the_real_type(core: dict[str, Any]) -> None:
    container = schema(core, CORE + "Container")
    props = container["properties"]
    assert container["required"] == ["name"]
    assert props["image"] == {"type": "string"}
    assert props["ports"] == {
        "type": "array",
        "items": {"$ref": SCHEMAS + CORE + "ContainerPort"},
        "x-kubernetes-patch-merge-key": "containerPort",
        "x-kubernetes-patch-strategy": "merge",
        "x-kubernetes-list-type": "map",
        "x-kubernetes-list-map-keys": ["containerPort", "protocol"],
    }
    assert props["args"] == {
        "type": "array",
        "items": {"type": "string"},
        "x-kubernetes-list-type": "atomic",
    }
    assert props["resources"] == {"$ref": SCHEMAS + CORE + "ResourceRequirements"}
    assert schema(core, CORE + "ContainerPort")["properties"]["containerPort"] == {
        "type": "integer",
        "format": "int32",
    }
    limits = schema(core, CORE + "ResourceRequirements")["properties"]["limits"]
    assert limits == {
        "type": "object",
        "additionalProperties": {"$ref": SCHEMAS + "io.k8s.apimachinery.pkg.api.resource.Quantity"},
    }


def test_kinds_inlined_structs_and_special_components(core, apps) -> None:
    pod = schema(core, CORE + "Pod")
    assert pod["x-kubernetes-group-version-kind"] == [{"group": "", "kind": "Pod", "version": "v1"}]
    assert set(pod["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert {"name", "hostPath", "configMap", "projected"} <= set(
        schema(core, CORE + "Volume")["properties"]
    )
    assert schema(core, "io.k8s.apimachinery.pkg.util.intstr.IntOrString") == {
        "description": "IntOrString holds an int32 or a string.",
        "format": "int-or-string",
        "oneOf": [{"type": "integer"}, {"type": "string"}],
    }
    assert schema(core, "io.k8s.apimachinery.pkg.apis.meta.v1.Time")["format"] == "date-time"
    assert (
        schema(core, "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector")["x-kubernetes-map-type"]
        == "atomic"
    )
    strategy = schema(apps, "io.k8s.api.apps.v1.DeploymentSpec")["properties"]["strategy"]
    assert strategy["x-kubernetes-patch-strategy"] == "retainKeys"
    assert (
        schema(apps, "io.k8s.api.autoscaling.v1.Scale")["x-kubernetes-group-version-kind"][0][
            "kind"
        ]
        == "Scale"
    )
    assert "io.k8s.api.apps.v1.DeploymentList" in apps["components"]["schemas"]


@pytest.mark.parametrize("doc_name", ["core", "apps"])
def test_every_reference_resolves_inside_the_document(request, doc_name: str) -> None:
    doc = request.getfixturevalue(doc_name)
    text = json.dumps(doc)
    names = {chunk.split('"', 1)[0] for chunk in text.split('"' + SCHEMAS)[1:]}
    assert names and names <= set(doc["components"]["schemas"])


def test_group_version_of_document_paths() -> None:
    assert group_version("api/v1") == ("", "v1")
    assert group_version("apis/apps/v1") == ("apps", "v1")
    assert group_version("/apis/coordination.k8s.io/v1") == ("coordination.k8s.io", "v1")
    assert group_version("apis/apps") is None
    assert group_version("version") is None


def test_a_kind_without_a_type_is_an_error() -> None:
    with pytest.raises(ValueError, match="no type for Widget"):
        openapi_document("", "v1", [Resource("", "v1", "Widget", "widgets", True)])
