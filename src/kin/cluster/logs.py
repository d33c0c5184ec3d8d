"""``kin export logs``: everything one needs to see what a cluster did, in one directory.

As kind's layout: ``kin-version.txt`` and per node a directory with a copy of the node's
``/var/log`` (kubelet, runtime and supervisor logs under ``kin/``, every container's log
under ``pods/``), ``kubernetes-version.txt``, ``images.log`` and ``inspect.json`` (the
node's plan). kin adds what its networking is about, from inside each node: ``ip -d
addr``, ``ip route``, ``ip neigh``, ``bridge fdb``, ``nft list ruleset``, ``iptables-save``
(kube-proxy's iptables mode), the CNI
configuration, flannel's ``subnet.env``, and ``crictl pods`` / ``crictl ps -a``; and the
cluster's own records (plan, publisher and zygote logs). A command that fails (or takes
more than 30 s) and a file that cannot be copied leave their error in a file; the export
goes on.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import asdict

from kin import KUBERNETES_VERSION, __version__
from kin.cluster.nodes import Node
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import cluster_dir, node_dir
from kin.errors import KinError
from kin.linux.iptables import PROGRAMS as IPTABLES_PROGRAMS

__all__ = ["NODE_COMMANDS", "export_logs"]

NODE_COMMANDS = {
    "ip-addr.txt": ["ip", "-d", "addr"],
    "ip-route.txt": ["ip", "route"],
    "ip-neigh.txt": ["ip", "neigh"],
    "bridge-fdb.txt": ["bridge", "fdb", "show"],
    "nft-ruleset.txt": ["nft", "list", "ruleset"],
    "iptables-save.txt": [IPTABLES_PROGRAMS["iptables-save"]],  # kube-proxy's (legacy) rules
    "images.log": ["crictl", "images"],
    "crictl-pods.txt": ["crictl", "pods"],
    "crictl-ps.txt": ["crictl", "ps", "-a"],
}
NODE_FILES = {"cni": "etc/cni/net.d", "flannel": "run/flannel"}
CLUSTER_FILES = ("cluster.json", "publisher.log", "zygote.log")
COMMAND_TIMEOUT = 30.0


def export_logs(plan: ClusterPlan, directory: str) -> None:
    os.makedirs(directory, exist_ok=True)
    _write(directory, "kin-version.txt", f"kin v{__version__}\n")
    for name in CLUSTER_FILES:
        source = os.path.join(cluster_dir(plan.name), name)
        if os.path.exists(source):
            shutil.copy(source, os.path.join(directory, name))
    for node_plan in plan.nodes:
        _export_node(Node(plan.name, node_plan), directory)


def _export_node(node: Node, directory: str) -> None:
    target = os.path.join(directory, node.name)
    fs = os.path.join(node_dir(node.cluster, node.name), "fs")
    _copy_tree(os.path.join(fs, "var/log"), target)
    for name, relative in NODE_FILES.items():
        _copy_tree(os.path.join(fs, relative), os.path.join(target, name))
    _write(target, "kubernetes-version.txt", f"{KUBERNETES_VERSION}\n")
    _write(target, "inspect.json", json.dumps(asdict(node.plan), indent=2) + "\n")
    for name, argv in NODE_COMMANDS.items():
        _write(target, name, _output(node, argv))


def _output(node: Node, argv: list[str]) -> str:
    if not node.running():
        return f"node {node.name} is not running\n"
    try:
        done = subprocess.run(node.command(argv), capture_output=True, text=True,
                              timeout=COMMAND_TIMEOUT, check=False)  # fmt: skip
    except (KinError, OSError, subprocess.TimeoutExpired) as exc:
        return f"{' '.join(argv)}: {exc}\n"
    if done.returncode != 0:
        return f"{' '.join(argv)}: exit status {done.returncode}\n{done.stdout}{done.stderr}"
    return done.stdout


def _copy_tree(source: str, target: str) -> None:
    """Regular files and symlinks only (a FIFO would block the copy); errors noted."""
    if not os.path.isdir(source):
        return
    try:
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True,
                        ignore=_not_regular)  # fmt: skip
    except (OSError, shutil.Error) as exc:
        _write(target, "copy-errors.txt", f"copying {source}: {exc}\n")


def _not_regular(directory: str, names: list[str]) -> set[str]:
    def skip(name: str) -> bool:
        path = os.path.join(directory, name)
        return not (os.path.islink(path) or os.path.isdir(path) or os.path.isfile(path))

    return {name for name in names if skip(name)}


def _write(directory: str, name: str, text: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)
