"""PUT: optimistic concurrency, identity, the status subresource, and generation."""

from __future__ import annotations

from typing import Any

from kin.testing.apiserver import Client

Obj = dict[str, Any]
MERGE = "application/merge-patch+json"
MODIFIED = (
    "the object has been modified; please apply your changes to the latest version and try again"
)


def deployment(name: str = "web", replicas: int = 1) -> Obj:
    labels = {"app": name}
    template = {
        "metadata": {"labels": labels},
        "spec": {"containers": [{"name": "app", "image": "nginx:1.27"}]},
    }
    spec = {"replicas": replicas, "selector": {"matchLabels": labels}, "template": template}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name}, "spec": spec}


def deployments(ns: str) -> str:
    return f"/apis/apps/v1/namespaces/{ns}/deployments"


def configmap(name: str = "cfg", **data: str) -> Obj:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


def test_a_stale_resource_version_is_409_conflict(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    first = api.post(path, configmap(a="1")).json()
    second = dict(first, data={"a": "2"})
    assert api.put(f"{path}/cfg", second).status == 200
    stale = dict(first, data={"a": "3"})
    refused = api.put(f"{path}/cfg", stale)
    assert refused.status == 409, refused
    status = refused.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == f'Operation cannot be fulfilled on configmaps "cfg": {MODIFIED}'
    assert status["details"] == {"name": "cfg", "kind": "configmaps"}
    assert api.get(f"{path}/cfg").json()["data"] == {"a": "2"}


def test_a_conflict_names_the_group(api: Client, ns: str) -> None:
    created = api.post(deployments(ns), deployment()).json()
    created["metadata"]["resourceVersion"] = "1"
    refused = api.put(f"{deployments(ns)}/web", created)
    assert refused.status == 409, refused
    assert refused.json()["message"].startswith(
        'Operation cannot be fulfilled on deployments.apps "web"'
    )


def test_without_a_resource_version_an_update_is_unconditional(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(path, configmap(a="1")).json()
    api.put(f"{path}/cfg", dict(created, data={"a": "2"}))
    blind = configmap(a="3")
    updated = api.put(f"{path}/cfg", blind)
    assert updated.status == 200, updated
    assert updated.json()["data"] == {"a": "3"}
    assert updated.json()["metadata"]["uid"] == created["metadata"]["uid"]
    assert int(updated.json()["metadata"]["resourceVersion"]) > int(
        created["metadata"]["resourceVersion"]
    )


def test_identity_cannot_be_changed_by_an_update(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(path, configmap()).json()
    changed = configmap()
    changed["metadata"].update(uid="other", creationTimestamp="2000-01-01T00:00:00Z")
    updated = api.put(f"{path}/cfg", changed).json()
    for key in ("uid", "creationTimestamp", "namespace"):
        assert updated["metadata"][key] == created["metadata"][key]


def test_a_name_mismatch_is_400(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, configmap("one"))
    refused = api.put(f"{path}/one", configmap("two"))
    assert refused.status == 400, refused
    assert refused.json()["message"] == (
        "the name of the object (two) does not match the name on the URL (one)"
    )
    assert api.get(f"{path}/two").status == 404


def test_updating_a_missing_object_is_404(api: Client, ns: str) -> None:
    refused = api.put(f"/api/v1/namespaces/{ns}/configmaps/ghost", configmap("ghost"))
    assert refused.status == 404, refused
    assert refused.json()["message"] == 'configmaps "ghost" not found'


def test_put_to_the_main_resource_never_changes_status(api: Client, ns: str) -> None:
    created = api.post(deployments(ns), deployment()).json()
    created["status"] = {"replicas": 7, "readyReplicas": 7}
    created["spec"]["replicas"] = 3
    updated = api.put(f"{deployments(ns)}/web", created)
    assert updated.status == 200, updated
    assert updated.json()["spec"]["replicas"] == 3
    assert updated.json()["status"].get("replicas") is None
    assert api.get(f"{deployments(ns)}/web").json()["status"].get("replicas") is None


def test_a_create_cannot_set_status(api: Client, ns: str) -> None:
    body = deployment()
    body["status"] = {"replicas": 7}
    created = api.post(deployments(ns), body).json()
    assert created["status"].get("replicas") is None


def test_put_to_status_changes_only_status(api: Client, ns: str) -> None:
    created = api.post(deployments(ns), deployment()).json()
    created["status"] = {"replicas": 2, "readyReplicas": 1}
    created["spec"]["replicas"] = 9
    created["metadata"]["labels"] = {"sneaky": "yes"}
    updated = api.put(f"{deployments(ns)}/web/status", created)
    assert updated.status == 200, updated
    stored = api.get(f"{deployments(ns)}/web").json()
    assert stored["status"]["replicas"] == 2 and stored["status"]["readyReplicas"] == 1
    assert stored["spec"]["replicas"] == 1
    assert "labels" not in stored["metadata"]
    assert stored["metadata"]["generation"] == 1


def test_patch_to_status_changes_only_status(api: Client, ns: str) -> None:
    api.post(deployments(ns), deployment())
    patch = {"spec": {"replicas": 5}, "status": {"replicas": 4}}
    patched = api.patch(f"{deployments(ns)}/web/status", patch, MERGE)
    assert patched.status == 200, patched
    stored = api.get(f"{deployments(ns)}/web").json()
    assert stored["status"]["replicas"] == 4
    assert stored["spec"]["replicas"] == 1


def test_a_status_write_is_conditional_on_its_resource_version(api: Client, ns: str) -> None:
    created = api.post(deployments(ns), deployment()).json()
    api.patch(f"{deployments(ns)}/web", {"spec": {"replicas": 2}}, MERGE)
    created["status"] = {"replicas": 1}
    refused = api.put(f"{deployments(ns)}/web/status", created)
    assert refused.status == 409, refused


def test_generation_counts_spec_changes_only(api: Client, ns: str) -> None:
    path = f"{deployments(ns)}/web"
    assert api.post(deployments(ns), deployment()).json()["metadata"]["generation"] == 1
    labelled = api.patch(path, {"metadata": {"labels": {"a": "b"}}}, MERGE).json()
    assert labelled["metadata"]["generation"] == 1
    status = api.patch(path + "/status", {"status": {"replicas": 1}}, MERGE).json()
    assert status["metadata"]["generation"] == 1
    scaled = api.patch(path, {"spec": {"replicas": 3}}, MERGE).json()
    assert scaled["metadata"]["generation"] == 2
    same = api.patch(path, {"spec": {"replicas": 3}}, MERGE).json()
    assert same["metadata"]["generation"] == 2
    current = api.get(path).json()
    current["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.28"
    assert api.put(path, current).json()["metadata"]["generation"] == 3


def test_a_client_cannot_set_generation(api: Client, ns: str) -> None:
    body = deployment()
    body["metadata"]["generation"] = 42
    created = api.post(deployments(ns), body).json()
    assert created["metadata"]["generation"] == 1
    created["metadata"]["generation"] = 42
    assert api.put(f"{deployments(ns)}/web", created).json()["metadata"]["generation"] == 1


def test_each_write_gets_a_new_larger_resource_version(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    seen = [int(api.post(path, configmap(a="0")).json()["metadata"]["resourceVersion"])]
    for i in range(1, 5):
        current = api.get(f"{path}/cfg").json()
        current["data"] = {"a": str(i)}
        seen.append(int(api.put(f"{path}/cfg", current).json()["metadata"]["resourceVersion"]))
    assert seen == sorted(set(seen))


def test_a_stored_object_round_trips_through_put_without_warnings(api: Client, ns: str) -> None:
    for path, body in (
        (deployments(ns), deployment()),
        (f"/api/v1/namespaces/{ns}/services", _service()),
        (f"/api/v1/namespaces/{ns}/configmaps", configmap()),
    ):
        created = api.post(path, body).json()
        name = created["metadata"]["name"]
        again = api.put(f"{path}/{name}?fieldValidation=Strict", created)
        assert again.status == 200, (path, again)
        assert again.headers.get_all("Warning") is None


def _service() -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "svc"},
        "spec": {"ports": [{"port": 80}], "type": "NodePort"},
    }


def test_a_write_that_changes_nothing_keeps_the_version_and_sends_no_event(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    body = {"metadata": {"name": "cfg", "labels": {"a": "1"}}, "data": {"k": "v"}}
    created = api.post(path + "?fieldManager=me", body).json()
    version = created["metadata"]["resourceVersion"]
    same = api.patch(f"{path}/cfg?fieldManager=me", {"metadata": {"labels": {"a": "1"}}}, MERGE)
    assert same.status == 200, same
    assert same.json()["metadata"]["resourceVersion"] == version
    assert same.json()["metadata"]["managedFields"] == created["metadata"]["managedFields"]
    again = api.put(f"{path}/cfg?fieldManager=me", created)
    assert again.status == 200, again
    assert again.json()["metadata"]["resourceVersion"] == version
    changed = api.patch(f"{path}/cfg", {"data": {"k": "w"}}, MERGE).json()
    assert int(changed["metadata"]["resourceVersion"]) > int(version)
    watch = f"{path}?watch=1&resourceVersion={version}&timeoutSeconds=1"
    events = [line for line in api.get(watch).body.splitlines() if line.strip()]
    assert len(events) == 1  # the real change only


def test_a_write_that_changes_nothing_still_checks_its_resource_version(
    api: Client, ns: str
) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    created = api.post(path, configmap(a="1")).json()
    api.patch(f"{path}/cfg", {"data": {"a": "2"}}, MERGE)
    api.patch(f"{path}/cfg", {"data": {"a": "1"}}, MERGE)
    refused = api.put(f"{path}/cfg", created)  # same content, stale version
    assert refused.status == 409, refused


def test_a_status_write_that_changes_nothing_keeps_the_version(api: Client, ns: str) -> None:
    path = f"{deployments(ns)}/web"
    api.post(deployments(ns), deployment())
    first = api.patch(path + "/status", {"status": {"replicas": 0}}, MERGE).json()
    second = api.patch(path + "/status", {"status": {"replicas": 0}}, MERGE).json()
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


def test_a_workload_s_selector_is_immutable(api: Client, ns: str) -> None:
    path = f"{deployments(ns)}/web"
    api.post(deployments(ns), deployment())
    relabel = {
        "spec": {
            "selector": {"matchLabels": {"app": "z"}},
            "template": {"metadata": {"labels": {"app": "z"}}},
        }
    }
    refused = api.patch(path, relabel, MERGE)
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        'Deployment.apps "web" is invalid: spec.selector: Invalid value: '
        'v1.LabelSelector{MatchLabels:map[string]string{"app":"z"}, '
        "MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable"
    )
    assert api.get(path).json()["spec"]["selector"] == {"matchLabels": {"app": "web"}}


def test_a_secret_s_type_is_immutable(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/secrets"
    api.post(path, {"metadata": {"name": "s"}, "data": {"a": "Yg=="}})
    refused = api.patch(f"{path}/s", {"type": "example.com/x"}, MERGE)
    assert refused.status == 422, refused
    assert refused.json()["message"] == (
        'Secret "s" is invalid: type: Invalid value: "example.com/x": field is immutable'
    )
    assert api.get(f"{path}/s").json()["type"] == "Opaque"


def test_secret_string_data_is_written_into_data(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/secrets"
    body = {"metadata": {"name": "s"}, "stringData": {"pw": "hunter2"}, "data": {"a": "YQ=="}}
    created = api.post(path, body)
    assert created.status == 201, created
    stored = api.get(f"{path}/s").json()
    assert stored["data"] == {"a": "YQ==", "pw": "aHVudGVyMg=="}
    assert "stringData" not in stored
    api.patch(f"{path}/s", {"stringData": {"a": "b"}}, MERGE)
    assert api.get(f"{path}/s").json()["data"] == {"a": "Yg==", "pw": "aHVudGVyMg=="}


def test_a_patch_may_not_rename_or_move_the_object(api: Client, ns: str) -> None:
    path = f"/api/v1/namespaces/{ns}/configmaps"
    api.post(path, configmap())
    renamed = api.patch(f"{path}/cfg", {"metadata": {"name": "other"}}, MERGE)
    assert renamed.status == 400, renamed
    assert renamed.json()["message"] == (
        "the name of the object (other) does not match the name on the URL (cfg)"
    )
    moved = api.patch(f"{path}/cfg", {"metadata": {"namespace": "default"}}, MERGE)
    assert moved.status == 400, moved
    assert moved.json()["message"] == (
        f"the namespace of the object (default) does not match the namespace on the URL ({ns})"
    )
    assert api.get(f"{path}/other").status == 404
