"""Delete a cluster: every process, namespace and file it made, found by recorded name.

Idempotent and crash-safe: the plan (written before anything was created) names
every node, so a second delete, or a delete after ``kill -9`` of any kin process
or of a create that died half-way, finds what is left and removes it. The state
directory goes last, so an interrupted delete can simply be run again.
"""

from __future__ import annotations

from kin.cluster import network
from kin.cluster.kubeconfigs import remove_kubeconfig
from kin.cluster.plan import ClusterPlan
from kin.cluster.ports import publisher_record
from kin.cluster.provision import delete_nodes
from kin.cluster.state import host_lock, load_state, remove_cluster_dir, running_cluster_names
from kin.cluster.zygote import zygote_record
from kin.errors import KinError, ProvisionError
from kin.linux.proc import kill_and_wait

__all__ = ["delete_cluster", "stop_processes"]


def delete_cluster(name: str, kubeconfig: str = "") -> list[str]:
    """Delete cluster ``name`` and its entries in the user's kubeconfig (``kubeconfig``, or
    KUBECONFIG's files, or ~/.kube/config); return the names of the nodes that existed.
    Absent is success. A kubeconfig that cannot be updated is reported after the nodes
    are gone, as kind does."""
    with host_lock():
        state = load_state(name)
        deleted: list[str] = []
        if state is not None:
            deleted = stop_processes(ClusterPlan.from_json(state.plan))
        remove_cluster_dir(name)
        if not running_cluster_names():
            network.delete_network()
    try:
        remove_kubeconfig(name, kubeconfig)
    except KinError as exc:
        raise KinError(f"failed to update kubeconfig: {exc}") from exc
    return deleted


def stop_processes(plan: ClusterPlan) -> list[str]:
    """Kill everything of the cluster that runs and unpin its nodes' namespaces (what
    ``kin stop`` does too); the names of the nodes that existed."""
    for what, record in (
        ("port publisher", publisher_record(plan.name)),
        ("zygote", zygote_record(plan.name)),
    ):
        if record is not None and kill_and_wait([record]):
            raise ProvisionError(f"{what} {record.pid} of cluster {plan.name!r} did not exit")
    return delete_nodes(plan)
