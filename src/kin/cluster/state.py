"""Where a cluster's state lives on the host, and how it is read and written.

Each cluster owns ``$KIN_HOME/<cluster>/`` (default ``/var/lib/kin``): its plan
and status in ``cluster.json``, the port publisher's PID, and one directory per
node (see ``kin.node.spec``). The plan is written *before* anything is created,
so ``kin delete cluster`` can find every name even after a create died half-way.
One host-wide lock (``$KIN_HOME/.lock``) serialises changes to the shared kin
network and to the set of clusters.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from kin.linux.files import locked, write_atomic

__all__ = [
    "ClusterState",
    "cluster_dir",
    "host_lock",
    "host_lock_path",
    "kin_home",
    "list_cluster_names",
    "load_state",
    "node_dir",
    "remove_cluster_dir",
    "running_cluster_names",
    "state_file",
    "write_json_atomic",
]

DEFAULT_HOME = "/var/lib/kin"
STATE_FILE = "cluster.json"
CREATING, READY, STOPPED, STARTING = "creating", "ready", "stopped", "starting"


def kin_home() -> str:
    return os.environ.get("KIN_HOME") or DEFAULT_HOME


def cluster_dir(name: str) -> str:
    return os.path.join(kin_home(), name)


def node_dir(cluster: str, node: str) -> str:
    return os.path.join(cluster_dir(cluster), "nodes", node)


@dataclass
class ClusterState:
    """What ``cluster.json`` holds: the plan as JSON and where the cluster is in its life:
    creating, ready, stopped (``kin stop cluster``: nothing runs, only files) or starting."""

    name: str
    plan: dict[str, Any]
    status: str = CREATING

    @property
    def path(self) -> str:
        return state_file(self.name)

    def save(self) -> None:
        os.makedirs(cluster_dir(self.name), exist_ok=True)
        write_json_atomic(self.path, {"name": self.name, "status": self.status, "plan": self.plan})


def load_state(name: str) -> ClusterState | None:
    try:
        with open(state_file(name)) as f:
            raw = json.load(f)
    except FileNotFoundError:
        return None
    return ClusterState(name=raw["name"], plan=raw["plan"], status=raw.get("status", CREATING))


def state_file(name: str) -> str:
    return os.path.join(cluster_dir(name), STATE_FILE)


def list_cluster_names() -> list[str]:
    """Sorted names of every cluster with a state file."""
    try:
        entries = os.listdir(kin_home())
    except FileNotFoundError:
        return []
    return sorted(e for e in entries if os.path.isfile(state_file(e)))


def running_cluster_names() -> list[str]:
    """Every cluster but the stopped ones: those that need the kin network."""
    states = [load_state(name) for name in list_cluster_names()]
    return [s.name for s in states if s is not None and s.status != STOPPED]


def remove_cluster_dir(name: str) -> None:
    shutil.rmtree(cluster_dir(name), ignore_errors=True)


def write_json_atomic(path: str, value: object) -> None:
    write_atomic(path, json.dumps(value, indent=2) + "\n")


def host_lock_path() -> str:
    return os.path.join(kin_home(), ".lock")


@contextmanager
def host_lock() -> Iterator[None]:
    """Hold the host-wide kin lock (blocking) for the duration of the block."""
    with locked(host_lock_path()):
        yield
