"""kubectl's read-only commands: version, discovery, explain, and ``get`` in every output
format, compared against the objects the server stores."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import pytest
import yaml

from kin.testing.apiserver import Client, ServerProcess
from kin.testing.names import random_name

if TYPE_CHECKING:
    from tests.e2e.apiserver.conftest import Kubectl

Table = Callable[[str], list[dict[str, str]]]
MERGE = "application/merge-patch+json"
POD_IP = "10.244.1.7"


def make_pod(
    api: Client,
    namespace: str,
    name: str,
    labels: dict[str, str] | None = None,
    image: str = "nginx:1.25",
    node: str = "",
) -> dict[str, Any]:
    spec: dict[str, Any] = {"containers": [{"name": "web", "image": image}]}
    if node:
        spec["nodeName"] = node
    body = {"metadata": {"name": name, "labels": labels or {}}, "spec": spec}
    created = api.post(f"/api/v1/namespaces/{namespace}/pods", body)
    assert created.status == 201, created
    return dict(created.json())


def mark_running(api: Client, namespace: str, name: str, ip: str = POD_IP) -> dict[str, Any]:
    """What a kubelet reports once the pod's one container runs and is ready."""
    status = {
        "phase": "Running",
        "podIP": ip,
        "podIPs": [{"ip": ip}],
        "hostIP": "172.18.0.42",
        "conditions": [{"type": "Ready", "status": "True"}],
        "containerStatuses": [
            {
                "name": "web",
                "ready": True,
                "started": True,
                "restartCount": 3,
                "image": "nginx:1.25",
                "imageID": "",
                "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}},
            }
        ],
    }
    path = f"/api/v1/namespaces/{namespace}/pods/{name}/status"
    patched = api.patch(path, {"status": status}, MERGE)
    assert patched.status == 200, patched
    return dict(patched.json())


# -- server and discovery -------------------------------------------------------------------


def test_version_reports_the_server_as_1_32(kubectl: Kubectl, api: Client) -> None:
    done = kubectl("version")
    assert "Server Version: v1.32.0\n" in done.stdout
    assert "WARNING" not in done.stdout + done.stderr
    version = api.get("/version").json()
    assert (version["major"], version["minor"], version["gitVersion"]) == ("1", "32", "v1.32.0")


def test_cluster_info_names_the_control_plane(kubectl: Kubectl, server: ServerProcess) -> None:
    done = kubectl("cluster-info")
    lines = done.stdout.splitlines()
    assert lines[0] == f"Kubernetes control plane is running at {server.url}"
    assert "kubectl cluster-info dump" in lines[-1]


def test_api_resources_lists_every_group_with_short_names(kubectl: Kubectl, table: Table) -> None:
    output = kubectl("api-resources").stdout
    assert output.splitlines()[0].split() == [
        "NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND",
    ]  # fmt: skip
    rows = {(r["NAME"], r["APIVERSION"]): r for r in table(output)}
    expected = [
        ("pods", "po", "v1", "true", "Pod"),
        ("nodes", "no", "v1", "false", "Node"),
        ("namespaces", "ns", "v1", "false", "Namespace"),
        ("services", "svc", "v1", "true", "Service"),
        ("configmaps", "cm", "v1", "true", "ConfigMap"),
        ("secrets", "", "v1", "true", "Secret"),
        ("events", "ev", "v1", "true", "Event"),
        ("deployments", "deploy", "apps/v1", "true", "Deployment"),
        ("replicasets", "rs", "apps/v1", "true", "ReplicaSet"),
        ("daemonsets", "ds", "apps/v1", "true", "DaemonSet"),
        ("leases", "", "coordination.k8s.io/v1", "true", "Lease"),
        ("endpointslices", "", "discovery.k8s.io/v1", "true", "EndpointSlice"),
        ("events", "ev", "events.k8s.io/v1", "true", "Event"),
    ]
    for name, short, version, namespaced, kind in expected:
        row = rows[(name, version)]
        assert (row["SHORTNAMES"], row["NAMESPACED"], row["KIND"]) == (short, namespaced, kind)
    assert not [key for key in rows if "/" in key[0]], "subresources are not listed"


def test_api_resources_filters_by_group(kubectl: Kubectl, table: Table) -> None:
    rows = table(kubectl("api-resources", "--api-group=apps", "-o", "wide").stdout)
    assert [r["NAME"] for r in rows] == ["daemonsets", "deployments", "replicasets"]
    verbs = "create,delete,deletecollection,get,list,patch,update,watch"
    assert {r["VERBS"] for r in rows} == {verbs}


def test_explain_shows_container_ports_from_openapi(kubectl: Kubectl) -> None:
    output = kubectl("explain", "pods.spec.containers.ports").stdout
    assert output.startswith("KIND:       Pod\nVERSION:    v1\n")
    assert "FIELD: ports <[]ContainerPort>" in output
    assert "  containerPort\t<integer> -required-\n" in output
    assert "  protocol\t<string>\n" in output


# -- get: formats ----------------------------------------------------------------------------


def test_get_pods_default_table(k: Kubectl, api: Client, namespace: str, table: Table) -> None:
    make_pod(api, namespace, "web-1")
    mark_running(api, namespace, "web-1")
    make_pod(api, namespace, "web-2")
    output = k("get", "pods").stdout
    assert output.splitlines()[0].split() == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    rows = table(output)
    assert [(r["NAME"], r["READY"], r["STATUS"], r["RESTARTS"]) for r in rows] == [
        ("web-1", "1/1", "Running", "3"),
        ("web-2", "0/1", "Pending", "0"),
    ]
    assert all(r["AGE"].endswith("s") for r in rows)


def test_get_pods_wide_adds_ip_and_node(
    k: Kubectl, api: Client, namespace: str, node: str, table: Table
) -> None:
    make_pod(api, namespace, "web-1", node=node)
    mark_running(api, namespace, "web-1")
    make_pod(api, namespace, "web-2")
    gated = {
        "metadata": {"name": "web-3"},
        "spec": {
            "readinessGates": [
                {"conditionType": "example.com/a"},
                {"conditionType": "example.com/b"},
            ],
            "containers": [{"name": "web", "image": "nginx:1.25"}],
        },
    }
    assert api.post(f"/api/v1/namespaces/{namespace}/pods", gated).status == 201
    status = {
        "nominatedNodeName": node,
        "conditions": [{"type": "example.com/a", "status": "True"}],
    }
    path = f"/api/v1/namespaces/{namespace}/pods/web-3/status"
    assert api.patch(path, {"status": status}, MERGE).status == 200
    output = k("get", "pods", "-o", "wide").stdout
    assert list(table(output)[0]) == [
        "NAME", "READY", "STATUS", "RESTARTS", "AGE",
        "IP", "NODE", "NOMINATED NODE", "READINESS GATES",
    ]  # fmt: skip
    wide = [(r["IP"], r["NODE"], r["NOMINATED NODE"], r["READINESS GATES"]) for r in table(output)]
    assert wide == [
        (POD_IP, node, "<none>", "<none>"),
        ("<none>", "<none>", "<none>", "<none>"),
        ("<none>", "<none>", node, "1/2"),
    ]


def test_get_nodes_wide_shows_addresses_and_node_info(
    kubectl: Kubectl, node: str, table: Table
) -> None:
    output = kubectl("get", "node", node, "-o", "wide").stdout
    (row,) = table(output)
    assert row == {
        "NAME": node,
        "STATUS": "Ready",
        "ROLES": "worker",
        "AGE": row["AGE"],
        "VERSION": "v1.32.0",
        "INTERNAL-IP": "172.18.0.42",
        "EXTERNAL-IP": "<none>",
        "OS-IMAGE": "Debian GNU/Linux 12 (bookworm)",
        "KERNEL-VERSION": "6.1.0-kin",
        "CONTAINER-RUNTIME": "kin://0.1.0",
    }


def test_get_yaml_and_json_are_the_stored_object(
    k: Kubectl, api: Client, namespace: str, stored: Callable[[str], Any]
) -> None:
    make_pod(api, namespace, "web-1", {"app": "web"})
    live = stored(f"/api/v1/namespaces/{namespace}/pods/web-1")
    live["metadata"].pop("managedFields", None)  # kubectl hides them unless --show-managed-fields
    assert yaml.safe_load(k("get", "pod", "web-1", "-o", "yaml").stdout) == live
    assert json.loads(k("get", "pod", "web-1", "-o", "json").stdout) == live
    listed = json.loads(k("get", "pods", "-o", "json").stdout)
    assert (listed["kind"], listed["apiVersion"]) == ("List", "v1")
    assert [item["metadata"]["uid"] for item in listed["items"]] == [live["metadata"]["uid"]]


def test_get_name_jsonpath_and_custom_columns(
    k: Kubectl, api: Client, namespace: str, table: Table
) -> None:
    make_pod(api, namespace, "web-1", {"app": "web"}, image="nginx:1.25")
    make_pod(api, namespace, "web-2", {"app": "api"}, image="nginx:1.26")
    mark_running(api, namespace, "web-2")
    assert k("get", "pods", "-o", "name").stdout == "pod/web-1\npod/web-2\n"
    template = (
        '{range .items[*]}{.metadata.name}:{.spec.containers[0].image}:{.status.phase}{"\\n"}{end}'
    )
    jsonpath = k("get", "pods", "-o", f"jsonpath={template}").stdout
    assert jsonpath == "web-1:nginx:1.25:Pending\nweb-2:nginx:1.26:Running\n"
    columns = "NAME:.metadata.name,APP:.metadata.labels.app,IP:.status.podIP"
    rows = table(k("get", "pods", "-o", f"custom-columns={columns}").stdout)
    assert rows == [
        {"NAME": "web-1", "APP": "web", "IP": "<none>"},
        {"NAME": "web-2", "APP": "api", "IP": POD_IP},
    ]


def test_get_show_labels(k: Kubectl, api: Client, namespace: str, table: Table) -> None:
    make_pod(api, namespace, "web-1", {"tier": "fe", "app": "web"})
    make_pod(api, namespace, "web-2")
    rows = table(k("get", "pods", "--show-labels").stdout)
    assert [(r["NAME"], r["LABELS"]) for r in rows] == [
        ("web-1", "app=web,tier=fe"),
        ("web-2", "<none>"),
    ]


def test_get_sort_by(k: Kubectl, api: Client, namespace: str, table: Table) -> None:
    for name, image in (("a", "nginx:1.27"), ("b", "nginx:1.25"), ("c", "nginx:1.26")):
        make_pod(api, namespace, name, image=image)
    by_image = table(k("get", "pods", "--sort-by=.spec.containers[0].image").stdout)
    assert [r["NAME"] for r in by_image] == ["b", "c", "a"]
    assert by_image[0]["STATUS"] == "Pending", "sorted rows keep the server's columns"
    by_name = k("get", "pods", "--sort-by=.metadata.name", "-o", "name").stdout
    assert by_name == "pod/a\npod/b\npod/c\n"


def test_get_all_namespaces(kubectl: Kubectl, api: Client, namespace: str, table: Table) -> None:
    other = random_name("kt")
    assert api.post("/api/v1/namespaces", {"metadata": {"name": other}}).status == 201
    try:
        mark = random_name("mark")
        make_pod(api, namespace, "web-1", {"mark": mark})
        make_pod(api, other, "web-1", {"mark": mark})
        make_pod(api, other, "web-2", {"mark": "other"})
        rows = table(kubectl("get", "pods", "-A", "-l", f"mark={mark}").stdout)
        assert list(rows[0])[:2] == ["NAMESPACE", "NAME"]
        found = sorted((r["NAMESPACE"], r["NAME"]) for r in rows)
        assert found == sorted([(namespace, "web-1"), (other, "web-1")])
        system = table(kubectl("get", "namespaces").stdout)
        assert {"default", "kube-system", "kube-public", "kube-node-lease"} <= {
            r["NAME"] for r in system
        }
    finally:
        api.delete(f"/api/v1/namespaces/{other}")


def test_get_empty_namespace_says_so(k: Kubectl, namespace: str) -> None:
    done = k("get", "pods")
    assert done.stdout == ""
    assert done.stderr == f"No resources found in {namespace} namespace.\n"


# -- get: label selectors --------------------------------------------------------------------

SELECTED = {
    "a": {"env": "prod", "tier": "fe"},
    "b": {"env": "dev", "tier": "be"},
    "c": {"env": "test"},
    "d": {"other": "x"},
}


@pytest.mark.parametrize(
    ("selector", "names"),
    [
        ("env=prod", ["a"]),
        ("env==dev", ["b"]),
        ("env!=prod", ["b", "c", "d"]),
        ("env in (dev,test)", ["b", "c"]),
        ("env notin (dev,test)", ["a", "d"]),
        ("env", ["a", "b", "c"]),
        ("!env", ["d"]),
        ("env,tier=fe", ["a"]),
        ("env=nothing", []),
    ],
)
def test_get_label_selectors(
    k: Kubectl, api: Client, namespace: str, selector: str, names: list[str]
) -> None:
    for name, labels in SELECTED.items():
        make_pod(api, namespace, name, labels)
    output = k("get", "pods", "-l", selector, "-o", "name").stdout
    assert output.split() == [f"pod/{name}" for name in names]


# -- describe and events ----------------------------------------------------------------------


def make_event(
    api: Client, namespace: str, name: str, involved: dict[str, Any], reason: str, message: str
) -> None:
    body = {
        "metadata": {"name": name},
        "involvedObject": involved,
        "reason": reason,
        "message": message,
        "type": "Normal",
        "source": {"component": "default-scheduler"},
        "firstTimestamp": "2026-01-01T00:00:00Z",
        "lastTimestamp": "2026-01-01T00:01:00Z",
        "count": 2,
    }
    created = api.post(f"/api/v1/namespaces/{namespace}/events", body)
    assert created.status == 201, created


def involved_pod(pod: dict[str, Any]) -> dict[str, Any]:
    meta = pod["metadata"]
    return {
        "kind": "Pod",
        "apiVersion": "v1",
        "namespace": meta["namespace"],
        "name": meta["name"],
        "uid": meta["uid"],
    }


def test_get_events(k: Kubectl, api: Client, namespace: str, table: Table) -> None:
    pod = make_pod(api, namespace, "web-1")
    make_event(api, namespace, "web-1.a", involved_pod(pod), "Scheduled", "assigned to kn-1")
    make_event(api, namespace, "loose.b", {}, "Hello", "no object at all")
    rows = table(k("get", "events", "--sort-by=.metadata.name").stdout)
    assert [(r["TYPE"], r["REASON"], r["OBJECT"], r["MESSAGE"]) for r in rows] == [
        ("Normal", "Hello", "", "no object at all"),
        ("Normal", "Scheduled", "pod/web-1", "assigned to kn-1"),
    ]
    wide = table(
        k("get", "events", "-o", "wide", "--field-selector=involvedObject.name=web-1").stdout
    )
    assert [(r["SOURCE"], r["COUNT"], r["NAME"]) for r in wide] == [
        ("default-scheduler", "2", "web-1.a")
    ]


def test_core_events_read_through_events_k8s_io(k: Kubectl, api: Client, namespace: str) -> None:
    pod = make_pod(api, namespace, "web-1")
    make_event(api, namespace, "web-1.a", involved_pod(pod), "Scheduled", "assigned to kn-1")
    listed = json.loads(k("get", "events.v1.events.k8s.io", "-o", "json").stdout)
    (event,) = listed["items"]
    assert (event["apiVersion"], event["kind"]) == ("events.k8s.io/v1", "Event")
    assert (event["reason"], event["note"], event["type"]) == (
        "Scheduled",
        "assigned to kn-1",
        "Normal",
    )
    assert event["regarding"] == involved_pod(pod)
    assert event["deprecatedCount"] == 2
    assert event["deprecatedSource"] == {"component": "default-scheduler"}


def test_describe_pod_shows_its_events(k: Kubectl, api: Client, namespace: str) -> None:
    pod = make_pod(api, namespace, "web-1", {"app": "web"})
    other = make_pod(api, namespace, "web-2")
    make_event(api, namespace, "web-1.a", involved_pod(pod), "Scheduled", "assigned to kn-1")
    make_event(api, namespace, "web-2.a", involved_pod(other), "Pulled", "not web-1's event")
    output = k("describe", "pod", "web-1").stdout
    lines = output.splitlines()
    assert lines[0] == "Name:             web-1"
    assert f"Namespace:        {namespace}" in lines
    assert "Labels:           app=web" in lines
    assert "Status:           Pending" in lines
    assert "    Image:        nginx:1.25" in lines
    events = lines[lines.index("Events:") + 1 :]
    assert events[0].split() == ["Type", "Reason", "Age", "From", "Message"]
    assert events[2].split()[:2] == ["Normal", "Scheduled"]
    assert events[2].endswith("default-scheduler  assigned to kn-1")
    assert len(events) == 3, events


def test_describe_node(kubectl: Kubectl, api: Client, node: str, namespace: str) -> None:
    make_pod(api, namespace, "on-node", node=node)
    output = kubectl("describe", "node", node).stdout
    lines = output.splitlines()
    assert lines[0] == f"Name:               {node}"
    assert "Roles:              worker" in lines
    assert "Taints:             <none>" in lines
    assert "Unschedulable:      false" in lines
    assert "  InternalIP:  172.18.0.42" in lines
    assert "  Kernel Version:             6.1.0-kin" in lines
    assert "  Container Runtime Version:  kin://0.1.0" in lines
    assert "Non-terminated Pods:          (1 in total)" in lines
    assert any(line.split()[:2] == [namespace, "on-node"] for line in lines)
