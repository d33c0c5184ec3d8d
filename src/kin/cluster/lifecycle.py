"""Stop and start a cluster: what a host's reboot does to a cluster, on purpose.

``kin stop cluster`` kills everything of the cluster that runs (port publisher, zygote,
each node's PID 1 and so every process in the node), unpins the nodes' network
namespaces and, when no other cluster runs, removes the kin network: only the state
directory is left, exactly as after a reboot. ``kin start cluster`` boots it again: each
node's ``/run`` starts empty (a tmpfs on a real node), the kin network comes back with the
subnet the plan recorded, each node gets its namespace and link with its planned address
and MAC, the host ports are bound again, the zygote and the nodes' PID 1s start. The
control-plane kubelet starts the static pods, so the API server comes back with every
object the datastore kept; the kubelets then recreate the pods bound to them, each with
its own address again (``kin.runtime.addresses``). kind cannot promise that: a
restarted kind node's pods get new addresses.

A start that fails leaves the cluster stopped, as it found it.
"""

from __future__ import annotations

import os
import shutil

from kin.cluster import network
from kin.cluster.actions import Action, ActionContext, StartControlPlane, WaitForReady
from kin.cluster.delete import stop_processes
from kin.cluster.nodes import Node
from kin.cluster.plan import ClusterPlan
from kin.cluster.ports import planned_port_requests, reserve_ports, start_publisher
from kin.cluster.provision import boot_nodes, reconnect_nodes
from kin.cluster.reporter import Reporter
from kin.cluster.state import (
    CREATING,
    READY,
    STARTING,
    STOPPED,
    ClusterState,
    host_lock,
    load_state,
    node_dir,
    running_cluster_names,
)
from kin.cluster.zygote import start_zygote
from kin.errors import ClusterNotFoundError, KinError, ProvisionError
from kin.linux import mounts
from kin.linux.zygote import Handover

__all__ = ["start_cluster", "stop_cluster"]


def stop_cluster(name: str) -> list[str]:
    """Stop cluster ``name``; the names of the nodes that were running. Stopping a stopped
    cluster is success."""
    with host_lock():
        state = _state(name)
        nodes = stop_processes(ClusterPlan.from_json(state.plan))
        state.status = STOPPED
        state.save()
        if not running_cluster_names():
            network.delete_network()
    return nodes


def start_cluster(
    name: str, reporter: Reporter, wait: float = 0.0, zygote: Handover | None = None
) -> list[str]:
    """Start stopped cluster ``name`` (or one whose processes died); the closing notes.
    A cluster that runs is left alone. ``zygote``: one already importing (as for create)."""
    try:
        return _start(name, reporter, wait, zygote)
    finally:
        if zygote is not None:
            zygote.close()  # handed over, or not needed: it exits once it imported


def _start(name: str, reporter: Reporter, wait: float, zygote: Handover | None) -> list[str]:
    state = _state(name)
    if state.status == CREATING:
        raise KinError(f'cluster "{name}" was never completely created: delete it and create '
                       "it again")  # fmt: skip
    plan = ClusterPlan.from_json(state.plan)
    if state.status != STOPPED and all(Node(name, n).running() for n in plan.nodes):
        return [f' • cluster "{name}" is already running']
    reporter.info(f'Starting cluster "{name}" ...')
    stop_cluster(name)  # whatever a crash left running goes first
    with reserve_ports(planned_port_requests(plan)) as reservations:
        with host_lock():
            network.ensure_network(plan.network.subnet)
            ClusterState(name, state.plan, STARTING).save()
        try:
            reporter.start("Starting nodes " + "📦 " * len(plan.nodes))
            _empty_run_directories(plan)
            start_zygote(plan, zygote)
            boot_nodes(reconnect_nodes(plan))
            start_publisher(plan, reservations)
            ctx = ActionContext(plan=plan, reporter=reporter, wait=wait)
            actions: list[Action] = [StartControlPlane(addons=False)]  # kept in the store
            if wait > 0:
                actions.append(WaitForReady(wait, every_node=True))
            for action in actions:
                reporter.start(action.name)
                action.execute(ctx)
            reporter.end(True)
        except BaseException:
            reporter.end(False)
            stop_cluster(name)
            raise
    ClusterState(name, state.plan, READY).save()
    return ctx.notes


def _state(name: str) -> ClusterState:
    state = load_state(name)
    if state is None:
        raise ClusterNotFoundError(f'unknown cluster "{name}"')
    return state


def _empty_run_directories(plan: ClusterPlan) -> None:
    """A node's /run is a tmpfs that a boot finds empty: sockets, PID files, the runtime's
    sandbox records and the pods' namespace pins of the last boot are gone."""
    for node in plan.nodes:
        run = os.path.join(node_dir(plan.name, node.name), "fs", "run")
        mounted = [point for point, _ in mounts.mount_points() if point.startswith(run + "/")]
        if mounted:
            raise ProvisionError(f"node {node.name!r} has mounts left under {run} on the host: "
                                 f"{', '.join(mounted)}")  # fmt: skip
        for entry in os.scandir(run) if os.path.isdir(run) else ():
            if entry.is_dir(follow_symlinks=False):
                shutil.rmtree(entry.path)
            else:
                os.unlink(entry.path)
