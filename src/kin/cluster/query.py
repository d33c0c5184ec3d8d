"""Read-only questions about clusters: which exist, their nodes, their published ports."""

from __future__ import annotations

from kin.cluster.nodes import Node
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import list_cluster_names, load_state
from kin.errors import ClusterNotFoundError, NodeError

__all__ = ["cluster_plan", "find_node", "list_clusters", "list_nodes"]


def list_clusters() -> list[str]:
    return list_cluster_names()


def cluster_plan(name: str) -> ClusterPlan:
    state = load_state(name)
    if state is None:
        raise ClusterNotFoundError(f'unknown cluster "{name}"')
    return ClusterPlan.from_json(state.plan)


def list_nodes(name: str) -> list[Node]:
    state = load_state(name)
    if state is None:
        return []
    return [Node(name, node) for node in ClusterPlan.from_json(state.plan).nodes]


def find_node(node_name: str) -> Node:
    """The node so named, in whichever cluster has it."""
    for cluster in list_cluster_names():
        for node in list_nodes(cluster):
            if node.name == node_name:
                return node
    raise NodeError(f'unknown node "{node_name}"')
