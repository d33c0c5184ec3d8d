"""Namespace nodes: what ``docker run`` of a kind node becomes in kin.

For each planned node: its state directory with the per-node directories and
files bound over the host's paths, a pinned network namespace named after the
node, and a veth from the kin bridge to the node's ``eth0`` with the planned
address and MAC (a few milliseconds each, done in turn); then every node's PID 1
at once, from one ``kin.node.boot`` launcher. A node is ready when its PID 1 has
built the node and answers on its control socket.
Deleting kills each node's PID 1 (the kernel then kills everything in the
node's PID namespace) and unpins its network namespace (the veth goes with it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable

from kin.cluster.controlplane import KUBELET_CONF, kubelet_flags, write_control_plane_files
from kin.cluster.nodes import NODE_BIN, Node
from kin.cluster.plan import ClusterPlan, NodePlan
from kin.cluster.state import host_lock_path, node_dir, state_file
from kin.cluster.zygote import ENV as ZYGOTE_ENV
from kin.cluster.zygote import ZYGOTE_SOCKET
from kin.cni.entry import DEFAULT_SOCKET
from kin.cni.install import install_plugins
from kin.errors import KinError, ProvisionError
from kin.linux import ns
from kin.linux.cgroups import remove_tree
from kin.linux.files import write_atomic
from kin.linux.iptables import PROGRAMS as IPTABLES_PROGRAMS
from kin.linux.iptables import SBIN
from kin.linux.netlink import Netlink
from kin.linux.proc import kill_and_wait
from kin.node.spec import Bind, NodeSpec
from kin.node.units import Unit, write_unit
from kin.runtime import DEFAULT_ROOT
from kin.runtime import DEFAULT_SOCKET as RUNTIME_SOCKET

__all__ = [
    "NODE_DIRECTORIES",
    "boot_nodes",
    "delete_nodes",
    "hosts_file",
    "join_worker",
    "node_spec",
    "prepare_nodes",
    "reconnect_nodes",
    "write_configuration",
]

NODE_DIRECTORIES = (
    "/etc/kubernetes",
    "/etc/cni/net.d",
    "/opt/cni/bin",
    "/opt/kin/bin",  # node tools (crictl), first on the PATH of units and `kin exec`
    "/var/lib/cni",
    "/var/lib/containerd",  # the runtime's images
    "/var/lib/etcd",  # the API server's datastore (kubeadm's etcd data directory)
    "/var/lib/kubelet",
    "/var/local-path-provisioner",  # the standard StorageClass's volumes
    "/var/log",
    "/run",
)
NODE_FILES = ("/etc/hosts", "/etc/hostname")
NODE_PATHS = NODE_DIRECTORIES + NODE_FILES
NODE_SYSCTLS = {
    # A new namespace copies the host's values; a node routes for its pods.
    "net.ipv4.ip_forward": "1",
    "net.ipv4.conf.all.rp_filter": "0",
    "net.ipv4.conf.default.rp_filter": "0",
}
BOOT_TIMEOUT = 30.0
RUNTIME_UNIT = "kin-runtime"
ETC_LAYER = "etc-layer"  # the node's copy-on-write layer over the host's /etc
KUBELET_UNIT = "kubelet"
DAEMON_ENV = tuple(ZYGOTE_ENV.items())  # the same, when a unit starts without the zygote
CRI_SOCKET = RUNTIME_SOCKET
RUNTIME_ROOT = DEFAULT_ROOT  # the runtime's images (kin load image-archive)
CRICTL_CONFIG = f"""runtime-endpoint: unix://{CRI_SOCKET}
image-endpoint: unix://{CRI_SOCKET}
timeout: 10
"""


def node_spec(plan: ClusterPlan, node: NodePlan) -> NodeSpec:
    state = node_dir(plan.name, node.name)
    own = [Bind(os.path.join(state, "fs", path.lstrip("/")), path) for path in NODE_PATHS]
    extra = [Bind(m.host_path, m.container_path, m.read_only, m.propagation) for m in node.mounts]
    return NodeSpec(
        name=node.name,
        netns=ns.netns_path(node.name),
        state_dir=state,
        binds=own + extra,
        sysctls=dict(NODE_SYSCTLS),
        owner_file=state_file(plan.name),
        lock_file=host_lock_path(),
        etc_layer=os.path.join(state, ETC_LAYER),
    )


def prepare_nodes(plan: ClusterPlan) -> list[NodeSpec]:
    """Every node but its PID 1: files, network namespace, link to the kin network."""
    _ensure_host_mount_points()
    return [_prepare_node(plan, node) for node in plan.nodes]


def reconnect_nodes(plan: ClusterPlan) -> list[NodeSpec]:
    """A stopped cluster's nodes: their namespaces and links again, files as they are."""
    _ensure_host_mount_points()
    for node in plan.nodes:
        _link_node(plan, node)
    return [node_spec(plan, node) for node in plan.nodes]


def write_configuration(plan: ClusterPlan, specs: list[NodeSpec]) -> None:
    """kubeadm's part: PKI, kubeconfigs, the control plane's static pods."""
    roots = {spec.name: os.path.join(spec.state_dir, "fs") for spec in specs}
    try:
        write_control_plane_files(plan, roots)
        _stage_joins(plan, specs)
    except (KinError, OSError, ValueError) as exc:
        raise ProvisionError(f"failed to write the cluster's PKI and kubeconfigs: {exc}") from exc


def boot_nodes(specs: list[NodeSpec]) -> None:
    """Every node's PID 1 at once."""
    _boot(specs)


def _prepare_node(plan: ClusterPlan, node: NodePlan) -> NodeSpec:
    """Everything but the PID 1: state directory, network namespace, veth to the bridge."""
    spec = node_spec(plan, node)
    _write_node_files(plan, node, spec)
    _link_node(plan, node)
    return spec


def _link_node(plan: ClusterPlan, node: NodePlan) -> None:
    _step(node, "create its network namespace", lambda: ns.create_netns(node.name))
    _step(node, "connect it to the kin network", lambda: _connect(plan, node))


def _step(node: NodePlan, what: str, action: Callable[[], object]) -> None:
    try:
        action()
    except (KinError, OSError) as exc:
        raise ProvisionError(f"failed to {what} for node {node.name!r}: {exc}") from exc


def _ensure_host_mount_points() -> None:
    """Bind mounts need their targets: create the missing ones (empty) on the host, once."""
    for path in NODE_DIRECTORIES:
        os.makedirs(path, exist_ok=True)


def _write_node_files(plan: ClusterPlan, node: NodePlan, spec: NodeSpec) -> None:
    fs = os.path.join(spec.state_dir, "fs")
    for path in NODE_DIRECTORIES:
        os.makedirs(os.path.join(fs, path.lstrip("/")), exist_ok=True)
    os.makedirs(os.path.join(fs, "etc"), exist_ok=True)
    os.makedirs(os.path.join(fs, "etc/kubernetes/manifests"), exist_ok=True)
    os.makedirs(spec.units_dir, exist_ok=True)
    write_atomic(os.path.join(fs, "etc/hosts"), hosts_file(plan))
    write_atomic(os.path.join(fs, "etc/hostname"), node.name + "\n")
    _install_cni(spec)
    _install_runtime(spec, node, kubelet_flags(plan, node))
    spec.save()


def _install_cni(spec: NodeSpec) -> None:
    """What a kind node image carries in /opt/cni/bin (the runtime serves them, see below)."""
    install_plugins(os.path.join(spec.state_dir, "fs/opt/cni/bin"))


def _install_runtime(spec: NodeSpec, node: NodePlan, kubelet_args: list[str]) -> None:
    """The node's containerd (kin's CRI runtime), its kubelet, and crictl to look inside."""
    runtime = (
        sys.executable, "-m", "kin.runtime", "--node", node.name, "--zygote", ZYGOTE_SOCKET,
        "--cni-server", DEFAULT_SOCKET.decode(),  # the plugins' executables call in there
    )  # fmt: skip
    write_unit(spec.units_dir, Unit(RUNTIME_UNIT, runtime, DAEMON_ENV, zygote=ZYGOTE_SOCKET))
    # Every kubelet starts at boot; a worker's waits for the kubeconfig its join writes.
    write_unit(spec.units_dir, _kubelet_unit(node, kubelet_args))
    bin_dir = os.path.join(spec.state_dir, "fs", NODE_BIN.lstrip("/"))
    crictl = os.path.join(bin_dir, "crictl")
    write_atomic(crictl, f'#!/bin/sh\nexec {sys.executable} -m kin.cli.crictl "$@"\n', mode=0o755)
    for name, program in IPTABLES_PROGRAMS.items():  # kube-proxy's variant, as kind's wrapper
        path = shutil.which(program, path=SBIN) or program
        write_atomic(os.path.join(bin_dir, name), f'#!/bin/sh\nexec {path} "$@"\n', mode=0o755)
    etc = os.path.join(spec.etc_layer, "upper")
    os.makedirs(etc, exist_ok=True)
    write_atomic(os.path.join(etc, "crictl.yaml"), CRICTL_CONFIG)  # the node's /etc/crictl.yaml


def _kubelet_unit(node: NodePlan, kubelet_args: list[str]) -> Unit:
    kubelet = (
        sys.executable, "-m", "kin.kubelet", "--node", node.name, "--node-ip", node.ip,
        *kubelet_args,
    )  # fmt: skip
    return Unit(KUBELET_UNIT, kubelet, DAEMON_ENV, zygote=ZYGOTE_SOCKET)


def join_worker(plan: ClusterPlan, node: NodePlan) -> None:
    """``kubeadm join``: the worker's kubeconfig goes in place, and its kubelet, waiting for
    it since the node booted, registers the node. Joined already is success."""
    staged, target = _join_paths(node_spec(plan, node))
    try:
        os.replace(staged, target)
    except FileNotFoundError:
        if not os.path.exists(target):
            missing = f"node {node.name!r} cannot join: no kubeconfig at {staged}"
            raise ProvisionError(missing) from None
    except OSError as exc:
        raise ProvisionError(f"failed to join node {node.name!r}: {exc}") from exc


def _join_paths(spec: NodeSpec) -> tuple[str, str]:
    """Where a worker's kubeconfig waits for the join (outside the node), and its place."""
    staged = os.path.join(spec.state_dir, "join", "kubelet.conf")
    return staged, os.path.join(spec.state_dir, "fs", KUBELET_CONF.lstrip("/"))


def _stage_joins(plan: ClusterPlan, specs: list[NodeSpec]) -> None:
    for node, spec in zip(plan.nodes, specs, strict=True):
        if node.role != "control-plane":
            staged, written = _join_paths(spec)
            os.makedirs(os.path.dirname(staged), exist_ok=True)
            os.replace(written, staged)


def hosts_file(plan: ClusterPlan) -> str:
    lines = [
        "127.0.0.1\tlocalhost",
        "::1\tlocalhost ip6-localhost ip6-loopback",
        "fe00::0\tip6-localnet",
        "ff00::0\tip6-mcastprefix",
        "ff02::1\tip6-allnodes",
        "ff02::2\tip6-allrouters",
    ]
    lines += [f"{node.ip}\t{node.name}" for node in plan.nodes]
    return "\n".join(lines) + "\n"


def _connect(plan: ClusterPlan, node: NodePlan) -> None:
    """veth <node.veth> on the kin bridge <-> eth0 in the node, addressed, routed, up."""
    network = plan.network
    node_fd = os.open(ns.netns_path(node.name), os.O_RDONLY | os.O_CLOEXEC)
    try:

        def bridge_side() -> None:
            with Netlink() as nl:
                nl.add_veth(node.veth, "eth0", peer_netns_fd=node_fd)
                nl.set_link(node.veth, master=network.bridge, up=True)

        ns.run_in(ns.netns_path(network.netns), bridge_side)
    finally:
        os.close(node_fd)

    def node_side() -> None:
        with Netlink() as nl:
            nl.set_link("lo", up=True)
            nl.set_link("eth0", mac=node.mac)
            nl.add_address("eth0", f"{node.ip}/{network.prefixlen}")
            nl.set_link("eth0", up=True)
            nl.add_route("default", gateway=network.gateway, oif="eth0")

    ns.run_in(ns.netns_path(node.name), node_side)


def _boot(specs: list[NodeSpec]) -> None:
    """One ``kin.node.boot`` process starts every node's PID 1 concurrently (see there)."""
    argv = [sys.executable, "-m", "kin.node.boot", *(spec.spec_file for spec in specs)]
    result = subprocess.run(argv, capture_output=True, text=True, timeout=BOOT_TIMEOUT)
    if result.returncode == 0:
        return
    failures = [line.split("\t", 1) for line in result.stderr.splitlines() if "\t" in line]
    if not failures:
        raise ProvisionError(f"failed to start the nodes: {result.stderr.strip()}")
    node, message = failures[0]
    raise ProvisionError(f"failed to start its PID 1 for node {node!r}: {message}")


def _remove_pod_cgroups(cluster: str, node: NodePlan) -> None:
    """The pods' cgroups the node's runtime recorded; only groups named for this node."""
    state = os.path.join(node_dir(cluster, node.name), "fs/run/kin/runtime/cgroups.json")
    try:
        with open(state) as f:
            directories = json.load(f)
    except (OSError, ValueError):
        return
    for directory in directories:
        if isinstance(directory, str) and directory.endswith(f"/kin-{node.name}"):
            remove_tree(directory)


def delete_nodes(plan: ClusterPlan) -> list[str]:
    """Kill every node's PID 1 and unpin its network namespace; names of nodes that existed."""
    records = {n.name: Node(plan.name, n).supervisor() for n in plan.nodes}
    alive = {name for name, r in records.items() if r is not None and r.alive()}
    survivors = kill_and_wait([r for r in records.values() if r is not None])
    if survivors:
        pids = ", ".join(str(r.pid) for r in survivors)
        raise ProvisionError(f"node processes {pids} of cluster {plan.name!r} did not exit")
    unpinned = {n.name for n in plan.nodes if ns.delete_netns(n.name)}
    for node in plan.nodes:
        _remove_pod_cgroups(plan.name, node)
    return [n.name for n in plan.nodes if n.name in alive | unpinned]
