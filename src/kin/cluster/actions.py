"""Create-cluster steps after the nodes boot: an ordered list of named actions (kind's).

``create`` runs them in order with one status line each and deletes the cluster if one
fails (unless ``--retain``): Starting control-plane 🕹️ (the API server answers
``/readyz`` through the published port; kubeadm's addons go in), Installing CNI 🔌
(flannel's objects, unless ``networking.disableDefaultCNI``), Installing StorageClass 💾
(``standard``, the default, with local-path volumes), Joining worker nodes 🚜 (every
worker's Node is registered) and, with ``--wait``, Waiting ≤ ... for control-plane = Ready ⏳.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from kin.cluster import apiclient
from kin.cluster.addons import addon_objects
from kin.cluster.manifests import flannel_objects, storage_objects
from kin.cluster.plan import ClusterPlan
from kin.cluster.provision import join_worker
from kin.cluster.reporter import Reporter
from kin.errors import KinError
from kin.kube.events import parse_time
from kin.kube.restclient import RestClient

__all__ = [
    "Action",
    "ActionContext",
    "InstallCNI",
    "InstallStorage",
    "JoinWorkers",
    "StartControlPlane",
    "WaitForReady",
    "default_actions",
    "format_duration",
]

Obj = dict[str, Any]
CONTROL_PLANE_TIMEOUT = 60.0
JOIN_TIMEOUT = 60.0


@dataclass
class ActionContext:
    plan: ClusterPlan
    reporter: Reporter
    wait: float = 0.0
    """--wait in seconds; 0 means do not wait."""
    notes: list[str] = field(default_factory=list)


class Action(Protocol):
    @property
    def name(self) -> str:
        """The status line, kind style (``Starting control-plane 🕹️``)."""

    def execute(self, ctx: ActionContext) -> None: ...


class StartControlPlane:
    """The API server answers; with ``addons`` (a create, not a start), kubeadm's addons
    go in."""

    name = "Starting control-plane 🕹️"

    def __init__(self, addons: bool = True) -> None:
        self.addons = addons

    def execute(self, ctx: ActionContext) -> None:
        deadline = time.monotonic() + CONTROL_PLANE_TIMEOUT
        with apiclient.admin_client(ctx.plan) as api:
            if not apiclient.wait_for(lambda: _readyz(api), deadline):
                raise KinError(
                    f"the API server of cluster {ctx.plan.name!r} did not become ready within "
                    f"{format_duration(CONTROL_PLANE_TIMEOUT)} (its log: `kin exec "
                    f"{ctx.plan.control_plane.name} -- crictl logs` of kube-apiserver)"
                )
            if self.addons:  # kubeadm init's addon phase
                apiclient.apply(api, addon_objects(ctx.plan))


def _readyz(api: RestClient) -> bool | None:
    # ``/readyz`` answers text, which the client reads as a message: any 2xx is ready.
    api.request("GET", "/readyz")
    return True


class InstallCNI:
    name = "Installing CNI 🔌"

    def execute(self, ctx: ActionContext) -> None:
        with apiclient.admin_client(ctx.plan) as api:
            apiclient.apply(api, flannel_objects(ctx.plan))


class InstallStorage:
    name = "Installing StorageClass 💾"

    def execute(self, ctx: ActionContext) -> None:
        with apiclient.admin_client(ctx.plan) as api:
            apiclient.apply(api, storage_objects())


class JoinWorkers:
    """As ``kubeadm join`` after ``kubeadm init``: the workers' kubelets start once the
    control plane's Node has its podCIDR, so node IPAM hands out the blocks in kind's
    order (control plane 10.244.0.0/24, then the workers in order)."""

    name = "Joining worker nodes 🚜"

    def execute(self, ctx: ActionContext) -> None:
        control_plane = ctx.plan.control_plane.name
        joining = [n for n in ctx.plan.nodes if n.role != "control-plane"]
        workers = {n.name for n in joining}

        def has_cidr() -> bool | None:
            node = api.get(f"/api/v1/nodes/{control_plane}")
            return True if (node.get("spec") or {}).get("podCIDR") else None

        def joined() -> bool | None:
            listed = api.get("/api/v1/nodes")
            names = {n["metadata"]["name"] for n in listed.get("items") or []}
            return True if workers <= names else None

        with apiclient.admin_client(ctx.plan) as api:
            if not apiclient.wait_for(has_cidr, time.monotonic() + JOIN_TIMEOUT):
                raise KinError(f"node {control_plane} got no podCIDR within "
                               f"{format_duration(JOIN_TIMEOUT)}: is kube-controller-manager "
                               "running?")  # fmt: skip
            for node in joining:
                join_worker(ctx.plan, node)
            if not apiclient.wait_for(joined, time.monotonic() + JOIN_TIMEOUT):
                raise KinError(f"worker nodes {', '.join(sorted(workers))} did not register "
                               f"within {format_duration(JOIN_TIMEOUT)}")  # fmt: skip


class WaitForReady:
    """``--wait``: the control-plane Node's Ready condition is True (with ``every_node``,
    every node's: what ``kin start cluster --wait`` waits for)."""

    def __init__(self, wait: float, every_node: bool = False) -> None:
        self.wait = wait
        self.every_node = every_node

    @property
    def name(self) -> str:
        what = "nodes" if self.every_node else "control-plane"
        return f"Waiting ≤ {format_duration(self.wait)} for {what} = Ready ⏳"

    def execute(self, ctx: ActionContext) -> None:
        started, since = time.monotonic(), int(time.time())
        plan = ctx.plan
        nodes = [n.name for n in plan.nodes] if self.every_node else [plan.control_plane.name]

        def ready() -> bool | None:
            for node in nodes:
                if not _is_ready(api.get(f"/api/v1/nodes/{node}"), since):
                    return None
            return True

        with apiclient.admin_client(plan) as api:
            done = apiclient.wait_for(ready, started + self.wait)
        if done:
            ctx.notes.append(f" • Ready after {format_duration(time.monotonic() - started)} 💚")
        else:
            ctx.notes.append(" • WARNING: Timed out waiting for Ready ⚠️")


def _is_ready(node: Obj, since: int) -> bool:
    """Ready, as a kubelet said at or after ``since`` (a started cluster's Nodes still say
    what their kubelets said before the stop)."""
    for condition in (node.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            heartbeat = parse_time(str(condition.get("lastHeartbeatTime") or ""))
            return condition.get("status") == "True" and heartbeat >= since
    return False


def format_duration(seconds: float) -> str:
    """Go's Duration.String() for whole seconds and above: ``5m0s``, ``30s``, ``1h0m0s``."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes}m{secs}s"
    if minutes:
        return f"{minutes}m{secs}s"
    return f"{secs}s"


def default_actions(plan: ClusterPlan, wait: float) -> list[Action]:
    actions: list[Action] = [StartControlPlane()]
    if not plan.disable_default_cni:
        actions.append(InstallCNI())
    actions.append(InstallStorage())
    if any(node.role != "control-plane" for node in plan.nodes):
        actions.append(JoinWorkers())
    if wait > 0:
        actions.append(WaitForReady(wait))
    return actions
