"""Per-kind REST strategies, looked up by (group, resource)."""

from __future__ import annotations

from kin.apiserver.strategies.apps import DaemonSetStrategy, DeploymentStrategy, ReplicaSetStrategy
from kin.apiserver.strategies.base import Strategy
from kin.apiserver.strategies.core import (
    NamespaceStrategy,
    NodeStrategy,
    PlainStrategy,
    SecretStrategy,
    ServiceStrategy,
)
from kin.apiserver.strategies.pods import PodStrategy
from kin.apiserver.strategies.storage import (
    PersistentVolumeClaimStrategy,
    PersistentVolumeStrategy,
    StorageClassStrategy,
)

__all__ = ["Strategy", "strategy_for"]

_PLAIN = PlainStrategy()
STRATEGIES: dict[tuple[str, str], Strategy] = {
    ("", "pods"): PodStrategy(),
    ("", "namespaces"): NamespaceStrategy(),
    ("", "nodes"): NodeStrategy(),
    ("", "services"): ServiceStrategy(),
    ("", "secrets"): SecretStrategy(),
    ("apps", "deployments"): DeploymentStrategy(),
    ("apps", "replicasets"): ReplicaSetStrategy(),
    ("apps", "daemonsets"): DaemonSetStrategy(),
    ("", "persistentvolumes"): PersistentVolumeStrategy(),
    ("", "persistentvolumeclaims"): PersistentVolumeClaimStrategy(),
    ("storage.k8s.io", "storageclasses"): StorageClassStrategy(),
}


def strategy_for(group: str, plural: str) -> Strategy:
    """ConfigMaps, Endpoints, Events, Leases, EndpointSlices ... have no status or generation."""
    return STRATEGIES.get((group, plural), _PLAIN)
