"""PATCH in its four media types, server-side apply, and a media type it refuses."""

from __future__ import annotations

from typing import Any

import yaml

from kin.testing.apiserver import Client

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"


def two_container_pod(name: str = "web") -> Obj:
    containers = [
        {"name": "app", "image": "nginx:1.27", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "busybox:1.36", "command": ["sleep", "3600"]},
    ]
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": containers},
    }


def configmap_yaml(name: str, **data: str) -> bytes:
    body = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}
    return yaml.safe_dump(body).encode()


def test_merge_patch_merges_maps_and_deletes_with_null(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"metadata": {"name": "cfg", "labels": {"a": "1", "b": "2"}}, "data": {"x": "1"}}
    api.post(path, body)
    patch = {"metadata": {"labels": {"b": None, "c": "3"}}, "data": {"y": "2"}}
    patched = api.patch(f"{path}/cfg", patch, MERGE)
    assert patched.status == 200, patched
    obj = patched.json()
    assert obj["metadata"]["labels"] == {"a": "1", "c": "3"}
    assert obj["data"] == {"x": "1", "y": "2"}
    assert api.get(f"{path}/cfg").json()["data"] == {"x": "1", "y": "2"}


def test_merge_patch_replaces_lists_whole(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    api.post(path, two_container_pod())
    patch = {"spec": {"containers": [{"name": "app", "image": "nginx:1.28"}]}}
    refused = api.patch(f"{path}/web", patch, MERGE)
    assert refused.status == 422, refused  # a pod may not lose a container


def test_strategic_merge_changes_one_container_by_name_and_keeps_the_other(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/pods"
    api.post(path, two_container_pod())
    patch = {"spec": {"containers": [{"name": "sidecar", "image": "busybox:1.37"}]}}
    patched = api.patch(f"{path}/web", patch, STRATEGIC)
    assert patched.status == 200, patched
    containers = {c["name"]: c for c in api.get(f"{path}/web").json()["spec"]["containers"]}
    assert list(containers) == ["app", "sidecar"]
    assert containers["sidecar"]["image"] == "busybox:1.37"
    assert containers["sidecar"]["command"] == ["sleep", "3600"]
    assert containers["app"]["image"] == "nginx:1.27"
    assert containers["app"]["env"] == [{"name": "A", "value": "1"}]


def test_strategic_merge_merges_env_by_name(api: Client, ns: str) -> None:
    path = f"/apis/apps/v1/namespaces/{ns}/deployments"
    labels = {"app": "web"}
    template = {"metadata": {"labels": labels}, "spec": two_container_pod()["spec"]}
    body = {
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": labels}, "template": template},
    }
    api.post(path, body)
    env = [{"name": "B", "value": "2"}]
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "env": env}]}}}}
    patched = api.patch(f"{path}/web", patch, STRATEGIC)
    assert patched.status == 200, patched
    app = patched.json()["spec"]["template"]["spec"]["containers"][0]
    assert app["env"] == [{"name": "B", "value": "2"}, {"name": "A", "value": "1"}]


def test_json_patch_applies_operations_in_order(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}})
    ops = [
        {"op": "add", "path": "/data/y", "value": "2"},
        {"op": "remove", "path": "/data/x"},
        {"op": "add", "path": "/metadata/labels", "value": {"k": "v"}},
    ]
    patched = api.patch(f"{path}/cfg", ops, JSON_PATCH)
    assert patched.status == 200, patched
    assert patched.json()["data"] == {"y": "2"}
    assert patched.json()["metadata"]["labels"] == {"k": "v"}


def test_a_failed_json_patch_test_changes_nothing(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}}).json()
    ops = [
        {"op": "replace", "path": "/data/x", "value": "2"},
        {"op": "test", "path": "/data/x", "value": "1"},
    ]
    refused = api.patch(f"{path}/cfg", ops, JSON_PATCH)
    assert refused.status in (409, 422), refused
    stored = api.get(f"{path}/cfg").json()
    assert stored["data"] == {"x": "1"}
    assert stored["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


def test_patching_a_missing_object_is_404(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/ghost"
    for media in (MERGE, STRATEGIC):
        refused = api.patch(path, {"data": {"a": "b"}}, media)
        assert refused.status == 404, (media, refused)
        assert refused.json()["message"] == 'configmaps "ghost" not found'


def test_apply_creates_a_missing_object_with_201(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg?fieldManager=alice"
    created = api.patch(path, configmap_yaml("cfg", a="1"), APPLY)
    assert created.status == 201, created
    obj = created.json()
    assert obj["data"] == {"a": "1"}
    managers = [(m["manager"], m["operation"]) for m in obj["metadata"]["managedFields"]]
    assert managers == [("alice", "Apply")]
    again = api.patch(path, configmap_yaml("cfg", a="1", b="2"), APPLY)
    assert again.status == 200, again
    assert again.json()["data"] == {"a": "1", "b": "2"}


def test_apply_needs_a_field_manager(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    refused = api.patch(path, configmap_yaml("cfg", a="1"), APPLY)
    assert refused.status == 400, refused


def test_apply_conflicts_between_managers_unless_forced(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    assert (
        api.patch(path + "?fieldManager=alice", configmap_yaml("cfg", a="1"), APPLY).status == 201
    )
    refused = api.patch(path + "?fieldManager=bob", configmap_yaml("cfg", a="2"), APPLY)
    assert refused.status == 409, refused
    status = refused.json()
    assert status["reason"] == "Conflict"
    assert 'conflict with "alice"' in status["message"]
    assert ".data.a" in status["message"]
    assert api.get(f"/api/v1/namespaces/{ns}/configmaps/cfg").json()["data"] == {"a": "1"}
    forced = api.patch(path + "?fieldManager=bob&force=true", configmap_yaml("cfg", a="2"), APPLY)
    assert forced.status == 200, forced
    assert forced.json()["data"] == {"a": "2"}
    owners = {m["manager"] for m in forced.json()["metadata"]["managedFields"]}
    assert "bob" in owners


def test_apply_by_a_second_manager_of_other_fields_does_not_conflict(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps/cfg"
    api.patch(path + "?fieldManager=alice", configmap_yaml("cfg", a="1"), APPLY)
    shared = api.patch(path + "?fieldManager=bob", configmap_yaml("cfg", b="2"), APPLY)
    assert shared.status == 200, shared
    assert shared.json()["data"] == {"a": "1", "b": "2"}


def test_an_unsupported_patch_media_type_is_415(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}})
    for media in ("application/json", "text/plain", "application/xml"):
        refused = api.patch(f"{path}/cfg", b'{"data": {"x": "2"}}', media)
        assert refused.status == 415, (media, refused)
        assert refused.json()["reason"] == "UnsupportedMediaType"
    assert api.get(f"{path}/cfg").json()["data"] == {"x": "1"}


def test_a_malformed_patch_is_400(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}})
    refused = api.patch(f"{path}/cfg", b"{not json", MERGE)
    assert refused.status == 400, refused


def test_a_patch_with_a_stale_resource_version_is_409(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}}).json()
    api.patch(f"{path}/cfg", {"data": {"x": "2"}}, MERGE)
    stale = {
        "metadata": {"resourceVersion": created["metadata"]["resourceVersion"]},
        "data": {"x": "3"},
    }
    refused = api.patch(f"{path}/cfg", stale, MERGE)
    assert refused.status == 409, refused
    assert api.get(f"{path}/cfg").json()["data"] == {"x": "2"}


def test_dry_run_patch_changes_nothing(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, {"metadata": {"name": "cfg"}, "data": {"x": "1"}})
    patched = api.patch(f"{path}/cfg?dryRun=All", {"data": {"x": "2"}}, MERGE)
    assert patched.status == 200, patched
    assert patched.json()["data"] == {"x": "2"}
    assert api.get(f"{path}/cfg").json()["data"] == {"x": "1"}
