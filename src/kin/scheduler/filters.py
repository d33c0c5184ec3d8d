"""Whether a pod fits a node: kube-scheduler's filter plugins, as pure functions.

Each filter returns ``None`` when the pod fits, else the reason kube-scheduler gives
(``node(s) had untolerated taint {key: value}``), which the scheduler counts across
nodes for the ``FailedScheduling`` event: ``0/2 nodes are available: 1 Insufficient cpu,
1 node(s) had untolerated taint {node-role.kubernetes.io/control-plane: }.``

The plugins, in kube-scheduler's order: NodeUnschedulable, NodeName, TaintToleration
(NoSchedule and NoExecute), NodeAffinity (``nodeSelector`` and required node affinity,
with every operator), NodePorts (host ports), NodeResourcesFit (requests against
allocatable: cpu, memory, pods, and any other resource).
"""

from __future__ import annotations

import calendar
import time
from collections.abc import Callable
from typing import Any

from kin.kube.matching import node_selector_matches, tolerates
from kin.kube.quantity import parse_quantity

__all__ = ["FILTERS", "failure", "pod_requests"]

Obj = dict[str, Any]
Filter = Callable[[Obj, Obj, list[Obj]], "str | None"]
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
NODE_GRACE = 40.0  # seconds: kube-controller-manager's --node-monitor-grace-period
BLOCKING_EFFECTS = ("NoSchedule", "NoExecute")


def failure(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    """The first reason ``pod`` does not fit ``node`` (with ``on_node`` already there)."""
    for check in FILTERS:
        reason = check(pod, node, on_node)
        if reason:
            return reason
    return None


def unschedulable(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    if not (node.get("spec") or {}).get("unschedulable"):
        return None
    taint = {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    return None if tolerates(pod, taint) else "node(s) were unschedulable"


def node_name(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    wanted = (pod.get("spec") or {}).get("nodeName")
    if wanted and wanted != node["metadata"]["name"]:
        return "node(s) didn't match the requested node name"
    return None


def node_affinity(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    if node_selector_matches(pod, node):
        return None
    return "node(s) didn't match Pod's node affinity/selector"


def taints(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    for taint in _effective_taints(node):
        if taint.get("effect") in BLOCKING_EFFECTS and not tolerates(pod, taint):
            return f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value', '')}}}"
    return None


def _effective_taints(node: Obj, now: float | None = None) -> list[Obj]:
    """The node's taints, plus the not-ready one the node lifecycle controller puts on a
    node that is not Ready or whose kubelet stopped reporting (until that controller runs,
    the scheduler infers it)."""
    found = list((node.get("spec") or {}).get("taints") or [])
    ready = [
        c for c in (node.get("status") or {}).get("conditions") or [] if c.get("type") == "Ready"
    ]
    not_ready = not ready or ready[0].get("status") != "True" or _stale(ready[0], now)
    if not_ready and not any(t.get("key") == NOT_READY_TAINT for t in found):
        found.append({"key": NOT_READY_TAINT, "effect": "NoSchedule"})
    return found


def _stale(condition: Obj, now: float | None) -> bool:
    """A Ready condition whose heartbeat is older than the node monitor's grace period."""
    heartbeat = condition.get("lastHeartbeatTime")
    if not heartbeat:
        return False
    try:
        beat = calendar.timegm(time.strptime(str(heartbeat), "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return False
    return (time.time() if now is None else now) - beat > NODE_GRACE


def resources(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    if "pods" in allocatable and len(on_node) + 1 > parse_quantity(allocatable["pods"]):
        return "Too many pods"
    wanted = pod_requests(pod)
    used: dict[str, float] = {}
    for other in on_node:
        for name, amount in pod_requests(other).items():
            used[name] = used.get(name, 0) + amount
    for name in sorted(wanted):
        if wanted[name] <= 0:
            continue
        capacity = parse_quantity(allocatable[name]) if name in allocatable else 0
        if used.get(name, 0) + wanted[name] > capacity:
            return f"Insufficient {name}"
    return None


def pod_requests(pod: Obj) -> dict[str, float]:
    """What a pod asks for, as Kubernetes counts it: its containers' and sidecars' requests
    summed, or more if an init container (they run one at a time, beside the sidecars
    started before them) asks for more, plus ``spec.overhead``."""
    spec = pod.get("spec") or {}
    total: dict[str, float] = {}
    sidecars: dict[str, float] = {}
    peak: dict[str, float] = {}
    for container in spec.get("initContainers") or []:
        requests = _requests(container)
        if container.get("restartPolicy") == "Always":  # a sidecar runs to the end
            _add(sidecars, requests)
            continue
        for name, amount in requests.items():
            peak[name] = max(peak.get(name, 0), amount + sidecars.get(name, 0))
    for container in spec.get("containers") or []:
        _add(total, _requests(container))
    _add(total, sidecars)
    for name, amount in peak.items():
        total[name] = max(total.get(name, 0), amount)
    overhead = {k: parse_quantity(str(v)) for k, v in (spec.get("overhead") or {}).items()}
    _add(total, overhead)
    return total


def _add(into: dict[str, float], amounts: dict[str, float]) -> None:
    for name, amount in amounts.items():
        into[name] = into.get(name, 0) + amount


def _requests(container: Obj) -> dict[str, float]:
    resources_ = container.get("resources") or {}
    requests = dict(resources_.get("limits") or {})  # limits stand for missing requests
    requests.update(resources_.get("requests") or {})
    return {name: parse_quantity(str(value)) for name, value in requests.items()}


def host_ports(pod: Obj, node: Obj, on_node: list[Obj]) -> str | None:
    wanted = _host_ports(pod)
    if not wanted:
        return None
    taken = {port for other in on_node for port in _host_ports(other)}
    for protocol, port, address in wanted:
        for other_protocol, other_port, other_address in taken:
            same_address = "0.0.0.0" in (address, other_address) or address == other_address
            if (protocol, port) == (other_protocol, other_port) and same_address:
                return "node(s) didn't have free ports for the requested pod ports"
    return None


def _host_ports(pod: Obj) -> set[tuple[str, int, str]]:
    """A host-network pod's container ports are host ports (Kubernetes defaults them so)."""
    spec = pod.get("spec") or {}
    found = set()
    for container in spec.get("containers") or []:
        for port in container.get("ports") or []:
            host_port = port.get("hostPort") or (
                port.get("containerPort") if spec.get("hostNetwork") else None
            )
            if host_port:
                address = port.get("hostIP") or "0.0.0.0"
                found.add((port.get("protocol") or "TCP", int(host_port), address))
    return found


# kube-scheduler's default order; the first that fails names the node's reason.
FILTERS: tuple[Filter, ...] = (
    unschedulable, node_name, taints, node_affinity, host_ports, resources,
)  # fmt: skip
