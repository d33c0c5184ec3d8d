"""Tables: kube's columns and every cell rule kubectl get shows, one case per rule."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from kin.apiserver.printers.cluster import node_roles, node_status
from kin.apiserver.printers.services import endpoints_summary, external_ip, service_ports
from kin.apiserver.tables import table
from kin.errors import APIError

NOW = datetime(2024, 6, 1, 12, 0, 0, tzinfo=UTC)
CREATED = "2024-06-01T11:55:00Z"  # five minutes before NOW
Obj = dict[str, Any]


def cells(resource: str, obj: Obj) -> list[Any]:
    cells_: list[Any] = table(resource, [obj], now=NOW)["rows"][0]["cells"]
    return cells_


def columns(resource: str) -> list[tuple[str, str, int]]:
    defs = table(resource, [], now=NOW)["columnDefinitions"]
    return [(c["name"], c["type"], c["priority"]) for c in defs]


# --- pods ---------------------------------------------------------------------------------


def running(name: str = "app", ready: bool = True, restarts: int = 0) -> Obj:
    return {"name": name, "ready": ready, "restartCount": restarts, "state": {"running": {}}}


def waiting(reason: str, name: str = "app", restarts: int = 0) -> Obj:
    return {"name": name, "restartCount": restarts, "state": {"waiting": {"reason": reason}}}


def terminated(name: str = "app", **state: Any) -> Obj:
    return {"name": name, "state": {"terminated": state}}


def pod(
    phase: str = "Running",
    statuses: list[Obj] | None = None,
    init: list[Obj] | None = None,
    init_specs: list[Obj] | None = None,
    containers: int = 1,
    **status: Any,
) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED},
        "spec": {
            "containers": [{"name": f"c{i}"} for i in range(containers)],
            "initContainers": init_specs or [],
        },
        "status": {
            "phase": phase,
            "containerStatuses": statuses or [],
            "initContainerStatuses": init or [],
        }
        | status,
    }


def gated() -> Obj:
    return pod("Pending", conditions=[{"type": "PodScheduled", "reason": "SchedulingGated"}])


def deleting(obj: Obj) -> Obj:
    obj["metadata"]["deletionTimestamp"] = "2024-06-01T11:59:00Z"
    return obj


SIDECAR = {"name": "proxy", "restartPolicy": "Always"}
TWO_INITS = [{"name": "i1"}, {"name": "i2"}]
READY = [{"type": "Ready", "status": "True"}]
INITIALIZED = [{"type": "Initialized", "status": "True"}]


@pytest.mark.parametrize(
    ("obj", "ready", "status"),
    [
        (pod("Pending"), "0/1", "Pending"),
        (pod("Running", [running()]), "1/1", "Running"),
        (pod("Running", [running(ready=False)]), "0/1", "Running"),
        (pod("Failed", reason="Evicted"), "0/1", "Evicted"),  # status.reason overrides phase
        (gated(), "0/1", "SchedulingGated"),
        (pod("Pending", [waiting("ContainerCreating")]), "0/1", "ContainerCreating"),
        (pod("Running", [waiting("CrashLoopBackOff")]), "0/1", "CrashLoopBackOff"),
        (pod("Succeeded", [terminated(reason="Completed")]), "0/1", "Completed"),
        (pod("Failed", [terminated(reason="Error", exitCode=1)]), "0/1", "Error"),
        (pod("Failed", [terminated(exitCode=137)]), "0/1", "ExitCode:137"),
        (pod("Failed", [terminated(exitCode=0, signal=9)]), "0/1", "Signal:9"),
        # the first container's state wins (containers are walked last to first)
        (pod("Pending", [waiting("ImagePullBackOff", "a"), running("b")], containers=2), "1/2", "ImagePullBackOff"),
        (pod("Running", [running("a"), waiting("ErrImagePull", "b")], containers=2), "1/2", "ErrImagePull"),
        (pod("Pending", [waiting("ErrImagePull", "a"), waiting("ContainerCreating", "b")], containers=2), "0/2", "ErrImagePull"),
        # a Completed container next to a running one: Running if the pod is Ready
        (pod("Running", [terminated("a", reason="Completed"), running("b")], containers=2, conditions=READY), "1/2", "Running"),
        (pod("Running", [terminated("a", reason="Completed"), running("b")], containers=2), "1/2", "NotReady"),
        # init containers
        (pod("Pending", init=[{"name": "i1", "state": {"running": {}}}], init_specs=TWO_INITS), "0/1", "Init:0/2"),
        (pod("Pending", init=[waiting("PodInitializing", "i1")], init_specs=TWO_INITS), "0/1", "Init:0/2"),
        (pod("Pending", init=[terminated("i1", exitCode=0), {"name": "i2", "state": {}}], init_specs=TWO_INITS), "0/1", "Init:1/2"),
        (pod("Pending", init=[waiting("CrashLoopBackOff", "i1")], init_specs=TWO_INITS), "0/1", "Init:CrashLoopBackOff"),
        (pod("Pending", init=[terminated("i1", reason="Error", exitCode=2)], init_specs=TWO_INITS), "0/1", "Init:Error"),
        (pod("Pending", init=[terminated("i1", exitCode=3)], init_specs=TWO_INITS), "0/1", "Init:ExitCode:3"),
        (pod("Pending", init=[terminated("i1", exitCode=143, signal=15)], init_specs=TWO_INITS), "0/1", "Init:Signal:15"),
        (pod("Pending", init=[terminated("i1", exitCode=0, signal=15)], init_specs=[{"name": "i1"}]), "0/1", "Pending"),  # exit 0 is done
        (pod("Running", [running()], init=[terminated("i1", exitCode=0), terminated("i2", exitCode=0)], init_specs=TWO_INITS), "1/1", "Running"),
        # a started sidecar counts as ready and in the total; the pod goes on to its containers
        (pod("Running", [running()], init=[running("proxy") | {"started": True}], init_specs=[SIDECAR]), "2/2", "Running"),
        (pod("Pending", init=[running("proxy", ready=False) | {"started": False}], init_specs=[SIDECAR]), "0/2", "Init:0/1"),
        # initializing, but the Initialized condition is already True: containers decide
        (pod("Running", [waiting("CrashLoopBackOff")], init=[waiting("PodInitializing", "i1")], init_specs=[{"name": "i1"}], conditions=INITIALIZED), "0/1", "CrashLoopBackOff"),
        # deletion
        (deleting(pod("Running", [running()])), "1/1", "Terminating"),
        (deleting(pod("Pending")), "0/1", "Terminating"),
        (deleting(pod("Running", [running()], reason="NodeLost")), "1/1", "Unknown"),
        (deleting(pod("Succeeded", [terminated(reason="Completed")])), "0/1", "Completed"),
        (deleting(pod("Failed", reason="Evicted")), "0/1", "Evicted"),
    ],
)  # fmt: skip
def test_pod_ready_and_status(obj: Obj, ready: str, status: str) -> None:
    assert cells("pods", obj)[1:3] == [ready, status]


def restarted(name: str, count: int, finished: str | None) -> Obj:
    status = running(name, restarts=count)
    if finished:
        status["lastState"] = {"terminated": {"finishedAt": finished}}
    return status


@pytest.mark.parametrize(
    ("obj", "restarts"),
    [
        (pod("Running", [running()]), "0"),
        (pod("Running", [restarted("app", 3, None)]), "3"),  # no time known
        (pod("Running", [restarted("app", 5, "2024-06-01T11:57:00Z")]), "5 (3m ago)"),
        # summed; the latest termination gives the age
        (pod("Running", [restarted("a", 1, "2024-06-01T10:00:00Z"), restarted("b", 2, "2024-06-01T11:59:30Z")], containers=2), "3 (30s ago)"),
        # while initializing only init containers count
        (pod("Pending", [restarted("app", 7, None)], init=[waiting("CrashLoopBackOff", "i1", restarts=4)], init_specs=[{"name": "i1"}]), "4"),
        # once initialized, plain init containers' restarts are dropped but sidecars' kept
        (pod("Running", [restarted("app", 2, None)], init=[terminated("i1", exitCode=0) | {"restartCount": 9}], init_specs=[{"name": "i1"}]), "2"),
        (pod("Running", [restarted("app", 2, None)], init=[restarted("proxy", 1, "2024-06-01T11:00:00Z") | {"started": True}], init_specs=[SIDECAR]), "3 (60m ago)"),
    ],
)  # fmt: skip
def test_pod_restarts(obj: Obj, restarts: str) -> None:
    assert cells("pods", obj)[3] == restarts


def test_pod_wide_cells_and_row_object() -> None:
    obj = pod("Running", [running()], podIPs=[{"ip": "10.244.1.5"}], podIP="10.9.9.9")
    obj["spec"] |= {
        "nodeName": "node1",
        "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}],
    }
    obj["status"]["conditions"] = [
        {"type": "a", "status": "True"},
        {"type": "b", "status": "False"},
    ]
    obj["metadata"]["labels"] = {"app": "web"}
    row = table("pods", [obj], now=NOW)["rows"][0]
    assert row["cells"] == [
        "web",
        "1/1",
        "Running",
        "0",
        "5m",
        "10.244.1.5",
        "node1",
        "<none>",
        "1/2",
    ]
    assert row["object"] == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": obj["metadata"],
    }
    assert "conditions" not in row


def test_pod_without_ip_node_or_gates() -> None:
    assert cells("pods", pod("Pending"))[5:] == ["<none>", "<none>", "<none>", "<none>"]
    assert cells("pods", pod("Running", podIP="10.1.1.1"))[5] == "10.1.1.1"
    nominated = pod("Pending", nominatedNodeName="node2")
    assert cells("pods", nominated)[7] == "node2"


@pytest.mark.parametrize(
    ("phase", "reason", "message"),
    [("Succeeded", "Succeeded", "The pod has completed successfully."), ("Failed", "Failed", "The pod failed.")],
)  # fmt: skip
def test_finished_pods_carry_a_completed_row_condition(
    phase: str, reason: str, message: str
) -> None:
    row = table("pods", [pod(phase)], now=NOW)["rows"][0]
    assert row["conditions"] == [
        {"type": "Completed", "status": "True", "reason": reason, "message": message}
    ]


# --- nodes --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("labels", "roles"),
    [
        ({}, "<none>"),
        ({"node-role.kubernetes.io/control-plane": ""}, "control-plane"),
        ({"node-role.kubernetes.io/worker": "", "node-role.kubernetes.io/control-plane": "true"}, "control-plane,worker"),
        ({"kubernetes.io/role": "master"}, "master"),
        ({"kubernetes.io/role": ""}, "<none>"),
        ({"node-role.kubernetes.io/": ""}, "<none>"),
        ({"kubernetes.io/role": "infra", "node-role.kubernetes.io/infra": ""}, "infra"),
        ({"node-role.kubernetes.io/b": "", "kubernetes.io/role": "a", "role": "c"}, "a,b"),
    ],
)  # fmt: skip
def test_node_roles(labels: dict[str, str], roles: str) -> None:
    assert node_roles(labels) == roles


@pytest.mark.parametrize(
    ("conditions", "unschedulable", "status"),
    [
        ([{"type": "Ready", "status": "True"}], False, "Ready"),
        ([{"type": "Ready", "status": "False"}], False, "NotReady"),
        ([{"type": "Ready", "status": "Unknown"}], False, "NotReady"),
        ([{"type": "MemoryPressure", "status": "False"}], False, "Unknown"),
        ([], True, "Unknown,SchedulingDisabled"),
        ([{"type": "Ready", "status": "True"}], True, "Ready,SchedulingDisabled"),
    ],
)
def test_node_status(conditions: list[Obj], unschedulable: bool, status: str) -> None:
    node = {"spec": {"unschedulable": unschedulable}, "status": {"conditions": conditions}}
    assert node_status(node) == status


def test_node_row() -> None:
    node = {
        "metadata": {"name": "kind-control-plane", "creationTimestamp": "2024-05-30T09:00:00Z",
                     "labels": {"node-role.kubernetes.io/control-plane": ""}},
        "status": {
            "conditions": [{"type": "Ready", "status": "True"}],
            "addresses": [{"type": "Hostname", "address": "kind"}, {"type": "InternalIP", "address": "172.18.0.2"}],
            "nodeInfo": {"kubeletVersion": "v1.32.2", "osImage": "Debian GNU/Linux 12 (bookworm)",
                         "kernelVersion": "6.1.0-18-amd64", "containerRuntimeVersion": "kin://0.1.0"},
        },
    }  # fmt: skip
    assert cells("nodes", node) == [
        "kind-control-plane", "Ready", "control-plane", "2d3h", "v1.32.2", "172.18.0.2", "<none>",
        "Debian GNU/Linux 12 (bookworm)", "6.1.0-18-amd64", "kin://0.1.0",
    ]  # fmt: skip
    bare = {"metadata": {"name": "n"}}
    assert (
        cells("nodes", bare)
        == ["n", "Unknown", "<none>", "<unknown>", ""] + ["<none>"] * 2 + ["<unknown>"] * 3
    )


# --- services, endpoints, endpoint slices -------------------------------------------------


@pytest.mark.parametrize(
    ("ports", "shown"),
    [
        ([], "<none>"),
        ([{"port": 80, "protocol": "TCP"}], "80/TCP"),
        ([{"port": 80, "nodePort": 30080, "protocol": "TCP"}], "80:30080/TCP"),
        ([{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}], "53/UDP,53/TCP"),
        ([{"port": 443, "nodePort": 0, "protocol": "TCP"}], "443/TCP"),
    ],
)
def test_service_ports(ports: list[Obj], shown: str) -> None:
    assert service_ports({"spec": {"ports": ports}}) == shown


@pytest.mark.parametrize(
    ("spec", "status", "shown"),
    [
        ({"type": "ClusterIP"}, {}, "<none>"),
        ({"type": "ClusterIP", "externalIPs": ["1.2.3.4", "5.6.7.8"]}, {}, "1.2.3.4,5.6.7.8"),
        ({"type": "NodePort"}, {}, "<none>"),
        ({"type": "LoadBalancer"}, {}, "<pending>"),
        ({"type": "LoadBalancer"}, {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}, {"hostname": "lb.example"}, {"ip": "1.1.1.1"}]}}, "1.1.1.1,9.9.9.9,lb.example"),
        ({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}, {"loadBalancer": {"ingress": [{"ip": "9.9.9.9"}]}}, "9.9.9.9,5.5.5.5"),
        ({"type": "LoadBalancer", "externalIPs": ["5.5.5.5"]}, {}, "5.5.5.5"),
        ({"type": "ExternalName", "externalName": "db.example.com"}, {}, "db.example.com"),
        ({}, {}, "<unknown>"),
    ],
)  # fmt: skip
def test_service_external_ip(spec: Obj, status: Obj, shown: str) -> None:
    assert external_ip({"spec": spec, "status": status}) == shown


def test_service_row() -> None:
    service = {
        "metadata": {"name": "web", "creationTimestamp": CREATED},
        "spec": {"type": "NodePort", "clusterIP": "10.96.0.20", "clusterIPs": ["10.96.0.20"],
                 "ports": [{"port": 80, "nodePort": 30080, "protocol": "TCP"}],
                 "selector": {"tier": "front", "app": "web"}},
    }  # fmt: skip
    assert cells("services", service) == [
        "web", "NodePort", "10.96.0.20", "<none>", "80:30080/TCP", "5m", "app=web,tier=front"
    ]  # fmt: skip
    headless = {"metadata": {"name": "h"}, "spec": {"type": "ClusterIP", "clusterIPs": ["None"]}}
    assert cells("services", headless)[2:5] == ["None", "<none>", "<none>"]
    assert cells("services", headless)[6] == "<none>"


def addresses(*ips: str) -> list[Obj]:
    return [{"ip": ip} for ip in ips]


@pytest.mark.parametrize(
    ("subsets", "shown"),
    [
        ([], "<none>"),
        ([{"addresses": addresses("10.244.1.5"), "ports": [{"port": 80}]}], "10.244.1.5:80"),
        ([{"addresses": addresses("10.244.1.5", "10.244.2.3", "10.244.2.4", "10.244.3.1", "10.244.3.2"), "ports": [{"port": 80}]}],
         "10.244.1.5:80,10.244.2.3:80,10.244.2.4:80 + 2 more..."),
        ([{"addresses": addresses("10.0.0.1", "10.0.0.2"), "ports": [{"port": 80}, {"port": 443}]}],
         "10.0.0.1:80,10.0.0.2:80,10.0.0.1:443 + 1 more..."),
        ([{"addresses": addresses("10.0.0.1", "10.0.0.2")}], "10.0.0.1,10.0.0.2"),  # headless, no ports
        ([{"addresses": addresses("fd00::5"), "ports": [{"port": 80}]}], "[fd00::5]:80"),
        ([{"addresses": addresses("10.0.0.1")}, {"addresses": addresses("10.0.0.2", "10.0.0.3", "10.0.0.4"), "ports": [{"port": 8080}]}],
         "10.0.0.1,10.0.0.2:8080,10.0.0.3:8080 + 1 more..."),
        ([{"notReadyAddresses": addresses("10.0.0.9"), "ports": [{"port": 80}]}], ""),
    ],
)  # fmt: skip
def test_endpoints_summary(subsets: list[Obj], shown: str) -> None:
    assert endpoints_summary({"subsets": subsets}) == shown


@pytest.mark.parametrize(
    ("ports", "endpoints", "shown_ports", "shown_endpoints"),
    [
        ([], [], "<unset>", "<unset>"),
        ([{"port": 80}, {"port": 443}], [{"addresses": ["10.0.0.1"]}], "80,443", "10.0.0.1"),
        ([{"name": "http"}, {}], [{"addresses": ["10.0.0.1", "10.0.0.2"]}], "http,*", "10.0.0.1,10.0.0.2"),
        ([{"port": p} for p in (1, 2, 3, 4, 5)], [{"addresses": [f"10.0.0.{i}"]} for i in range(1, 5)],
         "1,2,3 + 2 more...", "10.0.0.1,10.0.0.2,10.0.0.3 + 1 more..."),
    ],
)  # fmt: skip
def test_endpoint_slice_row(
    ports: list[Obj], endpoints: list[Obj], shown_ports: str, shown_endpoints: str
) -> None:
    slice_ = {"metadata": {"name": "web-abc", "creationTimestamp": CREATED}, "addressType": "IPv4"}
    row = cells("endpointslices", slice_ | {"ports": ports, "endpoints": endpoints})
    assert row == ["web-abc", "IPv4", shown_ports, shown_endpoints, "5m"]


# --- workloads ----------------------------------------------------------------------------

TEMPLATE = {"spec": {"containers": [{"name": "web", "image": "nginx:1.27"},
                                    {"name": "log", "image": "busybox"}]}}  # fmt: skip


def test_deployment_row() -> None:
    deployment = {
        "metadata": {"name": "web", "namespace": "default", "creationTimestamp": CREATED},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE},
        "status": {"readyReplicas": 2, "updatedReplicas": 3, "availableReplicas": 2},
    }
    assert cells("deployments", deployment) == [
        "web", "2/3", 3, 2, "5m", "web,log", "nginx:1.27,busybox", "app=web"
    ]  # fmt: skip
    fresh = {
        "metadata": {"name": "new"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "Bad"}]}},
    }
    assert cells("deployments.apps", fresh) == [
        "new",
        "0/1",
        0,
        0,
        "<unknown>",
        "",
        "",
        "<invalid>",
    ]


def test_replica_set_row() -> None:
    replica_set = {
        "metadata": {"name": "web-5d4f", "creationTimestamp": CREATED},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web", "pod-template-hash": "5d4f"}},
                 "template": TEMPLATE},
        "status": {"replicas": 3, "readyReplicas": 1},
    }  # fmt: skip
    assert cells("replicasets", replica_set) == [
        "web-5d4f", 3, 3, 1, "5m", "web,log", "nginx:1.27,busybox", "app=web,pod-template-hash=5d4f"
    ]  # fmt: skip
    assert (
        cells("replicasets", {"metadata": {"name": "r"}, "spec": {"selector": {}}})[-1] == "<none>"
    )
    bad = {
        "metadata": {"name": "r"},
        "spec": {"selector": {"matchExpressions": [{"key": "a", "operator": "In"}]}},
    }
    assert cells("replicasets", bad)[-1] == "<error>"


def test_daemon_set_row() -> None:
    daemon_set = {
        "metadata": {"name": "kube-flannel-ds", "creationTimestamp": CREATED},
        "spec": {"selector": {"matchLabels": {"app": "flannel"}},
                 "template": {"spec": {"nodeSelector": {"kubernetes.io/os": "linux"},
                                       "containers": [{"name": "kube-flannel", "image": "flannel:v0.26"}]}}},
        "status": {"desiredNumberScheduled": 2, "currentNumberScheduled": 2, "numberReady": 1,
                   "updatedNumberScheduled": 2, "numberAvailable": 1},
    }  # fmt: skip
    assert cells("daemonsets", daemon_set) == [
        "kube-flannel-ds", 2, 2, 1, 2, 1, "kubernetes.io/os=linux", "5m", "kube-flannel", "flannel:v0.26", "app=flannel",
    ]  # fmt: skip
    assert cells("daemonsets", {"metadata": {"name": "d"}})[6] == "<none>"


# --- events -------------------------------------------------------------------------------

EVENT = {
    "metadata": {"name": "web.17f3a", "namespace": "default"},
    "involvedObject": {"kind": "Pod", "name": "web", "fieldPath": "spec.containers{web}"},
    "reason": "Pulled", "type": "Normal", "message": "  Successfully pulled image\n",
    "source": {"component": "kubelet", "host": "node1"},
    "firstTimestamp": "2024-06-01T11:50:00Z", "lastTimestamp": "2024-06-01T11:58:00Z", "count": 4,
}  # fmt: skip


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({}, ["2m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Successfully pulled image", "10m", 4, "web.17f3a"]),
        # no lastTimestamp: first seen; no firstTimestamp: eventTime
        ({"lastTimestamp": None}, ["10m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Successfully pulled image", "10m", 4, "web.17f3a"]),
        ({"firstTimestamp": None, "lastTimestamp": None, "eventTime": "2024-06-01T11:59:00.123456Z", "count": 0},
         ["59s", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Successfully pulled image", "59s", 1, "web.17f3a"]),
        ({"firstTimestamp": None, "lastTimestamp": None}, ["<unknown>", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Successfully pulled image", "<unknown>", 4, "web.17f3a"]),
        # a series overrides last seen and count
        ({"series": {"count": 9, "lastObservedTime": "2024-06-01T11:59:50.000000Z"}},
         ["10s", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node1", "Successfully pulled image", "10m", 9, "web.17f3a"]),
        # source falls back to reportingController/reportingInstance; no host, no comma
        ({"source": {}, "reportingController": "default-scheduler"}, ["2m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "default-scheduler", "Successfully pulled image", "10m", 4, "web.17f3a"]),
        ({"source": {"component": "kubelet"}, "reportingInstance": "node2"}, ["2m", "Normal", "Pulled", "pod/web", "spec.containers{web}", "kubelet, node2", "Successfully pulled image", "10m", 4, "web.17f3a"]),
        # an object without a name shows its kind alone
        ({"involvedObject": {"kind": "Node"}}, ["2m", "Normal", "Pulled", "node", "", "kubelet, node1", "Successfully pulled image", "10m", 4, "web.17f3a"]),
    ],
)  # fmt: skip
def test_event_row(change: Obj, expected: list[Any]) -> None:
    event = {k: v for k, v in (EVENT | change).items() if v is not None}
    assert cells("events", event) == expected


def test_events_k8s_io_prints_like_core() -> None:
    event = {
        "metadata": {"name": "node1.1", "namespace": "default"},
        "regarding": {"kind": "Node", "name": "node1"},
        "reason": "Starting", "type": "Normal", "note": "Starting kubelet.",
        "eventTime": "2024-06-01T11:59:00.000000Z", "reportingController": "kubelet",
        "reportingInstance": "node1",
    }  # fmt: skip
    assert cells("events.events.k8s.io", event) == [
        "60s", "Normal", "Starting", "node/node1", "", "kubelet, node1", "Starting kubelet.", "60s", 1, "node1.1",
    ]  # fmt: skip


# --- the small kinds ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "obj", "expected"),
    [
        ("namespaces", {"metadata": {"name": "default", "creationTimestamp": CREATED}, "status": {"phase": "Active"}}, ["default", "Active", "5m"]),
        ("namespaces", {"metadata": {"name": "gone"}, "status": {"phase": "Terminating"}}, ["gone", "Terminating", "<unknown>"]),
        ("configmaps", {"metadata": {"name": "c"}, "data": {"a": "1", "b": "2"}, "binaryData": {"c": "AA=="}}, ["c", 3, "<unknown>"]),
        ("configmaps", {"metadata": {"name": "kube-root-ca.crt"}}, ["kube-root-ca.crt", 0, "<unknown>"]),
        ("secrets", {"metadata": {"name": "s"}, "type": "Opaque", "data": {"a": "MQ=="}, "stringData": {"a": "1", "b": "2"}}, ["s", "Opaque", 2, "<unknown>"]),
        ("serviceaccounts", {"metadata": {"name": "default"}}, ["default", 0, "<unknown>"]),
        ("serviceaccounts", {"metadata": {"name": "old"}, "secrets": [{"name": "old-token"}]}, ["old", 1, "<unknown>"]),
        ("leases", {"metadata": {"name": "node1", "creationTimestamp": CREATED}, "spec": {"holderIdentity": "node1"}}, ["node1", "node1", "5m"]),
        ("leases", {"metadata": {"name": "free"}, "spec": {}}, ["free", "", "<unknown>"]),
    ],
)  # fmt: skip
def test_small_kinds(resource: str, obj: Obj, expected: list[Any]) -> None:
    assert cells(resource, obj) == expected


def test_unknown_kinds_get_the_default_name_and_created_at() -> None:
    widget = {"metadata": {"name": "w", "creationTimestamp": "2024-06-01T13:55:00+02:00"}}
    assert cells("widgets.example.com", widget) == ["w", "2024-06-01T11:55:00Z"]
    assert cells("widgets.example.com", {"metadata": {"name": "x"}}) == [
        "x",
        "0001-01-01T00:00:00Z",
    ]
    assert columns("widgets.example.com") == [("Name", "string", 0), ("Created At", "date", 0)]


# --- columns ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("resource", "expected"),
    [
        ("pods", [("Name", "string", 0), ("Ready", "string", 0), ("Status", "string", 0), ("Restarts", "string", 0), ("Age", "string", 0),
                  ("IP", "string", 1), ("Node", "string", 1), ("Nominated Node", "string", 1), ("Readiness Gates", "string", 1)]),
        ("nodes", [("Name", "string", 0), ("Status", "string", 0), ("Roles", "string", 0), ("Age", "string", 0), ("Version", "string", 0),
                   ("Internal-IP", "string", 1), ("External-IP", "string", 1), ("OS-Image", "string", 1), ("Kernel-Version", "string", 1),
                   ("Container-Runtime", "string", 1)]),
        ("services", [("Name", "string", 0), ("Type", "string", 0), ("Cluster-IP", "string", 0), ("External-IP", "string", 0),
                      ("Port(s)", "string", 0), ("Age", "string", 0), ("Selector", "string", 1)]),
        ("deployments.apps", [("Name", "string", 0), ("Ready", "string", 0), ("Up-to-date", "string", 0), ("Available", "string", 0),
                              ("Age", "string", 0), ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)]),
        ("daemonsets", [("Name", "string", 0), ("Desired", "integer", 0), ("Current", "integer", 0), ("Ready", "integer", 0),
                        ("Up-to-date", "integer", 0), ("Available", "integer", 0), ("Node Selector", "string", 0), ("Age", "string", 0),
                        ("Containers", "string", 1), ("Images", "string", 1), ("Selector", "string", 1)]),
        ("events", [("Last Seen", "string", 0), ("Type", "string", 0), ("Reason", "string", 0), ("Object", "string", 0),
                    ("Subobject", "string", 1), ("Source", "string", 1), ("Message", "string", 0), ("First Seen", "string", 1),
                    ("Count", "string", 1), ("Name", "string", 1)]),
        ("endpoints", [("Name", "string", 0), ("Endpoints", "string", 0), ("Age", "string", 0)]),
        ("secrets", [("Name", "string", 0), ("Type", "string", 0), ("Data", "string", 0), ("Age", "string", 0)]),
        ("endpointslices.discovery.k8s.io", [("Name", "string", 0), ("AddressType", "string", 0), ("Ports", "string", 0),
                                             ("Endpoints", "string", 0), ("Age", "string", 0)]),
    ],
)  # fmt: skip
def test_column_sets(resource: str, expected: list[tuple[str, str, int]]) -> None:
    assert columns(resource) == expected


def test_column_definitions_carry_every_field() -> None:
    name, *_, gates = table("pods", [], now=NOW)["columnDefinitions"]
    assert name["format"] == "name" and name["description"].startswith("Name must be unique")
    assert set(gates) == {"name", "type", "format", "description", "priority"}
    assert gates["format"] == "" and "readiness gates" in gates["description"]


# --- the Table itself ---------------------------------------------------------------------


def test_table_envelope() -> None:
    result = table(
        "namespaces", [], resource_version="42", continue_token="c", remaining_item_count=3
    )
    assert result["kind"] == "Table" and result["apiVersion"] == "meta.k8s.io/v1"
    assert result["metadata"] == {"resourceVersion": "42", "continue": "c", "remainingItemCount": 3}
    assert result["rows"] == []
    assert table("namespaces", [])["metadata"] == {}
    assert table("pods", [], no_headers=True)["columnDefinitions"] == []


NAMESPACE = {
    "metadata": {"name": "ns1", "uid": "u", "labels": {"a": "b"}},
    "status": {"phase": "Active"},
}


@pytest.mark.parametrize(
    ("include", "expected"),
    [
        ("Metadata", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": NAMESPACE["metadata"]}),
        ("", {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": NAMESPACE["metadata"]}),
        ("Object", {"kind": "Namespace", "apiVersion": "v1", **NAMESPACE}),
    ],
)  # fmt: skip
def test_row_objects(include: str, expected: Obj) -> None:
    row = table("namespaces", [NAMESPACE], include_object=include, now=NOW)["rows"][0]
    assert row["object"] == expected


def test_row_objects_follow_the_table_version_and_none_leaves_them_out() -> None:
    row = table("namespaces", [NAMESPACE], api_version="meta.k8s.io/v1beta1")["rows"][0]
    assert row["object"]["apiVersion"] == "meta.k8s.io/v1beta1"
    assert "object" not in table("namespaces", [NAMESPACE], include_object="None")["rows"][0]
    deployment = table("deployments", [{"metadata": {"name": "d"}}], include_object="Object")
    assert deployment["rows"][0]["object"]["apiVersion"] == "apps/v1"


def test_unknown_include_object_is_a_bad_request() -> None:
    with pytest.raises(APIError) as caught:
        table("pods", [], include_object="Everything")
    assert (caught.value.code, caught.value.message) == (
        400,
        'unrecognized includeObject value: "Everything"',
    )
