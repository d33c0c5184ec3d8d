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

from kin.cluster.state import cluster_dir, host_lock_path, node_dir, state_file
from kin.errors import ProvisionError
from kin.linux.files import listen_unix
from kin.linux.proc import ProcessRecord, spawn_daemon
from kin.linux.zygote import Handover, spawn_early

TYPE_CHECKING = False
if TYPE_CHECKING:
    from kin.cluster.plan import ClusterPlan

__all__ = ["ZYGOTE_SOCKET", "early_zygote", "start_zygote", "zygote_record"]

ZYGOTE_SOCKET = "/run/kin/zygote.sock"  # inside each node
# What it imports before its first fork: the node daemons (the runtime's main imports
# the shim and the CNI server).
PRELOAD = ("kin.runtime", "kin.kubelet")
# glibc gives each thread that allocates a heap of its own (up to 8 per core) and keeps
# what Python frees there; two heaps hold a threaded daemon near its working set. Read by
# glibc when the zygote starts, so every process forked from it keeps the setting.
ENV = {"MALLOC_ARENA_MAX": "2"}
TITLE_ROOM = 4096  # bytes of argv for the titles of what it forks (the API server's flags)


def early_zygote() -> Handover:
    """A zygote spawned before the cluster is planned, so that it imports while ``kin
    create`` imports and plans (its first 0.3 s); ``start_zygote`` hands it its sockets."""
    return spawn_early(PRELOAD, {**os.environ, **ENV}, TITLE_ROOM)


def start_zygote(plan: ClusterPlan, early: Handover | None = None) -> None:
    """Start the zygote serving every node of ``plan`` (or hand ``early`` its sockets). The
    sockets are bound here, so they exist before any node boots."""
    log = os.path.join(cluster_dir(plan.name), "zygote.log")
    record = {"pid_file": _pid_file(plan.name), "owner_file": state_file(plan.name),
              "lock_file": host_lock_path()}  # fmt: skip
    listeners: list[socket.socket] = []
    try:
        for node in plan.nodes:
            fs = os.path.join(node_dir(plan.name, node.name), "fs")
            listeners.append(
                listen_unix(os.path.join(fs, ZYGOTE_SOCKET.lstrip("/")), dir_mode=0o755)
            )
        if early is not None:
            try:
                return early.hand_over(listeners, log, record)
            except OSError:
                pass  # it died meanwhile: a new one, as if there had been none
        argv = [sys.executable, "-m", "kin.linux.zygote", "--preload", ",".join(PRELOAD)]
        argv += ["--pid-file", record["pid_file"], "--owner-file", record["owner_file"]]
        argv += ["--lock-file", record["lock_file"], "--title-room", " " * TITLE_ROOM]
        argv += [arg for listener in listeners for arg in ("--fd", str(listener.fileno()))]
        inherit = tuple(listener.fileno() for listener in listeners)
        spawn_daemon(argv, log, {**os.environ, **ENV}, inherit)
    except OSError as exc:
        raise ProvisionError(f"failed to start the cluster's zygote: {exc}") from exc
    finally:
        for listener in listeners:
            listener.close()


def zygote_record(cluster: str) -> ProcessRecord | None:
    return ProcessRecord.load(_pid_file(cluster))


def _pid_file(cluster: str) -> str:
    return os.path.join(cluster_dir(cluster), "zygote.pid")
