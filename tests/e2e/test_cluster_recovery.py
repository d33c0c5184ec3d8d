"""A cluster survives ``kill -9`` of any of its daemons, and ``kin export logs`` shows it.

Every control-plane component (kube-apiserver, kube-controller-manager, kube-scheduler),
every node daemon (kubelet, the runtime) and flanneld are killed with SIGKILL, one after
another; the cluster must converge each time: nodes Ready, every system pod Running
and Ready, and a new Deployment rolled out (which needs the API server, the controllers,
the scheduler and the worker's kubelet, runtime and network).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from kin.testing.clusters import TWO_NODES, kin, kubeconfig_for, kubectl, temporary_cluster
from kin.testing.waiting import eventually


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    with temporary_cluster(TWO_NODES, None, "--wait", "60s") as name:
        config = kubeconfig_for(name, str(tmp_path_factory.mktemp("kubeconfig")))
        kubectl(config, "wait", "--for=condition=Ready", "pod", "-A", "--all", "--timeout=60s")
        yield name, config


def pid_of(node: str, title: str) -> int | None:
    """The PID (in the node) of the process whose command line starts with ``title``."""
    listing = kin("exec", node, "--", "ps", "-eo", "pid=,args=").stdout
    for line in listing.splitlines():
        pid, _, args = line.strip().partition(" ")
        if re.match(rf"(\S*python\S* -m )?{re.escape(title)}\b", args.strip()):
            return int(pid)
    return None


def converged(config: str) -> bool:
    nodes = json.loads(kubectl(config, "get", "node", "-o", "json", check=False).stdout or "{}")
    pods = json.loads(kubectl(config, "get", "pod", "-A", "-o", "json", check=False).stdout or "{}")

    def ready(obj: dict[str, object]) -> bool:
        status = obj.get("status") or {}
        assert isinstance(status, dict)
        conditions = status.get("conditions") or []
        return any(c.get("type") == "Ready" and c.get("status") == "True" for c in conditions)

    items = pods.get("items") or []
    return (
        bool(nodes.get("items"))
        and all(ready(n) for n in nodes["items"])
        and bool(items)
        and all(ready(p) for p in items)
    )


VICTIMS = [
    ("control-plane", "kin.apiserver"),
    ("control-plane", "kin.controller_manager"),
    ("control-plane", "kin.scheduler"),
    ("control-plane", "kin.kubelet"),
    ("worker", "kin.kubelet"),
    ("worker", "kin.runtime --node"),
    ("worker", "kin.flannel"),
]


@pytest.mark.parametrize(
    ("role", "title"), VICTIMS, ids=[f"{r}-{t.split()[0]}" for r, t in VICTIMS]
)
def test_a_daemon_killed_with_sigkill_comes_back_and_the_cluster_converges(
    cluster: tuple[str, str], role: str, title: str
) -> None:
    name, config = cluster
    node = f"{name}-{role}"
    before = pid_of(node, title)
    assert before is not None, f"no {title} in {node}"
    kin("exec", node, "--", "kill", "-9", str(before))
    eventually(lambda: pid_of(node, title) not in (None, before), timeout=60)
    eventually(lambda: converged(config), timeout=90, every=0.5)
    deployment = f"after-{title.split()[0].split('.')[-1].replace('_', '-')}-{role}"
    kubectl(config, "create", "deployment", deployment, "--image=busybox", "--replicas=2",
            "--", "sleep", "3600")  # fmt: skip
    try:
        kubectl(config, "rollout", "status", f"deployment/{deployment}", "--timeout=60s",
                timeout=90)  # fmt: skip
    finally:
        kubectl(config, "delete", "deployment", deployment, "--wait=false")


def test_export_logs_has_each_nodes_logs_and_network_state(
    cluster: tuple[str, str], tmp_path: Path
) -> None:
    name, _ = cluster
    target = tmp_path / "logs"
    exported = kin("export", "logs", str(target), "--name", name)
    assert exported.stdout == f"{target}\n"
    assert exported.stderr == f'Exporting logs for cluster "{name}" to:\n'
    assert (target / "kin-version.txt").read_text().startswith("kin v")
    cp, worker = target / f"{name}-control-plane", target / f"{name}-worker"
    assert "registered" in (cp / "kin/kubelet.log").read_text()
    assert [p for p in (cp / "pods").iterdir() if "kube-apiserver" in p.name]
    assert (
        "10.244.0.0/24 via 10.244.0.0 dev flannel.1 onlink" in (worker / "ip-route.txt").read_text()
    )
    assert "flannel.1" in (worker / "ip-addr.txt").read_text()
    assert "kube-flannel-ds" in (worker / "crictl-pods.txt").read_text()
    assert "FLANNEL_SUBNET=10.244.1.1/24" in (worker / "flannel/subnet.env").read_text()
    assert (worker / "cni/10-flannel.conflist").exists()
    assert "table" in (worker / "nft-ruleset.txt").read_text()  # flannel's masquerade rules
    assert "-j KUBE-SERVICES" in (worker / "iptables-save.txt").read_text()  # kube-proxy's
    unknown = kin("export", "logs", "--name", "no-such-cluster", check=False)
    assert unknown.returncode == 1
    assert 'ERROR: failed to export logs: unknown cluster "no-such-cluster"' in unknown.stderr
