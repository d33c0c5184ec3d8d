"""Handles on a cluster's nodes: is it running, does it answer, run a command inside it.

A command runs inside all of the node's namespaces (mount, UTS, IPC, network,
PID) through util-linux ``nsenter``, which forks into the node's PID namespace,
passes stdin, stdout, stderr and the terminal straight through, and exits with
the command's status, which is what ``kin exec`` (kind's ``docker exec``) needs.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass

from kin.cluster.plan import NodePlan
from kin.cluster.state import node_dir
from kin.errors import CommandError, NodeError, PrerequisiteError
from kin.linux.proc import ProcessRecord
from kin.node.client import request

__all__ = ["NODE_BIN", "Node", "nsenter"]

NODE_BIN = "/opt/kin/bin"  # the node's own tools (crictl), first on its PATH
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def nsenter() -> str:
    path = shutil.which("nsenter")
    if path is None:
        raise PrerequisiteError("nsenter not found: install the Debian package util-linux")
    return path


@dataclass(frozen=True)
class Node:
    cluster: str
    plan: NodePlan

    @property
    def name(self) -> str:
        return self.plan.name

    @property
    def state_dir(self) -> str:
        return node_dir(self.cluster, self.name)

    def supervisor(self) -> ProcessRecord | None:
        """The node's PID 1 as recorded when it booted."""
        return ProcessRecord.load(os.path.join(self.state_dir, "supervisor.pid"))

    def running(self) -> bool:
        record = self.supervisor()
        return record is not None and record.alive()

    def ping(self, timeout: float = 2.0) -> bool:
        """True when the node's PID 1 answers on its control socket."""
        try:
            reply = request(os.path.join(self.state_dir, "supervisor.sock"), "ping", timeout)
        except NodeError:
            return False
        return bool(reply.get("ok"))

    def command(self, argv: list[str]) -> list[str]:
        """The argv that runs ``argv`` inside this node."""
        record = self.supervisor()
        if record is None or not record.alive():
            raise NodeError(f"node {self.name!r} of cluster {self.cluster!r} is not running")
        path = f"PATH={NODE_BIN}:{os.environ.get('PATH') or DEFAULT_PATH}"
        namespaces = ["-t", str(record.pid), "-m", "-u", "-i", "-n", "-p"]
        return [nsenter(), *namespaces, "--", "env", path, *argv]

    def run(self, argv: list[str], stdin: str | None = None) -> str:
        """Run ``argv`` inside the node and return its stdout; CommandError if it fails."""
        full = self.command(argv)
        result = subprocess.run(full, input=stdin, capture_output=True, text=True, check=False)
        if result.returncode != 0:
            raise CommandError(argv, result.returncode, result.stdout + result.stderr)
        return result.stdout
