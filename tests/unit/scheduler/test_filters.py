"""The scheduler's filters and scores on plain objects: what fits where, and why not."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from kin.kube.events import now
from kin.kube.matching import tolerates
from kin.scheduler import filters
from kin.scheduler.filters import failure
from kin.scheduler.scheduler import unschedulable_message
from kin.scheduler.scoring import best_node

pytestmark = pytest.mark.unit

Obj = dict[str, Any]
CONTROL_PLANE_TAINT = {"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"}


def node(name: str, labels: Obj | None = None, taints: list[Obj] | None = None,
         ready: bool = True, cpu: str = "2", memory: str = "4Gi", pods: str = "110",
         **spec: Any) -> Obj:  # fmt: skip
    return {
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], **spec},
        "status": {
            "allocatable": {"cpu": cpu, "memory": memory, "pods": pods},
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


def pod(name: str = "p", cpu: str = "", ports: list[Obj] | None = None, owner: str = "",
        **spec: Any) -> Obj:  # fmt: skip
    container: Obj = {"name": "app", "image": "busybox", "ports": ports or []}
    if cpu:
        container["resources"] = {"requests": {"cpu": cpu}}
    meta: Obj = {"name": name, "namespace": "default"}
    if owner:
        meta["ownerReferences"] = [{"uid": owner, "controller": True}]
    return {"metadata": meta, "spec": {"containers": [container], **spec}}


def test_a_plain_pod_fits_a_ready_untainted_node() -> None:
    assert failure(pod(), node("w"), []) is None


def test_the_control_plane_taint_keeps_pods_off_unless_tolerated() -> None:
    cp = node("cp", taints=[CONTROL_PLANE_TAINT])
    assert failure(pod(), cp, []) == (
        "node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }"
    )
    tolerant = pod(tolerations=[{"key": "node-role.kubernetes.io/control-plane",
                                 "operator": "Exists", "effect": "NoSchedule"}])  # fmt: skip
    assert failure(tolerant, cp, []) is None
    assert failure(pod(tolerations=[{"operator": "Exists"}]), cp, []) is None


@pytest.mark.parametrize(
    ("toleration", "taint", "tolerated"),
    [
        (
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            {"key": "k", "value": "v", "effect": "NoSchedule"},
            True,
        ),
        ({"key": "k", "value": "other"}, {"key": "k", "value": "v", "effect": "NoExecute"}, False),
        (
            {"key": "k", "operator": "Exists"},
            {"key": "k", "value": "v", "effect": "NoExecute"},
            True,
        ),
        (
            {"key": "k", "operator": "Exists", "effect": "NoSchedule"},
            {"key": "k", "effect": "NoExecute"},
            False,
        ),
        ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoSchedule"}, False),
    ],
)
def test_tolerations_follow_kubernetes_rules(toleration: Obj, taint: Obj, tolerated: bool) -> None:
    assert tolerates(pod(tolerations=[toleration]), taint) is tolerated


def test_a_node_that_is_not_ready_or_cordoned_takes_no_new_pods() -> None:
    assert "node.kubernetes.io/not-ready" in str(failure(pod(), node("w", ready=False), []))
    assert failure(pod(), node("w", unschedulable=True), []) == "node(s) were unschedulable"
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists"}])
    assert failure(tolerant, node("w", unschedulable=True), []) is None


def test_node_selector_and_required_affinity_with_every_operator() -> None:
    w = node("w", labels={"tier": "frontend", "gen": "5"})
    assert failure(pod(nodeSelector={"tier": "frontend"}), w, []) is None
    assert failure(pod(nodeSelector={"tier": "backend"}), w, []) == (
        "node(s) didn't match Pod's node affinity/selector"
    )

    def affinity(*expressions: Obj, fields: list[Obj] | None = None) -> Obj:
        term: Obj = {"matchExpressions": list(expressions)}
        if fields:
            term["matchFields"] = fields
        required = {"nodeSelectorTerms": [term]}
        return pod(affinity={"nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": required}})  # fmt: skip

    fits = [
        affinity({"key": "tier", "operator": "In", "values": ["frontend", "x"]}),
        affinity({"key": "tier", "operator": "NotIn", "values": ["backend"]}),
        affinity({"key": "tier", "operator": "Exists"}),
        affinity({"key": "disk", "operator": "DoesNotExist"}),
        affinity({"key": "gen", "operator": "Gt", "values": ["4"]}),
        affinity({"key": "gen", "operator": "Lt", "values": ["6"]}),
        affinity(fields=[{"key": "metadata.name", "operator": "In", "values": ["w"]}]),
    ]
    misses = [
        affinity({"key": "tier", "operator": "In", "values": ["backend"]}),
        affinity({"key": "tier", "operator": "DoesNotExist"}),
        affinity({"key": "gen", "operator": "Gt", "values": ["5"]}),
        affinity(
            {"key": "tier", "operator": "Exists"}, {"key": "gen", "operator": "Lt", "values": ["1"]}
        ),
    ]
    assert [failure(p, w, []) for p in fits] == [None] * len(fits)
    assert all(failure(p, w, []) for p in misses)


def test_requests_count_against_allocatable() -> None:
    w = node("w", cpu="1", pods="2")
    assert failure(pod(cpu="600m"), w, [pod("a", cpu="300m")]) is None
    assert failure(pod(cpu="800m"), w, [pod("a", cpu="300m")]) == "Insufficient cpu"
    assert failure(pod(), w, [pod("a"), pod("b")]) == "Too many pods"
    gpu = pod()
    gpu["spec"]["containers"][0]["resources"] = {"limits": {"example.com/gpu": "1"}}
    assert failure(gpu, w, []) == "Insufficient example.com/gpu"


def test_host_ports_conflict_on_the_same_protocol_and_address() -> None:
    taken = [pod("a", ports=[{"containerPort": 80, "hostPort": 8080}])]
    w = node("w")
    assert failure(pod(ports=[{"containerPort": 80, "hostPort": 8080}]), w, taken) == (
        "node(s) didn't have free ports for the requested pod ports"
    )
    udp = [{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]
    assert failure(pod(ports=udp), w, taken) is None
    assert failure(pod(ports=[{"containerPort": 80, "hostPort": 9090}]), w, taken) is None


def test_replicas_spread_and_pods_go_where_there_is_room() -> None:
    a, b = node("a"), node("b")
    placed = {"a": [pod("r1", owner="rs")], "b": []}
    assert best_node(pod("r2", owner="rs"), [a, b], placed)["metadata"]["name"] == "b"
    busy = {"a": [pod("x", cpu="1500m")], "b": [pod("y", cpu="100m")]}
    assert best_node(pod(), [a, b], busy)["metadata"]["name"] == "b"
    assert best_node(pod(), [b, a], {})["metadata"]["name"] == "a"  # ties: by name


def test_the_failed_scheduling_message_counts_reasons_as_kube_scheduler_does() -> None:
    reasons = Counter(
        {
            "Insufficient cpu": 1,
            filters.taints(pod(), node("cp", taints=[CONTROL_PLANE_TAINT]), []) or "": 1,
        }
    )
    assert unschedulable_message(2, reasons) == (
        "0/2 nodes are available: 1 Insufficient cpu, 1 node(s) had untolerated taint "
        "{node-role.kubernetes.io/control-plane: }. preemption: 0/2 nodes are available: "
        "2 Preemption is not helpful for scheduling."
    )
    assert unschedulable_message(0, Counter()) == "no nodes available to schedule pods"


def test_sidecars_and_overhead_add_to_requests_and_init_containers_peak() -> None:
    def container(cpu: str, **extra: Any) -> Obj:
        return {"name": "c", "resources": {"requests": {"cpu": cpu}}, **extra}

    spec = {
        "initContainers": [
            container("500m", restartPolicy="Always"),  # a sidecar: runs to the end
            container("900m"),  # runs alone beside the sidecar: 1.4 at its peak
        ],
        "containers": [container("200m"), container("300m")],
        "overhead": {"cpu": "100m"},
    }
    assert filters.pod_requests({"spec": spec})["cpu"] == pytest.approx(1.4 + 0.1)
    spec["initContainers"] = [container("500m", restartPolicy="Always")]
    assert filters.pod_requests({"spec": spec})["cpu"] == pytest.approx(0.5 + 0.5 + 0.1)


def test_a_host_network_pods_container_ports_are_its_host_ports() -> None:
    web = pod("a", ports=[{"containerPort": 8080}], hostNetwork=True)
    other = pod(ports=[{"containerPort": 8080}], hostNetwork=True)
    assert failure(other, node("w"), [web]) == (
        "node(s) didn't have free ports for the requested pod ports"
    )
    assert failure(pod(ports=[{"containerPort": 8080}]), node("w"), [web]) is None


def test_a_node_whose_kubelet_stopped_reporting_takes_no_new_pods() -> None:
    silent = node("w")
    silent["status"]["conditions"][0]["lastHeartbeatTime"] = "2026-01-01T00:00:00Z"
    assert "node.kubernetes.io/not-ready" in str(failure(pod(), silent, []))
    fresh = node("w")
    fresh["status"]["conditions"][0]["lastHeartbeatTime"] = now()
    assert failure(pod(), fresh, []) is None


def test_reasons_are_ordered_as_kube_scheduler_orders_them() -> None:
    reasons = Counter({"Insufficient cpu": 1, "node(s) were unschedulable": 2})
    assert unschedulable_message(3, reasons).startswith(
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) were unschedulable."
    )
