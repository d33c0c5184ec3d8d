"""Create a cluster: kind's create flow, on namespace nodes.

Order, as kind: already exists? -> name-length warning -> validate -> ``Creating
cluster``. Then kin-specific: host ports are reserved (a port in use fails here,
before anything exists); under the host lock the kin network is ensured, the plan
computed and saved; nodes are provisioned; the publisher starts with the reserved
sockets; the actions run. Any failure deletes the cluster unless ``retain``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from kin.cluster import network
from kin.cluster.actions import ActionContext, default_actions
from kin.cluster.delete import delete_cluster
from kin.cluster.kubeconfigs import export_kubeconfig
from kin.cluster.plan import ClusterPlan, plan_cluster
from kin.cluster.ports import Reservation, port_requests, reserve_ports, start_publisher
from kin.cluster.provision import boot_nodes, prepare_nodes, write_configuration
from kin.cluster.reporter import Reporter
from kin.cluster.state import (
    READY,
    STOPPED,
    ClusterState,
    host_lock,
    list_cluster_names,
    load_state,
    running_cluster_names,
)
from kin.cluster.zygote import start_zygote
from kin.config import Cluster, check_supported, name_length_warning, set_defaults, validate
from kin.errors import ClusterExistsError, ConfigError
from kin.flannel.netconf import BACKENDS
from kin.linux import ns
from kin.linux.zygote import Handover

__all__ = ["DATASTORES", "CreateOptions", "create_cluster"]

DATASTORES = ("sqlite", "etcd")


@dataclass
class CreateOptions:
    config: Cluster
    name: str
    retain: bool = False
    wait: float = 0.0
    flannel_backend: str = "vxlan"
    datastore: str = "sqlite"
    kubeconfig: str = ""
    """--kubeconfig: the file to merge the cluster's context into (default: KUBECONFIG's
    rules, then ~/.kube/config)."""
    zygote: Handover | None = None
    """A zygote already importing (``kin.cluster.zygote.early_zygote``); else one is started."""

    def check(self) -> None:
        """kin's own flags, checked before anything is made."""
        problems = []
        if self.flannel_backend not in BACKENDS:
            problems.append(f"--flannel-backend: {self.flannel_backend!r} is not one of "
                            f"{', '.join(BACKENDS)}")  # fmt: skip
        if self.datastore not in DATASTORES:
            problems.append(f"--datastore: {self.datastore!r} is not one of "
                            f"{', '.join(DATASTORES)}")  # fmt: skip
        if problems:
            raise ConfigError(problems)


def create_cluster(options: CreateOptions, reporter: Reporter) -> tuple[ClusterPlan, list[str]]:
    """Create the cluster; return its plan and the closing notes (``Ready after 1s``)."""
    try:
        return _create(options, reporter)
    finally:
        if options.zygote is not None:
            options.zygote.close()  # handed over, or not needed: it exits once it imported


def _create(options: CreateOptions, reporter: Reporter) -> tuple[ClusterPlan, list[str]]:
    name, config = options.name, options.config
    options.check()
    _refuse_existing(name)
    warning = name_length_warning(name)
    if warning:
        reporter.warn(warning)
    config.name = name
    set_defaults(config)
    validate(config)
    _absolute_host_paths(config)
    check_supported(config)
    reporter.info(f'Creating cluster "{name}" ...')
    with reserve_ports(port_requests(config)) as reservations:
        plan = _register(config, name, reservations, options)
        try:
            return plan, _build(plan, reservations, options, reporter)
        except BaseException:
            reporter.end(False)
            if not options.retain:
                _roll_back(name, reporter, options.kubeconfig)
            raise


def _refuse_existing(name: str) -> None:
    if load_state(name) is not None:
        raise ClusterExistsError(f'node(s) already exist for a cluster with the name "{name}"')


def _absolute_host_paths(config: Cluster) -> None:
    """kind resolves a relative extraMounts hostPath against the working directory."""
    for node in config.nodes:
        for mount in node.extra_mounts:
            mount.host_path = os.path.abspath(mount.host_path)


def _register(
    config: Cluster, name: str, reservations: list[Reservation], options: CreateOptions
) -> ClusterPlan:
    """Plan and record the cluster under the host lock, so addresses never clash."""
    chosen = {r.request.key: r.port for r in reservations}
    with host_lock():
        _refuse_existing(name)  # again: another create may have won the race
        net = network.ensure_network(_stopped_clusters_subnet())
        used = _addresses_in_use()
        plan = plan_cluster(config, name, net, used, chosen, options.flannel_backend,
                            options.datastore)  # fmt: skip
        taken = [n.name for n in plan.nodes if ns.netns_exists(n.name)]
        if taken:
            if not running_cluster_names():
                network.delete_network()
            raise ConfigError(
                [f"a network namespace named {t!r} already exists on this host" for t in taken]
            )
        ClusterState(name, plan.to_json()).save()
    return plan


def _stopped_clusters_subnet() -> str:
    """The kin network is gone while every cluster is stopped; made again, it must be theirs."""
    for other in list_cluster_names():
        state = load_state(other)
        if state is not None and state.status == STOPPED:
            return ClusterPlan.from_json(state.plan).network.subnet
    return ""


def _addresses_in_use() -> set[str]:
    used: set[str] = set()
    for other in list_cluster_names():
        state = load_state(other)
        if state is not None:
            used.update(n.ip for n in ClusterPlan.from_json(state.plan).nodes)
    return used


def _build(
    plan: ClusterPlan,
    reservations: list[Reservation],
    options: CreateOptions,
    reporter: Reporter,
) -> list[str]:
    reporter.start("Preparing nodes " + "📦 " * len(plan.nodes))
    start_zygote(plan, options.zygote)  # first: it imports while the nodes are prepared
    specs = prepare_nodes(plan)
    reporter.start("Writing configuration 📜")
    write_configuration(plan, specs)
    boot_nodes(specs)  # all at once: the workers start while the control plane does
    start_publisher(plan, reservations)
    ctx = ActionContext(plan=plan, reporter=reporter, wait=options.wait)
    for action in default_actions(plan, options.wait):
        reporter.start(action.name)
        action.execute(ctx)
    reporter.end(True)
    export_kubeconfig(plan, options.kubeconfig)
    state = ClusterState(plan.name, plan.to_json(), status=READY)
    state.save()
    return ctx.notes


def _roll_back(name: str, reporter: Reporter, kubeconfig: str) -> None:
    deleted = delete_cluster(name, kubeconfig)
    if deleted:
        reporter.info("Deleted nodes: [" + " ".join(f'"{n}"' for n in deleted) + "]")
