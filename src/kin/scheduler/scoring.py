"""Which feasible node a pod goes to: scores that spread pods, as kube-scheduler's do.

Two of kube-scheduler's default scores, each 0-100, summed:

* NodeResourcesFit (LeastAllocated): the share of the node's cpu and memory left free
  after the pod, so pods go where there is room;
* PodTopologySpread's default, by node (SelectorSpread in older releases): fewer pods of
  the same owner (ReplicaSet, DaemonSet...) already on the node, so replicas spread.

Ties go to the node with fewer pods, then to the name, so the choice is reproducible.
"""

from __future__ import annotations

from typing import Any

from kin.kube.quantity import parse_quantity
from kin.scheduler.filters import pod_requests

__all__ = ["best_node", "score"]

Obj = dict[str, Any]
MAX_SCORE = 100
# A pod that asks for nothing counts as this much, as kube-scheduler's non-zero defaults.
DEFAULT_REQUESTS = {"cpu": 0.1, "memory": 200 * 2**20}


def best_node(pod: Obj, feasible: list[Obj], pods_by_node: dict[str, list[Obj]]) -> Obj:
    def rank(node: Obj) -> tuple[float, int, str]:
        name = node["metadata"]["name"]
        on_node = pods_by_node.get(name, [])
        return (-score(pod, node, on_node), len(on_node), name)

    return min(feasible, key=rank)


def score(pod: Obj, node: Obj, on_node: list[Obj]) -> float:
    return _least_allocated(pod, node, on_node) + _spread(pod, on_node)


def _least_allocated(pod: Obj, node: Obj, on_node: list[Obj]) -> float:
    allocatable = (node.get("status") or {}).get("allocatable") or {}
    scores = []
    for resource, default in DEFAULT_REQUESTS.items():
        capacity = parse_quantity(allocatable[resource]) if resource in allocatable else 0
        if capacity <= 0:
            continue
        used = sum(_request(other, resource, default) for other in [*on_node, pod])
        scores.append(max(0.0, (capacity - used) / capacity) * MAX_SCORE)
    return sum(scores) / len(scores) if scores else 0.0


def _request(pod: Obj, resource: str, default: float) -> float:
    return pod_requests(pod).get(resource) or default


def _spread(pod: Obj, on_node: list[Obj]) -> float:
    owner = _controller(pod)
    if owner is None:
        return MAX_SCORE
    siblings = sum(1 for other in on_node if _controller(other) == owner)
    return MAX_SCORE / (1 + siblings)


def _controller(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return str(ref.get("uid"))
    return None
