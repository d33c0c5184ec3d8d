"""``kin export logs``: everything one needs to see what a cluster did, in one directory.

As kind's layout: ``kin-version.txt`` and per node a directory with a copy of the node's
``/var/log`` (kubelet, runtime and supervisor logs under ``kin/``, every container's log
under ``pods/``), ``kubernetes-version.txt``, ``images.log`` and ``inspect.json`` (the
node's plan). kin adds what its networking is about, from inside each node: ``ip -d
addr``, ``ip route``, ``ip neigh``, ``bridge fdb``, ``nft list ruleset``, the CNI
configuration, flannel's ``subnet.env``, and ``crictl pods`` / ``crictl ps -a``; and the
cluster's own records (plan, publisher and zygote logs). A command that fails leaves its
error in its file; the export goes on.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import asdict

from kin import KUBERNETES_VERSION, __version__
from kin.cluster.nodes import Node
from kin.cluster.plan import ClusterPlan
from kin.cluster.state import cluster_dir, node_dir
from kin.errors import KinError

__all__ = ["NODE_COMMANDS", "export_logs"]

NODE_COMMANDS = {
    "ip-addr.txt": ["ip", "-d", "addr"],
    "ip-route.txt": ["ip", "route"],
    "ip-neigh.txt": ["ip", "neigh"],
    "bridge-fdb.txt": ["bridge", "fdb", "show"],
    "nft-ruleset.txt": ["nft", "list", "ruleset"],
    "images.log": ["crictl", "images"],
    "crictl-pods.txt": ["crictl", "pods"],
    "crictl-ps.txt": ["crictl", "ps", "-a"],
}
NODE_FILES = {"cni": "etc/cni/net.d", "flannel": "run/flannel"}
CLUSTER_FILES = ("cluster.json", "publisher.log", "zygote.log")


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
        try:
            text = node.run(argv) if node.running() else f"node {node.name} is not running\n"
        except KinError as exc:
            text = f"{' '.join(argv)}: {exc}\n"
        _write(target, name, text)


def _copy_tree(source: str, target: str) -> None:
    if os.path.isdir(source):
        shutil.copytree(source, target, dirs_exist_ok=True, symlinks=True)


def _write(directory: str, name: str, text: str) -> None:
    os.makedirs(directory, exist_ok=True)
    with open(os.path.join(directory, name), "w") as f:
        f.write(text)
