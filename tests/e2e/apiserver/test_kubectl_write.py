"""kubectl's writing commands (apply, server-side apply, create, the ``create <kind>``
generators that send protobuf, run, expose, scale, label, annotate, taint, cordon),
each checked against the object the server then stores."""

from __future__ import annotations

import base64
import ipaddress
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest

from kin.testing.apiserver import Client

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

Stored = Callable[[str], Any]
LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"
SERVICE_RANGE = ipaddress.ip_network("10.96.0.0/16")  # ServerConfig's default range

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {{app: web}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: app
        image: {app_image}
        env:
        - {{name: MODE, value: {mode}}}
        ports:
        - {{containerPort: 8080}}
      - name: sidecar
        image: busybox:1.36
        args: [sleep, infinity]
        env:
        - {{name: SIDE, value: car}}
"""


def deployment(app_image: str = "nginx:1.25", mode: str = "one") -> str:
    return DEPLOYMENT.format(app_image=app_image, mode=mode)


def containers(stored: Stored, namespace: str) -> dict[str, Any]:
    live = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    return {c["name"]: c for c in live["spec"]["template"]["spec"]["containers"]}


# -- client-side apply -----------------------------------------------------------------------


def test_apply_creates_configures_and_leaves_unchanged(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    assert k("apply", "-f", "-", input=deployment()).stdout == "deployment.apps/web created\n"
    first = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    applied = json.loads(first["metadata"]["annotations"][LAST_APPLIED])
    assert applied["metadata"] == {
        "annotations": {},
        "labels": {"app": "web"},
        "name": "web",
        "namespace": namespace,
    }
    assert first["spec"]["replicas"] == 2

    again = k("apply", "-f", "-", input=deployment())
    assert again.stdout == "deployment.apps/web unchanged\n"
    same = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert same["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]

    changed = k("apply", "-f", "-", input=deployment(app_image="nginx:1.27"))
    assert changed.stdout == "deployment.apps/web configured\n"
    after = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/web")
    assert after["metadata"]["generation"] == 2
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"


def test_apply_changes_one_container_by_name_and_keeps_the_other(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("apply", "-f", "-", input=deployment())
    before = containers(stored, namespace)
    k("apply", "-f", "-", input=deployment(app_image="nginx:1.27", mode="two"))
    after = containers(stored, namespace)
    assert list(after) == ["app", "sidecar"]
    assert after["sidecar"] == before["sidecar"]
    assert after["sidecar"]["env"] == [{"name": "SIDE", "value": "car"}]
    assert after["app"]["image"] == "nginx:1.27"
    assert after["app"]["env"] == [{"name": "MODE", "value": "two"}]
    assert after["app"]["ports"] == [{"containerPort": 8080, "protocol": "TCP"}]


def test_apply_removes_a_field_dropped_from_the_manifest(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("apply", "-f", "-", input=deployment())
    trimmed = deployment().replace("        args: [sleep, infinity]\n", "")
    assert k("apply", "-f", "-", input=trimmed).stdout == "deployment.apps/web configured\n"
    after = containers(stored, namespace)
    assert "args" not in after["sidecar"]
    assert after["app"]["env"] == [{"name": "MODE", "value": "one"}]


def test_apply_over_an_imperatively_created_object(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    manifest = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c1}\ndata: {a: '%s'}\n"
    k("create", "-f", "-", input=manifest % "1")
    done = k("apply", "-f", "-", input=manifest % "2")
    assert done.stdout == "configmap/c1 configured\n"
    assert done.stderr.startswith(
        "Warning: resource configmaps/c1 is missing the "
        "kubectl.kubernetes.io/last-applied-configuration annotation"
    )
    live = stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")
    assert live["data"] == {"a": "2"}
    assert json.loads(live["metadata"]["annotations"][LAST_APPLIED])["data"] == {"a": "2"}


# -- server-side apply -----------------------------------------------------------------------

CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
data:
  color: {color}
  size: large
"""


def test_server_side_apply_records_kubectl_as_an_apply_manager(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    done = k("apply", "--server-side", "-f", "-", input=CONFIGMAP.format(color="blue"))
    assert done.stdout == "configmap/settings serverside-applied\n"
    live = stored(f"/api/v1/namespaces/{namespace}/configmaps/settings")
    assert live["data"] == {"color": "blue", "size": "large"}
    assert LAST_APPLIED not in (live["metadata"].get("annotations") or {})
    (entry,) = live["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("kubectl", "Apply", "v1")
    assert entry["fieldsV1"] == {"f:data": {"f:color": {}, "f:size": {}}}

    again = k("apply", "--server-side", "-f", "-", input=CONFIGMAP.format(color="green"))
    assert again.stdout == "configmap/settings serverside-applied\n"
    assert stored(f"/api/v1/namespaces/{namespace}/configmaps/settings")["data"]["color"] == "green"


def test_server_side_apply_conflicts_with_another_manager_unless_forced(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("apply", "--server-side", "-f", "-", input=CONFIGMAP.format(color="blue"))
    path = f"/api/v1/namespaces/{namespace}/configmaps/settings"
    rival = ("apply", "--server-side", "--field-manager=rival", "-f", "-")
    refused = k(*rival, input=CONFIGMAP.format(color="red"), check=False)
    assert refused.returncode == 1
    first_line = refused.stderr.splitlines()[0]
    assert first_line == 'error: Apply failed with 1 conflict: conflict with "kubectl": .data.color'
    assert "--force-conflicts" in refused.stderr
    assert stored(path)["data"]["color"] == "blue"

    forced = k(*rival, "--force-conflicts", input=CONFIGMAP.format(color="red"))
    assert forced.stdout == "configmap/settings serverside-applied\n"
    live = stored(path)
    assert live["data"] == {"color": "red", "size": "large"}
    owners = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    assert owners == {
        "kubectl": {"f:data": {"f:size": {}}},  # equal values are shared, not conflicts
        "rival": {"f:data": {"f:color": {}, "f:size": {}}},
    }


def test_server_side_apply_shares_fields_with_equal_values(
    k: Kubectl, namespace: str, stored: Stored
) -> None:
    k("apply", "--server-side", "-f", "-", input=CONFIGMAP.format(color="blue"))
    shared = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {size: large, extra: x}\n"
    done = k("apply", "--server-side", "--field-manager=rival", "-f", "-", input=shared)
    assert done.returncode == 0
    live = stored(f"/api/v1/namespaces/{namespace}/configmaps/settings")
    assert live["data"] == {"color": "blue", "size": "large", "extra": "x"}
    owners = {e["manager"]: e["fieldsV1"]["f:data"] for e in live["metadata"]["managedFields"]}
    assert owners == {
        "kubectl": {"f:color": {}, "f:size": {}},
        "rival": {"f:size": {}, "f:extra": {}},
    }


# -- create -----------------------------------------------------------------------------------

POD = """\
apiVersion: v1
kind: Pod
metadata:
  name: web
  labels: {app: web}
spec:
  containers:
  - name: web
    image: nginx:1.25
"""


def test_create_from_file_then_already_exists(k: Kubectl, namespace: str, stored: Stored) -> None:
    assert k("create", "-f", "-", input=POD).stdout == "pod/web created\n"
    live = stored(f"/api/v1/namespaces/{namespace}/pods/web")
    assert live["metadata"]["labels"] == {"app": "web"}
    assert LAST_APPLIED not in (live["metadata"].get("annotations") or {})
    assert [e["manager"] for e in live["metadata"]["managedFields"]] == ["kubectl-create"]
    assert live["status"]["phase"] == "Pending"

    again = k("create", "-f", "-", input=POD, check=False)
    assert again.returncode == 1
    assert again.stderr == (
        'Error from server (AlreadyExists): error when creating "STDIN": '
        'pods "web" already exists\n'
    )
    assert (
        stored(f"/api/v1/namespaces/{namespace}/pods/web")["metadata"]["uid"]
        == (live["metadata"]["uid"])
    )


def test_create_deployment_sends_protobuf(k: Kubectl, namespace: str, stored: Stored) -> None:
    done = k("create", "deployment", "d1", "--image=nginx:1.25", "--replicas=2", "--port=80")
    assert done.stdout == "deployment.apps/d1 created\n"
    live = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1")
    assert live["spec"]["replicas"] == 2
    assert live["spec"]["selector"] == {"matchLabels": {"app": "d1"}}
    assert live["spec"]["template"]["metadata"]["labels"] == {"app": "d1"}
    (container,) = live["spec"]["template"]["spec"]["containers"]
    assert (container["name"], container["image"]) == ("nginx", "nginx:1.25")
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]
    assert [e["manager"] for e in live["metadata"]["managedFields"]] == ["kubectl-create"]


def test_create_namespace(kubectl: Kubectl, api: Client) -> None:
    name = "kt-created-ns"
    try:
        assert kubectl("create", "namespace", name).stdout == f"namespace/{name} created\n"
        live = api.get(f"/api/v1/namespaces/{name}").json()
        assert live["status"]["phase"] == "Active"
        assert live["metadata"]["labels"] == {"kubernetes.io/metadata.name": name}
    finally:
        api.delete(f"/api/v1/namespaces/{name}")


def test_create_configmap_and_secret(k: Kubectl, namespace: str, stored: Stored) -> None:
    made = k("create", "configmap", "c1", "--from-literal=a=1", "--from-literal=b=two")
    assert made.stdout == "configmap/c1 created\n"
    assert stored(f"/api/v1/namespaces/{namespace}/configmaps/c1")["data"] == {"a": "1", "b": "two"}

    made = k("create", "secret", "generic", "s1", "--from-literal=password=hunter2")
    assert made.stdout == "secret/s1 created\n"
    secret = stored(f"/api/v1/namespaces/{namespace}/secrets/s1")
    assert secret["type"] == "Opaque"
    assert base64.b64decode(secret["data"]["password"]) == b"hunter2"


def test_create_service_clusterip(k: Kubectl, namespace: str, stored: Stored) -> None:
    made = k("create", "service", "clusterip", "svc1", "--tcp=80:8080")
    assert made.stdout == "service/svc1 created\n"
    live = stored(f"/api/v1/namespaces/{namespace}/services/svc1")
    spec = live["spec"]
    assert spec["type"] == "ClusterIP"
    assert spec["selector"] == {"app": "svc1"}
    assert spec["ports"] == [{"name": "80-8080", "port": 80, "protocol": "TCP", "targetPort": 8080}]
    assert ipaddress.ip_address(spec["clusterIP"]) in SERVICE_RANGE
    assert spec["clusterIPs"] == [spec["clusterIP"]]


# -- run, expose, scale ---------------------------------------------------------------------


def test_run_then_expose(k: Kubectl, namespace: str, stored: Stored) -> None:
    ran = k("run", "r1", "--image=nginx:1.25", "--labels=app=r1,tier=web", "--port=80")
    assert ran.stdout == "pod/r1 created\n"
    pod = stored(f"/api/v1/namespaces/{namespace}/pods/r1")
    assert pod["metadata"]["labels"] == {"app": "r1", "tier": "web"}
    (container,) = pod["spec"]["containers"]
    assert (container["name"], container["image"]) == ("r1", "nginx:1.25")
    assert container["ports"] == [{"containerPort": 80, "protocol": "TCP"}]

    exposed = k("expose", "pod", "r1", "--port=8080", "--target-port=80", "--name=r1svc")
    assert exposed.stdout == "service/r1svc exposed\n"
    spec = stored(f"/api/v1/namespaces/{namespace}/services/r1svc")["spec"]
    assert spec["selector"] == {"app": "r1", "tier": "web"}
    assert spec["ports"] == [{"port": 8080, "protocol": "TCP", "targetPort": 80}]
    assert spec["type"] == "ClusterIP"
    address = ipaddress.ip_address(spec["clusterIP"])
    assert address in SERVICE_RANGE
    assert address != ipaddress.ip_address("10.96.0.1"), "that one is the kubernetes Service's"
    shown = k("get", "service", "r1svc", "-o", "jsonpath={.spec.clusterIP}").stdout
    assert shown == spec["clusterIP"]


def test_scale_changes_stored_replicas(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "deployment", "d1", "--image=nginx:1.25")
    assert k("scale", "deployment", "d1", "--replicas=4").stdout == "deployment.apps/d1 scaled\n"
    live = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1")
    assert live["spec"]["replicas"] == 4
    scale = stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1/scale")
    assert (scale["kind"], scale["apiVersion"]) == ("Scale", "autoscaling/v1")
    assert scale["spec"] == {"replicas": 4}
    guarded = k("scale", "deployment", "d1", "--replicas=1", "--current-replicas=3", check=False)
    assert guarded.returncode == 1
    assert stored(f"/apis/apps/v1/namespaces/{namespace}/deployments/d1")["spec"]["replicas"] == 4


# -- label, annotate -------------------------------------------------------------------------


def test_label_add_overwrite_and_remove(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("run", "r1", "--image=nginx:1.25", "--labels=app=r1")
    path = f"/api/v1/namespaces/{namespace}/pods/r1"
    assert k("label", "pod", "r1", "env=dev").stdout == "pod/r1 labeled\n"
    live = stored(path)
    assert live["metadata"]["labels"] == {"app": "r1", "env": "dev"}
    owners = {e["manager"]: e["fieldsV1"] for e in live["metadata"]["managedFields"]}
    assert owners["kubectl-label"] == {"f:metadata": {"f:labels": {"f:env": {}}}}

    refused = k("label", "pod", "r1", "env=prod", check=False)
    assert refused.returncode == 1
    assert refused.stderr == "error: 'env' already has a value (dev), and --overwrite is false\n"
    assert stored(path)["metadata"]["labels"]["env"] == "dev"

    assert k("label", "pod", "r1", "env=prod", "--overwrite").stdout == "pod/r1 labeled\n"
    assert stored(path)["metadata"]["labels"] == {"app": "r1", "env": "prod"}

    assert k("label", "pod", "r1", "env-").stdout == "pod/r1 unlabeled\n"
    live = stored(path)
    assert live["metadata"]["labels"] == {"app": "r1"}
    managers = [e["manager"] for e in live["metadata"]["managedFields"]]
    assert managers == ["kubectl-run"], "a manager left owning nothing is dropped"


def test_annotate(k: Kubectl, namespace: str, stored: Stored) -> None:
    k("create", "configmap", "c1", "--from-literal=a=1")
    path = f"/api/v1/namespaces/{namespace}/configmaps/c1"
    note = "deployed by the e2e suite; see https://example.com/x?y=1"
    done = k("annotate", "configmap", "c1", f"note={note}", "owner=team-a")
    assert done.stdout == "configmap/c1 annotated\n"
    assert stored(path)["metadata"]["annotations"] == {"note": note, "owner": "team-a"}
    k("annotate", "configmap", "c1", "owner-")
    assert stored(path)["metadata"]["annotations"] == {"note": note}
    assert stored(path)["data"] == {"a": "1"}


# -- nodes: taint, cordon --------------------------------------------------------------------


def test_taint_and_untaint(kubectl: Kubectl, node: str, stored: Stored) -> None:
    path = f"/api/v1/nodes/{node}"
    done = kubectl("taint", "node", node, "dedicated=gpu:NoSchedule")
    assert done.stdout == f"node/{node} tainted\n"
    kubectl("taint", "node", node, "spot:PreferNoSchedule")
    assert stored(path)["spec"]["taints"] == [  # kubectl puts the new taint first
        {"key": "spot", "effect": "PreferNoSchedule"},
        {"key": "dedicated", "value": "gpu", "effect": "NoSchedule"},
    ]
    described = kubectl("describe", "node", node).stdout
    assert "Taints:             dedicated=gpu:NoSchedule\n" in described  # sorted by kubectl
    assert "                    spot:PreferNoSchedule\n" in described

    assert kubectl("taint", "node", node, "dedicated-").stdout == f"node/{node} untainted\n"
    assert stored(path)["spec"]["taints"] == [{"key": "spot", "effect": "PreferNoSchedule"}]
    kubectl("taint", "node", node, "spot:PreferNoSchedule-")
    assert "taints" not in stored(path)["spec"]
    assert stored(path)["status"]["nodeInfo"]["kernelVersion"] == "6.1.0-kin", "status kept"


def test_cordon_and_uncordon(
    kubectl: Kubectl, node: str, stored: Stored, table: Callable[[str], list[dict[str, str]]]
) -> None:
    path = f"/api/v1/nodes/{node}"
    assert kubectl("cordon", node).stdout == f"node/{node} cordoned\n"
    assert stored(path)["spec"]["unschedulable"] is True
    (row,) = table(kubectl("get", "node", node).stdout)
    assert row["STATUS"] == "Ready,SchedulingDisabled"
    assert kubectl("cordon", node).stdout == f"node/{node} already cordoned\n"

    assert kubectl("uncordon", node).stdout == f"node/{node} uncordoned\n"
    assert not stored(path)["spec"].get("unschedulable")
    (row,) = table(kubectl("get", "node", node).stdout)
    assert row["STATUS"] == "Ready"


@pytest.mark.parametrize(("dry_run", "said"), [("server", "server dry run"), ("client", "dry run")])
def test_dry_run_stores_nothing(
    k: Kubectl, namespace: str, api: Client, dry_run: str, said: str
) -> None:
    done = k("create", "-f", "-", f"--dry-run={dry_run}", input=POD)
    assert done.stdout == f"pod/web created ({said})\n"
    assert api.get(f"/api/v1/namespaces/{namespace}/pods/web").status == 404
