"""``kubectl patch`` in its three dialects and ``kubectl replace`` with optimistic
concurrency, checked against the stored objects."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import yaml

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

Stored = Callable[[str], Any]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web, stage: beta}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: app
        image: nginx:1.25
        env: [{name: MODE, value: one}]
      - name: sidecar
        image: busybox:1.36
"""


def deployment_at(stored: Stored, namespace: str) -> dict[str, Any]:
    return dict(stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web"))


def by_name(deployment: dict[str, Any]) -> dict[str, Any]:
    return {c["name"]: c for c in deployment["spec"]["template"]["spec"]["containers"]}


def test_strategic_patch_merges_containers_by_name(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("create", "-f", "-", input=DEPLOYMENT)
    before = by_name(deployment_at(stored, namespace))
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "app", "image": "nginx:1.27", "env": [{"name": "EXTRA", "value": "x"}]},
    ]}}}}  # fmt: skip
    done = k("patch", "deployment", "web", "-p", json.dumps(patch))
    assert done.stdout == "deployment.apps/web patched\n"
    after = by_name(deployment_at(stored, namespace))
    assert list(after) == ["app", "sidecar"]
    assert after["sidecar"] == before["sidecar"]
    assert after["app"]["image"] == "nginx:1.27"
    assert after["app"]["env"] == [
        {"name": "EXTRA", "value": "x"},
        {"name": "MODE", "value": "one"},
    ], "env merges by name too; the patch's entries come first"


def test_strategic_patch_delete_directive(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "-f", "-", input=DEPLOYMENT)
    patch = {"spec": {"template": {"spec": {"containers": [
        {"name": "sidecar", "$patch": "delete"},
    ]}}}}  # fmt: skip
    k("patch", "deployment", "web", "-p", json.dumps(patch))
    assert list(by_name(deployment_at(stored, namespace))) == ["app"]


def test_a_patch_that_changes_nothing_writes_nothing(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    """kube-apiserver skips a write whose result equals the stored object, so the
    resourceVersion stays and kubectl says ``(no change)``."""
    k("create", "-f", "-", input=DEPLOYMENT)
    version = deployment_at(stored, namespace)["metadata"]["resourceVersion"]
    done = k("patch", "deployment", "web", "-p", '{"spec":{"replicas":2}}')
    assert deployment_at(stored, namespace)["metadata"]["resourceVersion"] == version
    assert done.stdout == "deployment.apps/web patched (no change)\n"
    assert k("label", "deployment", "web", "app=web", "--overwrite").returncode == 0
    assert deployment_at(stored, namespace)["metadata"]["resourceVersion"] == version


def test_merge_patch_replaces_lists_and_deletes_with_null(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("create", "-f", "-", input=DEPLOYMENT)
    patch = {
        "metadata": {"labels": {"stage": None, "owner": "team-a"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "nginx:1.27"}]}}},
    }
    done = k("patch", "deployment", "web", "--type=merge", "-p", json.dumps(patch))
    assert done.stdout == "deployment.apps/web patched\n"
    after = deployment_at(stored, namespace)
    assert after["metadata"]["labels"] == {"app": "web", "owner": "team-a"}
    (only,) = after["spec"]["template"]["spec"]["containers"]
    assert (only["name"], only["image"]) == ("only", "nginx:1.27")
    assert only["imagePullPolicy"] == "IfNotPresent", "the new list is defaulted again"


def test_json_patch_operations(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "-f", "-", input=DEPLOYMENT)
    operations = [
        {"op": "test", "path": "/spec/replicas", "value": 2},
        {"op": "replace", "path": "/spec/replicas", "value": 5},
        {"op": "add", "path": "/metadata/labels/owner", "value": "team-a"},
        {"op": "remove", "path": "/metadata/labels/stage"},
        {"op": "add", "path": "/spec/template/spec/containers/0/env/-",
         "value": {"name": "ADDED", "value": "1"}},
    ]  # fmt: skip
    done = k("patch", "deployment", "web", "--type=json", "-p", json.dumps(operations))
    assert done.stdout == "deployment.apps/web patched\n"
    after = deployment_at(stored, namespace)
    assert after["spec"]["replicas"] == 5
    assert after["metadata"]["labels"] == {"app": "web", "owner": "team-a"}
    assert by_name(after)["app"]["env"] == [
        {"name": "MODE", "value": "one"},
        {"name": "ADDED", "value": "1"},
    ]


def test_json_patch_failed_test_changes_nothing(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "-f", "-", input=DEPLOYMENT)
    before = deployment_at(stored, namespace)
    operations = [
        {"op": "replace", "path": "/spec/replicas", "value": 7},
        {"op": "test", "path": "/spec/replicas", "value": 9},
    ]
    failed = k(
        "patch", "deployment", "web", "--type=json", "-p", json.dumps(operations), check=False
    )
    assert failed.returncode == 1
    assert failed.stderr == (
        "The request is invalid: the server rejected our request due to an error in our request\n"
    )
    after = deployment_at(stored, namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
    assert after["spec"]["replicas"] == 2


def test_patch_status_subresource(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("run", "r1", "--image=nginx:1.25")
    status = {"status": {"phase": "Running", "podIP": "10.244.0.9"}}
    spec_too = {**status, "metadata": {"labels": {"ignored": "yes"}}}
    done = k(
        "patch", "pod", "r1", "--subresource=status", "--type=merge", "-p", json.dumps(spec_too)
    )
    assert done.stdout == "pod/r1 patched\n"
    live = stored(f"/api/v1/namespaces/{namespace}/pods/r1")
    assert (live["status"]["phase"], live["status"]["podIP"]) == ("Running", "10.244.0.9")
    assert "ignored" not in live["metadata"]["labels"], "status writes leave metadata.labels"


def test_pod_spec_is_immutable(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("run", "r1", "--image=nginx:1.25")
    refused = k("patch", "pod", "r1", "-p", '{"spec":{"restartPolicy":"Never"}}', check=False)
    assert refused.returncode == 1
    assert refused.stderr.startswith(
        'The Pod "r1" is invalid: spec: Forbidden: pod updates may not change fields other than '
        "`spec.containers[*].image`"
    )
    assert stored(f"/api/v1/namespaces/{namespace}/pods/r1")["spec"]["restartPolicy"] == "Always"
    k("patch", "pod", "r1", "-p", '{"spec":{"containers":[{"name":"r1","image":"nginx:1.27"}]}}')
    live = stored(f"/api/v1/namespaces/{namespace}/pods/r1")
    assert live["spec"]["containers"][0]["image"] == "nginx:1.27"


# -- replace ---------------------------------------------------------------------------------


def test_replace_with_the_current_version(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "configmap", "c1", "--from-literal=a=1", "--from-literal=b=2")
    current = yaml.safe_load(k("get", "configmap", "c1", "-o", "yaml").stdout)
    current["data"] = {"a": "10", "c": "3"}
    done = k("replace", "-f", "-", input=yaml.safe_dump(current))
    assert done.stdout == "configmap/c1 replaced\n"
    live = stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")
    assert live["data"] == {"a": "10", "c": "3"}, "replace drops what the new body lacks"
    assert int(live["metadata"]["resourceVersion"]) > int(current["metadata"]["resourceVersion"])


def test_replace_with_a_stale_version_conflicts(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "configmap", "c1", "--from-literal=a=1")
    stale = yaml.safe_load(k("get", "configmap", "c1", "-o", "yaml").stdout)
    k("patch", "configmap", "c1", "-p", '{"data":{"a":"2"}}')
    stale["data"] = {"a": "stale"}
    refused = k("replace", "-f", "-", input=yaml.safe_dump(stale), check=False)
    assert refused.returncode == 1
    assert refused.stderr == (
        'Error from server (Conflict): error when replacing "STDIN": Operation cannot be '
        'fulfilled on configmaps "c1": the object has been modified; please apply your '
        "changes to the latest version and try again\n"
    )
    assert stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")["data"] == {"a": "2"}

    del stale["metadata"]["resourceVersion"]  # no precondition: last writer wins
    assert k("replace", "-f", "-", input=yaml.safe_dump(stale)).stdout == "configmap/c1 replaced\n"
    assert stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")["data"] == {"a": "stale"}


def test_replace_force_recreates(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "configmap", "c1", "--from-literal=a=1")
    old_uid = stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")["metadata"]["uid"]
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\ndata: {a: forced}\n"
    done = k("replace", "--force", "-f", "-", input=manifest)
    assert done.stdout == 'configmap "c1" deleted\nconfigmap/c1 replaced\n'
    live = stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")
    assert live["data"] == {"a": "forced"}
    assert live["metadata"]["uid"] != old_uid
