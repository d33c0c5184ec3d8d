"""Drive the real ``kin`` CLI from tests and benchmarks, and always clean up."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

from kin.testing.names import random_name

__all__ = [
    "KIN",
    "TWO_NODES",
    "kin",
    "kubeconfig_for",
    "kubectl",
    "temporary_cluster",
    "without_cluster_dns",
]

KIN = [sys.executable, "-m", "kin"]
TWO_NODES = """\
kind: Cluster
apiVersion: kind.x-k8s.io/v1alpha4
nodes:
- role: control-plane
- role: worker
"""
"""The seed's two nodes, without its host ports (so a running demo does not collide)."""

BARE_TWO_NODES = TWO_NODES + "networking:\n  disableDefaultCNI: true\n  kubeProxyMode: none\n"
"""Two nodes without flannel or kube-proxy: the runtime and kubelet tests bring their own
CNI config, and a node's pods are only theirs (with ``without_cluster_dns``)."""


def kin(
    *args: str, stdin: str | None = None, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run ``kin ARGS`` and capture its output; raise if ``check`` and it failed."""
    result = subprocess.run([*KIN, *args], input=stdin, capture_output=True, text=True, timeout=120)
    if check and result.returncode != 0:
        raise AssertionError(
            f"kin {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result


@contextmanager
def temporary_cluster(config: str, name: str | None = None, *args: str) -> Iterator[str]:
    """A cluster made from ``config`` (YAML text) with a unique name; deleted afterwards."""
    name = name or random_name("kt")
    try:
        kin("create", "cluster", "--name", name, "--config", "-", *args, stdin=config)
        yield name
    finally:
        kin("delete", "cluster", "--name", name)


def without_cluster_dns(cluster: str) -> None:
    """Delete the ``coredns`` Deployment and its pods, which would otherwise be scheduled
    onto a bare node as soon as a test gives it a CNI config."""
    with tempfile.TemporaryDirectory() as directory:
        config = kubeconfig_for(cluster, directory)
        kubectl(config, "-n", "kube-system", "delete", "deployment", "coredns",
                "--cascade=foreground", "--wait", "--timeout=30s")  # fmt: skip


def kubeconfig_for(cluster: str, directory: str) -> str:
    """Write ``kin get kubeconfig`` of ``cluster`` into ``directory``; return its path."""
    path = os.path.join(directory, f"{cluster}.kubeconfig")
    with open(path, "w") as f:
        f.write(kin("get", "kubeconfig", "--name", cluster).stdout)
    os.chmod(path, 0o600)
    return path


def kubectl(
    kubeconfig: str, *args: str, stdin: str | None = None, check: bool = True, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """The real kubectl against a cluster; raise if ``check`` and it failed."""
    argv = ["kubectl", f"--kubeconfig={kubeconfig}", *args]
    result = subprocess.run(argv, input=stdin, capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"kubectl {' '.join(args)} exited {result.returncode}\n"
            f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
        )
    return result
