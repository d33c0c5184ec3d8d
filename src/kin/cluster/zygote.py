"""The cluster's zygote: the one fork server from which every node's daemons start.

``kin create cluster`` starts it on the host before the nodes boot (``kin.linux.zygote``
says what it does); it listens on ``/run/kin/zygote.sock`` inside each node, where the
node supervisor asks for the kubelet and the runtime and the runtime for each pod's
shim. Clients queue there while it imports, and run their daemons themselves whenever
it cannot answer, so it speeds a cluster up but never holds one up. It records its PID
itself, under the host lock and only while the cluster exists, so ``kin delete`` finds
it even after a ``kill -9`` of ``kin create``.
"""

from __future__ import annotations

import os
import socket
import sys

from kin.cluster.plan import ClusterPlan
from kin.cluster.state import cluster_dir, host_lock_path, node_dir, state_file
from kin.errors import ProvisionError
from kin.linux.files import listen_unix
from kin.linux.proc import ProcessRecord, spawn_daemon

__all__ = ["ZYGOTE_SOCKET", "start_zygote", "zygote_record"]

ZYGOTE_SOCKET = "/run/kin/zygote.sock"  # inside each node
# What it imports before its first fork: the node daemons (the runtime's main imports
# the shim and the CNI server).
PRELOAD = ("kin.runtime", "kin.kubelet")
# glibc gives each thread that allocates a heap of its own (up to 8 per core) and keeps
# what Python frees there; two heaps hold a threaded daemon near its working set. Read by
# glibc when the zygote starts, so every process forked from it keeps the setting.
ENV = {"MALLOC_ARENA_MAX": "2"}
TITLE_ROOM = 4096  # bytes of argv for the titles of what it forks (the API server's flags)


def start_zygote(plan: ClusterPlan) -> None:
    """Spawn the zygote, detached from us, serving every node of ``plan``. The sockets are
    bound here and inherited, so they exist before any node boots."""
    directory = cluster_dir(plan.name)
    argv = [sys.executable, "-m", "kin.linux.zygote", "--preload", ",".join(PRELOAD)]
    argv += ["--pid-file", _pid_file(plan.name), "--owner-file", state_file(plan.name)]
    argv += ["--lock-file", host_lock_path(), "--title-room", " " * TITLE_ROOM]
    listeners: list[socket.socket] = []
    try:
        for node in plan.nodes:
            fs = os.path.join(node_dir(plan.name, node.name), "fs")
            listeners.append(
                listen_unix(os.path.join(fs, ZYGOTE_SOCKET.lstrip("/")), dir_mode=0o755)
            )
            argv += ["--fd", str(listeners[-1].fileno())]
        env = {**os.environ, **ENV}
        inherit = tuple(listener.fileno() for listener in listeners)
        spawn_daemon(argv, os.path.join(directory, "zygote.log"), env, inherit)
    except OSError as exc:
        raise ProvisionError(f"failed to start the cluster's zygote: {exc}") from exc
    finally:
        for listener in listeners:
            listener.close()


def zygote_record(cluster: str) -> ProcessRecord | None:
    return ProcessRecord.load(_pid_file(cluster))


def _pid_file(cluster: str) -> str:
    return os.path.join(cluster_dir(cluster), "zygote.pid")
